//! `keywarden-server`: run the key server, or initialize its first administrator.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use keywarden_server::config::{Config, Overrides};
use keywarden_server::{App, config};

#[derive(Parser)]
#[command(
    name = "keywarden-server",
    version,
    about = "Keywarden key server: issue, verify and govern API keys"
)]
struct Cli {
    /// Log format on standard error: `text` or `json` (one object per line). Level: KEYWARDEN_LOG.
    #[arg(long, env = "KEYWARDEN_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"], global = true)]
    log_format: String,
    #[command(flatten)]
    settings: Settings,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Create the administrator role, group, user and first admin key; print the key once.
    Init {
        /// Name of the first administrator (a user principal).
        #[arg(long, default_value = "admin")]
        admin_name: String,
        /// Also set the administrator's login password, read from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
}

#[derive(Args)]
struct Settings {
    /// TOML settings file; flags and environment win over it.
    #[arg(long, env = "KEYWARDEN_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "KEYWARDEN_LISTEN", global = true)]
    listen: Option<SocketAddr>,
    /// SQLite file path, or a postgres:// URL.
    #[arg(
        long,
        env = "KEYWARDEN_DATABASE",
        global = true,
        hide_env_values = true
    )]
    database: Option<String>,
    #[arg(long, env = "KEYWARDEN_PG_POOL_SIZE", global = true)]
    pg_pool_size: Option<usize>,
    /// Vendor prefix of issued keys.
    #[arg(long, env = "KEYWARDEN_KEY_PREFIX", global = true)]
    key_prefix: Option<String>,
    /// Environment of keys created without one.
    #[arg(long, env = "KEYWARDEN_DEFAULT_ENVIRONMENT", global = true)]
    default_environment: Option<String>,
    /// User name expected with HTTP Basic credentials.
    #[arg(long, env = "KEYWARDEN_BASIC_USER", global = true)]
    basic_user: Option<String>,
    /// Custom header that carries a key.
    #[arg(long, env = "KEYWARDEN_KEY_HEADER", global = true)]
    key_header: Option<String>,
    /// Query parameter that may carry a key where the key allows it.
    #[arg(long, env = "KEYWARDEN_QUERY_PARAM", global = true)]
    query_param: Option<String>,
    #[arg(long, env = "KEYWARDEN_SESSION_TTL_SECS", global = true)]
    session_ttl_secs: Option<u64>,
    /// How often to read the change feed (milliseconds, 1 to 1000).
    #[arg(long, env = "KEYWARDEN_POLL_INTERVAL_MS", global = true)]
    poll_interval_ms: Option<u64>,
    /// With PostgreSQL, be woken by a notification on every change (true) or only poll (false).
    #[arg(long, env = "KEYWARDEN_CHANGE_NOTIFICATIONS", global = true, value_parser = clap::builder::BoolishValueParser::new())]
    change_notifications: Option<bool>,
    /// Failed verifications from one address before it is throttled (0: never).
    #[arg(long, env = "KEYWARDEN_MAX_FAILURES", global = true)]
    max_failures: Option<u32>,
    #[arg(long, env = "KEYWARDEN_FAILURE_WINDOW_SECS", global = true)]
    failure_window_secs: Option<u64>,
    #[arg(long, env = "KEYWARDEN_FAILURE_BLOCK_SECS", global = true)]
    failure_block_secs: Option<u64>,
    /// Gateways whose facts are believed (comma-separated addresses or CIDR ranges): the client
    /// address in --real-ip-header and, for /v1/auth-request, X-Original-* and X-Keywarden-*.
    /// Empty by default: the client is the TCP peer and gateway headers are ignored.
    #[arg(
        long,
        env = "KEYWARDEN_TRUSTED_PROXIES",
        global = true,
        value_delimiter = ','
    )]
    trusted_proxies: Option<Vec<String>>,
    /// The one header a trusted proxy sets to the client address (default X-Real-IP).
    #[arg(long, env = "KEYWARDEN_REAL_IP_HEADER", global = true)]
    real_ip_header: Option<String>,
    /// Password hashes computed at once (default: the number of CPUs); more logins wait
    /// briefly or are answered 429.
    #[arg(long, env = "KEYWARDEN_LOGIN_CONCURRENCY", global = true)]
    login_concurrency: Option<usize>,
    /// Failed logins for one user name, from any address, before it is throttled (0: never).
    #[arg(long, env = "KEYWARDEN_LOGIN_USER_MAX_FAILURES", global = true)]
    login_user_max_failures: Option<u32>,
    #[arg(long, env = "KEYWARDEN_LOGIN_USER_FAILURE_WINDOW_SECS", global = true)]
    login_user_failure_window_secs: Option<u64>,
    #[arg(long, env = "KEYWARDEN_LOGIN_USER_BLOCK_SECS", global = true)]
    login_user_block_secs: Option<u64>,
    /// Connections served at once; more wait in the listen backlog.
    #[arg(long, env = "KEYWARDEN_MAX_CONNECTIONS", global = true)]
    max_connections: Option<usize>,
    /// Seconds a client may take to send request headers (also the idle keep-alive limit).
    #[arg(long, env = "KEYWARDEN_HEADER_READ_TIMEOUT_SECS", global = true)]
    header_read_timeout_secs: Option<u64>,
    /// Seconds a request may take, body included, before it is answered 408.
    #[arg(long, env = "KEYWARDEN_REQUEST_TIMEOUT_SECS", global = true)]
    request_timeout_secs: Option<u64>,
}

impl Settings {
    fn resolve(self) -> Result<Config, config::ConfigError> {
        Config::resolve(Overrides {
            config_file: self.config,
            listen: self.listen,
            database: self.database,
            pg_pool_size: self.pg_pool_size,
            key_prefix: self.key_prefix,
            default_environment: self.default_environment,
            basic_user: self.basic_user,
            key_header: self.key_header,
            query_param: self.query_param,
            session_ttl_secs: self.session_ttl_secs,
            poll_interval_ms: self.poll_interval_ms,
            change_notifications: self.change_notifications,
            max_failures: self.max_failures,
            failure_window_secs: self.failure_window_secs,
            failure_block_secs: self.failure_block_secs,
            trusted_proxies: self.trusted_proxies,
            real_ip_header: self.real_ip_header,
            login_concurrency: self.login_concurrency,
            login_user_max_failures: self.login_user_max_failures,
            login_user_failure_window_secs: self.login_user_failure_window_secs,
            login_user_block_secs: self.login_user_block_secs,
            max_connections: self.max_connections,
            header_read_timeout_secs: self.header_read_timeout_secs,
            request_timeout_secs: self.request_timeout_secs,
        })
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("KEYWARDEN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    if cli.log_format == "json" {
        logs.json().init();
    } else {
        logs.init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.settings.resolve()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            App::open(config).await.context("opening the database")?;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::Init {
            admin_name,
            password_stdin,
        } => {
            let password = if password_stdin {
                let mut text = zeroize::Zeroizing::new(String::new());
                std::io::stdin()
                    .read_to_string(&mut text)
                    .context("reading the password from standard input")?;
                let trimmed =
                    zeroize::Zeroizing::new(text.trim_end_matches(['\r', '\n']).to_owned());
                Some(trimmed)
            } else {
                None
            };
            let app = App::open(config).await.context("opening the database")?;
            let key = app.service.initialize(&admin_name, password).await?;
            eprintln!(
                "Created administrator `{admin_name}`. Its admin key is printed below, once; store it now."
            );
            println!("{}", key.expose());
            Ok(())
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listen = config.listen;
    tracing::info!(?config, "starting");
    let mut app = App::open(config).await.context("opening the database")?;
    app.start_followers();
    let listener =
        keywarden_server::app::bind(listen).with_context(|| format!("listening on {listen}"))?;
    tracing::info!(address = %listener.local_addr()?, "serving");
    app.serve(listener, shutdown_signal()).await?;
    tracing::info!("shutting down: recording last-used times, refusal counts and failed logins");
    if let Err(e) = app.service.flush_usage(0).await {
        tracing::warn!(error = %e, "could not record key usage");
    }
    if let Err(e) = app.service.flush_refusal_counts().await {
        tracing::warn!(error = %e, "could not record refusal counts");
    }
    if let Err(e) = app.service.flush_login_failures().await {
        tracing::warn!(error = %e, "could not record failed logins");
    }
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM; in-flight requests are then finished before exit.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
