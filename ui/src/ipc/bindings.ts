// Generated from crates/keywarden-app/src/ipc.rs. Do not edit by hand:
// run `UPDATE_BINDINGS=1 cargo test -p keywarden-app bindings` after changing the Rust types.

export type SecretSummary = { id: string, name: string, description: string, tags: Array<string>, environment: string | null, enabled: boolean, createdAt: number, updatedAt: number, lastUsedAt: number | null, expiresAt: number | null, expiry: ExpiryState, allowedHosts: Array<string>, 
/**
 * Short keyed fingerprint of the current value, e.g. `kwfp:3f9a1c0b7d2e`.
 */
fingerprint: string, 
/**
 * How many values this secret has had (1 + number of rotations).
 */
versions: number, };

export type ExpiryState = "none" | "ok" | "soon" | "expired";

export type ListSecrets = { 
/**
 * Case-insensitive text matched against name, description, tags and environment.
 */
search: string | null, };

export type CreateSecret = { name: string, description: string, tags: Array<string>, environment: string | null, enabled: boolean, expiresAt: number | null, allowedHosts: Array<string>, 
/**
 * The secret value typed by the person. Never logged, never echoed back.
 */
value: string, };

export type UpdateSecret = { id: string, name: string, description: string, tags: Array<string>, environment: string | null, expiresAt: number | null, allowedHosts: Array<string>, };

export type ReplaceValue = { id: string, value: string, };

export type SetEnabled = { id: string, enabled: boolean, };

export type SecretRef = { id: string, };

export type RevealedSecret = { id: string, value: string, 
/**
 * The window hides the value again after this many seconds.
 */
hideAfterSeconds: number, };

export type CopyReceipt = { 
/**
 * The clipboard is cleared after this many seconds if it still holds the value.
 */
clearsAfterSeconds: number, };

export type ValueVersion = { version: number, fingerprint: string, createdAt: number, retiredAt: number | null, };

export type BackendKind = "keychain" | "file";

export type Health = "ok" | "untested" | "locked" | "unavailable";

export type VaultStatus = { backend: BackendKind, 
/**
 * e.g. "Secret Service (org.freedesktop.secrets)".
 */
backendLabel: string, 
/**
 * Whether values survive a reboot.
 */
persistent: boolean, 
/**
 * Where values are kept: a keychain service name or a file path.
 */
location: string, health: Health, 
/**
 * What went wrong and what to do, when health is not `ok`.
 */
message: string | null, secretCount: number, 
/**
 * Secrets left half-created, half-deleted or half-rotated by an interruption, awaiting repair.
 */
pendingRepairs: number, dataDir: string, };

export type Passphrase = { passphrase: string, };

export type ChooseBackend = { backend: BackendKind, 
/**
 * Required for `file`: the passphrase of the new vault file.
 */
passphrase: Passphrase | null, };

export type IpcError = { code: ErrorCode, 
/**
 * A sentence for the person: what happened and what to do next. Never contains a secret.
 */
message: string, 
/**
 * The input field the error is about, when there is one (e.g. `name`).
 */
field: string | null, };

export type ErrorCode = "invalidInput" | "notFound" | "conflict" | "disabled" | "tooLarge" | "keychainUnavailable" | "keychainLocked" | "keychainTimeout" | "vaultLocked" | "wrongPassphrase" | "valueMissing" | "database" | "internal";
