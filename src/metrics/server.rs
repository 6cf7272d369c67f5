//! The endpoint's threads: one accepts, one per connection serves (at most `max_connections`
//! at once; more are closed at once and counted). The daemon only ever touches
//! [`MetricsShared`], whose lock is held for a pointer swap, so a slow or hostile client
//! cannot stall it.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use super::config::{ConfigError, LoadedConfig, MetricsConfig};
use super::health::Health;
use super::model::SensorMetrics;

/// How long the accept loop sleeps when no connection is waiting; bounds how late `stop` is.
const ACCEPT_POLL: Duration = Duration::from_millis(50);

/// Response codes the endpoint sends, in the order of [`EndpointStats::responses`].
pub const RESPONSE_CODES: [u16; 7] = [200, 400, 401, 404, 405, 431, 503];

/// Why a connection ended without a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// `max_connections` were being served.
    ConnectionLimit,
    /// The TLS handshake failed (no or a bad client certificate, not TLS, ...).
    TlsHandshake,
    /// A read or write took longer than `io_timeout_ms`, or the connection longer than
    /// `request_timeout_ms`.
    Timeout,
    /// The client closed or broke the connection before a whole request head.
    Incomplete,
}

impl Refusal {
    /// Every refusal, in the order of [`EndpointStats::refused`].
    pub const ALL: [Refusal; 4] = [Refusal::ConnectionLimit, Refusal::TlsHandshake, Refusal::Timeout, Refusal::Incomplete];

    /// The stable name (a label value).
    pub fn name(self) -> &'static str {
        match self {
            Refusal::ConnectionLimit => "connection_limit",
            Refusal::TlsHandshake => "tls_handshake",
            Refusal::Timeout => "timeout",
            Refusal::Incomplete => "incomplete",
        }
    }
}

/// The endpoint's own counters since it started.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointStats {
    /// Connections accepted from the socket.
    pub connections: u64,
    /// Connections ended without a response, by [`Refusal::ALL`] order.
    pub refused: [u64; 4],
    /// Responses sent, by [`RESPONSE_CODES`] order.
    pub responses: [u64; 7],
}

#[derive(Default)]
struct Counters {
    connections: AtomicU64,
    refused: [AtomicU64; 4],
    responses: [AtomicU64; 7],
}

#[derive(Default)]
struct Latest {
    metrics: Arc<SensorMetrics>,
    health: Arc<Health>,
    ready: bool,
}

/// What the daemon hands the endpoint, and the endpoint's counters. Share it as an `Arc`:
/// the daemon calls [`MetricsShared::publish`] and [`MetricsShared::set_health`] about once a
/// second; every call holds the lock only to swap a pointer.
#[derive(Default)]
pub struct MetricsShared {
    latest: Mutex<Latest>,
    counters: Counters,
}

impl MetricsShared {
    /// Nothing published yet: zero metrics, health `ok`, not ready.
    pub fn new() -> MetricsShared {
        MetricsShared::default()
    }

    fn lock(&self) -> MutexGuard<'_, Latest> {
        // A panic while holding this lock can only have interrupted a pointer swap; the
        // values are still whole.
        self.latest.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Replaces the metrics served.
    pub fn publish(&self, metrics: SensorMetrics) {
        let metrics = Arc::new(metrics);
        self.lock().metrics = metrics;
    }

    /// Replaces the health served.
    pub fn set_health(&self, health: Health) {
        let health = Arc::new(health);
        self.lock().health = health;
    }

    /// Marks the sensor ready (capture open, state loaded) or not; `/ready` answers 503 until
    /// then, and while the health is failing.
    pub fn set_ready(&self, ready: bool) {
        self.lock().ready = ready;
    }

    /// The latest metrics, health and readiness.
    pub fn snapshot(&self) -> (Arc<SensorMetrics>, Arc<Health>, bool) {
        let l = self.lock();
        (l.metrics.clone(), l.health.clone(), l.ready)
    }

    /// The endpoint's counters so far.
    pub fn endpoint_stats(&self) -> EndpointStats {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        EndpointStats {
            connections: load(&self.counters.connections),
            refused: self.counters.refused.each_ref().map(load),
            responses: self.counters.responses.each_ref().map(load),
        }
    }

    pub(crate) fn count_refusal(&self, r: Refusal) {
        if let Some(c) = Refusal::ALL.iter().position(|x| *x == r).and_then(|i| self.counters.refused.get(i)) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn count_response(&self, code: u16) {
        if let Some(c) = RESPONSE_CODES.iter().position(|x| *x == code).and_then(|i| self.counters.responses.get(i)) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A running endpoint. Dropping it stops it too.
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

/// Decrements the active-connection count when a connection thread ends, however it ends.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl MetricsServer {
    /// Validates `cfg` (reading its files), binds the socket and starts serving on a thread of
    /// its own. Binding happens here, so a daemon can start the endpoint on a port below 1024
    /// before it drops its privileges. `Ok(None)` when the section is disabled.
    pub fn start(cfg: &MetricsConfig, shared: Arc<MetricsShared>) -> Result<Option<MetricsServer>, ConfigError> {
        let Some(loaded) = cfg.load()? else { return Ok(None) };
        let listener = TcpListener::bind(loaded.addr).map_err(|e| {
            ConfigError::new(
                "listen",
                format!("cannot listen on {}: {e}", loaded.addr),
                "choose a free port (ports below 1024 need the daemon to start as root or with CAP_NET_BIND_SERVICE)",
            )
        })?;
        let addr = listener.local_addr().unwrap_or(loaded.addr);
        let nonblocking = listener.set_nonblocking(true);
        nonblocking.map_err(|e| ConfigError::new("listen", format!("cannot set up {addr}: {e}"), "report this as a bug"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = stop.clone();
        let loaded = Arc::new(loaded);
        let accept = std::thread::Builder::new()
            .name("apitap-metrics".into())
            .spawn(move || accept_loop(listener, loaded, shared, thread_stop))
            .map_err(|e| ConfigError::new("enabled", format!("cannot start the endpoint's thread: {e}"), "check the process's thread limit"))?;
        Ok(Some(MetricsServer { addr, stop, accept: Some(accept) }))
    }

    /// The address bound (the real port when `listen` asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and waits for the accept thread (at most about 50 ms). Connections
    /// being served finish on their own within `request_timeout_ms`.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn accept_loop(listener: TcpListener, cfg: Arc<LoadedConfig>, shared: Arc<MetricsShared>, stop: Arc<AtomicBool>) {
    let active = Arc::new(AtomicUsize::new(0));
    while !stop.load(Ordering::Acquire) {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(ACCEPT_POLL);
                continue;
            }
            // Out of descriptors or a connection reset before accept: wait, then go on.
            Err(_) => {
                std::thread::sleep(ACCEPT_POLL);
                continue;
            }
        };
        shared.counters.connections.fetch_add(1, Ordering::Relaxed);
        if active.fetch_add(1, Ordering::AcqRel) >= cfg.max_connections {
            active.fetch_sub(1, Ordering::AcqRel);
            shared.count_refusal(Refusal::ConnectionLimit);
            drop(stream);
            continue;
        }
        let slot = Slot(active.clone());
        let (conn_cfg, conn_shared) = (cfg.clone(), shared.clone());
        let spawned = std::thread::Builder::new().name("apitap-metrics-conn".into()).spawn(move || {
            let _slot = slot;
            serve(stream, &conn_cfg, &conn_shared);
        });
        if spawned.is_err() {
            // The slot went with the closure and was released; the client sees a close.
            shared.count_refusal(Refusal::ConnectionLimit);
        }
    }
}

fn serve(stream: TcpStream, cfg: &LoadedConfig, shared: &MetricsShared) {
    super::http::serve(stream, cfg, shared);
}
