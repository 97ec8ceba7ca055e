//! The server's objects: principals, groups, roles, access profiles and keys.
//!
//! These are the stored documents. What the API shows is the same shape, except
//! that secrets (a key's digest, a JWT secret) are never serialized outward:
//! see [`Key::view`] and [`AccessProfile::view`].

use std::collections::BTreeSet;

use keywarden_core::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The kinds of stored objects. Also the `kind` of change-feed entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Principal,
    Group,
    Role,
    Profile,
    Key,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Principal => "principal",
            Kind::Group => "group",
            Kind::Role => "role",
            Kind::Profile => "profile",
            Kind::Key => "key",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "principal" => Kind::Principal,
            "group" => Kind::Group,
            "role" => Kind::Role,
            "profile" => Kind::Profile,
            "key" => Kind::Key,
            _ => return None,
        })
    }
}

/// Privileges the server itself understands. Any other privilege string is a
/// scope that keys can carry to the APIs behind the gateway (`rest`, `ui`, a collection name…).
pub mod privilege {
    /// The principal's keys may authenticate at all ("Use API Key").
    pub const KEY_USE: &str = "key:use";
    /// Read every object, the change feed and the verification statistics.
    pub const ADMIN_READ: &str = "admin:read";
    /// Create, change and delete principals, groups, roles and profiles.
    pub const ADMIN_WRITE: &str = "admin:write";
    /// Issue and govern keys of any principal.
    pub const KEYS_MANAGE: &str = "keys:manage";
    /// Issue and govern the caller's own keys.
    pub const KEYS_SELF: &str = "keys:self";
    /// Read the audit log.
    pub const AUDIT_READ: &str = "audit:read";
    /// Grant any privilege, including scopes no one holds yet (`rest`, `ui`, a collection).
    /// Only for the escalation rule (a caller grants only what it holds): it is not a
    /// scope, and a key's scopes are never widened by it.
    pub const ANY: &str = "*";

    /// What the first administrator's role holds.
    pub const ALL_ADMIN: [&str; 7] = [
        KEY_USE,
        ADMIN_READ,
        ADMIN_WRITE,
        KEYS_MANAGE,
        KEYS_SELF,
        AUDIT_READ,
        ANY,
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    User,
    ServiceUser,
    ApiClient,
}

/// A user, service user or API client. Keys act as their principal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Principal {
    pub id: String,
    pub kind: PrincipalKind,
    /// Unique; the login name of users.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Logo of an API client (URL or data reference).
    #[serde(default)]
    pub logo: Option<String>,
    pub enabled: bool,
    /// Groups the principal belongs to; roles granted to them give it privileges.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Access profiles attached to an API client.
    #[serde(default)]
    pub profiles: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Group {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: i64,
}

/// A role holds privileges and is granted to groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Role {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub privileges: Vec<String>,
    /// Groups the role is granted to.
    #[serde(default)]
    pub groups: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: i64,
}

/// A rate limit: at most `requests` per `per_seconds`, as a token bucket (bursts up to `requests`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RatePolicy {
    pub requests: u32,
    pub per_seconds: u32,
}

/// How an API client authenticates under an access profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AccessMethod {
    /// An API key (auth token).
    Token,
    /// A JSON Web Token signed with `signing_method` (`HS256`, `RS256`, `ES256`…).
    Jwt {
        signing_method: String,
        /// HMAC secret. Write-only: never returned by the API.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secret: Option<String>,
        /// PEM public key for asymmetric methods.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        public_key: Option<String>,
    },
}

/// An access profile attached to API clients: what their keys may reach and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AccessProfile {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// API collections (scopes) reachable through this profile.
    #[serde(default)]
    pub collections: Vec<String>,
    #[serde(default)]
    pub policy: Option<RatePolicy>,
    pub access_method: AccessMethod,
    /// IPv4/IPv6 addresses or CIDR ranges; empty means any address.
    #[serde(default)]
    pub ip_allowlist: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: i64,
}

impl AccessProfile {
    /// The profile as the API shows it: the JWT secret is replaced by a marker.
    pub fn view(&self) -> AccessProfile {
        let mut view = self.clone();
        if let AccessMethod::Jwt { secret, .. } = &mut view.access_method
            && secret.is_some()
        {
            *secret = Some("***".to_owned());
        }
        view
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Slot {
    Primary,
    Secondary,
}

/// An API key. The key itself is never stored: only its SHA-256 digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Key {
    pub id: String,
    pub principal_id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The environment label of the key text (`live`, `test`…).
    pub environment: String,
    /// `kw_live_AbCd…`: enough to tell keys apart, never enough to use one.
    pub display_prefix: String,
    /// Hex SHA-256 of the key text. Stored, never returned by the API.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
    /// Scopes the key carries; empty means all of its principal's privileges.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Only GET, HEAD and OPTIONS.
    #[serde(default)]
    pub read_only: bool,
    /// Request-path prefixes; a leading `=` means exactly that path. Empty means any path.
    #[serde(default)]
    pub path_prefixes: Vec<String>,
    /// Permitted operations (e.g. workflow names); empty means any.
    #[serde(default)]
    pub operations: Vec<String>,
    /// IPv4/IPv6 addresses or CIDR ranges; empty means any address.
    #[serde(default)]
    pub ip_allowlist: Vec<String>,
    /// Unix seconds after which the key no longer works.
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
    pub enabled: bool,
    #[serde(default)]
    pub slot: Option<Slot>,
    #[serde(default)]
    pub policy: Option<RatePolicy>,
    /// Access profile applied to this key (API clients).
    #[serde(default)]
    pub profile_id: Option<String>,
    /// Whether the key may be sent as the `auth-key` query parameter (discouraged: URLs get logged).
    #[serde(default)]
    pub allow_query_param: bool,
    /// Set when the key was revoked; a revoked key never works again.
    #[serde(default)]
    pub revoked_at: Option<Timestamp>,
    /// The key that replaced this one in a rotation.
    #[serde(default)]
    pub replaced_by: Option<String>,
    /// Last successful verification seen by this server (updated lazily).
    #[serde(default)]
    pub last_used_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: i64,
}

impl Key {
    /// The key as the API shows it: without its digest.
    pub fn view(&self) -> Key {
        Key {
            digest: String::new(),
            ..self.clone()
        }
    }
}

/// A stored object of any kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Object {
    Principal(Principal),
    Group(Group),
    Role(Role),
    Profile(AccessProfile),
    Key(Key),
}

impl Object {
    pub fn kind(&self) -> Kind {
        match self {
            Object::Principal(_) => Kind::Principal,
            Object::Group(_) => Kind::Group,
            Object::Role(_) => Kind::Role,
            Object::Profile(_) => Kind::Profile,
            Object::Key(_) => Kind::Key,
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Object::Principal(o) => &o.id,
            Object::Group(o) => &o.id,
            Object::Role(o) => &o.id,
            Object::Profile(o) => &o.id,
            Object::Key(o) => &o.id,
        }
    }

    pub fn version(&self) -> i64 {
        match self {
            Object::Principal(o) => o.version,
            Object::Group(o) => o.version,
            Object::Role(o) => o.version,
            Object::Profile(o) => o.version,
            Object::Key(o) => o.version,
        }
    }

    /// The value that must be unique across the database, if any.
    pub fn unique_name(&self) -> Option<String> {
        match self {
            Object::Principal(o) => Some(format!("principal:{}", o.name)),
            Object::Group(o) => Some(format!("group:{}", o.name)),
            Object::Role(o) => Some(format!("role:{}", o.name)),
            Object::Profile(o) => Some(format!("profile:{}", o.name)),
            Object::Key(o) => Some(format!("key:{}", o.digest)),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        let value = match self {
            Object::Principal(o) => serde_json::to_value(o),
            Object::Group(o) => serde_json::to_value(o),
            Object::Role(o) => serde_json::to_value(o),
            Object::Profile(o) => serde_json::to_value(o),
            Object::Key(o) => serde_json::to_value(o),
        };
        value.unwrap_or(serde_json::Value::Null)
    }

    pub fn from_json(kind: Kind, body: &str) -> Result<Self, serde_json::Error> {
        Ok(match kind {
            Kind::Principal => Object::Principal(serde_json::from_str(body)?),
            Kind::Group => Object::Group(serde_json::from_str(body)?),
            Kind::Role => Object::Role(serde_json::from_str(body)?),
            Kind::Profile => Object::Profile(serde_json::from_str(body)?),
            Kind::Key => Object::Key(serde_json::from_str(body)?),
        })
    }

    /// The object as the API and the change feed show it (no digests, no secrets).
    pub fn public_json(&self) -> serde_json::Value {
        match self {
            Object::Key(k) => serde_json::to_value(k.view()).unwrap_or_default(),
            Object::Profile(p) => serde_json::to_value(p.view()).unwrap_or_default(),
            other => other.to_json(),
        }
    }
}

/// One entry of the change feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub seq: i64,
    pub kind: Kind,
    pub id: String,
    /// `None` when the object was deleted.
    pub object: Option<Object>,
    pub version: i64,
    pub actor: String,
    pub at: Timestamp,
}

/// One row of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: Timestamp,
    /// `principal:<id>`, `key:<id>`, `session:<principal id>` or `system`.
    pub actor: String,
    pub action: String,
    /// `<kind>:<id>`; keys also carry their display prefix in `detail`.
    pub target: String,
    #[serde(default)]
    pub detail: serde_json::Value,
}

/// The set of privileges a principal holds through its groups' roles.
pub type Privileges = BTreeSet<String>;
