//! Every type that crosses the IPC boundary between the window and Rust.
//!
//! The TypeScript declarations in `ui/src/ipc/bindings.ts` are generated from these
//! types (`cargo test -p keywarden-app` fails when they are stale; run
//! `UPDATE_BINDINGS=1 cargo test -p keywarden-app bindings` to rewrite them).
//!
//! Secret values travel from the window to Rust when a person types one
//! ([`CreateSecret::value`], [`ReplaceValue::value`]) and from Rust to the window
//! only in [`RevealedSecret`], the answer to an explicit reveal.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A secret as the list and the dialogs show it: everything but the value.
#[derive(Debug, Clone, Serialize, Deserialize, TS, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SecretSummary {
    pub id: String,
    pub name: String,
    pub description: String,
    pub tags: Vec<String>,
    pub environment: Option<String>,
    pub enabled: bool,
    #[ts(type = "number")]
    pub created_at: i64,
    #[ts(type = "number")]
    pub updated_at: i64,
    #[ts(type = "number | null")]
    pub last_used_at: Option<i64>,
    #[ts(type = "number | null")]
    pub expires_at: Option<i64>,
    pub expiry: ExpiryState,
    pub allowed_hosts: Vec<String>,
    /// Short keyed fingerprint of the current value, e.g. `kwfp:3f9a1c0b7d2e`.
    pub fingerprint: String,
    /// How many values this secret has had (1 + number of rotations).
    pub versions: u32,
}

/// Where a secret stands with respect to its expiry date.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, TS, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum ExpiryState {
    /// No expiry date.
    None,
    Ok,
    /// Expires within the warning window (7 days).
    Soon,
    Expired,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ListSecrets {
    /// Case-insensitive text matched against name, description, tags and environment.
    #[serde(default)]
    pub search: Option<String>,
}

#[derive(Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CreateSecret {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub environment: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    #[ts(type = "number | null")]
    pub expires_at: Option<i64>,
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// The secret value typed by the person. Never logged, never echoed back.
    pub value: String,
}

fn yes() -> bool {
    true
}

impl std::fmt::Debug for CreateSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateSecret")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Replaces every metadata field of a secret (the value is untouched).
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct UpdateSecret {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub environment: Option<String>,
    #[serde(default)]
    #[ts(type = "number | null")]
    pub expires_at: Option<i64>,
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
}

/// Rotation: a new value for an existing secret. The old value's fingerprint and dates are kept.
#[derive(Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ReplaceValue {
    pub id: String,
    pub value: String,
}

impl std::fmt::Debug for ReplaceValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplaceValue")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SetEnabled {
    pub id: String,
    pub enabled: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SecretRef {
    pub id: String,
}

/// The answer to an explicit reveal: the only place a value reaches the window.
#[derive(Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct RevealedSecret {
    pub id: String,
    pub value: String,
    /// The window hides the value again after this many seconds.
    pub hide_after_seconds: u32,
}

impl std::fmt::Debug for RevealedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevealedSecret")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Drop for RevealedSecret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.value);
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CopyReceipt {
    /// The clipboard is cleared after this many seconds if it still holds the value.
    pub clears_after_seconds: u32,
}

/// A secret the window is showing once (a key just issued), to be copied by Rust with the
/// 30-second clear instead of through the webview's clipboard.
#[derive(Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CopyText {
    pub text: String,
}

impl std::fmt::Debug for CopyText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CopyText(***)")
    }
}

impl Drop for CopyText {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.text);
    }
}

/// One value a secret has had.
#[derive(Debug, Clone, Serialize, Deserialize, TS, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ValueVersion {
    pub version: u32,
    pub fingerprint: String,
    #[ts(type = "number")]
    pub created_at: i64,
    #[ts(type = "number | null")]
    pub retired_at: Option<i64>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, TS, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum BackendKind {
    /// The operating system's keychain (Secret Service, macOS Keychain, Windows Credential Manager).
    Keychain,
    /// A passphrase-encrypted vault file (Argon2id + XChaCha20-Poly1305), chosen by the person.
    File,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, TS, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum Health {
    /// The round-trip self-test passed.
    Ok,
    /// Not used yet in this session; the self-test runs before the first read or write.
    Untested,
    /// The store exists but is locked (keychain locked, or vault file waiting for its passphrase).
    Locked,
    /// No usable store: no Secret Service on the bus, a failed self-test, a timeout.
    Unavailable,
}

/// What the status bar shows: where secrets live and whether that store works.
#[derive(Debug, Clone, Serialize, Deserialize, TS, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VaultStatus {
    pub backend: BackendKind,
    /// e.g. "Secret Service (org.freedesktop.secrets)".
    pub backend_label: String,
    /// Whether values survive a reboot.
    pub persistent: bool,
    /// Where values are kept: a keychain service name or a file path.
    pub location: String,
    pub health: Health,
    /// What went wrong and what to do, when health is not `ok`.
    pub message: Option<String>,
    pub secret_count: u32,
    /// Secrets left half-created, half-deleted or half-rotated by an interruption, awaiting repair.
    pub pending_repairs: u32,
    pub data_dir: String,
}

/// Unlocks a vault file, or creates one when switching to it.
#[derive(Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Passphrase {
    pub passphrase: String,
}

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase(***)")
    }
}

/// Switches where values are kept. Allowed while the vault holds no secrets.
#[derive(Serialize, Deserialize, TS, Debug)]
#[serde(rename_all = "camelCase")]
pub struct ChooseBackend {
    pub backend: BackendKind,
    /// Required for `file`: the passphrase of the new vault file.
    #[serde(default)]
    pub passphrase: Option<Passphrase>,
}

pub use keywarden_request::store::{HistoryEntry, SavedRequest, UsedSecretRef};
pub use keywarden_request::{
    Body, EnvQueryParam, Environment, Finding, KeyProfile, KeyValue, Level, RequestSpec, Style,
};

/// A header as the window shows it: secret parts as `[secret.NAME]`.
#[derive(Debug, Clone, Serialize, Deserialize, TS, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct HeaderView {
    pub name: String,
    pub value: String,
}

/// A request rendered for display, without reading any secret value.
#[derive(Debug, Clone, Serialize, Deserialize, TS, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RequestPreview {
    pub method: String,
    pub url: String,
    pub headers: Vec<HeaderView>,
    pub body: Option<String>,
    /// Pre-flight findings, most serious first.
    pub findings: Vec<Finding>,
    /// The secrets the request uses.
    pub secrets: Vec<UsedSecretRef>,
    /// The request as a redacted curl command.
    pub curl: String,
}

/// What came back from a sent request.
#[derive(Debug, Clone, Serialize, Deserialize, TS, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SendResult {
    pub status: u16,
    pub reason: String,
    pub version: String,
    pub headers: Vec<HeaderView>,
    /// The body as text (UTF-8, invalid bytes replaced).
    pub body: String,
    /// Whether the body was valid UTF-8.
    pub body_is_text: bool,
    pub body_bytes: u32,
    pub truncated: bool,
    pub duration_ms: f64,
    pub findings: Vec<Finding>,
    /// After a 401 or 403: the rules that may explain it.
    pub explanation: Vec<String>,
    /// Headers not sent to a redirect target on another origin.
    pub dropped_headers: Vec<String>,
    pub redirects: Vec<String>,
    #[ts(type = "number")]
    pub history_id: i64,
}

/// Copy a request as a curl command: redacted, or with real values when `reveal` is set.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CopyCurl {
    pub spec: RequestSpec,
    #[serde(default)]
    pub reveal: bool,
}

/// The redacted curl command; the clipboard got the revealed one when asked.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CurlCopied {
    pub redacted: String,
    /// Set when the clipboard holds secret values: it is cleared after this many seconds.
    pub clears_after_seconds: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SaveRequest {
    pub collection: String,
    pub name: String,
    pub spec: RequestSpec,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct NameRef {
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HistoryQuery {
    pub limit: u32,
}

/// The stable error shape every command returns.
#[derive(Debug, Clone, Serialize, Deserialize, TS, PartialEq, Eq, thiserror::Error)]
#[serde(rename_all = "camelCase")]
#[error("{message}")]
pub struct IpcError {
    pub code: ErrorCode,
    /// A sentence for the person: what happened and what to do next. Never contains a secret.
    pub message: String,
    /// The input field the error is about, when there is one (e.g. `name`).
    pub field: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, TS, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum ErrorCode {
    InvalidInput,
    NotFound,
    /// The name is already used by another secret.
    Conflict,
    /// The secret is disabled; enable it to use it.
    Disabled,
    /// The value is larger than the store accepts.
    TooLarge,
    KeychainUnavailable,
    KeychainLocked,
    KeychainTimeout,
    /// The vault file is locked: send its passphrase first.
    VaultLocked,
    WrongPassphrase,
    /// The keychain has no value for a secret the database knows.
    ValueMissing,
    /// A template could not be parsed or rendered; the message names the position.
    Template,
    /// The request would send a secret somewhere it is not allowed to go.
    Refused,
    /// The request could not be sent (connection refused, TLS, DNS...).
    SendFailed,
    Timeout,
    Database,
    Internal,
}

/// Renders every IPC declaration as one TypeScript module.
pub fn typescript_bindings() -> String {
    let decls = [
        SecretSummary::decl(),
        ExpiryState::decl(),
        ListSecrets::decl(),
        CreateSecret::decl(),
        UpdateSecret::decl(),
        ReplaceValue::decl(),
        SetEnabled::decl(),
        SecretRef::decl(),
        RevealedSecret::decl(),
        CopyReceipt::decl(),
        CopyText::decl(),
        ValueVersion::decl(),
        BackendKind::decl(),
        Health::decl(),
        VaultStatus::decl(),
        Passphrase::decl(),
        ChooseBackend::decl(),
        HeaderView::decl(),
        RequestPreview::decl(),
        SendResult::decl(),
        CopyCurl::decl(),
        CurlCopied::decl(),
        SaveRequest::decl(),
        NameRef::decl(),
        HistoryQuery::decl(),
        KeyProfile::decl(),
        Style::decl(),
        Environment::decl(),
        EnvQueryParam::decl(),
        RequestSpec::decl(),
        KeyValue::decl(),
        Body::decl(),
        Finding::decl(),
        Level::decl(),
        HistoryEntry::decl(),
        UsedSecretRef::decl(),
        SavedRequest::decl(),
        IpcError::decl(),
        ErrorCode::decl(),
    ];
    let mut out = String::from(
        "// Generated from crates/keywarden-app/src/ipc.rs. Do not edit by hand:\n\
         // run `UPDATE_BINDINGS=1 cargo test -p keywarden-app bindings` after changing the Rust types.\n\n",
    );
    for decl in decls.into_iter().chain(admin_bindings()) {
        out.push_str("export ");
        out.push_str(&decl);
        out.push_str("\n\n");
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

// ---------------------------------------------------------------------------------------------
// Admin screen: key servers, principals, groups, roles, access profiles, keys, sync.
// Objects travel as the server's JSON (`body`) plus the local state around it. No admin
// credential ever travels to the window; a generated key does only for "show once".
// ---------------------------------------------------------------------------------------------

/// The kinds of objects on a key server.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, TS, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum AdminKind {
    Principal,
    Group,
    Role,
    Profile,
    Key,
}

/// How to sign in to a key server.
#[derive(Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", tag = "method")]
pub enum AdminSignIn {
    /// An admin API key; kept in the keychain.
    AdminKey { key: String },
    /// User name + password for a short-lived session token (the token is kept, the password is not).
    Password { username: String, password: String },
}

impl std::fmt::Debug for AdminSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminSignIn::AdminKey { .. } => f.write_str("AdminKey(***)"),
            AdminSignIn::Password { username, .. } => {
                write!(f, "Password({username}, ***)")
            }
        }
    }
}

impl Drop for AdminSignIn {
    fn drop(&mut self) {
        match self {
            AdminSignIn::AdminKey { key } => zeroize::Zeroize::zeroize(key),
            AdminSignIn::Password { password, .. } => zeroize::Zeroize::zeroize(password),
        }
    }
}

/// Adds (or replaces) a key server.
#[derive(Debug, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ConnectServer {
    /// A short name: letters, digits, `-` and `_`.
    pub name: String,
    /// `https://…` (or `http://` on this machine's loopback).
    pub url: String,
    /// An extra CA certificate (PEM) to trust.
    #[serde(default)]
    pub ca_pem: Option<String>,
    pub sign_in: AdminSignIn,
}

/// What connecting did.
#[derive(Debug, Clone, Serialize, Deserialize, TS, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Connected {
    pub name: String,
    /// The server answered and accepted the credential. `false`: saved, but the server did
    /// not answer; actions queue until it does.
    pub verified: bool,
    /// When a session token ends (password sign-in).
    #[ts(type = "number | null")]
    pub session_expires_at: Option<i64>,
}

/// One key server as the sync indicator shows it.
#[derive(Debug, Clone, Serialize, Deserialize, TS, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AdminConnectionStatus {
    pub name: String,
    pub url: String,
    /// `key`, `session` or `embedded`.
    pub auth: String,
    pub username: Option<String>,
    /// `null` until the first exchange.
    pub online: Option<bool>,
    /// The server refused the credential: sign in again.
    pub needs_sign_in: bool,
    #[ts(type = "number | null")]
    pub last_sync_at: Option<i64>,
    pub last_error: Option<String>,
    #[ts(type = "number")]
    pub queued: i64,
    #[ts(type = "number")]
    pub failed: i64,
    #[ts(type = "number")]
    pub conflicts: i64,
    /// Queued actions waiting for their next attempt.
    #[ts(type = "number")]
    pub waiting: i64,
    /// Milliseconds since the epoch of the next retry.
    #[ts(type = "number | null")]
    pub next_attempt_ms: Option<i64>,
}

/// The sync indicator: shown at all times.
#[derive(Debug, Clone, Serialize, Deserialize, TS, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AdminSyncStatus {
    pub connections: Vec<AdminConnectionStatus>,
    #[ts(type = "number")]
    pub queued: i64,
    #[ts(type = "number")]
    pub failed: i64,
    #[ts(type = "number")]
    pub conflicts: i64,
    /// Whether the background sync loop runs.
    pub background: bool,
}

/// A connection by name; the first one when absent.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionRef {
    #[serde(default)]
    pub connection: Option<String>,
}

/// A list of one kind, with search and filters.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AdminListQuery {
    #[serde(default)]
    pub connection: Option<String>,
    pub kind: AdminKind,
    /// Text in the name, description or (keys) display prefix.
    #[serde(default)]
    pub search: Option<String>,
    /// Keys of this principal.
    #[serde(default)]
    pub principal_id: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Only objects with queued, failed or conflicting actions.
    #[serde(default)]
    pub pending_only: bool,
    /// Also revoked keys and objects being deleted.
    #[serde(default)]
    pub include_inactive: bool,
}

/// An object of the local admin view.
#[derive(Debug, Clone, Serialize, Deserialize, TS, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AdminObject {
    pub kind: AdminKind,
    /// The server id, or `local-…` while its creation has not reached the server.
    pub id: String,
    /// Name (keys: name and display prefix).
    pub label: String,
    #[ts(type = "number")]
    pub version: i64,
    /// The object as the server shows it (snake_case fields of the server's API), with
    /// queued changes applied.
    #[ts(type = "Record<string, unknown>")]
    pub body: serde_json::Value,
    /// Deleted here, not yet on the server.
    pub deleted: bool,
    /// Actions on it not yet applied by the server.
    pub pending: u32,
    /// `failed` or `conflict` when one of them needs the person.
    pub problem: Option<String>,
}

/// Creates a principal, group, role or access profile. `fields` is the server's create
/// body (e.g. `{ "kind": "api_client", "name": "…", "description": "…", "logo": "…" }`).
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AdminCreate {
    #[serde(default)]
    pub connection: Option<String>,
    pub kind: AdminKind,
    #[ts(type = "Record<string, unknown>")]
    pub fields: serde_json::Value,
}

/// Changes fields (the server's PATCH body, e.g. `{ "description": "…" }`). Sent with the
/// version shown: a change made meanwhile by someone else becomes a conflict.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AdminUpdate {
    #[serde(default)]
    pub connection: Option<String>,
    pub kind: AdminKind,
    pub id: String,
    #[ts(type = "Record<string, unknown>")]
    pub patch: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AdminRef {
    #[serde(default)]
    pub connection: Option<String>,
    pub kind: AdminKind,
    pub id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AdminSetEnabled {
    #[serde(default)]
    pub connection: Option<String>,
    pub kind: AdminKind,
    pub id: String,
    pub enabled: bool,
}

/// Where a key generated on this machine goes.
#[derive(Debug, Clone, Serialize, Deserialize, TS, PartialEq, Eq)]
#[serde(rename_all = "camelCase", tag = "to")]
pub enum KeyPlacement {
    /// Straight into the vault as a secret bound to `hosts` (the key server's host when
    /// empty), so the Requests screen can use it at once. The window never sees the key.
    Vault {
        secret_name: String,
        #[serde(default)]
        hosts: Vec<String>,
    },
    /// Copied to the clipboard from Rust (cleared after 30 s); the window never sees it.
    Clipboard,
    /// Returned once in `AdminCreatedKey::shown_once`, then gone.
    ShowOnce,
}

/// Creates a key for a principal. `fields`: the server's key fields (`name`,
/// `description`, `environment`, `scopes`, `read_only`, `path_prefixes`, `operations`,
/// `ip_allowlist`, `expires_at`, `enabled`, `slot`, `policy`, `profile_id`,
/// `allow_query_param`). The key is generated here; only its digest is sent.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AdminCreateKey {
    #[serde(default)]
    pub connection: Option<String>,
    pub principal_id: String,
    #[ts(type = "Record<string, unknown>")]
    pub fields: serde_json::Value,
    pub placement: KeyPlacement,
}

/// Rotation (`grace_seconds` set: the old key keeps working that long) or refresh
/// (absent: the old key stops at once). A vault copy is replaced when the server has the
/// new key; otherwise the new key goes where `placement` says (show once by default).
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AdminRotateKey {
    #[serde(default)]
    pub connection: Option<String>,
    pub id: String,
    #[serde(default)]
    #[ts(type = "number | null")]
    pub grace_seconds: Option<u64>,
    #[serde(default)]
    pub placement: Option<KeyPlacement>,
}

/// A key generated here.
#[derive(Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AdminCreatedKey {
    pub key: AdminObject,
    /// The outbox action that delivers it.
    #[ts(type = "number")]
    pub action_seq: i64,
    /// The key, for `showOnce` only: show it, offer copy, forget it.
    pub shown_once: Option<String>,
    /// The vault secret holding it (vault placement, or the rotated key's vault copy).
    pub secret_id: Option<String>,
    /// For `clipboard`: cleared after this many seconds.
    pub clipboard_clears_after_seconds: Option<u32>,
}

impl std::fmt::Debug for AdminCreatedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminCreatedKey")
            .field("key", &self.key.id)
            .field("action_seq", &self.action_seq)
            .finish_non_exhaustive()
    }
}

impl Drop for AdminCreatedKey {
    fn drop(&mut self) {
        if let Some(k) = &mut self.shown_once {
            zeroize::Zeroize::zeroize(k);
        }
    }
}

/// Outbox rows: all states when `states` is empty.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct OutboxQuery {
    #[serde(default)]
    pub connection: Option<String>,
    /// `queued`, `failed`, `conflict`, `done`, `discarded`.
    #[serde(default)]
    pub states: Vec<String>,
    #[serde(default = "hundred")]
    pub limit: u32,
}

fn hundred() -> u32 {
    100
}

/// One admin action on its way to the server.
#[derive(Debug, Clone, Serialize, Deserialize, TS, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AdminAction {
    #[ts(type = "number")]
    pub seq: i64,
    pub connection: String,
    pub kind: String,
    pub object_id: String,
    /// e.g. `key.disable`.
    pub action: String,
    /// e.g. "disable key ci (kw_live_AbCd…)".
    pub summary: String,
    /// `queued`, `failed`, `conflict`, `done` or `discarded`.
    pub state: String,
    pub attempts: u32,
    #[ts(type = "number")]
    pub next_attempt_ms: i64,
    /// Why it failed or waits, with what to do.
    pub last_error: Option<String>,
    #[ts(type = "number")]
    pub created_at: i64,
    #[ts(type = "number | null")]
    pub done_at: Option<i64>,
    /// For a conflict: what you meant (the request body).
    #[ts(type = "Record<string, unknown> | null")]
    pub intent: Option<serde_json::Value>,
    /// For a conflict: the object as the server has it now.
    #[ts(type = "Record<string, unknown> | null")]
    pub server_object: Option<serde_json::Value>,
    #[ts(type = "number | null")]
    pub server_version: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ActionRef {
    #[ts(type = "number")]
    pub seq: i64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, TS, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum ConflictChoice {
    /// Send my change again over the server's version.
    Mine,
    /// Take the server's version; drop my change.
    Theirs,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ResolveConflict {
    #[ts(type = "number")]
    pub seq: i64,
    pub keep: ConflictChoice,
}

/// What one sync did.
#[derive(Debug, Clone, Serialize, Deserialize, TS, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AdminSyncReport {
    pub connection: String,
    pub applied: u32,
    pub failed: u32,
    pub conflicts: u32,
    pub retrying: u32,
    pub pulled: u32,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AdminAuditQuery {
    #[serde(default)]
    pub connection: Option<String>,
    #[serde(default)]
    #[ts(type = "number")]
    pub since: i64,
    #[serde(default)]
    pub limit: Option<u32>,
    #[serde(default)]
    pub actor: Option<String>,
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub target: Option<String>,
}

/// One audit entry: keys appear by id and display prefix only.
#[derive(Debug, Clone, Serialize, Deserialize, TS, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AdminAuditEntry {
    #[ts(type = "number")]
    pub seq: i64,
    #[ts(type = "number")]
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    #[ts(type = "Record<string, unknown>")]
    pub detail: serde_json::Value,
}

/// Every IPC declaration of the Admin screen.
pub fn admin_bindings() -> Vec<String> {
    vec![
        AdminKind::decl(),
        AdminSignIn::decl(),
        ConnectServer::decl(),
        Connected::decl(),
        AdminConnectionStatus::decl(),
        AdminSyncStatus::decl(),
        ConnectionRef::decl(),
        AdminListQuery::decl(),
        AdminObject::decl(),
        AdminCreate::decl(),
        AdminUpdate::decl(),
        AdminRef::decl(),
        AdminSetEnabled::decl(),
        KeyPlacement::decl(),
        AdminCreateKey::decl(),
        AdminRotateKey::decl(),
        AdminCreatedKey::decl(),
        OutboxQuery::decl(),
        AdminAction::decl(),
        ActionRef::decl(),
        ConflictChoice::decl(),
        ResolveConflict::decl(),
        AdminSyncReport::decl(),
        AdminAuditQuery::decl(),
        AdminAuditEntry::decl(),
    ]
}
