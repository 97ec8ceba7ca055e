//! Wiring: open the store, load the index, start the followers, build the router.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::http::{AppState, router};
use crate::index::Index;
use crate::limits::FailureThrottle;
use crate::service::Service;
use crate::store::{Store, StoreError};
use crate::verify::Verifier;

/// How long a stored Idempotency-Key response is replayed (one day, as Stripe does).
pub const IDEMPOTENCY_RETENTION_SECS: i64 = 24 * 3600;

/// A running server's parts.
pub struct App {
    pub service: Arc<Service>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for App {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl App {
    /// Opens the configured database (running its migrations) and loads the index.
    pub async fn open(config: Config) -> Result<Self, StoreError> {
        let store = crate::store::open(&config.database, config.pg_pool_size).await?;
        Self::with_store(config, store).await
    }

    pub async fn with_store(config: Config, store: Arc<dyn Store>) -> Result<Self, StoreError> {
        let snapshot = store.load().await?;
        let index = Arc::new(RwLock::new(Index::from_objects(
            snapshot.objects,
            snapshot.seq,
            &snapshot.usage,
        )));
        let throttle = FailureThrottle::new(
            config.max_failures,
            config.failure_window,
            config.failure_block,
        );
        let verifier = Arc::new(Verifier::new(Arc::clone(&index), throttle));
        let service = Arc::new(Service::new(store, index, verifier, config));
        Ok(Self {
            service,
            tasks: Vec::new(),
        })
    }

    /// Starts the background work: following the change feed, flushing last-used times
    /// and refusal counts.
    pub fn start_followers(&mut self) {
        let service = Arc::clone(&self.service);
        self.tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(service.config.poll_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let signal = service
                .config
                .change_notifications
                .then(|| service.store.change_signal())
                .flatten();
            loop {
                // A notification from the database wakes the follower at once; the poll is the safety net.
                match &signal {
                    Some(signal) => {
                        tokio::select! {
                            _ = tick.tick() => {}
                            () = signal.notified() => {}
                        }
                    }
                    None => {
                        tick.tick().await;
                    }
                }
                if let Err(e) = follow_once(&service).await {
                    tracing::warn!(error = %e, "could not read the change feed; retrying");
                }
            }
        }));
        let service = Arc::clone(&self.service);
        self.tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(service.config.usage_flush_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut since = 0;
            loop {
                tick.tick().await;
                let started = keywarden_core::now();
                match service.flush_usage(since).await {
                    Ok(()) => since = started,
                    Err(e) => tracing::warn!(error = %e, "could not record key usage"),
                }
                if let Err(e) = service.flush_refusal_counts().await {
                    tracing::warn!(error = %e, "could not record refusal counts");
                }
                let now = keywarden_core::now();
                if let Err(e) = service
                    .store
                    .prune(now - IDEMPOTENCY_RETENTION_SECS, now)
                    .await
                {
                    tracing::warn!(error = %e, "could not prune old idempotency records");
                }
            }
        }));
    }

    pub fn router(&self) -> axum::Router {
        router(AppState {
            service: Arc::clone(&self.service),
        })
    }

    /// Serves until the future `shutdown` completes.
    pub async fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(
            listener,
            self.router()
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
    }
}

/// Reads the change feed once and applies what other replicas wrote.
pub async fn follow_once(service: &Service) -> Result<usize, StoreError> {
    let mut applied = 0;
    loop {
        let since = service.index.read().unwrap_or_else(|p| p.into_inner()).seq;
        let changes = service.store.changes_since(since, 1000).await?;
        if changes.is_empty() {
            return Ok(applied);
        }
        let mut index = service.index.write().unwrap_or_else(|p| p.into_inner());
        // Another poll may have moved the cursor meanwhile; apply only what is newer.
        let fresh: Vec<_> = changes.into_iter().filter(|c| c.seq > index.seq).collect();
        if let Some(last) = fresh.last() {
            let last = last.seq;
            index.apply(&fresh);
            index.seq = last;
            applied += fresh.len();
        }
    }
}
