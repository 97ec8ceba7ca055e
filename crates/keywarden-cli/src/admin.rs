//! `kw admin`: principals, groups, roles, access profiles and keys on a key server,
//! queued locally and synced exactly once.

use std::io::{IsTerminal, Read, Write};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use keywarden_admin::{
    AccessMethod, Admin, AdminError, AuditQuery, EMBEDDED, GroupInput, KeyInput, Kind, ListFilter,
    Placement, PrincipalInput, PrincipalKind, ProfileInput, RatePolicy, RoleInput, Slot,
    ViewObject, display_name,
};
use keywarden_core::{SecretValue, now};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::{Failure, Outcome, input};

#[derive(Debug, Args)]
#[command(
    after_help = "Actions are queued locally first (they survive crashes and work offline), \
then synced to the key server exactly once.\n\
The admin credential is read from $KEYWARDEN_ADMIN_KEY_FILE, standard input or a prompt, and kept in the keychain."
)]
pub struct AdminArgs {
    /// The connection (key server) to use; the first one by default.
    #[arg(long, short = 'c', global = true)]
    pub connection: Option<String>,
    /// Queue only; do not try to sync right away.
    #[arg(long, global = true)]
    pub no_sync: bool,
    #[command(subcommand)]
    pub command: AdminCmd,
}

#[derive(Debug, Subcommand)]
pub enum AdminCmd {
    /// Connect a key server (admin key or user name + password), or the embedded one.
    Connect(ConnectArgs),
    /// Forget a connection (refused while actions for it are still queued).
    Disconnect { name: String },
    /// Online/offline, queued, failed and conflicting actions, last sync, per connection.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Send queued actions and pull other administrators' changes.
    Sync {
        /// One pass, then exit (otherwise keep syncing until interrupted).
        #[arg(long)]
        once: bool,
        /// Seconds between passes when running continuously.
        #[arg(long, default_value_t = 2)]
        interval: u64,
    },
    /// Users, service users and API clients.
    #[command(subcommand)]
    Principals(PrincipalCmd),
    /// Groups of principals.
    #[command(subcommand)]
    Groups(GroupCmd),
    /// Roles: privileges granted to groups.
    #[command(subcommand)]
    Roles(RoleCmd),
    /// Access profiles for API clients.
    #[command(subcommand)]
    Profiles(ProfileCmd),
    /// API keys: generated here, only their digest is sent.
    #[command(subcommand)]
    Keys(KeyCmd),
    /// The queue of actions not yet applied by the server.
    #[command(subcommand)]
    Outbox(OutboxCmd),
    /// Actions refused because someone else changed the object (412).
    #[command(subcommand)]
    Conflicts(ConflictCmd),
    /// The server's audit log.
    Audit(AuditArgs),
}

#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// The key server's URL (https, or http on loopback).
    #[arg(required_unless_present = "embedded")]
    pub url: Option<String>,
    /// Use a key server run by Keywarden itself on this machine.
    #[arg(long, conflicts_with_all = ["url", "user"])]
    pub embedded: bool,
    /// A name for this connection.
    #[arg(long, default_value = "default")]
    pub name: String,
    /// Sign in with this user name (the password is read from stdin or a prompt).
    #[arg(long)]
    pub user: Option<String>,
    /// An extra CA certificate (PEM file) to trust.
    #[arg(long)]
    pub cacert: Option<std::path::PathBuf>,
}

#[derive(Debug, Args, Default)]
pub struct ListArgs {
    /// Text in the name or description.
    #[arg(long, short)]
    pub search: Option<String>,
    /// Only objects with queued, failed or conflicting actions.
    #[arg(long)]
    pub pending: bool,
    /// Include revoked keys and objects being deleted.
    #[arg(long)]
    pub all: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KindArg {
    User,
    ServiceUser,
    ApiClient,
}

#[derive(Debug, Subcommand)]
pub enum PrincipalCmd {
    List(ListArgs),
    Create {
        name: String,
        #[arg(long, value_enum, default_value = "user")]
        kind: KindArg,
        #[arg(long, default_value = "")]
        description: String,
        /// Logo of an API client (URL).
        #[arg(long)]
        logo: Option<String>,
        /// Group id or name (repeatable).
        #[arg(long = "group")]
        groups: Vec<String>,
        /// Access profile id or name (repeatable; API clients).
        #[arg(long = "profile")]
        profiles: Vec<String>,
        #[arg(long)]
        disabled: bool,
    },
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        logo: Option<String>,
        /// Replaces the groups (repeatable).
        #[arg(long = "group")]
        groups: Vec<String>,
        /// Replaces the access profiles (repeatable).
        #[arg(long = "profile")]
        profiles: Vec<String>,
    },
    /// Enable a principal (its keys work again).
    Enable {
        id: String,
    },
    /// Disable a principal: all its keys stop working.
    Disable {
        id: String,
    },
    /// Delete a principal: its keys are revoked.
    Delete {
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum GroupCmd {
    List(ListArgs),
    Create {
        name: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
    },
    Delete {
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum RoleCmd {
    List(ListArgs),
    Create {
        name: String,
        #[arg(long, default_value = "")]
        description: String,
        /// Privilege (repeatable): key:use, admin:read, admin:write, keys:manage, keys:self, audit:read, or a scope.
        #[arg(long = "privilege")]
        privileges: Vec<String>,
        /// Group the role is granted to (repeatable).
        #[arg(long = "group")]
        groups: Vec<String>,
    },
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// Replaces the privileges (repeatable).
        #[arg(long = "privilege")]
        privileges: Vec<String>,
        /// Replaces the groups (repeatable).
        #[arg(long = "group")]
        groups: Vec<String>,
    },
    Delete {
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProfileCmd {
    List(ListArgs),
    Create {
        name: String,
        #[arg(long, default_value = "")]
        description: String,
        /// API collection (repeatable).
        #[arg(long = "collection")]
        collections: Vec<String>,
        /// Rate limit as REQUESTS/SECONDS, e.g. 100/60.
        #[arg(long)]
        rate: Option<String>,
        /// Allowed address or CIDR (repeatable).
        #[arg(long = "ip")]
        ips: Vec<String>,
        /// JWT access with this asymmetric signing method (RS256, ES256, EdDSA…).
        #[arg(long, requires = "jwt_public_key")]
        jwt_method: Option<String>,
        /// The PEM public key file for --jwt-method.
        #[arg(long)]
        jwt_public_key: Option<std::path::PathBuf>,
    },
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long = "collection")]
        collections: Vec<String>,
        #[arg(long)]
        rate: Option<String>,
        #[arg(long = "ip")]
        ips: Vec<String>,
    },
    Delete {
        id: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SlotArg {
    Primary,
    Secondary,
}

#[derive(Debug, Args)]
pub struct KeyFields {
    #[arg(long)]
    pub description: Option<String>,
    /// Scope (repeatable): ui, rest, integration, a collection…
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// GET, HEAD and OPTIONS only.
    #[arg(long)]
    pub read_only: bool,
    /// Request-path prefix (repeatable; '=/path' for exactly that path).
    #[arg(long = "path")]
    pub paths: Vec<String>,
    /// Permitted operation (repeatable).
    #[arg(long = "operation")]
    pub operations: Vec<String>,
    /// Allowed address or CIDR (repeatable).
    #[arg(long = "ip")]
    pub ips: Vec<String>,
    /// Expiry: a date (2027-03-31) or a duration (90d, 12w, 48h).
    #[arg(long)]
    pub expires: Option<String>,
    /// Rate limit as REQUESTS/SECONDS, e.g. 100/60.
    #[arg(long)]
    pub rate: Option<String>,
    /// Allow the key as the auth-key query parameter (discouraged: URLs get logged).
    #[arg(long)]
    pub allow_query_param: bool,
}

#[derive(Debug, Subcommand)]
pub enum KeyCmd {
    List {
        /// Keys of this principal (id or name).
        #[arg(long)]
        principal: Option<String>,
        #[command(flatten)]
        list: ListArgs,
    },
    /// Generate a key here and queue it. Printed once on stdout, or kept in the vault with --into-vault.
    Create {
        name: String,
        /// The principal (id or name) the key acts as.
        #[arg(long)]
        principal: String,
        /// Environment label of the key (live, test…).
        #[arg(long = "env")]
        environment: Option<String>,
        #[arg(long, value_enum)]
        slot: Option<SlotArg>,
        /// Access profile (id or name) of an API client.
        #[arg(long)]
        profile: Option<String>,
        #[arg(long)]
        disabled: bool,
        /// Store the key as this vault secret instead of printing it.
        #[arg(long = "into-vault", value_name = "SECRET")]
        into_vault: Option<String>,
        /// Hosts the stored secret may be sent to (repeatable; the key server's host by default).
        #[arg(long = "host", requires = "into_vault")]
        hosts: Vec<String>,
        #[command(flatten)]
        fields: KeyFields,
    },
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        no_expiry: bool,
        #[command(flatten)]
        fields: KeyFields,
    },
    Enable {
        id: String,
    },
    /// Disable a key: refused at once by the server.
    Disable {
        id: String,
    },
    /// New key now; the old one keeps working for the grace period. A vault copy is replaced.
    Rotate {
        id: String,
        /// How long the old key keeps working: 1d, 12h, 30m… (at most 90d).
        #[arg(long, default_value = "1d")]
        grace: String,
    },
    /// Revoke and reissue at once.
    Refresh {
        id: String,
    },
    /// Revoke for ever.
    Revoke {
        id: String,
    },
    Delete {
        id: String,
    },
    /// Read a key from the server now (e.g. its last use).
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum OutboxCmd {
    /// Queued, failed and conflicting actions (with --all, applied ones too).
    List {
        #[arg(long)]
        all: bool,
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Send a failed action again (or every failed one with --all).
    Retry {
        #[arg(required_unless_present = "all")]
        seq: Option<i64>,
        #[arg(long)]
        all: bool,
    },
    /// Give up an action that was not applied.
    Discard { seq: i64 },
}

#[derive(Debug, Subcommand)]
pub enum ConflictCmd {
    /// Each conflict with your intent and the server's current version.
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Keep yours (send it again over the server's version) or take theirs.
    Resolve {
        seq: i64,
        #[arg(long, conflicts_with = "theirs", required_unless_present = "theirs")]
        mine: bool,
        #[arg(long)]
        theirs: bool,
    },
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[arg(long, default_value_t = 0)]
    pub since: i64,
    #[arg(long, default_value_t = 100)]
    pub limit: i64,
    #[arg(long)]
    pub actor: Option<String>,
    #[arg(long)]
    pub action: Option<String>,
    #[arg(long)]
    pub target: Option<String>,
    #[arg(long)]
    pub json: bool,
}

impl From<AdminError> for Failure {
    fn from(err: AdminError) -> Self {
        match &err {
            AdminError::Invalid { .. }
            | AdminError::UnknownConnection(_)
            | AdminError::NoSuchAction(_)
            | AdminError::WrongState { .. } => Failure::usage(err),
            AdminError::Vault(_) => Failure::failed(err),
            _ => Failure::failed(err),
        }
    }
}

struct Ctx {
    admin: Arc<Admin>,
    connection: Option<String>,
    sync: bool,
}

impl Ctx {
    fn conn(&self) -> Result<String, Failure> {
        Ok(self.admin.connection_name(self.connection.as_deref())?)
    }

    /// After queueing: try to deliver right away, and say what happened.
    fn after_queue(&self, conn: &str, what: &str) -> Outcome {
        if !self.sync {
            eprintln!("Queued: {what}.");
            return Ok(());
        }
        match self.admin.sync(conn) {
            Ok(r) if r.error.is_none() && r.push.failed == 0 && r.push.conflicts == 0 => {
                let s = self.admin.status()?;
                if s.queued == 0 {
                    eprintln!("Done: {what} (synced).");
                } else {
                    eprintln!(
                        "Queued: {what}; {} actions still wait for a retry.",
                        s.queued
                    );
                }
            }
            Ok(r) => eprintln!(
                "Queued: {what}; not synced yet: {}",
                r.error
                    .unwrap_or_else(|| "see `kw admin outbox list`".into())
            ),
            Err(e) => eprintln!("Queued: {what}; not synced yet: {e}"),
        }
        Ok(())
    }
}

fn key_file() -> Result<Option<SecretValue>, Failure> {
    let Some(path) = std::env::var_os("KEYWARDEN_ADMIN_KEY_FILE").filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let bytes = Zeroizing::new(std::fs::read(&path).map_err(|e| {
        Failure::usage(format!(
            "cannot read KEYWARDEN_ADMIN_KEY_FILE ({}): {e}",
            std::path::Path::new(&path).display()
        ))
    })?);
    SecretValue::from_input(bytes.to_vec())
        .map(Some)
        .map_err(|e| Failure::usage(format!("cannot use the admin key file: {e}")))
}

/// A credential from the key file, standard input or a hidden prompt.
fn read_secret(prompt: &str) -> Result<SecretValue, Failure> {
    if let Some(v) = key_file()? {
        return Ok(v);
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut buf = Zeroizing::new(Vec::new());
        stdin.lock().take(64 * 1024).read_to_end(&mut buf)?;
        return SecretValue::from_input(buf.to_vec())
            .map_err(|e| Failure::usage(format!("cannot use the value from standard input: {e}")));
    }
    let typed = Zeroizing::new(rpassword::prompt_password(prompt)?);
    SecretValue::new(typed.trim().to_owned())
        .map_err(|e| Failure::usage(format!("cannot use that value: {e}")))
}

fn open_admin() -> Result<Arc<Admin>, Failure> {
    let vault = crate::secret::open(false)?;
    let home = keywarden_vault::default_home();
    let admin = Admin::open(home, Some(Arc::new(vault)))?;
    Ok(Arc::new(admin))
}

pub fn run(args: AdminArgs) -> Outcome {
    let admin = open_admin()?;
    if let Some(key) = key_file()?
        && let Ok(conn) = admin.connection_name(args.connection.as_deref())
    {
        admin.use_credential(&conn, key);
    }
    let ctx = Ctx {
        admin,
        connection: args.connection,
        sync: !args.no_sync,
    };
    match args.command {
        AdminCmd::Connect(a) => connect(&ctx, a),
        AdminCmd::Disconnect { name } => {
            ctx.admin.disconnect(&name)?;
            eprintln!("Forgot the connection {name:?} and its credential.");
            Ok(())
        }
        AdminCmd::Status { json } => status(&ctx, json),
        AdminCmd::Sync { once, interval } => sync(&ctx, once, interval),
        AdminCmd::Principals(cmd) => principals(&ctx, cmd),
        AdminCmd::Groups(cmd) => groups(&ctx, cmd),
        AdminCmd::Roles(cmd) => roles(&ctx, cmd),
        AdminCmd::Profiles(cmd) => profiles(&ctx, cmd),
        AdminCmd::Keys(cmd) => keys(&ctx, cmd),
        AdminCmd::Outbox(cmd) => outbox(&ctx, cmd),
        AdminCmd::Conflicts(cmd) => conflicts(&ctx, cmd),
        AdminCmd::Audit(a) => audit(&ctx, a),
    }
}

fn connect(ctx: &Ctx, a: ConnectArgs) -> Outcome {
    if a.embedded {
        let url = ctx.admin.connect_embedded()?;
        eprintln!("Connected {EMBEDDED:?}: a key server run by Keywarden on this machine ({url}).");
        return Ok(());
    }
    let url = a.url.unwrap_or_default();
    let ca = match &a.cacert {
        Some(p) => Some(std::fs::read_to_string(p).map_err(|e| {
            Failure::usage(format!(
                "cannot read the CA certificate {}: {e}",
                p.display()
            ))
        })?),
        None => None,
    };
    match &a.user {
        Some(user) => {
            let password = read_secret(&format!("Password for {user}: "))?;
            let expires =
                ctx.admin
                    .connect_with_login(&a.name, &url, ca.as_deref(), user, &password)?;
            eprintln!(
                "Signed in to {url} as {user}; the session ends {} (sign in again then).",
                input::date(expires)
            );
        }
        None => {
            let from_file = key_file()?.is_some();
            let key = read_secret("Admin key: ")?;
            if keywarden_keys::ApiKey::parse(key.expose()).is_err() {
                return Err(Failure::usage(
                    "that is not a Keywarden key (prefix_env_random_checksum): check for a typo",
                ));
            }
            let verified =
                ctx.admin
                    .connect_with_key_opts(&a.name, &url, ca.as_deref(), key, !from_file)?;
            if verified {
                eprintln!("Connected {:?} to {url}; the admin key works.", a.name);
            } else {
                eprintln!(
                    "Saved {:?} for {url}, but the server does not answer now; actions will queue until it does.",
                    a.name
                );
            }
        }
    }
    Ok(())
}

fn status(ctx: &Ctx, json: bool) -> Outcome {
    let s = ctx.admin.status()?;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &s).map_err(Failure::failed)?;
        writeln!(out)?;
        return Ok(());
    }
    if s.connections.is_empty() {
        eprintln!(
            "No key server yet. Connect one: kw admin connect URL   (or: kw admin connect --embedded)"
        );
        return Ok(());
    }
    for c in &s.connections {
        let online = match (c.online, c.needs_sign_in) {
            (_, true) => "sign in again",
            (Some(true), _) => "online",
            (Some(false), _) => "offline",
            (None, _) => "not checked yet",
        };
        let last = c
            .last_sync_at
            .map_or_else(|| "never".to_owned(), |t| format!("{}s ago", now() - t));
        writeln!(
            out,
            "{}  {}  {online}  queued {}  failed {}  conflicts {}  last sync {last}",
            c.name, c.url, c.queued, c.failed, c.conflicts
        )?;
        if let Some(e) = &c.last_error {
            writeln!(out, "  last error: {e}")?;
        }
    }
    Ok(())
}

fn sync(ctx: &Ctx, once: bool, interval: u64) -> Outcome {
    loop {
        let reports = ctx.admin.sync_all()?;
        let mut trouble = false;
        for r in &reports {
            eprintln!(
                "{}: {} applied, {} failed, {} conflicts, {} to retry, {} changes pulled{}",
                r.connection,
                r.push.applied,
                r.push.failed,
                r.push.conflicts,
                r.push.retrying,
                r.pulled,
                r.error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            );
            trouble |= r.error.is_some();
        }
        if once {
            let s = ctx.admin.status()?;
            if s.failed + s.conflicts > 0 {
                eprintln!(
                    "{} failed and {} conflicting actions wait for you: kw admin outbox list",
                    s.failed, s.conflicts
                );
            }
            return if trouble {
                Err(Failure::failed(""))
            } else {
                Ok(())
            };
        }
        std::thread::sleep(Duration::from_secs(interval.max(1)));
    }
}

fn filter(l: &ListArgs) -> ListFilter {
    ListFilter {
        search: l.search.clone(),
        pending_only: l.pending,
        include_inactive: l.all,
        ..ListFilter::default()
    }
}

fn print_list(objects: &[ViewObject], json: bool, columns: &[&str]) -> Outcome {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, objects).map_err(Failure::failed)?;
        writeln!(out)?;
        return Ok(());
    }
    if objects.is_empty() {
        eprintln!("Nothing to show.");
        return Ok(());
    }
    for o in objects {
        let mut line = display_name(o);
        for c in columns {
            let v = match o.body.get(*c) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Bool(b)) => format!("{c}={b}"),
                Some(Value::Array(a)) if !a.is_empty() => format!("{c}={}", a.len()),
                _ => continue,
            };
            line.push_str("  ");
            line.push_str(&v);
        }
        let state = match (&o.problem, o.pending, o.deleted) {
            (_, _, true) => " [deleting]".to_owned(),
            (Some(p), _, _) => format!(" [{p}]"),
            (None, n, _) if n > 0 => " [pending]".to_owned(),
            _ => String::new(),
        };
        writeln!(out, "{line}{state}  {}", o.id)?;
    }
    Ok(())
}

fn ids(ctx: &Ctx, conn: &str, kind: Kind, list: &[String]) -> Result<Vec<String>, Failure> {
    list.iter()
        .map(|g| Ok(ctx.admin.find(conn, kind, g)?.id))
        .collect()
}

fn rate(text: &Option<String>) -> Result<Option<RatePolicy>, Failure> {
    let Some(t) = text else { return Ok(None) };
    let bad = || {
        Failure::usage(format!(
            "--rate {t:?}: expected REQUESTS/SECONDS, e.g. 100/60"
        ))
    };
    let (r, s) = t.split_once('/').ok_or_else(bad)?;
    Ok(Some(RatePolicy {
        requests: r.trim().parse().map_err(|_| bad())?,
        per_seconds: s.trim().parse().map_err(|_| bad())?,
    }))
}

fn principals(ctx: &Ctx, cmd: PrincipalCmd) -> Outcome {
    let conn = ctx.conn()?;
    let a = &ctx.admin;
    match cmd {
        PrincipalCmd::List(l) => print_list(
            &a.list(&conn, Kind::Principal, &filter(&l))?,
            l.json,
            &["kind", "enabled"],
        ),
        PrincipalCmd::Create {
            name,
            kind,
            description,
            logo,
            groups,
            profiles,
            disabled,
        } => {
            let input = PrincipalInput {
                kind: match kind {
                    KindArg::User => PrincipalKind::User,
                    KindArg::ServiceUser => PrincipalKind::ServiceUser,
                    KindArg::ApiClient => PrincipalKind::ApiClient,
                },
                name: name.clone(),
                description,
                logo,
                enabled: !disabled,
                groups: ids(ctx, &conn, Kind::Group, &groups)?,
                profiles: ids(ctx, &conn, Kind::Profile, &profiles)?,
            };
            let o = a.create_principal(&conn, input)?;
            println!("{}", o.id);
            ctx.after_queue(&conn, &format!("create principal {name}"))
        }
        PrincipalCmd::Update {
            id,
            name,
            description,
            logo,
            groups,
            profiles,
        } => {
            let mut patch = serde_json::Map::new();
            if let Some(v) = name {
                patch.insert("name".into(), json!(v));
            }
            if let Some(v) = description {
                patch.insert("description".into(), json!(v));
            }
            if let Some(v) = logo {
                patch.insert("logo".into(), json!(v));
            }
            if !groups.is_empty() {
                patch.insert(
                    "groups".into(),
                    json!(ids(ctx, &conn, Kind::Group, &groups)?),
                );
            }
            if !profiles.is_empty() {
                patch.insert(
                    "profiles".into(),
                    json!(ids(ctx, &conn, Kind::Profile, &profiles)?),
                );
            }
            let o = a.find(&conn, Kind::Principal, &id)?;
            a.update(&conn, Kind::Principal, &o.id, Value::Object(patch))?;
            ctx.after_queue(&conn, &format!("update principal {}", display_name(&o)))
        }
        PrincipalCmd::Enable { id } => set_enabled(ctx, &conn, Kind::Principal, &id, true),
        PrincipalCmd::Disable { id } => set_enabled(ctx, &conn, Kind::Principal, &id, false),
        PrincipalCmd::Delete { id } => delete(ctx, &conn, Kind::Principal, &id),
    }
}

fn set_enabled(ctx: &Ctx, conn: &str, kind: Kind, id: &str, on: bool) -> Outcome {
    let o = ctx.admin.find(conn, kind, id)?;
    ctx.admin.set_enabled(conn, kind, &o.id, on)?;
    let verb = if on { "enable" } else { "disable" };
    ctx.after_queue(
        conn,
        &format!("{verb} {} {}", kind.as_str(), display_name(&o)),
    )
}

fn delete(ctx: &Ctx, conn: &str, kind: Kind, id: &str) -> Outcome {
    let o = ctx.admin.find(conn, kind, id)?;
    ctx.admin.delete(conn, kind, &o.id)?;
    ctx.after_queue(
        conn,
        &format!("delete {} {}", kind.as_str(), display_name(&o)),
    )
}

fn simple_patch(
    name: Option<String>,
    description: Option<String>,
) -> serde_json::Map<String, Value> {
    let mut patch = serde_json::Map::new();
    if let Some(v) = name {
        patch.insert("name".into(), json!(v));
    }
    if let Some(v) = description {
        patch.insert("description".into(), json!(v));
    }
    patch
}

fn groups(ctx: &Ctx, cmd: GroupCmd) -> Outcome {
    let conn = ctx.conn()?;
    let a = &ctx.admin;
    match cmd {
        GroupCmd::List(l) => print_list(
            &a.list(&conn, Kind::Group, &filter(&l))?,
            l.json,
            &["description"],
        ),
        GroupCmd::Create { name, description } => {
            let o = a.create_group(
                &conn,
                GroupInput {
                    name: name.clone(),
                    description,
                },
            )?;
            println!("{}", o.id);
            ctx.after_queue(&conn, &format!("create group {name}"))
        }
        GroupCmd::Update {
            id,
            name,
            description,
        } => {
            let o = a.find(&conn, Kind::Group, &id)?;
            a.update(
                &conn,
                Kind::Group,
                &o.id,
                Value::Object(simple_patch(name, description)),
            )?;
            ctx.after_queue(&conn, &format!("update group {}", display_name(&o)))
        }
        GroupCmd::Delete { id } => delete(ctx, &conn, Kind::Group, &id),
    }
}

fn roles(ctx: &Ctx, cmd: RoleCmd) -> Outcome {
    let conn = ctx.conn()?;
    let a = &ctx.admin;
    match cmd {
        RoleCmd::List(l) => print_list(
            &a.list(&conn, Kind::Role, &filter(&l))?,
            l.json,
            &["privileges", "groups"],
        ),
        RoleCmd::Create {
            name,
            description,
            privileges,
            groups,
        } => {
            let groups = ids(ctx, &conn, Kind::Group, &groups)?;
            let o = a.create_role(
                &conn,
                RoleInput {
                    name: name.clone(),
                    description,
                    privileges,
                    groups,
                },
            )?;
            println!("{}", o.id);
            ctx.after_queue(&conn, &format!("create role {name}"))
        }
        RoleCmd::Update {
            id,
            name,
            description,
            privileges,
            groups,
        } => {
            let o = a.find(&conn, Kind::Role, &id)?;
            let mut patch = simple_patch(name, description);
            if !privileges.is_empty() {
                patch.insert("privileges".into(), json!(privileges));
            }
            if !groups.is_empty() {
                patch.insert(
                    "groups".into(),
                    json!(ids(ctx, &conn, Kind::Group, &groups)?),
                );
            }
            a.update(&conn, Kind::Role, &o.id, Value::Object(patch))?;
            ctx.after_queue(&conn, &format!("update role {}", display_name(&o)))
        }
        RoleCmd::Delete { id } => delete(ctx, &conn, Kind::Role, &id),
    }
}

fn profiles(ctx: &Ctx, cmd: ProfileCmd) -> Outcome {
    let conn = ctx.conn()?;
    let a = &ctx.admin;
    match cmd {
        ProfileCmd::List(l) => print_list(
            &a.list(&conn, Kind::Profile, &filter(&l))?,
            l.json,
            &["collections", "ip_allowlist"],
        ),
        ProfileCmd::Create {
            name,
            description,
            collections,
            rate: r,
            ips,
            jwt_method,
            jwt_public_key,
        } => {
            let access_method = match (jwt_method, jwt_public_key) {
                (Some(m), Some(path)) => {
                    let pem = std::fs::read_to_string(&path).map_err(|e| {
                        Failure::usage(format!("cannot read {}: {e}", path.display()))
                    })?;
                    AccessMethod::Jwt {
                        signing_method: m,
                        secret: None,
                        public_key: Some(pem),
                    }
                }
                _ => AccessMethod::Token,
            };
            let o = a.create_profile(
                &conn,
                ProfileInput {
                    name: name.clone(),
                    description,
                    collections,
                    policy: rate(&r)?,
                    access_method,
                    ip_allowlist: ips,
                },
            )?;
            println!("{}", o.id);
            ctx.after_queue(&conn, &format!("create access profile {name}"))
        }
        ProfileCmd::Update {
            id,
            name,
            description,
            collections,
            rate: r,
            ips,
        } => {
            let o = a.find(&conn, Kind::Profile, &id)?;
            let mut patch = simple_patch(name, description);
            if !collections.is_empty() {
                patch.insert("collections".into(), json!(collections));
            }
            if let Some(p) = rate(&r)? {
                patch.insert("policy".into(), json!(p));
            }
            if !ips.is_empty() {
                patch.insert("ip_allowlist".into(), json!(ips));
            }
            a.update(&conn, Kind::Profile, &o.id, Value::Object(patch))?;
            ctx.after_queue(
                &conn,
                &format!("update access profile {}", display_name(&o)),
            )
        }
        ProfileCmd::Delete { id } => delete(ctx, &conn, Kind::Profile, &id),
    }
}

fn key_patch(
    f: &KeyFields,
    name: Option<String>,
    no_expiry: bool,
) -> Result<serde_json::Map<String, Value>, Failure> {
    let mut patch = simple_patch(name, f.description.clone());
    if !f.scopes.is_empty() {
        patch.insert("scopes".into(), json!(f.scopes));
    }
    if f.read_only {
        patch.insert("read_only".into(), json!(true));
    }
    if !f.paths.is_empty() {
        patch.insert("path_prefixes".into(), json!(f.paths));
    }
    if !f.operations.is_empty() {
        patch.insert("operations".into(), json!(f.operations));
    }
    if !f.ips.is_empty() {
        patch.insert("ip_allowlist".into(), json!(f.ips));
    }
    if let Some(e) = &f.expires {
        patch.insert("expires_at".into(), json!(input::expiry(e, now())?));
    }
    if no_expiry {
        patch.insert("clear_expiry".into(), json!(true));
    }
    if let Some(p) = rate(&f.rate)? {
        patch.insert("policy".into(), json!(p));
    }
    if f.allow_query_param {
        patch.insert("allow_query_param".into(), json!(true));
    }
    Ok(patch)
}

fn grace_seconds(text: &str) -> Result<u64, Failure> {
    let bad = || Failure::usage(format!("--grace {text:?}: expected e.g. 1d, 12h, 30m or 0"));
    if text == "0" {
        return Ok(0);
    }
    let (n, unit) = text.split_at(text.len().saturating_sub(1));
    let n: u64 = n.parse().map_err(|_| bad())?;
    let secs = match unit {
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    Ok(n * secs)
}

fn keys(ctx: &Ctx, cmd: KeyCmd) -> Outcome {
    let conn = ctx.conn()?;
    let a = &ctx.admin;
    match cmd {
        KeyCmd::List { principal, list } => {
            let mut f = filter(&list);
            if let Some(p) = principal {
                f.principal_id = Some(a.find(&conn, Kind::Principal, &p)?.id);
            }
            print_list(
                &a.list(&conn, Kind::Key, &f)?,
                list.json,
                &["environment", "enabled", "read_only"],
            )
        }
        KeyCmd::Create {
            name,
            principal,
            environment,
            slot,
            profile,
            disabled,
            into_vault,
            hosts,
            fields,
        } => {
            let p = a.find(&conn, Kind::Principal, &principal)?;
            let profile_id = match profile {
                Some(pr) => Some(a.find(&conn, Kind::Profile, &pr)?.id),
                None => None,
            };
            let input = KeyInput {
                name: name.clone(),
                description: fields.description.clone().unwrap_or_default(),
                environment,
                scopes: fields.scopes.clone(),
                read_only: fields.read_only,
                path_prefixes: fields.paths.clone(),
                operations: fields.operations.clone(),
                ip_allowlist: fields.ips.clone(),
                expires_at: fields
                    .expires
                    .as_deref()
                    .map(|e| input::expiry(e, now()))
                    .transpose()?,
                enabled: !disabled,
                slot: slot.map(|s| match s {
                    SlotArg::Primary => Slot::Primary,
                    SlotArg::Secondary => Slot::Secondary,
                }),
                policy: rate(&fields.rate)?,
                profile_id,
                allow_query_param: fields.allow_query_param,
            };
            let placement = match &into_vault {
                Some(secret) => Placement::Vault {
                    name: secret.clone(),
                    hosts,
                },
                None => Placement::ShowOnce,
            };
            let created = a.create_key(&conn, &p.id, input, placement)?;
            match &created.key {
                Some(key) => {
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "{}", key.expose())?;
                    eprintln!(
                        "This is the only time the key is shown. Only its digest goes to the server."
                    );
                }
                None => eprintln!(
                    "The key is in the vault as {:?}; use it as ${{secret.{}}}.",
                    into_vault.as_deref().unwrap_or_default(),
                    into_vault.as_deref().unwrap_or_default()
                ),
            }
            ctx.after_queue(
                &conn,
                &format!(
                    "create key {name} ({})",
                    created.object.body["display_prefix"]
                        .as_str()
                        .unwrap_or_default()
                ),
            )
        }
        KeyCmd::Update {
            id,
            name,
            no_expiry,
            fields,
        } => {
            let o = a.find(&conn, Kind::Key, &id)?;
            a.update(
                &conn,
                Kind::Key,
                &o.id,
                Value::Object(key_patch(&fields, name, no_expiry)?),
            )?;
            ctx.after_queue(&conn, &format!("update key {}", display_name(&o)))
        }
        KeyCmd::Enable { id } => set_enabled(ctx, &conn, Kind::Key, &id, true),
        KeyCmd::Disable { id } => set_enabled(ctx, &conn, Kind::Key, &id, false),
        KeyCmd::Rotate { id, grace } => {
            let o = a.find(&conn, Kind::Key, &id)?;
            let created = a.rotate_key(&conn, &o.id, grace_seconds(&grace)?)?;
            show_replacement(&created)?;
            ctx.after_queue(&conn, &format!("rotate key {}", display_name(&o)))
        }
        KeyCmd::Refresh { id } => {
            let o = a.find(&conn, Kind::Key, &id)?;
            let created = a.refresh_key(&conn, &o.id)?;
            show_replacement(&created)?;
            ctx.after_queue(&conn, &format!("refresh key {}", display_name(&o)))
        }
        KeyCmd::Revoke { id } => {
            let o = a.find(&conn, Kind::Key, &id)?;
            a.revoke_key(&conn, &o.id)?;
            ctx.after_queue(&conn, &format!("revoke key {}", display_name(&o)))
        }
        KeyCmd::Delete { id } => delete(ctx, &conn, Kind::Key, &id),
        KeyCmd::Show { id, json } => {
            let o = a.find(&conn, Kind::Key, &id)?;
            let o = a.fetch(&conn, Kind::Key, &o.id)?;
            let mut out = std::io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &o).map_err(Failure::failed)?;
                writeln!(out)?;
            } else {
                let used = o.body["last_used_at"]
                    .as_i64()
                    .map_or_else(|| "never".into(), |t| format!("{}s ago", now() - t));
                writeln!(
                    out,
                    "{}  last used {used}  enabled={}  {}",
                    display_name(&o),
                    o.body["enabled"],
                    o.id
                )?;
            }
            Ok(())
        }
    }
}

fn show_replacement(created: &keywarden_admin::CreatedKey) -> Outcome {
    match &created.key {
        Some(key) => {
            writeln!(std::io::stdout().lock(), "{}", key.expose())?;
            eprintln!("The new key is shown this once.");
        }
        None => eprintln!("The vault copy is replaced as soon as the server has the new key."),
    }
    Ok(())
}

fn outbox(ctx: &Ctx, cmd: OutboxCmd) -> Outcome {
    let conn = ctx.connection.clone();
    let a = &ctx.admin;
    match cmd {
        OutboxCmd::List { all, limit, json } => {
            let states: &[&str] = if all {
                &[]
            } else {
                &["queued", "failed", "conflict"]
            };
            let entries = a.outbox(conn.as_deref(), states, limit)?;
            let mut out = std::io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &entries).map_err(Failure::failed)?;
                writeln!(out)?;
                return Ok(());
            }
            if entries.is_empty() {
                eprintln!("Nothing waiting: every action reached the server.");
            }
            for e in entries {
                writeln!(
                    out,
                    "#{}  {}  {}  attempts {}{}",
                    e.seq,
                    e.state,
                    e.summary,
                    e.attempts,
                    e.last_error.map(|r| format!("  ({r})")).unwrap_or_default()
                )?;
            }
            Ok(())
        }
        OutboxCmd::Retry { seq, all } => {
            if all {
                let n = a.retry_all(conn.as_deref())?;
                eprintln!("{n} actions will be sent again.");
            } else if let Some(seq) = seq {
                a.retry(seq)?;
                eprintln!("Action #{seq} will be sent again.");
            }
            if let Ok(c) = ctx.conn() {
                ctx.after_queue(&c, "retry")?;
            }
            Ok(())
        }
        OutboxCmd::Discard { seq } => {
            let e = a.discard(seq)?;
            eprintln!("Discarded #{seq}: {}.", e.summary);
            Ok(())
        }
    }
}

fn conflicts(ctx: &Ctx, cmd: ConflictCmd) -> Outcome {
    let a = &ctx.admin;
    match cmd {
        ConflictCmd::Show { json } => {
            let entries = a.outbox(ctx.connection.as_deref(), &["conflict"], 1000)?;
            let mut out = std::io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &entries).map_err(Failure::failed)?;
                writeln!(out)?;
                return Ok(());
            }
            if entries.is_empty() {
                eprintln!("No conflicts.");
            }
            for e in entries {
                writeln!(out, "#{}  {}", e.seq, e.summary)?;
                writeln!(
                    out,
                    "  yours:  {}",
                    e.intent.map(|v| v.to_string()).unwrap_or_default()
                )?;
                writeln!(
                    out,
                    "  server (version {}): {}",
                    e.server_version.unwrap_or_default(),
                    e.server_object
                        .map(|v| v.to_string())
                        .unwrap_or_else(|| "unknown".into())
                )?;
                writeln!(
                    out,
                    "  kw admin conflicts resolve {} --mine | --theirs",
                    e.seq
                )?;
            }
            Ok(())
        }
        ConflictCmd::Resolve { seq, mine, .. } => {
            let e = a.resolve(seq, mine)?;
            if mine {
                ctx.after_queue(
                    &e.connection,
                    &format!("{} (over the server's version)", e.summary),
                )
            } else {
                eprintln!("Took the server's version; dropped: {}.", e.summary);
                Ok(())
            }
        }
    }
}

fn audit(ctx: &Ctx, a: AuditArgs) -> Outcome {
    let conn = ctx.conn()?;
    let entries = ctx.admin.audit(
        &conn,
        &AuditQuery {
            since: a.since,
            limit: Some(a.limit),
            actor: a.actor,
            action: a.action,
            target: a.target,
        },
    )?;
    let mut out = std::io::stdout().lock();
    if a.json {
        serde_json::to_writer_pretty(&mut out, &entries).map_err(Failure::failed)?;
        writeln!(out)?;
        return Ok(());
    }
    for e in entries {
        writeln!(
            out,
            "#{}  {}  {}  {}  {}  {}",
            e.seq,
            input::date(e.at),
            e.actor,
            e.action,
            e.target,
            e.detail
        )?;
    }
    Ok(())
}
