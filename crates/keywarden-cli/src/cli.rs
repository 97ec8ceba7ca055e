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
