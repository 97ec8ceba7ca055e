// Generated from crates/keywarden-app/src/ipc.rs. Do not edit by hand:
// run `UPDATE_BINDINGS=1 cargo test -p keywarden-app bindings` after changing the Rust types.

export type SecretSummary = { id: string, name: string, description: string, tags: Array<string>, environment: string | null, enabled: boolean, createdAt: number, updatedAt: number, lastUsedAt: number | null, expiresAt: number | null, expiry: ExpiryState, allowedHosts: Array<string>, fingerprint: string, versions: number, };

export type ExpiryState = "none" | "ok" | "soon" | "expired";

export type ListSecrets = { search: string | null, };

export type CreateSecret = { name: string, description: string, tags: Array<string>, environment: string | null, enabled: boolean, expiresAt: number | null, allowedHosts: Array<string>, value: string, };

export type UpdateSecret = { id: string, name: string, description: string, tags: Array<string>, environment: string | null, expiresAt: number | null, allowedHosts: Array<string>, };

export type ReplaceValue = { id: string, value: string, };

export type SetEnabled = { id: string, enabled: boolean, };

export type SecretRef = { id: string, };

export type RevealedSecret = { id: string, value: string, hideAfterSeconds: number, };

export type CopyReceipt = { clearsAfterSeconds: number, };

export type ValueVersion = { version: number, fingerprint: string, createdAt: number, retiredAt: number | null, };

export type BackendKind = "keychain" | "file";

export type Health = "ok" | "untested" | "locked" | "unavailable";

export type VaultStatus = { backend: BackendKind, backendLabel: string, persistent: boolean, location: string, health: Health, message: string | null, secretCount: number, pendingRepairs: number, dataDir: string, };

export type Passphrase = { passphrase: string, };

export type ChooseBackend = { backend: BackendKind, passphrase: Passphrase | null, };

export type IpcError = { code: ErrorCode, message: string, field: string | null, };

export type ErrorCode = "invalidInput" | "notFound" | "conflict" | "disabled" | "tooLarge" | "keychainUnavailable" | "keychainLocked" | "keychainTimeout" | "vaultLocked" | "wrongPassphrase" | "valueMissing" | "database" | "internal";
