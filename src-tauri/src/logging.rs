//! Logs go to `<data dir>/logs/keywarden.log`. Only command outcomes and error codes are
//! logged; secret values never reach a log call (their types redact themselves anyway).

use std::fs::{self, OpenOptions};
use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

/// Starts logging to a file under `home`. Returns the log file path, or None when the
/// file cannot be opened (the app still runs, logging to standard error).
pub fn init(home: &Path) -> Option<std::path::PathBuf> {
    let filter = EnvFilter::try_from_env("KEYWARDEN_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,tao=warn,wry=warn,tauri=warn"));
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
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_ansi(false)
                .with_writer(Mutex::new(file))
                .init();
            Some(path)
        }
        Err(err) => {
            tracing_subscriber::fmt().with_env_filter(filter).init();
            tracing::warn!(error = %err, dir = %dir.display(), "cannot write the log file; logging to standard error");
            None
        }
    }
}
