//! `kw`: Keywarden for terminals and CI.
//!
//! Exit codes: 0 success; 1 the operation failed (not found, disabled, keychain
//! unavailable...); 2 usage or input error. Secret values are read only from
//! standard input or a hidden prompt, never from arguments.

mod admin;
mod cli;
mod compose;
mod input;
mod run;
mod secret;
mod store;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

/// An error with its exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn usage(message: impl std::fmt::Display) -> Self {
        Self {
            code: 2,
            message: message.to_string(),
        }
    }
    pub fn failed(message: impl std::fmt::Display) -> Self {
        Self {
            code: 1,
            message: message.to_string(),
        }
    }
}

impl From<keywarden_vault::VaultError> for Failure {
    fn from(err: keywarden_vault::VaultError) -> Self {
        use keywarden_vault::VaultError as E;
        let code = match &err {
            E::Invalid { .. } | E::NameTaken(_) => 2,
            E::Store(keywarden_vault::StoreError::TooLarge { .. }) => 2,
            E::File(keywarden_vault::filevault::FileVaultError::WeakPassphrase(_)) => 2,
            _ => 1,
        };
        Self {
            code,
            message: err.to_string(),
        }
    }
}

impl From<keywarden_request::RequestError> for Failure {
    fn from(err: keywarden_request::RequestError) -> Self {
        match err.verdict() {
            keywarden_request::Verdict::Input => Self::usage(err),
            _ => Self::failed(err),
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(err: std::io::Error) -> Self {
        Self::failed(err)
    }
}

pub type Outcome = Result<(), Failure>;

fn main() -> ExitCode {
    keywarden_app::hardening::disable_core_dumps();
    let args = match cli::Cli::try_parse() {
        Ok(args) => args,
        Err(err) => {
            let _ = err.print();
            return match err.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(2),
            };
        }
    };
    if args.verbose {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_env_filter("keywarden=debug,kw=debug,info")
            .init();
    }
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) if f.message.is_empty() => ExitCode::from(f.code),
        Err(f) => {
            let _ = writeln!(std::io::stderr(), "kw: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn run(args: cli::Cli) -> Outcome {
    let result = match args.command {
        cli::Command::Secret(cmd) => secret::run(cmd),
        cli::Command::Store(cmd) => store::run(cmd),
        cli::Command::Render(args) => compose::render(args),
        cli::Command::Send(args) => compose::send(args),
        cli::Command::Run(args) => run::run(args),
        cli::Command::Profile(cmd) => compose::profile(cmd),
        cli::Command::Environment(cmd) => compose::environment(cmd),
        cli::Command::History(args) => compose::history(args),
        cli::Command::Admin(args) => admin::run(args),
    };
    match result {
        // A closed pipe (`kw secret list | head -1`) is not a failure.
        Err(f) if f.message.contains("Broken pipe") => Ok(()),
        other => other,
    }
}
