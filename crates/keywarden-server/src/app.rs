//! Wiring: open the store, load the index, start the followers, build the router, and
//! serve it: an accept loop with a connection cap, a header-read timeout, a request
//! timeout and a bounded graceful shutdown.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt as _;

use crate::config::Config;
use crate::http::{AppState, ErrorBody, router};
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
    connections: Arc<ConnectionStats>,
}

/// Largest buffer a connection may use for request headers (a request whose headers do not
/// fit is answered 431). With the body limit, this bounds a connection's memory.
pub const MAX_CONNECTION_BUFFER: usize = 64 * 1024;

/// Connections being served (accepted, not yet closed).
#[derive(Debug, Default)]
pub struct ConnectionStats {
    open: AtomicUsize,
    peak: AtomicUsize,
    accepted: AtomicU64,
}

impl ConnectionStats {
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// The most connections ever served at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }
}

struct OpenConnection(Arc<ConnectionStats>);

impl OpenConnection {
    fn new(stats: &Arc<ConnectionStats>) -> Self {
        stats.accepted.fetch_add(1, Ordering::Relaxed);
        let open = stats.open.fetch_add(1, Ordering::Relaxed) + 1;
        stats.peak.fetch_max(open, Ordering::Relaxed);
        Self(Arc::clone(stats))
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
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
            connections: Arc::default(),
        })
    }

    /// Starts the background work: following the change feed, flushing last-used times,
    /// refusal counts and failed logins.
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
            // The first flush after one interval: at start there is nothing to write.
            let period = service.config.usage_flush_interval;
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
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
                if let Err(e) = service.flush_login_failures().await {
                    tracing::warn!(error = %e, "could not record failed logins");
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

    /// Connections served by [`App::serve`].
    pub fn connections(&self) -> &ConnectionStats {
        &self.connections
    }

    /// Serves until the future `shutdown` completes, then stops accepting, lets in-flight
    /// requests finish (at most `request_timeout` and one second more) and closes the rest.
    ///
    /// At most `max_connections` connections are served at once. The others wait in the
    /// kernel's listen backlog, costing the server nothing (one of them accepted and held
    /// unserved); once the backlog is full, new connection attempts go unanswered. While one
    /// waits, every served connection is told to finish: an idle one closes at once, a busy
    /// one after its current response, so connections take turns in arrival order and
    /// keep-alive connections cannot starve newcomers (a health probe, say). A client that
    /// stalls mid-headers keeps its place until `header_read_timeout`; requests are answered
    /// 408 after `request_timeout`. Each request carries `ConnectInfo<SocketAddr>` with the
    /// TCP peer.
    pub fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> impl std::future::Future<Output = std::io::Result<()>> + Send + 'static {
        let config = &self.service.config;
        let limits = ServeLimits {
            max_connections: config.max_connections,
            header_read_timeout: config.header_read_timeout,
            request_timeout: config.request_timeout,
        };
        serve_connections(
            listener,
            self.router(),
            limits,
            Arc::clone(&self.connections),
            shutdown,
        )
    }
}

#[derive(Debug, Clone, Copy)]
struct ServeLimits {
    max_connections: usize,
    header_read_timeout: Duration,
    request_timeout: Duration,
}

async fn serve_connections(
    listener: TcpListener,
    router: axum::Router,
    limits: ServeLimits,
    stats: Arc<ConnectionStats>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    // While a connection waits for a place: `waiting` is set, every served connection that
    // has had a request is told to finish (`pressure`), and responses close their connection.
    let pressure = Arc::new(Notify::new());
    let waiting = Arc::new(AtomicBool::new(false));
    let (stopping, stop) = tokio::sync::watch::channel(false);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(MAX_CONNECTION_BUFFER);
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        while connections.try_join_next().is_some() {}
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // Out of file descriptors or the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "cannot accept connections; retrying in 1 s");
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    }
                }
            },
        };
        let permit = match Arc::clone(&permits).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                // At the cap, with this one (and maybe more in the backlog) waiting.
                waiting.store(true, Ordering::Relaxed);
                pressure.notify_waiters();
                let permit = tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    permit = Arc::clone(&permits).acquire_owned() => permit,
                };
                waiting.store(false, Ordering::Relaxed);
                match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let timeout = limits.request_timeout;
        let asked = Arc::new(AtomicBool::new(false));
        let asked_here = Arc::clone(&asked);
        let someone_waits = Arc::clone(&waiting);
        let service = hyper::service::service_fn(move |mut request: hyper::Request<_>| {
            asked_here.store(true, Ordering::Relaxed);
            request.extensions_mut().insert(ConnectInfo(peer));
            let router = router.clone();
            let someone_waits = Arc::clone(&someone_waits);
            async move {
                let mut response =
                    match tokio::time::timeout(timeout, router.oneshot(request)).await {
                        Ok(Ok(response)) => response,
                        Ok(Err(never)) => match never {},
                        Err(_) => request_timeout_response(),
                    };
                if someone_waits.load(Ordering::Relaxed) {
                    response
                        .headers_mut()
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
                Ok::<_, std::convert::Infallible>(response)
            }
        });
        let connection = http.serve_connection(TokioIo::new(stream), service);
        let open = OpenConnection::new(&stats);
        let pressure = Arc::clone(&pressure);
        let mut stop = stop.clone();
        connections.spawn(async move {
            let _permit = permit;
            let _open = open;
            let mut connection = std::pin::pin!(connection);
            let mut told = std::pin::pin!(pressure.notified());
            told.as_mut().enable();
            let mut finishing = false;
            loop {
                let finish = tokio::select! {
                    result = connection.as_mut() => {
                        if let Err(e) = result {
                            tracing::debug!(error = %e, %peer, "connection closed with an error");
                        }
                        return;
                    }
                    () = told.as_mut(), if !finishing => {
                        // A connection yet to send its first request keeps its turn (the
                        // header-read timeout bounds it); the others have had theirs.
                        let had_a_turn = asked.load(Ordering::Relaxed);
                        if !had_a_turn {
                            told.set(pressure.notified());
                            told.as_mut().enable();
                        }
                        had_a_turn
                    }
                    _ = stop.wait_for(|stop| *stop), if !finishing => true,
                };
                if finish {
                    // Finish the request in flight (if any), then close.
                    finishing = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        });
    }
    drop(listener);
    let _ = stopping.send(true);
    let drain = limits.request_timeout + Duration::from_secs(1);
    let finished = tokio::time::timeout(drain, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if finished.is_err() {
        tracing::warn!(
            open = stats.open(),
            "connections still busy {} s after shutdown began; closing them",
            drain.as_secs()
        );
        connections.abort_all();
        while connections.join_next().await.is_some() {}
    }
    Ok(())
}

/// Connections the kernel completes and queues for us beyond those served (the listen
/// backlog; Linux caps it at `net.core.somaxconn`, 4096 by default).
pub const LISTEN_BACKLOG: u32 = 1024;

/// Binds the listening socket with a [`LISTEN_BACKLOG`]-deep queue (`TcpListener::bind`
/// asks for 128, too few for a burst of connections at the cap).
pub fn bind(address: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if address.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Errors of one connection attempt, not of the listener.
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// 408 in the stable error shape; the connection is closed after it.
fn request_timeout_response() -> axum::response::Response {
    let mut response = (
        StatusCode::REQUEST_TIMEOUT,
        axum::Json(ErrorBody {
            code: "request_timeout".into(),
            message: "the request took too long; send it again, faster".into(),
            field: None,
        }),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
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
