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

export type CopyText = { text: string, };

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

export type HeaderView = { name: string, value: string, };

export type RequestPreview = { method: string, url: string, headers: Array<HeaderView>, body: string | null, 
/**
 * Pre-flight findings, most serious first.
 */
findings: Array<Finding>, 
/**
 * The secrets the request uses.
 */
secrets: Array<UsedSecretRef>, 
/**
 * The request as a redacted curl command.
 */
curl: string, };

export type SendResult = { status: number, reason: string, version: string, headers: Array<HeaderView>, 
/**
 * The body as text (UTF-8, invalid bytes replaced).
 */
body: string, 
/**
 * Whether the body was valid UTF-8.
 */
bodyIsText: boolean, bodyBytes: number, truncated: boolean, durationMs: number, findings: Array<Finding>, 
/**
 * After a 401 or 403: the rules that may explain it.
 */
explanation: Array<string>, 
/**
 * Headers not sent to a redirect target on another origin.
 */
droppedHeaders: Array<string>, redirects: Array<string>, historyId: number, };

export type CopyCurl = { spec: RequestSpec, reveal: boolean, };

export type CurlCopied = { redacted: string, 
/**
 * Set when the clipboard holds secret values: it is cleared after this many seconds.
 */
clearsAfterSeconds: number | null, };

export type SaveRequest = { collection: string, name: string, spec: RequestSpec, };

export type NameRef = { name: string, };

export type HistoryQuery = { limit: number, };

export type KeyProfile = { name: string, description: string, 
/**
 * The vault secret that holds the key.
 */
secret: string, style: Style, 
/**
 * Hosts the key may be sent to. Empty: any host (the secret's own allowed hosts still apply).
 */
allowedHosts: Array<string>, 
/**
 * Refuse to send the key over plain HTTP.
 */
httpsOnly: boolean, };

export type Style = { "kind": "bearer" } | { "kind": "keyEquals" } | { "kind": "basic", user: string, } | { "kind": "header", name: string, template: string, } | { "kind": "apiToken", header: string, } | { "kind": "jwt", algorithm: string, 
/**
 * Claims as a JSON template, e.g. `{"sub": "${env.client_id}"}`.
 */
claims: string, lifetimeSeconds: number | null, header: string | null, scheme: string | null, } | { "kind": "query", param: string, };

export type Environment = { name: string, variables: { [key in string]?: string }, queryParam: EnvQueryParam | null, 
/**
 * Whether this environment is production (a non-production key sent here is flagged).
 */
production: boolean, };

export type EnvQueryParam = { name: string, value: string, };

export type RequestSpec = { method: string, 
/**
 * A template: `https://${env.host}/v1/items`.
 */
url: string, query: Array<KeyValue>, headers: Array<KeyValue>, body: Body, 
/**
 * A key profile by name.
 */
profile: string | null, 
/**
 * An environment by name.
 */
environment: string | null, };

export type KeyValue = { name: string, value: string, enabled: boolean, };

export type Body = { "kind": "none" } | { "kind": "json", template: string, } | { "kind": "form", fields: Array<KeyValue>, } | { "kind": "raw", contentType: string, template: string, };

export type Finding = { level: Level, 
/**
 * Stable identifier, e.g. `read-only-key`.
 */
code: string, message: string, };

export type Level = "info" | "warning" | "danger";

export type HistoryEntry = { id: number, sentAt: number, spec: RequestSpec, secrets: Array<UsedSecretRef>, status: number | null, error: string | null, durationMs: number | null, responseBytes: number | null, };

export type UsedSecretRef = { name: string, fingerprint: string, };

export type SavedRequest = { id: string, collection: string, name: string, spec: RequestSpec, };

export type IpcError = { code: ErrorCode, 
/**
 * A sentence for the person: what happened and what to do next. Never contains a secret.
 */
message: string, 
/**
 * The input field the error is about, when there is one (e.g. `name`).
 */
field: string | null, };

export type ErrorCode = "invalidInput" | "notFound" | "conflict" | "disabled" | "tooLarge" | "keychainUnavailable" | "keychainLocked" | "keychainTimeout" | "vaultLocked" | "wrongPassphrase" | "valueMissing" | "template" | "refused" | "sendFailed" | "timeout" | "database" | "internal";

export type AdminKind = "principal" | "group" | "role" | "profile" | "key";

export type AdminSignIn = { "method": "adminKey", key: string, } | { "method": "password", username: string, password: string, };

export type ConnectServer = { 
/**
 * A short name: letters, digits, `-` and `_`.
 */
name: string, 
/**
 * `https://…` (or `http://` on this machine's loopback).
 */
url: string, 
/**
 * An extra CA certificate (PEM) to trust.
 */
caPem: string | null, signIn: AdminSignIn, };

export type Connected = { name: string, 
/**
 * The server answered and accepted the credential. `false`: saved, but the server did
 * not answer; actions queue until it does.
 */
verified: boolean, 
/**
 * When a session token ends (password sign-in).
 */
sessionExpiresAt: number | null, };

export type AdminConnectionStatus = { name: string, url: string, 
/**
 * `key`, `session` or `embedded`.
 */
auth: string, username: string | null, 
/**
 * `null` until the first exchange.
 */
online: boolean | null, 
/**
 * The server refused the credential: sign in again.
 */
needsSignIn: boolean, lastSyncAt: number | null, lastError: string | null, queued: number, failed: number, conflicts: number, 
/**
 * Queued actions waiting for their next attempt.
 */
waiting: number, 
/**
 * Milliseconds since the epoch of the next retry.
 */
nextAttemptMs: number | null, };

export type AdminSyncStatus = { connections: Array<AdminConnectionStatus>, queued: number, failed: number, conflicts: number, 
/**
 * Whether the background sync loop runs.
 */
background: boolean, };

export type ConnectionRef = { connection: string | null, };

export type AdminListQuery = { connection: string | null, kind: AdminKind, 
/**
 * Text in the name, description or (keys) display prefix.
 */
search: string | null, 
/**
 * Keys of this principal.
 */
principalId: string | null, enabled: boolean | null, 
/**
 * Only objects with queued, failed or conflicting actions.
 */
pendingOnly: boolean, 
/**
 * Also revoked keys and objects being deleted.
 */
includeInactive: boolean, };

export type AdminObject = { kind: AdminKind, 
/**
 * The server id, or `local-…` while its creation has not reached the server.
 */
id: string, 
/**
 * Name (keys: name and display prefix).
 */
label: string, version: number, 
/**
 * The object as the server shows it (snake_case fields of the server's API), with
 * queued changes applied.
 */
body: Record<string, unknown>, 
/**
 * Deleted here, not yet on the server.
 */
deleted: boolean, 
/**
 * Actions on it not yet applied by the server.
 */
pending: number, 
/**
 * `failed` or `conflict` when one of them needs the person.
 */
problem: string | null, };

export type AdminCreate = { connection: string | null, kind: AdminKind, fields: Record<string, unknown>, };

export type AdminUpdate = { connection: string | null, kind: AdminKind, id: string, patch: Record<string, unknown>, };

export type AdminRef = { connection: string | null, kind: AdminKind, id: string, };

export type AdminSetEnabled = { connection: string | null, kind: AdminKind, id: string, enabled: boolean, };

export type KeyPlacement = { "to": "vault", secret_name: string, hosts: Array<string>, } | { "to": "clipboard" } | { "to": "showOnce" };

export type AdminCreateKey = { connection: string | null, principalId: string, fields: Record<string, unknown>, placement: KeyPlacement, };

export type AdminRotateKey = { connection: string | null, id: string, graceSeconds: number | null, placement: KeyPlacement | null, };

export type AdminCreatedKey = { key: AdminObject, 
/**
 * The outbox action that delivers it.
 */
actionSeq: number, 
/**
 * The key, for `showOnce` only: show it, offer copy, forget it.
 */
shownOnce: string | null, 
/**
 * The vault secret holding it (vault placement, or the rotated key's vault copy).
 */
secretId: string | null, 
/**
 * For `clipboard`: cleared after this many seconds.
 */
clipboardClearsAfterSeconds: number | null, };

export type OutboxQuery = { connection: string | null, 
/**
 * `queued`, `failed`, `conflict`, `done`, `discarded`.
 */
states: Array<string>, limit: number, };

export type AdminAction = { seq: number, connection: string, kind: string, objectId: string, 
/**
 * e.g. `key.disable`.
 */
action: string, 
/**
 * e.g. "disable key ci (kw_live_AbCd…)".
 */
summary: string, 
/**
 * `queued`, `failed`, `conflict`, `done` or `discarded`.
 */
state: string, attempts: number, nextAttemptMs: number, 
/**
 * Why it failed or waits, with what to do.
 */
lastError: string | null, createdAt: number, doneAt: number | null, 
/**
 * For a conflict: what you meant (the request body).
 */
intent: Record<string, unknown> | null, 
/**
 * For a conflict: the object as the server has it now.
 */
serverObject: Record<string, unknown> | null, serverVersion: number | null, };

export type ActionRef = { seq: number, };

export type ConflictChoice = "mine" | "theirs";

export type ResolveConflict = { seq: number, keep: ConflictChoice, };

export type AdminSyncReport = { connection: string, applied: number, failed: number, conflicts: number, retrying: number, pulled: number, error: string | null, };

export type AdminAuditQuery = { connection: string | null, since: number, limit: number | null, actor: string | null, action: string | null, target: string | null, };

export type AdminAuditEntry = { seq: number, at: number, actor: string, action: string, target: string, detail: Record<string, unknown>, };
