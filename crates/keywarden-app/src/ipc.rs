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
    for decl in decls {
        out.push_str("export ");
        out.push_str(&decl);
        out.push_str("\n\n");
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}
