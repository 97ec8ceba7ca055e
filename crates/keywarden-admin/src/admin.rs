//! [`Admin`]: everything the Admin screen and `kw admin` do, over the local view, the
//! outbox and the sync engine. Every method blocks (callers run it off their async
//! runtime); HTTP runs on a small runtime owned here.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use keywarden_core::{KeyPolicy, SecretValue, now};
use keywarden_keys::ApiKey;
use keywarden_server::model::{AccessMethod, AuditEntry, Kind, PrincipalKind, RatePolicy, Slot};
use keywarden_vault::{SecretFields, Vault};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::client::{Client, check_url, object_path};
use crate::embedded::{self, Embedded};
use crate::error::{AdminError, Result};
use crate::store::{
    ConnectionRow, IfMatch, LocalDb, NewAction, OutboxEntry, VaultStep, ViewObject, ViewOp,
    is_local, local_id,
};
use crate::sync::{PushOptions, PushReport, pull, push};

/// Name of the embedded connection.
pub const EMBEDDED: &str = "embedded";
/// Vendor prefix of keys generated here.
pub const KEY_PREFIX: &str = "kw";
const DEFAULT_ENVIRONMENT: &str = "live";

fn credential_name(connection: &str) -> String {
    format!("_admin_credential:{connection}")
}

// -------------------------------------------------------------------------------------------
// Inputs
// -------------------------------------------------------------------------------------------

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PrincipalInput {
    pub kind: PrincipalKind,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub profiles: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GroupInput {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RoleInput {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub privileges: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProfileInput {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub collections: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<RatePolicy>,
    pub access_method: AccessMethod,
    #[serde(default)]
    pub ip_allowlist: Vec<String>,
}

/// Every field of the server's `CreateKey` except the digest, which is computed here.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KeyInput {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub read_only: bool,
    #[serde(default)]
    pub path_prefixes: Vec<String>,
    #[serde(default)]
    pub operations: Vec<String>,
    #[serde(default)]
    pub ip_allowlist: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<Slot>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<RatePolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_id: Option<String>,
    #[serde(default)]
    pub allow_query_param: bool,
}

/// Where a key generated here goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Returned to the caller once; never stored in clear.
    ShowOnce,
    /// Straight into the local vault as the secret `name`, bound to `hosts` (the key
    /// server's host when empty), with the key's policy attached.
    Vault { name: String, hosts: Vec<String> },
}

/// A key generated here: its view, and the key itself when it is shown once.
pub struct CreatedKey {
    pub object: ViewObject,
    pub seq: i64,
    /// The key, for the show-once placement. Redacted in `Debug`, wiped on drop.
    pub key: Option<SecretValue>,
    /// The vault secret that holds the key, for the vault placement.
    pub secret_id: Option<String>,
}

impl std::fmt::Debug for CreatedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedKey")
            .field("object", &self.object.id)
            .field("seq", &self.seq)
            .field("secret_id", &self.secret_id)
            .finish_non_exhaustive()
    }
}

/// Filters of a list.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ListFilter {
    /// Case-insensitive text in the name, description or display prefix.
    #[serde(default)]
    pub search: Option<String>,
    /// Keys of this principal only.
    #[serde(default)]
    pub principal_id: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Only objects with queued, failed or conflicting actions.
    #[serde(default)]
    pub pending_only: bool,
    /// Keep revoked keys and objects deleted locally but not yet on the server.
    #[serde(default)]
    pub include_inactive: bool,
}

// -------------------------------------------------------------------------------------------
// Status
// -------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionStatus {
    pub name: String,
    pub url: String,
    pub auth: String,
    pub username: Option<String>,
    /// `None` until the first exchange in this session.
    pub online: Option<bool>,
    /// The credential was refused: sign in again.
    pub needs_sign_in: bool,
    pub last_sync_at: Option<i64>,
    pub last_error: Option<String>,
    pub queued: i64,
    pub failed: i64,
    pub conflicts: i64,
    /// Queued actions waiting for their next attempt.
    pub waiting: i64,
    pub next_attempt_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStatus {
    pub connections: Vec<ConnectionStatus>,
    pub queued: i64,
    pub failed: i64,
    pub conflicts: i64,
    /// Whether the background sync loop runs in this process.
    pub background: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReport {
    pub connection: String,
    pub push: PushReport,
    pub pulled: u64,
    pub vault_steps: u64,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default)]
struct Live {
    online: Option<bool>,
    needs_sign_in: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    pub since: i64,
    #[serde(default)]
    pub limit: Option<i64>,
    #[serde(default)]
    pub actor: Option<String>,
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub target: Option<String>,
}

// -------------------------------------------------------------------------------------------
// Admin
// -------------------------------------------------------------------------------------------

pub struct Admin {
    db: Arc<LocalDb>,
    vault: Option<Arc<Vault>>,
    home: PathBuf,
    rt: tokio::runtime::Runtime,
    embedded: Mutex<Option<Embedded>>,
    credentials: Mutex<HashMap<String, Arc<SecretValue>>>,
    live: Mutex<HashMap<String, Live>>,
    wake: Arc<(Mutex<bool>, Condvar)>,
    background: AtomicBool,
    pub options: PushOptions,
}

impl Admin {
    /// Opens the admin side of the profile at `home`. `vault` keeps credentials and
    /// generated keys; without one, credentials must be given with [`Admin::use_credential`].
    pub fn open(home: PathBuf, vault: Option<Arc<Vault>>) -> Result<Self> {
        let db = LocalDb::open(&home)?;
        Self::with_db(home, db, vault)
    }

    pub fn with_db(home: PathBuf, db: LocalDb, vault: Option<Arc<Vault>>) -> Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("keywarden-admin")
            .enable_all()
            .build()
            .map_err(|e| AdminError::Internal(format!("cannot start the sync runtime: {e}")))?;
        Ok(Self {
            db: Arc::new(db),
            vault,
            home,
            rt,
            embedded: Mutex::new(None),
            credentials: Mutex::new(HashMap::new()),
            live: Mutex::new(HashMap::new()),
            wake: Arc::new((Mutex::new(false), Condvar::new())),
            background: AtomicBool::new(false),
            options: PushOptions::default(),
        })
    }

    pub fn db(&self) -> &Arc<LocalDb> {
        &self.db
    }

    fn vault(&self) -> Result<&Arc<Vault>> {
        self.vault.as_ref().ok_or_else(|| {
            AdminError::invalid(
                "vault",
                "this needs the local vault (the keychain), which is not open here",
            )
        })
    }

    /// Uses `credential` for `connection` in this process instead of the keychain's
    /// (`KEYWARDEN_ADMIN_KEY_FILE` in CI). Nothing is stored.
    pub fn use_credential(&self, connection: &str, credential: SecretValue) {
        lock(&self.credentials).insert(connection.to_owned(), Arc::new(credential));
    }

    fn credential(&self, connection: &str) -> Result<Arc<SecretValue>> {
        if let Some(c) = lock(&self.credentials).get(connection) {
            return Ok(Arc::clone(c));
        }
        let stored = self
            .vault()
            .map_err(|_| AdminError::Unauthenticated {
                connection: connection.to_owned(),
            })?
            .read_internal(&credential_name(connection))?
            .ok_or_else(|| AdminError::Unauthenticated {
                connection: connection.to_owned(),
            })?;
        let stored = Arc::new(stored);
        lock(&self.credentials).insert(connection.to_owned(), Arc::clone(&stored));
        Ok(stored)
    }

    fn store_credential(&self, connection: &str, credential: SecretValue) -> Result<()> {
        if let Some(vault) = &self.vault {
            vault.store_internal(&credential_name(connection), &credential)?;
        }
        lock(&self.credentials).insert(connection.to_owned(), Arc::new(credential));
        Ok(())
    }

    // ---------------------------------------------------------------------------------------
    // Connections
    // ---------------------------------------------------------------------------------------

    /// Adds (or replaces) a key server reached with an admin key. The key goes to the
    /// keychain. When the server answers, the key is checked; when it does not, the
    /// connection is kept (offline-first) and `Ok(false)` says it is unverified.
    pub fn connect_with_key(
        &self,
        name: &str,
        url: &str,
        ca_pem: Option<&str>,
        key: SecretValue,
    ) -> Result<bool> {
        self.connect_with_key_opts(name, url, ca_pem, key, true)
    }

    /// As [`Admin::connect_with_key`]; `remember: false` keeps the key for this process
    /// only (it comes from `KEYWARDEN_ADMIN_KEY_FILE` each time, as in CI).
    pub fn connect_with_key_opts(
        &self,
        name: &str,
        url: &str,
        ca_pem: Option<&str>,
        key: SecretValue,
        remember: bool,
    ) -> Result<bool> {
        check_name(name)?;
        let url = check_url(url)?;
        let client = Client::new(&url, ca_pem, key.clone(), self.options.request_timeout)?;
        let verified = match self.rt.block_on(client.get("/v1/changes?since=0&limit=1")) {
            Ok(_) => true,
            Err(AdminError::Unreachable { .. }) => false,
            Err(AdminError::Unauthenticated { .. }) => {
                return Err(AdminError::invalid(
                    "credential",
                    "the key server refused this admin key; check it and try again",
                ));
            }
            Err(e) => return Err(e),
        };
        if remember {
            self.store_credential(name, key)?;
        } else {
            self.use_credential(name, key);
        }
        self.db.upsert_connection(name, &url, ca_pem, "key", None)?;
        self.set_live(name, |l| {
            l.online = Some(verified);
            l.needs_sign_in = false;
        });
        Ok(verified)
    }

    /// Signs in with user name + password; the short-lived token goes to the keychain.
    pub fn connect_with_login(
        &self,
        name: &str,
        url: &str,
        ca_pem: Option<&str>,
        username: &str,
        password: &SecretValue,
    ) -> Result<i64> {
        check_name(name)?;
        let url = check_url(url)?;
        let (token, expires) = self
            .rt
            .block_on(crate::client::login(&url, ca_pem, username, password))?;
        self.store_credential(name, token)?;
        self.db
            .upsert_connection(name, &url, ca_pem, "session", Some(username))?;
        self.set_live(name, |l| {
            l.online = Some(true);
            l.needs_sign_in = false;
        });
        Ok(expires)
    }

    /// Uses the embedded key server (started now, and whenever it is needed).
    pub fn connect_embedded(&self) -> Result<String> {
        let url = self.embedded_url()?;
        self.db
            .upsert_connection(EMBEDDED, "embedded", None, "embedded", None)?;
        self.set_live(EMBEDDED, |l| l.online = Some(true));
        Ok(url)
    }

    fn embedded_url(&self) -> Result<String> {
        let mut guard = lock(&self.embedded);
        if let Some(e) = guard.as_ref() {
            return Ok(e.url.clone());
        }
        let home = self.home.clone();
        let (server, first_key) = self.rt.block_on(embedded::start(&home))?;
        match first_key {
            Some(key) => self.store_credential(EMBEDDED, key)?,
            None => {
                if self.credential(EMBEDDED).is_err() {
                    return Err(AdminError::Embedded(format!(
                        "its admin key is not in this keychain; move {} aside to start the embedded server afresh",
                        home.join(embedded::EMBEDDED_DB).display()
                    )));
                }
            }
        }
        let url = server.url.clone();
        *guard = Some(server);
        Ok(url)
    }

    pub fn disconnect(&self, name: &str) -> Result<()> {
        self.db.remove_connection(name)?;
        if let Some(vault) = &self.vault {
            vault.delete_internal(&credential_name(name))?;
        }
        lock(&self.credentials).remove(name);
        Ok(())
    }

    pub fn connections(&self) -> Result<Vec<ConnectionRow>> {
        self.db.connections()
    }

    /// The connection to use: the one named, or the only (first) one.
    pub fn connection_name(&self, name: Option<&str>) -> Result<String> {
        let all = self.db.connections()?;
        match name {
            Some(n) => all
                .into_iter()
                .find(|c| c.name == n)
                .map(|c| c.name)
                .ok_or_else(|| AdminError::UnknownConnection(n.to_owned())),
            None => all
                .into_iter()
                .next()
                .map(|c| c.name)
                .ok_or(AdminError::NoConnection),
        }
    }

    fn client(&self, connection: &str) -> Result<Client> {
        let row = self.db.connection(connection)?;
        let url = if row.auth == "embedded" {
            self.embedded_url()?
        } else {
            row.url.clone()
        };
        let credential = self.credential(connection)?;
        Client::new(
            &url,
            row.ca_pem.as_deref(),
            (*credential).clone(),
            self.options.request_timeout,
        )
    }

    fn host_of(&self, connection: &str) -> Result<String> {
        let row = self.db.connection(connection)?;
        if row.auth == "embedded" {
            return Ok("127.0.0.1".into());
        }
        Ok(reqwest::Url::parse(&row.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default())
    }

    fn set_live(&self, connection: &str, f: impl FnOnce(&mut Live)) {
        f(lock(&self.live).entry(connection.to_owned()).or_default());
    }

    // ---------------------------------------------------------------------------------------
    // Enqueueing
    // ---------------------------------------------------------------------------------------

    fn enqueue(&self, connection: &str, actions: Vec<NewAction>) -> Result<Vec<i64>> {
        let seqs = self.db.enqueue(connection, actions)?;
        self.wake();
        Ok(seqs)
    }

    /// Wakes the background loop (a new action was queued).
    pub fn wake(&self) {
        let (flag, cv) = &*self.wake;
        *lock(flag) = true;
        cv.notify_all();
    }

    fn current(&self, connection: &str, kind: Kind, id: &str) -> Result<ViewObject> {
        self.db
            .object(connection, kind, id)?
            .filter(|o| !o.deleted)
            .ok_or_else(|| AdminError::NotFound {
                what: kind.as_str(),
                id: id.to_owned(),
            })
    }

    /// Finds an object by id or by name (keys also by display prefix).
    pub fn find(&self, connection: &str, kind: Kind, id_or_name: &str) -> Result<ViewObject> {
        if let Ok(o) = self.current(connection, kind, id_or_name) {
            return Ok(o);
        }
        let matches: Vec<ViewObject> = self
            .db
            .objects(connection, Some(kind))?
            .into_iter()
            .filter(|o| !o.deleted)
            .filter(|o| {
                o.body.get("name").and_then(Value::as_str) == Some(id_or_name)
                    || o.body.get("display_prefix").and_then(Value::as_str) == Some(id_or_name)
            })
            .collect();
        match matches.len() {
            1 => Ok(matches.into_iter().next().unwrap_or_else(|| unreachable!())),
            0 => Err(AdminError::NotFound {
                what: kind.as_str(),
                id: id_or_name.to_owned(),
            }),
            n => Err(AdminError::invalid(
                "id",
                format!(
                    "{n} {}s are named {id_or_name:?}; use the id",
                    kind.as_str()
                ),
            )),
        }
    }

    fn create_object(
        &self,
        connection: &str,
        kind: Kind,
        body: Value,
        deps: Vec<String>,
    ) -> Result<ViewObject> {
        let name = body
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if name.trim().is_empty() {
            return Err(AdminError::invalid("name", "a name is required"));
        }
        if matches!(kind, Kind::Profile) && jwt_secret(&body) {
            return Err(AdminError::invalid(
                "access_method.secret",
                "HMAC secrets of JWT profiles are not queued offline (the outbox never holds secrets); use an asymmetric method with a public key",
            ));
        }
        let id = local_id();
        let mut view = body.clone();
        if let Some(o) = view.as_object_mut() {
            o.insert("id".into(), json!(id));
            o.insert("version".into(), json!(0));
            o.insert("created_at".into(), json!(now()));
            o.insert("updated_at".into(), json!(now()));
            o.entry("enabled").or_insert(json!(true));
        }
        let coll = object_path(kind, "");
        self.enqueue(
            connection,
            vec![NewAction {
                kind,
                object_id: id.clone(),
                action: format!("{}.create", kind.as_str()),
                summary: format!("create {} {name}", kind.as_str()),
                method: "POST",
                path: coll.trim_end_matches('/').to_owned(),
                body: Some(body),
                if_match: IfMatch::Omit,
                base_version: 0,
                deps,
                new_object_id: None,
                vault_step: None,
                view: vec![ViewOp::Put {
                    kind,
                    id: id.clone(),
                    body: view,
                }],
                key_secret: None,
            }],
        )?;
        self.current(connection, kind, &id)
    }

    pub fn create_principal(&self, connection: &str, input: PrincipalInput) -> Result<ViewObject> {
        let deps = input
            .groups
            .iter()
            .chain(&input.profiles)
            .map(|id| self.db.resolve_id(connection, id))
            .collect::<Result<Vec<_>>>()?;
        let mut body = to_json(&input);
        resolve_ids_in(&self.db, connection, &mut body)?;
        self.create_object(connection, Kind::Principal, body, deps)
    }

    pub fn create_group(&self, connection: &str, input: GroupInput) -> Result<ViewObject> {
        self.create_object(connection, Kind::Group, to_json(&input), vec![])
    }

    pub fn create_role(&self, connection: &str, input: RoleInput) -> Result<ViewObject> {
        let deps = input
            .groups
            .iter()
            .map(|id| self.db.resolve_id(connection, id))
            .collect::<Result<Vec<_>>>()?;
        let mut body = to_json(&input);
        resolve_ids_in(&self.db, connection, &mut body)?;
        self.create_object(connection, Kind::Role, body, deps)
    }

    pub fn create_profile(&self, connection: &str, input: ProfileInput) -> Result<ViewObject> {
        self.create_object(connection, Kind::Profile, to_json(&input), vec![])
    }

    /// Changes fields of an object (the server's PATCH body). Sent with the version you
    /// saw: if someone changed the object meanwhile, it becomes a conflict to resolve.
    pub fn update(
        &self,
        connection: &str,
        kind: Kind,
        id: &str,
        patch: Value,
    ) -> Result<ViewObject> {
        let Some(fields) = patch.as_object().filter(|o| !o.is_empty()) else {
            return Err(AdminError::invalid("patch", "nothing to change"));
        };
        if matches!(kind, Kind::Profile) && jwt_secret(&patch) {
            return Err(AdminError::invalid(
                "access_method.secret",
                "HMAC secrets of JWT profiles are not queued offline (the outbox never holds secrets)",
            ));
        }
        let current = self.current(connection, kind, id)?;
        let mut view_fields = serde_json::Map::new();
        for (k, v) in fields {
            match k.as_str() {
                "clear_expiry" if v == &json!(true) => {
                    view_fields.insert("expires_at".into(), Value::Null);
                }
                "clear_policy" if v == &json!(true) => {
                    view_fields.insert("policy".into(), Value::Null);
                }
                _ => {
                    view_fields.insert(k.clone(), v.clone());
                }
            }
        }
        let mut deps = Vec::new();
        for key in ["groups", "profiles"] {
            if let Some(list) = patch.get(key).and_then(Value::as_array) {
                for id in list.iter().filter_map(Value::as_str) {
                    deps.push(self.db.resolve_id(connection, id)?);
                }
            }
        }
        let mut body = patch.clone();
        resolve_ids_in(&self.db, connection, &mut body)?;
        let enabled_only = fields.len() == 1 && fields.contains_key("enabled");
        let (action, summary, if_match) = if enabled_only {
            let on = fields.get("enabled") == Some(&json!(true));
            let verb = if on { "enable" } else { "disable" };
            (
                format!("{}.{verb}", kind.as_str()),
                format!("{verb} {} {}", kind.as_str(), display_name(&current)),
                IfMatch::Any,
            )
        } else {
            (
                format!("{}.update", kind.as_str()),
                format!("update {} {}", kind.as_str(), display_name(&current)),
                IfMatch::Version,
            )
        };
        self.enqueue(
            connection,
            vec![NewAction {
                kind,
                object_id: current.id.clone(),
                action,
                summary,
                method: "PATCH",
                path: object_path(kind, &current.id),
                body: Some(body),
                if_match,
                base_version: current.version,
                deps,
                new_object_id: None,
                vault_step: None,
                view: vec![ViewOp::Merge {
                    kind,
                    id: current.id.clone(),
                    fields: Value::Object(view_fields),
                }],
                key_secret: None,
            }],
        )?;
        self.current(connection, kind, &current.id)
    }

    /// Enables or disables a principal or a key. Sent with `If-Match: *`: the person's
    /// decision stands whatever else changed.
    pub fn set_enabled(
        &self,
        connection: &str,
        kind: Kind,
        id: &str,
        enabled: bool,
    ) -> Result<ViewObject> {
        if !matches!(kind, Kind::Principal | Kind::Key) {
            return Err(AdminError::invalid(
                "kind",
                "only principals and keys are enabled or disabled",
            ));
        }
        self.update(connection, kind, id, json!({ "enabled": enabled }))
    }

    pub fn delete(&self, connection: &str, kind: Kind, id: &str) -> Result<i64> {
        let current = self.current(connection, kind, id)?;
        let seqs = self.enqueue(
            connection,
            vec![NewAction {
                kind,
                object_id: current.id.clone(),
                action: format!("{}.delete", kind.as_str()),
                summary: format!("delete {} {}", kind.as_str(), display_name(&current)),
                method: "DELETE",
                path: object_path(kind, &current.id),
                body: None,
                if_match: IfMatch::Version,
                base_version: current.version,
                deps: vec![],
                new_object_id: None,
                vault_step: None,
                view: vec![ViewOp::Delete {
                    kind,
                    id: current.id.clone(),
                }],
                key_secret: None,
            }],
        )?;
        Ok(seqs[0])
    }

    /// Sets a user's login password. The password travels in the outbox body, so this is
    /// sent at once and never queued: it needs the server.
    pub fn set_password(
        &self,
        connection: &str,
        principal: &str,
        password: &SecretValue,
    ) -> Result<()> {
        let current = self.current(connection, Kind::Principal, principal)?;
        if is_local(&current.id) {
            return Err(AdminError::invalid(
                "principal",
                "the user is not on the server yet; sync first",
            ));
        }
        let client = self.client(connection)?;
        let body = zeroize::Zeroizing::new(json!({ "password": password.expose() }).to_string());
        let row = crate::store::Sendable {
            seq: 0,
            idem_key: uuid::Uuid::new_v4().to_string(),
            kind: Kind::Principal,
            object_id: current.id.clone(),
            action: "principal.set_password".into(),
            method: "PUT".into(),
            path: format!("/v1/principals/{}/password", current.id),
            body: Some(body.to_string()),
            if_match: IfMatch::Omit,
            base_version: 0,
            attempts: 0,
            new_object_id: None,
        };
        match self.rt.block_on(client.send(&row)).0 {
            crate::store::Outcome::Applied(_) => Ok(()),
            crate::store::Outcome::Failed(reason) => Err(AdminError::Refused(reason)),
            crate::store::Outcome::Retry { reason, .. } => Err(AdminError::Unreachable {
                url: client.base().to_owned(),
                detail: reason,
            }),
            _ => Err(AdminError::Refused(
                "the user was not found on the server".into(),
            )),
        }
    }

    // ---------------------------------------------------------------------------------------
    // Keys
    // ---------------------------------------------------------------------------------------

    /// Generates a key here (OS randomness, checked format) and queues its creation with
    /// only its digest. The key goes where `placement` says; it is never written in clear
    /// anywhere else.
    pub fn create_key(
        &self,
        connection: &str,
        principal: &str,
        input: KeyInput,
        placement: Placement,
    ) -> Result<CreatedKey> {
        let principal = self.current(connection, Kind::Principal, principal)?;
        if input.name.trim().is_empty() {
            return Err(AdminError::invalid("name", "a key needs a name"));
        }
        let environment = input
            .environment
            .clone()
            .unwrap_or_else(|| DEFAULT_ENVIRONMENT.to_owned());
        let key = ApiKey::generate(KEY_PREFIX, &environment)
            .map_err(|e| AdminError::invalid("environment", e))?;
        let id = local_id();
        let mut deps = vec![principal.id.clone()];
        let mut input = input;
        input.environment = Some(environment.clone());
        if let Some(p) = &input.profile_id {
            let p = self.db.resolve_id(connection, p)?;
            deps.push(p.clone());
            input.profile_id = Some(p);
        }
        let secret_id = match &placement {
            Placement::ShowOnce => None,
            Placement::Vault { name, hosts } => {
                Some(self.store_key_in_vault(connection, &principal, &input, &key, name, hosts)?)
            }
        };
        let mut body = to_json(&input);
        if let Some(o) = body.as_object_mut() {
            o.insert("digest".into(), json!(key.digest().to_hex()));
            o.insert("display_prefix".into(), json!(key.display_prefix()));
        }
        let mut view = to_json(&input);
        if let Some(o) = view.as_object_mut() {
            o.insert("id".into(), json!(id));
            o.insert("principal_id".into(), json!(principal.id));
            o.insert("display_prefix".into(), json!(key.display_prefix()));
            o.insert("version".into(), json!(0));
            o.insert("created_at".into(), json!(now()));
            o.insert("updated_at".into(), json!(now()));
        }
        let seqs = self.enqueue(
            connection,
            vec![NewAction {
                kind: Kind::Key,
                object_id: id.clone(),
                action: "key.create".into(),
                summary: format!(
                    "create key {} ({}) for {}",
                    input.name,
                    key.display_prefix(),
                    display_name(&principal)
                ),
                method: "POST",
                path: format!("/v1/principals/{}/keys", principal.id),
                body: Some(body),
                if_match: IfMatch::Omit,
                base_version: 0,
                deps,
                new_object_id: None,
                vault_step: None,
                view: vec![ViewOp::Put {
                    kind: Kind::Key,
                    id: id.clone(),
                    body: view,
                }],
                key_secret: secret_id.clone().map(|s| (id.clone(), s)),
            }],
        )?;
        Ok(CreatedKey {
            object: self.current(connection, Kind::Key, &id)?,
            seq: seqs[0],
            key: secret_id.is_none().then(|| key.into_secret()),
            secret_id,
        })
    }

    fn store_key_in_vault(
        &self,
        connection: &str,
        principal: &ViewObject,
        input: &KeyInput,
        key: &ApiKey,
        name: &str,
        hosts: &[String],
    ) -> Result<String> {
        let vault = self.vault()?;
        let hosts = if hosts.is_empty() {
            vec![self.host_of(connection)?]
        } else {
            hosts.to_vec()
        };
        let environment = input
            .environment
            .as_deref()
            .filter(|e| keywarden_core::EnvironmentName::new(*e).is_ok());
        let fields = SecretFields::parse(
            name,
            &format!(
                "API key {:?} of {} on {connection} ({})",
                input.name,
                display_name(principal),
                key.display_prefix()
            ),
            &["admin".to_owned()],
            environment,
            input.expires_at,
            &hosts,
        )?;
        let meta = vault.create(fields, true, &key.clone().into_secret())?;
        let policy = KeyPolicy {
            read_only: input.read_only,
            path_prefixes: input.path_prefixes.clone(),
            environment: input.environment.clone(),
            production_hosts: vec![],
        };
        vault.set_key_policy(&meta.id, Some(&policy))?;
        Ok(meta.id)
    }

    /// Rotation: a new key (generated here) takes over; the old one keeps working for
    /// `grace_seconds`. If the old key lives in the vault, the vault copy is replaced as
    /// soon as the server has the new key; otherwise the new key is shown once.
    pub fn rotate_key(&self, connection: &str, id: &str, grace_seconds: u64) -> Result<CreatedKey> {
        self.replace_key(connection, id, Some(grace_seconds))
    }

    /// Refresh: revoke and reissue at once.
    pub fn refresh_key(&self, connection: &str, id: &str) -> Result<CreatedKey> {
        self.replace_key(connection, id, None)
    }

    fn replace_key(&self, connection: &str, id: &str, grace: Option<u64>) -> Result<CreatedKey> {
        let old = self.current(connection, Kind::Key, id)?;
        if old.body.get("revoked_at").is_some_and(|v| !v.is_null())
            || old.body.get("replaced_by").is_some_and(|v| !v.is_null())
        {
            return Err(AdminError::invalid(
                "key",
                "this key was already revoked or replaced",
            ));
        }
        let environment = old
            .body
            .get("environment")
            .and_then(Value::as_str)
            .unwrap_or(DEFAULT_ENVIRONMENT)
            .to_owned();
        let key = ApiKey::generate(KEY_PREFIX, &environment)
            .map_err(|e| AdminError::invalid("environment", e))?;
        let new_id = local_id();
        let secret = self.db.key_secret(connection, &old.id)?;
        let idem_hint = uuid::Uuid::new_v4().simple().to_string();
        let vault_step = match &secret {
            Some(secret_id) => {
                let pending = format!("_admin_pending_key:{idem_hint}");
                self.vault()?
                    .store_internal(&pending, &key.clone().into_secret())?;
                Some(VaultStep {
                    secret_id: secret_id.clone(),
                    pending,
                })
            }
            None => None,
        };
        let at = now();
        let mut body = json!({
            "digest": key.digest().to_hex(),
            "display_prefix": key.display_prefix(),
        });
        let (action, verb) = match grace {
            Some(g) => {
                body["grace_seconds"] = json!(g);
                ("key.rotate", "rotate")
            }
            None => ("key.refresh", "refresh"),
        };
        let mut new_view = old.body.clone();
        if let Some(o) = new_view.as_object_mut() {
            o.insert("id".into(), json!(new_id));
            o.insert("display_prefix".into(), json!(key.display_prefix()));
            o.insert("version".into(), json!(0));
            o.insert("created_at".into(), json!(at));
            o.insert("enabled".into(), json!(true));
            o.insert("last_used_at".into(), Value::Null);
            o.insert("replaced_by".into(), Value::Null);
        }
        let mut old_fields = json!({ "replaced_by": new_id, "slot": null });
        match grace {
            Some(g) => {
                let until = at + i64::try_from(g).unwrap_or(0);
                let expires = old
                    .body
                    .get("expires_at")
                    .and_then(Value::as_i64)
                    .map_or(until, |e| e.min(until));
                old_fields["expires_at"] = json!(expires);
            }
            None => old_fields["revoked_at"] = json!(at),
        }
        let seqs = self.enqueue(
            connection,
            vec![NewAction {
                kind: Kind::Key,
                object_id: old.id.clone(),
                action: action.into(),
                summary: format!("{verb} key {}", display_name(&old)),
                method: "POST",
                path: format!("/v1/keys/{}/{verb}", old.id),
                body: Some(body),
                if_match: IfMatch::Omit,
                base_version: old.version,
                deps: vec![new_id.clone()],
                new_object_id: Some(new_id.clone()),
                vault_step,
                view: vec![
                    ViewOp::Put {
                        kind: Kind::Key,
                        id: new_id.clone(),
                        body: new_view,
                    },
                    ViewOp::Merge {
                        kind: Kind::Key,
                        id: old.id.clone(),
                        fields: old_fields,
                    },
                ],
                key_secret: None,
            }],
        )?;
        Ok(CreatedKey {
            object: self.current(connection, Kind::Key, &new_id)?,
            seq: seqs[0],
            key: secret.is_none().then(|| key.into_secret()),
            secret_id: secret,
        })
    }

    /// Revokes a key by id, for ever. Never overtaken by later actions on the key.
    pub fn revoke_key(&self, connection: &str, id: &str) -> Result<i64> {
        let current = self.current(connection, Kind::Key, id)?;
        let seqs = self.enqueue(
            connection,
            vec![NewAction {
                kind: Kind::Key,
                object_id: current.id.clone(),
                action: "key.revoke".into(),
                summary: format!("revoke key {}", display_name(&current)),
                method: "POST",
                path: format!("/v1/keys/{}/revoke", current.id),
                body: None,
                if_match: IfMatch::Omit,
                base_version: current.version,
                deps: vec![],
                new_object_id: None,
                vault_step: None,
                view: vec![ViewOp::Merge {
                    kind: Kind::Key,
                    id: current.id.clone(),
                    fields: json!({ "revoked_at": now() }),
                }],
                key_secret: None,
            }],
        )?;
        Ok(seqs[0])
    }

    /// The vault secret holding a key generated here.
    pub fn key_secret(&self, connection: &str, key_id: &str) -> Result<Option<String>> {
        self.db.key_secret(connection, key_id)
    }

    // ---------------------------------------------------------------------------------------
    // Reading
    // ---------------------------------------------------------------------------------------

    pub fn list(
        &self,
        connection: &str,
        kind: Kind,
        filter: &ListFilter,
    ) -> Result<Vec<ViewObject>> {
        let search = filter
            .search
            .as_deref()
            .map(|s| s.trim().to_lowercase())
            .filter(|s| !s.is_empty());
        let principal = match &filter.principal_id {
            Some(p) => Some(self.db.resolve_id(connection, p)?),
            None => None,
        };
        let mut out: Vec<ViewObject> = self
            .db
            .objects(connection, Some(kind))?
            .into_iter()
            .filter(|o| {
                filter.include_inactive
                    || (!o.deleted && o.body.get("revoked_at").is_none_or(Value::is_null))
            })
            .filter(|o| !filter.pending_only || o.pending > 0)
            .filter(|o| {
                filter
                    .enabled
                    .is_none_or(|e| o.body.get("enabled").and_then(Value::as_bool) == Some(e))
            })
            .filter(|o| {
                principal
                    .as_deref()
                    .is_none_or(|p| o.body.get("principal_id").and_then(Value::as_str) == Some(p))
            })
            .filter(|o| {
                search.as_deref().is_none_or(|s| {
                    ["name", "description", "display_prefix"].iter().any(|f| {
                        o.body
                            .get(*f)
                            .and_then(Value::as_str)
                            .is_some_and(|v| v.to_lowercase().contains(s))
                    })
                })
            })
            .collect();
        out.sort_by(|a, b| display_name(a).cmp(&display_name(b)).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// Reads one object from the server now (e.g. a key's last use) into the view.
    pub fn fetch(&self, connection: &str, kind: Kind, id: &str) -> Result<ViewObject> {
        let id = self.db.resolve_id(connection, id)?;
        let client = self.client(connection)?;
        let (obj, _) = self.rt.block_on(client.get(&object_path(kind, &id)))?;
        self.db.put_object(connection, kind, &obj)?;
        self.current(connection, kind, &id)
    }

    pub fn audit(&self, connection: &str, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let client = self.client(connection)?;
        let mut path = format!(
            "/v1/audit?since={}&limit={}",
            query.since.max(0),
            query.limit.unwrap_or(100).clamp(1, 1000)
        );
        for (name, value) in [
            ("actor", &query.actor),
            ("action", &query.action),
            ("target", &query.target),
        ] {
            if let Some(v) = value {
                path.push_str(&format!("&{name}={}", encode(v)));
            }
        }
        let (page, _) = self.rt.block_on(client.get(&path))?;
        let entries = page.get("entries").cloned().unwrap_or(Value::Array(vec![]));
        serde_json::from_value(entries)
            .map_err(|e| AdminError::Internal(format!("the audit page is not readable: {e}")))
    }

    /// Every audit entry (all pages).
    pub fn audit_all(&self, connection: &str, mut query: AuditQuery) -> Result<Vec<AuditEntry>> {
        let mut out = Vec::new();
        query.limit = Some(1000);
        loop {
            let page = self.audit(connection, &query)?;
            let Some(last) = page.last() else {
                return Ok(out);
            };
            query.since = last.seq;
            out.extend(page);
        }
    }

    /// `POST /v1/verify` for a key (the Admin screen's "test this key").
    pub fn verify(
        &self,
        connection: &str,
        key: &SecretValue,
        method: &str,
        path: &str,
    ) -> Result<Value> {
        let client = self.client(connection)?;
        let body = json!({ "key": key.expose(), "method": method, "path": path });
        self.rt.block_on(client.post_json("/v1/verify", &body))
    }

    // ---------------------------------------------------------------------------------------
    // Outbox, conflicts, status
    // ---------------------------------------------------------------------------------------

    pub fn outbox(
        &self,
        connection: Option<&str>,
        states: &[&str],
        limit: usize,
    ) -> Result<Vec<OutboxEntry>> {
        self.db.outbox(connection, states, limit)
    }

    pub fn retry(&self, seq: i64) -> Result<()> {
        self.db.retry(seq)?;
        self.wake();
        Ok(())
    }

    pub fn retry_all(&self, connection: Option<&str>) -> Result<usize> {
        let n = self.db.retry_all(connection)?;
        self.wake();
        Ok(n)
    }

    pub fn discard(&self, seq: i64) -> Result<OutboxEntry> {
        let entry = self.db.discard(seq)?;
        if let Some(vault) = &self.vault
            && entry.action.starts_with("key.r")
        {
            for (s, _, _, step) in self.db.pending_vault_steps().unwrap_or_default() {
                if s == seq {
                    let _ = vault.delete_internal(&step.pending);
                }
            }
        }
        Ok(entry)
    }

    /// Resolves a conflict: `mine` overwrites the server's version with the action,
    /// otherwise the server's version is taken and the action dropped.
    pub fn resolve(&self, seq: i64, mine: bool) -> Result<OutboxEntry> {
        let e = self.db.resolve(seq, mine)?;
        self.wake();
        Ok(e)
    }

    pub fn status(&self) -> Result<SyncStatus> {
        let live = lock(&self.live).clone();
        let mut connections = Vec::new();
        for c in self.db.connections()? {
            let counts = self.db.counts(Some(&c.name))?;
            let l = live.get(&c.name).cloned().unwrap_or_default();
            connections.push(ConnectionStatus {
                url: if c.auth == "embedded" {
                    lock(&self.embedded)
                        .as_ref()
                        .map_or_else(|| "embedded".into(), |e| e.url.clone())
                } else {
                    c.url.clone()
                },
                name: c.name,
                auth: c.auth,
                username: c.username,
                // Another process may have synced: fall back on what it recorded.
                online: l.online.or(match (&c.last_error, c.last_sync_at) {
                    (Some(e), _) if e.contains("unreachable") => Some(false),
                    (None, Some(_)) => Some(true),
                    _ => None,
                }),
                needs_sign_in: l.needs_sign_in,
                last_sync_at: c.last_sync_at,
                last_error: c.last_error,
                queued: counts.queued,
                failed: counts.failed,
                conflicts: counts.conflicts,
                waiting: counts.waiting,
                next_attempt_ms: counts.next_attempt_ms,
            });
        }
        let all = self.db.counts(None)?;
        Ok(SyncStatus {
            connections,
            queued: all.queued,
            failed: all.failed,
            conflicts: all.conflicts,
            background: self.background.load(Ordering::SeqCst),
        })
    }

    // ---------------------------------------------------------------------------------------
    // Sync
    // ---------------------------------------------------------------------------------------

    /// One sync of one connection: push what may go, run vault steps, pull the feed.
    pub fn sync(&self, connection: &str) -> Result<SyncReport> {
        let mut report = SyncReport {
            connection: connection.to_owned(),
            ..SyncReport::default()
        };
        let client = match self.client(connection) {
            Ok(c) => c,
            Err(e @ AdminError::Unauthenticated { .. }) => {
                self.set_live(connection, |l| l.needs_sign_in = true);
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let db = Arc::clone(&self.db);
        let options = self.options;
        let pushed = self.rt.block_on(push(&db, &client, connection, options))?;
        report.push = pushed.clone();
        report.vault_steps = self.finish_vault_steps();
        if pushed.unauthenticated {
            self.set_live(connection, |l| {
                l.online = Some(true);
                l.needs_sign_in = true;
            });
            let msg = "the server refused the admin credential; sign in again".to_owned();
            self.db.set_sync_result(connection, Some(&msg))?;
            report.error = Some(msg);
            return Ok(report);
        }
        if pushed.unreachable {
            self.set_live(connection, |l| l.online = Some(false));
            let msg = format!(
                "the key server at {} is unreachable; actions stay queued",
                client.base()
            );
            self.db.set_sync_result(connection, Some(&msg))?;
            report.error = Some(msg);
            return Ok(report);
        }
        match self.rt.block_on(pull(&db, &client, connection)) {
            Ok(n) => {
                report.pulled = n;
                self.set_live(connection, |l| {
                    l.online = Some(true);
                    l.needs_sign_in = false;
                });
                self.db.set_sync_result(connection, None)?;
            }
            Err(e) => {
                let offline = matches!(e, AdminError::Unreachable { .. });
                let auth = matches!(e, AdminError::Unauthenticated { .. });
                self.set_live(connection, |l| {
                    l.online = Some(!offline);
                    l.needs_sign_in = auth;
                });
                self.db.set_sync_result(connection, Some(&e.to_string()))?;
                report.error = Some(e.to_string());
            }
        }
        Ok(report)
    }

    /// Syncs every connection once.
    pub fn sync_all(&self) -> Result<Vec<SyncReport>> {
        let mut out = Vec::new();
        for c in self.db.connections()? {
            match self.sync(&c.name) {
                Ok(r) => out.push(r),
                Err(e) => out.push(SyncReport {
                    connection: c.name,
                    error: Some(e.to_string()),
                    ..SyncReport::default()
                }),
            }
        }
        Ok(out)
    }

    /// Replaces vault copies of rotated keys whose rotation the server has applied.
    fn finish_vault_steps(&self) -> u64 {
        let Some(vault) = &self.vault else {
            return 0;
        };
        let Ok(steps) = self.db.pending_vault_steps() else {
            return 0;
        };
        let mut done = 0;
        for (seq, connection, new_key, step) in steps {
            let result: Result<()> = (|| {
                if let Some(value) = vault.read_internal(&step.pending)? {
                    match vault.replace_value(&step.secret_id, &value) {
                        Ok(_) => {}
                        // Already replaced before an interruption.
                        Err(keywarden_vault::VaultError::Invalid { field: "value", .. }) => {}
                        Err(e) => return Err(e.into()),
                    }
                    vault.delete_internal(&step.pending)?;
                }
                self.db
                    .finish_vault_step(seq, &connection, new_key.as_deref(), &step.secret_id)
            })();
            match result {
                Ok(()) => done += 1,
                Err(e) => {
                    tracing::warn!(seq, error = %e, "could not update the vault copy of a rotated key")
                }
            }
        }
        done
    }

    /// Starts the background loop: syncs every connection whenever an action is queued,
    /// when a retry is due, and every `interval` to pull other administrators' changes.
    pub fn start_background(self: &Arc<Self>, interval: Duration) -> Background {
        let stop = Arc::new(AtomicBool::new(false));
        let admin = Arc::clone(self);
        let flag = Arc::clone(&stop);
        self.background.store(true, Ordering::SeqCst);
        let handle = std::thread::Builder::new()
            .name("keywarden-admin-sync".into())
            .spawn(move || {
                let mut offline_backoff = 0u32;
                while !flag.load(Ordering::SeqCst) {
                    let reports = admin.sync_all().unwrap_or_default();
                    let offline = reports.iter().any(|r| r.push.unreachable);
                    offline_backoff = if offline {
                        (offline_backoff + 1).min(6)
                    } else {
                        0
                    };
                    let mut wait = interval;
                    if offline {
                        wait = wait.max(Duration::from_millis(
                            admin.options.policy.backoff_ms(offline_backoff).max(500),
                        ));
                    } else if let Ok(c) = admin.db.counts(None)
                        && let Some(next) = c.next_attempt_ms
                    {
                        let until = (next - admin.db.now_ms()).max(10) as u64;
                        wait = wait.min(Duration::from_millis(until));
                    }
                    let (m, cv) = &*admin.wake;
                    let mut woken = lock(m);
                    if !*woken {
                        woken = cv
                            .wait_timeout(woken, wait)
                            .map(|(g, _)| g)
                            .unwrap_or_else(|p| p.into_inner().0);
                    }
                    *woken = false;
                }
                admin.background.store(false, Ordering::SeqCst);
            })
            .ok();
        Background {
            stop,
            wake: Arc::clone(&self.wake),
            handle,
        }
    }
}

/// The background sync loop; dropping it stops the loop.
pub struct Background {
    stop: Arc<AtomicBool>,
    wake: Arc<(Mutex<bool>, Condvar)>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Background {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let (m, cv) = &*self.wake;
        *lock(m) = true;
        cv.notify_all();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn to_json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(AdminError::invalid(
            "name",
            "a connection name is 1 to 64 characters of A-Z, a-z, 0-9, - and _",
        ));
    }
    Ok(())
}

/// A name for messages: the object's name (keys: name and display prefix).
pub fn display_name(o: &ViewObject) -> String {
    let name = o.body.get("name").and_then(Value::as_str).unwrap_or(&o.id);
    match o.body.get("display_prefix").and_then(Value::as_str) {
        Some(p) => format!("{name} ({p})"),
        None => name.to_owned(),
    }
}

fn jwt_secret(body: &Value) -> bool {
    body.get("access_method")
        .and_then(|m| m.get("secret"))
        .is_some_and(|s| !s.is_null() && s != "***")
}

/// Replaces local ids that were already mapped by their server ids in id lists.
fn resolve_ids_in(db: &LocalDb, connection: &str, body: &mut Value) -> Result<()> {
    for key in ["groups", "profiles"] {
        if let Some(list) = body.get_mut(key).and_then(Value::as_array_mut) {
            for item in list.iter_mut() {
                if let Some(id) = item.as_str() {
                    *item = json!(db.resolve_id(connection, id)?);
                }
            }
        }
    }
    Ok(())
}

fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~:".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
