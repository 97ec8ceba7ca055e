use clap::{Args, Parser, Subcommand};

/// Keywarden: API keys and secrets kept in the OS keychain.
#[derive(Debug, Parser)]
#[command(name = "kw", version, propagate_version = true, max_term_width = 100)]
#[command(
    after_help = "Data directory: $KEYWARDEN_HOME, or the platform's data directory.\n\
Exit codes: 0 success, 1 the operation failed, 2 usage or input error."
)]
pub struct Cli {
    /// Log what kw does to standard error (never secret values).
    #[arg(long, short, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, read, list and manage secrets.
    #[command(subcommand)]
    Secret(SecretCmd),
    /// Choose where secret values are kept: the OS keychain or an encrypted vault file.
    #[command(subcommand)]
    Store(StoreCmd),
    /// Render a template such as 'Bearer ${secret.billing_api}' (redacted unless --reveal).
    #[command(
        after_help = "Template syntax: ${secret.NAME}, ${env.NAME}, functions base64, base64url, basic(user, password),\n\
urlencode, jwt(alg, key, claims[, lifetime]), uuid(), now(), sha256, hmac_sha256(key, message); $${ is a literal ${."
    )]
    Render(RenderArgs),
    /// Send an HTTP request with templated headers, query and body (curl-like).
    Send(SendArgs),
    /// Run a command with secrets in its environment; their values are masked in its output.
    #[command(
        after_help = "Example:\n  kw run --env API_KEY='${secret.billing_api}' --env AUTH='Bearer ${secret.billing_api}' -- ./deploy.sh"
    )]
    Run(RunArgs),
    /// Key profiles: how a stored key is presented (Bearer, Key=, Basic, header, JWT, query).
    #[command(subcommand)]
    Profile(ProfileCmd),
    /// Environments: variables for ${env.NAME} and an optional query parameter.
    #[command(subcommand, name = "env")]
    Environment(EnvCmd),
    /// Requests sent so far: templates and secret fingerprints, never values.
    History(HistoryArgs),
    /// Administer key servers: principals, groups, roles, profiles, keys; offline-first.
    Admin(crate::admin::AdminArgs),
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The template.
    pub template: String,
    /// The environment whose variables ${env.NAME} reads.
    #[arg(long = "env", short)]
    pub environment: Option<String>,
    /// Print the rendered text with secret values in it.
    #[arg(long)]
    pub reveal: bool,
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// The URL (a template).
    pub url: String,
    /// The method (default: GET, or POST when a body is given).
    #[arg(long = "request", short = 'X')]
    pub method: Option<String>,
    /// A header 'Name: template' (repeatable).
    #[arg(long = "header", short = 'H')]
    pub headers: Vec<String>,
    /// A query parameter 'name=template' (repeatable).
    #[arg(long = "query", short = 'q')]
    pub query: Vec<String>,
    /// A raw body (a template); '@FILE' reads it from a file. Sets POST when no method is given.
    #[arg(long = "data", short = 'd', conflicts_with_all = ["json", "form"])]
    pub data: Option<String>,
    /// A JSON body (a template); sets Content-Type: application/json.
    #[arg(long, conflicts_with = "form")]
    pub json: Option<String>,
    /// A form field 'name=template' (repeatable); sends application/x-www-form-urlencoded.
    #[arg(long = "form", short = 'F')]
    pub form: Vec<String>,
    /// The key profile that presents the key.
    #[arg(long, short)]
    pub profile: Option<String>,
    /// The environment (variables and query parameter).
    #[arg(long = "env", short)]
    pub environment: Option<String>,
    /// Exit with 1 when the answer is not 2xx.
    #[arg(long)]
    pub fail: bool,
    /// Print the response status line and headers too.
    #[arg(long, short)]
    pub include: bool,
    /// Show what would be sent (redacted) and the pre-flight findings; send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the request as a curl command (redacted) and send nothing.
    #[arg(long)]
    pub curl: bool,
    /// Print secret values: in the --curl command, or where the response repeats them
    /// (by default every value sent, and its base64, URL and hex forms, is masked).
    #[arg(long)]
    pub reveal: bool,
    /// Seconds before giving up.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
    /// An extra CA certificate (PEM file) to trust.
    #[arg(long)]
    pub cacert: Option<std::path::PathBuf>,
    /// Do not record this request in the history.
    #[arg(long)]
    pub no_history: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// A variable 'NAME=template' for the command's environment (repeatable).
    #[arg(long = "env", short = 'e', required = true)]
    pub vars: Vec<String>,
    /// The Keywarden environment whose variables ${env.NAME} reads.
    #[arg(long = "environment")]
    pub environment: Option<String>,
    /// Do not mask secret values (nor their base64, URL and hex forms) in the command's output.
    #[arg(long)]
    pub no_masking: bool,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum ProfileCmd {
    /// Create or replace a key profile.
    #[command(
        after_help = "Examples:\n  kw profile add billing --secret billing_api --style bearer --host api.billing.example --https-only\n  \
kw profile add flowgear --secret fg_key --style key\n  \
kw profile add haplo --secret haplo_key --style basic --user haplo\n  \
kw profile add custom --secret k --style header --header Authorization --template '${secret.k}'\n  \
kw profile add workato --secret jwt_secret --style jwt --alg HS256 --claims '{\"sub\":\"me\"}' --lifetime 300\n  \
kw profile add legacy --secret k --style query --param auth-key"
    )]
    Add(Box<ProfileArgs>),
    /// List key profiles.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Delete a key profile.
    Rm { name: String },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum StyleArg {
    /// Authorization: Bearer <key>
    Bearer,
    /// Authorization: Key=<key>
    Key,
    /// HTTP Basic: --user and the key as password
    Basic,
    /// --header with a --template value
    Header,
    /// --header carrying the key as is
    Token,
    /// A signed JWT: --alg, --claims, --lifetime
    Jwt,
    /// The key in query parameter --param (default auth-key)
    Query,
}

#[derive(Debug, Args)]
pub struct ProfileArgs {
    pub name: String,
    /// The vault secret holding the key.
    #[arg(long)]
    pub secret: String,
    #[arg(long, value_enum)]
    pub style: StyleArg,
    /// Basic: the fixed user name.
    #[arg(long)]
    pub user: Option<String>,
    /// Header and token styles (and JWT): the header name.
    #[arg(long)]
    pub header: Option<String>,
    /// Header style: the value template.
    #[arg(long)]
    pub template: Option<String>,
    /// Query style: the parameter name.
    #[arg(long)]
    pub param: Option<String>,
    /// JWT: HS256, HS384, HS512, RS256 or ES256.
    #[arg(long)]
    pub alg: Option<String>,
    /// JWT: the claims, a JSON template.
    #[arg(long)]
    pub claims: Option<String>,
    /// JWT: lifetime in seconds (adds iat and exp).
    #[arg(long)]
    pub lifetime: Option<u32>,
    /// JWT: the scheme before the token (default Bearer; '' for none).
    #[arg(long)]
    pub scheme: Option<String>,
    /// A host the key may be sent to (repeatable).
    #[arg(long = "host")]
    pub hosts: Vec<String>,
    /// Refuse to send the key over plain HTTP.
    #[arg(long)]
    pub https_only: bool,
    #[arg(long, short, default_value = "")]
    pub description: String,
}

#[derive(Debug, Subcommand)]
pub enum EnvCmd {
    /// Create or replace an environment.
    #[command(
        after_help = "Example:\n  kw env set Test --var host=test.example.com --var tenant=acme --query-param _profile=Test"
    )]
    Set {
        name: String,
        /// A variable 'name=value' (repeatable). Not for secrets: they belong in the vault.
        #[arg(long = "var")]
        vars: Vec<String>,
        /// A query parameter 'name=value' added to every request in this environment.
        #[arg(long)]
        query_param: Option<String>,
        /// Mark it as production.
        #[arg(long)]
        production: bool,
    },
    /// List environments.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Delete an environment.
    Rm { name: String },
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// How many entries to show.
    #[arg(long, short = 'n', default_value_t = 20)]
    pub limit: u32,
    #[arg(long)]
    pub json: bool,
    /// Delete the whole history.
    #[arg(long)]
    pub clear: bool,
}

#[derive(Debug, Subcommand)]
pub enum SecretCmd {
    /// Store a secret. The value is read from standard input, or from a hidden prompt
    /// in a terminal. Setting an existing secret replaces its value (a rotation).
    #[command(
        after_help = "Examples:\n  kw secret set billing_api --env production --host api.billing.example\n  \
printf %s \"$KEY\" | kw secret set billing_api\n  kw secret set tls_key < key.pem"
    )]
    Set(SetArgs),
    /// Print a secret's value on standard output (refused when the secret is disabled).
    Get {
        /// The secret's name.
        name: String,
    },
    /// List secrets (names and metadata, never values).
    #[command(alias = "ls")]
    List {
        /// Show only secrets whose name, description, tags or environment contain this text.
        #[arg(long, short)]
        search: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Delete a secret and its value.
    #[command(alias = "delete")]
    Rm {
        /// The secret's name.
        name: String,
    },
    /// Enable a secret so it can be used.
    Enable {
        /// The secret's name.
        name: String,
    },
    /// Disable a secret: it stays stored but cannot be used until enabled again.
    Disable {
        /// The secret's name.
        name: String,
    },
    /// Rename a secret (its value and history are kept).
    Rename {
        /// The current name.
        name: String,
        /// The new name.
        new_name: String,
    },
    /// Show the fingerprints and dates of every value a secret has had.
    History {
        /// The secret's name.
        name: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Where values are kept, whether that store works, and what awaits repair.
    Status {
        /// Also check that every secret's value is present in the store (one read per secret).
        #[arg(long)]
        check: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct SetArgs {
    /// The secret's name: letters, digits, '_' and '-', as used in `${secret.NAME}`.
    pub name: String,
    /// What the secret is for.
    #[arg(long, short)]
    pub description: Option<String>,
    /// A tag (repeatable).
    #[arg(long = "tag", short)]
    pub tags: Vec<String>,
    /// The environment it belongs to, e.g. production or test.
    #[arg(long = "env", short)]
    pub environment: Option<String>,
    /// A host the secret may be sent to (repeatable): api.example.com, *.example.com, localhost:8080.
    #[arg(long = "host")]
    pub hosts: Vec<String>,
    /// Expiry: a date (2027-03-31) or a duration from now (90d, 12w, 48h).
    #[arg(long)]
    pub expires: Option<String>,
    /// Store it disabled.
    #[arg(long)]
    pub disabled: bool,
}

#[derive(Debug, Subcommand)]
pub enum StoreCmd {
    /// Keep values in the OS keychain (the default).
    UseKeychain,
    /// Keep values in a passphrase-encrypted vault file, for machines without a keychain.
    /// The passphrase is read from the file named by $KEYWARDEN_PASSPHRASE_FILE or a prompt.
    UseFile,
}
