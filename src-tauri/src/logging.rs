//! Logs go to `<data dir>/logs/keywarden.log`. Only command outcomes and error codes are
//! logged; secret values never reach a log call (their types redact themselves anyway).

use std::fs::{self, OpenOptions};
use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

/// Starts logging to a file under `home`. Returns the log file path, or None when the
/// file cannot be opened (the app still runs, logging to standard error).
pub fn init(home: &Path) -> Option<std::path::PathBuf> {
    // KEYWARDEN_LOG takes `level` or `target=level,...` directives (no regular expressions,
    // which keeps the binary small).
    let filter: Targets = std::env::var("KEYWARDEN_LOG")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            "info,tao=warn,wry=warn,tauri=warn"
                .parse()
                .expect("valid default directives")
        });
    let dir = home.join("logs");
    let path = dir.join("keywarden.log");
    let file = fs::create_dir_all(&dir).and_then(|()| {
        let mut opts = OpenOptions::new();
        opts.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        opts.open(&path)
    });
    match file {
        Ok(file) => {
            tracing_subscriber::registry()
                .with(
                    tracing_subscriber::fmt::layer()
                        .with_ansi(false)
                        .with_writer(Mutex::new(file)),
                )
                .with(filter)
                .init();
            Some(path)
        }
        Err(err) => {
            tracing_subscriber::registry()
                .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
                .with(filter)
                .init();
            tracing::warn!(error = %err, dir = %dir.display(), "cannot write the log file; logging to standard error");
            None
        }
    }
}
