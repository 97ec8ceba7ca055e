//! The embedded key server: `keywarden-server` as a library, on a SQLite file in the
//! data directory and a free loopback port, so administration works on a fresh machine.

use std::path::Path;
use std::sync::Arc;

use keywarden_core::SecretValue;
use keywarden_server::{App, Config};
use tokio::sync::oneshot;

use crate::error::{AdminError, Result};

/// The file the embedded server keeps its objects in (next to `keywarden.db`).
pub const EMBEDDED_DB: &str = "keywarden-server.db";

/// A running embedded server. Dropping it stops the server.
pub struct Embedded {
    pub url: String,
    stop: Option<oneshot::Sender<()>>,
    _app: Arc<App>,
}

impl std::fmt::Debug for Embedded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedded").field("url", &self.url).finish()
    }
}

impl Drop for Embedded {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts the server. On the very first start it is initialized and its first admin key
/// is returned (once): the caller keeps it in the keychain.
pub async fn start(home: &Path) -> Result<(Embedded, Option<SecretValue>)> {
    std::fs::create_dir_all(home).map_err(|e| AdminError::Embedded(e.to_string()))?;
    let database = home.join(EMBEDDED_DB);
    let config = Config {
        database: database.display().to_string(),
        ..Config::default()
    };
    let mut app = App::open(config)
        .await
        .map_err(|e| AdminError::Embedded(e.to_string()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&database, std::fs::Permissions::from_mode(0o600));
    }
    let first_key = match app.service.initialize("admin", None).await {
        Ok(key) => Some(key.into_secret()),
        Err(keywarden_server::error::Error::Conflict(_)) => None,
        Err(e) => return Err(AdminError::Embedded(e.to_string())),
    };
    app.start_followers();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| AdminError::Embedded(format!("no free loopback port: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| AdminError::Embedded(e.to_string()))?;
    let app = Arc::new(app);
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = Arc::clone(&app);
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.await;
        };
        if let Err(e) = serving.serve(listener, shutdown).await {
            tracing::warn!(error = %e, "the embedded key server stopped");
        }
    });
    tracing::info!(%addr, "embedded key server started");
    Ok((
        Embedded {
            url: format!("http://{addr}"),
            stop: Some(stop),
            _app: app,
        },
        first_key,
    ))
}
