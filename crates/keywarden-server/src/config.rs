//! Server settings: flags, then environment variables (`KEYWARDEN_*`), then a TOML file, then defaults.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

/// Settings after resolution; every field is checked.
#[derive(Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// A SQLite file path or a `postgres://` URL.
    pub database: String,
    pub pg_pool_size: usize,
    /// Vendor prefix of keys this server issues (`kw`).
    pub key_prefix: String,
    /// Environment of keys created without one (`live`).
    pub default_environment: String,
    /// User name expected in HTTP Basic credentials (the key is the password).
    pub basic_user: String,
    /// Custom header whose whole value is a key (`X-API-Key`).
    pub key_header: String,
    /// Query parameter that may carry a key where the key allows it (`auth-key`).
    pub query_param: String,
    pub session_ttl: Duration,
    /// How often the change feed is polled for other replicas' writes.
    pub poll_interval: Duration,
    /// Whether a PostgreSQL notification wakes the follower at once (on by default); off,
    /// only the poll finds other replicas' writes.
    pub change_notifications: bool,
    pub usage_flush_interval: Duration,
    pub max_failures: u32,
    pub failure_window: Duration,
    pub failure_block: Duration,
    /// Gateways whose facts are believed: the client address in [`Config::real_ip_header`], and
    /// (for `/v1/auth-request`) `X-Original-Method`, `X-Original-URI` and `X-Keywarden-*`.
    /// Empty by default: no header from anyone is believed, the client is the TCP peer.
    pub trusted_proxies: Vec<IpNet>,
    /// The one header a trusted proxy sets to the client's address (`x-real-ip`), like
    /// nginx's `real_ip_header`. Lower case.
    pub real_ip_header: String,
    /// Password hashes (Argon2id, 19 MiB each) computed at once; more logins wait briefly
    /// or are answered 429. Default: the number of CPUs.
    pub login_concurrency: usize,
    /// Failed logins for one user name (from any address) before the name is throttled (0: never).
    pub login_user_max_failures: u32,
    pub login_user_failure_window: Duration,
    pub login_user_block: Duration,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers (also the idle keep-alive limit).
    pub header_read_timeout: Duration,
    /// How long a request may take, body included, before it is answered 408.
    pub request_timeout: Duration,
}

/// The default hashing concurrency: the number of CPUs (at least 1).
pub fn default_login_concurrency() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("database", &redact_url(&self.database))
            .field("key_prefix", &self.key_prefix)
            .field("default_environment", &self.default_environment)
            .field("poll_interval", &self.poll_interval)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("real_ip_header", &self.real_ip_header)
            .field("login_concurrency", &self.login_concurrency)
            .field("max_connections", &self.max_connections)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

/// Hides every password in a database location: the user-info of a URL
/// (`postgres://user:pw@host`), a `password=` query parameter, and the `password=`
/// field of a key/value connection string (`host=… password=…`).
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_owned();
    if let (Some(scheme), Some(at)) = (out.find("://"), out.rfind('@'))
        && at > scheme
        && let Some(colon) = out[scheme + 3..at].find(':')
    {
        out.replace_range(scheme + 3 + colon + 1..at, "***");
    }
    // `password=` as a query parameter or a key/value field, in any case.
    let lower = out.to_ascii_lowercase();
    let mut redacted = String::with_capacity(out.len());
    let mut rest = 0;
    let mut from = 0;
    while let Some(found) = lower[from..].find("password") {
        let start = from + found;
        let before = lower[..start].chars().next_back();
        let mut value = start + "password".len();
        // Spaces around `=` are allowed in key/value strings.
        while lower[value..].starts_with(' ') {
            value += 1;
        }
        let boundary = before.is_none_or(|c| matches!(c, '?' | '&' | ' ' | ';' | '#'));
        if !(boundary && lower[value..].starts_with('=')) {
            from = start + 1;
            continue;
        }
        value += 1;
        while lower[value..].starts_with(' ') {
            value += 1;
        }
        let end = if lower[value..].starts_with('\'') {
            // A quoted key/value field: up to the closing quote.
            lower[value + 1..]
                .find('\'')
                .map_or(lower.len(), |i| value + 1 + i + 1)
        } else {
            lower[value..]
                .find(['&', ' ', ';', '#'])
                .map_or(lower.len(), |i| value + i)
        };
        redacted.push_str(&out[rest..value]);
        redacted.push_str("***");
        rest = end;
        from = end.max(start + 1);
        if from >= lower.len() {
            break;
        }
    }
    redacted.push_str(&out[rest..]);
    redacted
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8420)),
            database: "keywarden-server.db".to_owned(),
            pg_pool_size: 8,
            key_prefix: "kw".to_owned(),
            default_environment: "live".to_owned(),
            basic_user: "apikey".to_owned(),
            key_header: "x-api-key".to_owned(),
            query_param: "auth-key".to_owned(),
            session_ttl: Duration::from_secs(15 * 60),
            poll_interval: Duration::from_millis(200),
            change_notifications: true,
            usage_flush_interval: Duration::from_secs(10),
            max_failures: 20,
            failure_window: Duration::from_secs(60),
            failure_block: Duration::from_secs(60),
            trusted_proxies: Vec::new(),
            real_ip_header: "x-real-ip".to_owned(),
            login_concurrency: default_login_concurrency(),
            login_user_max_failures: 10,
            login_user_failure_window: Duration::from_secs(300),
            login_user_block: Duration::from_secs(300),
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// The settings file (TOML). Every field is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub database: Option<String>,
    pub pg_pool_size: Option<usize>,
    pub key_prefix: Option<String>,
    pub default_environment: Option<String>,
    pub basic_user: Option<String>,
    pub key_header: Option<String>,
    pub query_param: Option<String>,
    pub session_ttl_secs: Option<u64>,
    pub poll_interval_ms: Option<u64>,
    pub change_notifications: Option<bool>,
    pub usage_flush_interval_secs: Option<u64>,
    pub max_failures: Option<u32>,
    pub failure_window_secs: Option<u64>,
    pub failure_block_secs: Option<u64>,
    pub trusted_proxies: Option<Vec<String>>,
    pub real_ip_header: Option<String>,
    pub login_concurrency: Option<usize>,
    pub login_user_max_failures: Option<u32>,
    pub login_user_failure_window_secs: Option<u64>,
    pub login_user_block_secs: Option<u64>,
    pub max_connections: Option<usize>,
    pub header_read_timeout_secs: Option<u64>,
    pub request_timeout_secs: Option<u64>,
}

/// Raw settings from flags or environment (see `main.rs`); `None` means "not given".
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub database: Option<String>,
    pub pg_pool_size: Option<usize>,
    pub key_prefix: Option<String>,
    pub default_environment: Option<String>,
    pub basic_user: Option<String>,
    pub key_header: Option<String>,
    pub query_param: Option<String>,
    pub session_ttl_secs: Option<u64>,
    pub poll_interval_ms: Option<u64>,
    pub change_notifications: Option<bool>,
    pub max_failures: Option<u32>,
    pub failure_window_secs: Option<u64>,
    pub failure_block_secs: Option<u64>,
    pub trusted_proxies: Option<Vec<String>>,
    pub real_ip_header: Option<String>,
    pub login_concurrency: Option<usize>,
    pub login_user_max_failures: Option<u32>,
    pub login_user_failure_window_secs: Option<u64>,
    pub login_user_block_secs: Option<u64>,
    pub max_connections: Option<usize>,
    pub header_read_timeout_secs: Option<u64>,
    pub request_timeout_secs: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the settings file {path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("setting `{0}`: {1}")]
    Value(&'static str, String),
}

impl Config {
    /// Flags and environment win over the file; the file wins over defaults.
    pub fn resolve(o: Overrides) -> Result<Self, ConfigError> {
        let file = match &o.config_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
                toml::from_str::<FileConfig>(&text).map_err(|e| ConfigError::File {
                    path: path.clone(),
                    reason: e.to_string(),
                })?
            }
            None => FileConfig::default(),
        };
        let d = Config::default();
        let secs = Duration::from_secs;
        let config = Config {
            listen: o.listen.or(file.listen).unwrap_or(d.listen),
            database: o.database.or(file.database).unwrap_or(d.database),
            pg_pool_size: o
                .pg_pool_size
                .or(file.pg_pool_size)
                .unwrap_or(d.pg_pool_size),
            key_prefix: o.key_prefix.or(file.key_prefix).unwrap_or(d.key_prefix),
            default_environment: o
                .default_environment
                .or(file.default_environment)
                .unwrap_or(d.default_environment),
            basic_user: o.basic_user.or(file.basic_user).unwrap_or(d.basic_user),
            key_header: o
                .key_header
                .or(file.key_header)
                .unwrap_or(d.key_header)
                .to_ascii_lowercase(),
            query_param: o.query_param.or(file.query_param).unwrap_or(d.query_param),
            session_ttl: o
                .session_ttl_secs
                .or(file.session_ttl_secs)
                .map(secs)
                .unwrap_or(d.session_ttl),
            poll_interval: o
                .poll_interval_ms
                .or(file.poll_interval_ms)
                .map(Duration::from_millis)
                .unwrap_or(d.poll_interval),
            change_notifications: o
                .change_notifications
                .or(file.change_notifications)
                .unwrap_or(d.change_notifications),
            usage_flush_interval: file
                .usage_flush_interval_secs
                .map(secs)
                .unwrap_or(d.usage_flush_interval),
            max_failures: o
                .max_failures
                .or(file.max_failures)
                .unwrap_or(d.max_failures),
            failure_window: o
                .failure_window_secs
                .or(file.failure_window_secs)
                .map(secs)
                .unwrap_or(d.failure_window),
            failure_block: o
                .failure_block_secs
                .or(file.failure_block_secs)
                .map(secs)
                .unwrap_or(d.failure_block),
            trusted_proxies: match o.trusted_proxies.or(file.trusted_proxies) {
                Some(list) => list
                    .iter()
                    .map(|n| {
                        crate::index::parse_network(n).ok_or_else(|| {
                            ConfigError::Value(
                                "trusted_proxies",
                                format!("`{n}` is not an address or CIDR range"),
                            )
                        })
                    })
                    .collect::<Result<_, _>>()?,
                None => d.trusted_proxies,
            },
            real_ip_header: o
                .real_ip_header
                .or(file.real_ip_header)
                .unwrap_or(d.real_ip_header)
                .to_ascii_lowercase(),
            login_concurrency: o
                .login_concurrency
                .or(file.login_concurrency)
                .unwrap_or(d.login_concurrency),
            login_user_max_failures: o
                .login_user_max_failures
                .or(file.login_user_max_failures)
                .unwrap_or(d.login_user_max_failures),
            login_user_failure_window: o
                .login_user_failure_window_secs
                .or(file.login_user_failure_window_secs)
                .map(secs)
                .unwrap_or(d.login_user_failure_window),
            login_user_block: o
                .login_user_block_secs
                .or(file.login_user_block_secs)
                .map(secs)
                .unwrap_or(d.login_user_block),
            max_connections: o
                .max_connections
                .or(file.max_connections)
                .unwrap_or(d.max_connections),
            header_read_timeout: o
                .header_read_timeout_secs
                .or(file.header_read_timeout_secs)
                .map(secs)
                .unwrap_or(d.header_read_timeout),
            request_timeout: o
                .request_timeout_secs
                .or(file.request_timeout_secs)
                .map(secs)
                .unwrap_or(d.request_timeout),
        };
        config.check()?;
        Ok(config)
    }

    pub fn check(&self) -> Result<(), ConfigError> {
        if !keywarden_keys::is_valid_label(&self.key_prefix) {
            return Err(ConfigError::Value(
                "key_prefix",
                "1 to 16 characters of a-z and 0-9".into(),
            ));
        }
        if !keywarden_keys::is_valid_label(&self.default_environment) {
            return Err(ConfigError::Value(
                "default_environment",
                "1 to 16 characters of a-z and 0-9".into(),
            ));
        }
        if self.basic_user.is_empty() || self.basic_user.contains(':') {
            return Err(ConfigError::Value(
                "basic_user",
                "must be non-empty and contain no `:`".into(),
            ));
        }
        if axum::http::HeaderName::from_bytes(self.key_header.as_bytes()).is_err() {
            return Err(ConfigError::Value(
                "key_header",
                "not a valid header name".into(),
            ));
        }
        if axum::http::HeaderName::from_bytes(self.real_ip_header.as_bytes()).is_err() {
            return Err(ConfigError::Value(
                "real_ip_header",
                "not a valid header name".into(),
            ));
        }
        if self.query_param.is_empty() {
            return Err(ConfigError::Value(
                "query_param",
                "must not be empty".into(),
            ));
        }
        if self.poll_interval.is_zero() || self.poll_interval > Duration::from_secs(1) {
            return Err(ConfigError::Value(
                "poll_interval_ms",
                "between 1 and 1000".into(),
            ));
        }
        if self.session_ttl.is_zero() {
            return Err(ConfigError::Value(
                "session_ttl_secs",
                "must be positive".into(),
            ));
        }
        if !(1..=1024).contains(&self.login_concurrency) {
            return Err(ConfigError::Value(
                "login_concurrency",
                "between 1 and 1024".into(),
            ));
        }
        if self.login_user_max_failures > 0
            && (self.login_user_failure_window.is_zero() || self.login_user_block.is_zero())
        {
            return Err(ConfigError::Value(
                "login_user_block_secs",
                "the user-name window and block must be positive".into(),
            ));
        }
        if !(1..=1_000_000).contains(&self.max_connections) {
            return Err(ConfigError::Value(
                "max_connections",
                "between 1 and 1000000".into(),
            ));
        }
        let day = Duration::from_secs(24 * 3600);
        if self.header_read_timeout.is_zero() || self.header_read_timeout > day {
            return Err(ConfigError::Value(
                "header_read_timeout_secs",
                "between 1 and 86400".into(),
            ));
        }
        if self.request_timeout.is_zero() || self.request_timeout > day {
            return Err(ConfigError::Value(
                "request_timeout_secs",
                "between 1 and 86400".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_password_is_redacted() {
        assert_eq!(
            redact_url("postgres://kw:secret@127.0.0.1:5432/kw"),
            "postgres://kw:***@127.0.0.1:5432/kw"
        );
        assert_eq!(redact_url("/var/lib/kw.db"), "/var/lib/kw.db");
        for (url, secret) in [
            (
                "postgres://kw:s3cr%40t@127.0.0.1/kw?sslmode=disable",
                "s3cr",
            ),
            (
                "postgres://kw@127.0.0.1/kw?password=hunter2&sslmode=disable",
                "hunter2",
            ),
            (
                "postgres://127.0.0.1/kw?sslmode=disable&PASSWORD=hunter2",
                "hunter2",
            ),
            (
                "host=127.0.0.1 user=kw password=hunter2 dbname=kw",
                "hunter2",
            ),
            ("host=127.0.0.1 password = 'hunter 2' dbname=kw", "hunter"),
            (
                "postgres://a:b@c/d?password=hunter2#password=hunter3",
                "hunter",
            ),
        ] {
            let shown = redact_url(url);
            assert!(!shown.contains(secret), "{url} -> {shown}");
            assert!(shown.contains("***"), "{url} -> {shown}");
        }
        assert_eq!(
            redact_url("postgres://kw@h/db?passwordless=1"),
            "postgres://kw@h/db?passwordless=1"
        );
        assert_eq!(
            redact_url("host=h user=kw password=pw dbname=kw"),
            "host=h user=kw password=*** dbname=kw"
        );
        let config = Config {
            database: "postgres://kw:hunter2@h/db".into(),
            ..Config::default()
        };
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn flags_win_over_file_and_file_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.toml");
        std::fs::write(
            &path,
            "key_prefix = \"acme\"\ndefault_environment = \"test\"\nmax_failures = 3\n",
        )
        .unwrap();
        let config = Config::resolve(Overrides {
            config_file: Some(path.clone()),
            default_environment: Some("prod".into()),
            ..Overrides::default()
        })
        .unwrap();
        assert_eq!(config.key_prefix, "acme");
        assert_eq!(config.default_environment, "prod");
        assert_eq!(config.max_failures, 3);
        assert_eq!(config.login_concurrency, default_login_concurrency());
        assert!(config.login_concurrency >= 1);
        assert_eq!(config.max_connections, 1024);
        assert_eq!(config.header_read_timeout, Duration::from_secs(10));
        assert_eq!(config.request_timeout, Duration::from_secs(30));
        std::fs::write(
            &path,
            "login_concurrency = 3\nmax_connections = 50\nheader_read_timeout_secs = 4\n\
             request_timeout_secs = 7\nlogin_user_max_failures = 6\n\
             login_user_failure_window_secs = 70\nlogin_user_block_secs = 80\n",
        )
        .unwrap();
        let config = Config::resolve(Overrides {
            config_file: Some(path.clone()),
            max_connections: Some(60),
            ..Overrides::default()
        })
        .unwrap();
        assert_eq!(config.login_concurrency, 3);
        assert_eq!(config.max_connections, 60);
        assert_eq!(config.header_read_timeout, Duration::from_secs(4));
        assert_eq!(config.request_timeout, Duration::from_secs(7));
        assert_eq!(config.login_user_max_failures, 6);
        assert_eq!(config.login_user_failure_window, Duration::from_secs(70));
        assert_eq!(config.login_user_block, Duration::from_secs(80));
        for bad in [
            Overrides {
                login_concurrency: Some(0),
                ..Overrides::default()
            },
            Overrides {
                max_connections: Some(0),
                ..Overrides::default()
            },
            Overrides {
                header_read_timeout_secs: Some(0),
                ..Overrides::default()
            },
            Overrides {
                request_timeout_secs: Some(0),
                ..Overrides::default()
            },
        ] {
            assert!(Config::resolve(bad).is_err());
        }
        std::fs::write(&path, "unknown = 1\n").unwrap();
        assert!(
            Config::resolve(Overrides {
                config_file: Some(path),
                ..Overrides::default()
            })
            .is_err()
        );
        assert!(
            Config::resolve(Overrides {
                key_prefix: Some("K_W".into()),
                ..Overrides::default()
            })
            .is_err()
        );
    }
}
