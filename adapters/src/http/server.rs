//! The HTTP server: hyper's connection handling with the limits poem's `Server` does not
//! offer, around the app's endpoint.
//!
//! From the stack (configured, not written here):
//! - hyper's HTTP/1 `header_read_timeout` (with tokio's timer): a connection that does not
//!   deliver a request's headers within [`ConnectionLimits::header_read_timeout`] is
//!   closed. hyper starts that clock when the connection starts waiting for a request, so
//!   it is also the keep-alive idle timeout: a kept-alive connection silent that long is
//!   closed, and so is a new one that never sends anything.
//!
//! Written here, because neither poem nor hyper has it:
//! - the same timeout before a connection's first byte and between HTTP/2 requests (a
//!   connection with no request in flight for that long is closed): hyper's timer starts
//!   only once the protocol is known, so a connection that never sends a byte would
//!   otherwise stay open for ever;
//! - a cap on open connections ([`ConnectionLimits::max_connections`]). At the cap a new
//!   connection is admitted by closing the connection that has been idle (no request in
//!   flight) the longest; only when every connection is busy is the new one closed. A
//!   client that hoards idle connections therefore cannot lock others out — on loopback a
//!   probe shares the attacker's address, so a per-IP cap could not tell them apart;
//! - an accept loop that backs off when the process is out of file descriptors
//!   (`EMFILE`, `ENFILE`) or memory for sockets, and frees the oldest idle connection,
//!   instead of retrying at once (which spun a core while refusing everyone);
//! - graceful shutdown: stop accepting, let in-flight requests finish within the grace
//!   period, close idle connections at once.
//!
//! The request-body read timeout lives in the outermost layer (`middleware`), which reads
//! every body.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use poem::endpoint::BoxEndpoint;
use poem::http::uri::Scheme;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Endpoint as _, Response};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// The limits on connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// How long a connection may take to deliver a request's headers, counted from when it
    /// starts waiting for the request (so also how long a kept-alive connection may idle).
    pub header_read_timeout: Duration,
    /// Open connections at most.
    pub max_connections: usize,
}

/// File descriptors kept back from the connection cap for everything else the process
/// opens: the database pool, the SQLite file and its journal, the log, the listener.
pub const RESERVED_DESCRIPTORS: u64 = 128;

/// The default connection cap for a file-descriptor limit: what the limit leaves after
/// [`RESERVED_DESCRIPTORS`], at most 10,000 (about 10 KiB of buffers per idle connection,
/// so 100 MiB at worst) and at least 16.
pub fn default_max_connections(descriptor_limit: u64) -> usize {
    let usable = descriptor_limit
        .saturating_sub(RESERVED_DESCRIPTORS)
        .clamp(16, 10_000);
    usize::try_from(usable).unwrap_or(10_000)
}

/// Raises the soft limit on open files to the hard limit; returns the limit now in force
/// (`None` where it cannot be read).
pub fn raise_descriptor_limit() -> Option<u64> {
    rlimit::increase_nofile_limit(u64::MAX).ok()
}

/// One open connection, as the cap sees it.
struct Tracked {
    /// Requests being answered on it.
    in_flight: Arc<AtomicUsize>,
    /// When it last started or finished a request (or was accepted), in ms since `epoch`.
    last_active: Arc<AtomicU64>,
    /// Cancelled to close it at once (eviction).
    evict: CancellationToken,
}

/// The open connections.
struct Registry {
    epoch: Instant,
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Tracked>>,
    /// Connections chosen for eviction that have not closed yet (still in `open`).
    evicting: AtomicUsize,
}

impl Registry {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn len(&self) -> usize {
        self.open.lock().map_or(0, |open| open.len())
    }

    /// Closes the connection idle the longest; `false` if every connection is busy.
    fn evict_oldest_idle(&self) -> bool {
        let Ok(open) = self.open.lock() else {
            return false;
        };
        let oldest = open
            .values()
            .filter(|c| c.in_flight.load(Ordering::Acquire) == 0 && !c.evict.is_cancelled())
            .min_by_key(|c| c.last_active.load(Ordering::Relaxed));
        match oldest {
            Some(connection) => {
                connection.evict.cancel();
                self.evicting.fetch_add(1, Ordering::AcqRel);
                true
            }
            None => false,
        }
    }

    /// Open connections not already being closed: checked on every accept, so counted,
    /// not scanned.
    fn open_slots(&self) -> usize {
        self.len()
            .saturating_sub(self.evicting.load(Ordering::Acquire))
    }

    /// Forgets a closed connection.
    fn remove(&self, id: u64) {
        if let Ok(mut open) = self.open.lock()
            && let Some(closed) = open.remove(&id)
            && closed.evict.is_cancelled()
        {
            self.evicting.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Serves `endpoint` on `listener` until `shutdown` completes, then gives in-flight
/// requests `grace` to finish.
///
/// # Errors
/// None today once listening; the `Result` is for symmetry with other servers.
pub async fn serve(
    listener: TcpListener,
    endpoint: BoxEndpoint<'static, Response>,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> io::Result<()> {
    let endpoint = Arc::new(endpoint);
    let registry = Arc::new(Registry {
        epoch: Instant::now(),
        next_id: AtomicU64::new(0),
        open: Mutex::new(HashMap::new()),
        evicting: AtomicUsize::new(0),
    });
    let local = listener.local_addr()?;
    let stop = CancellationToken::new();
    let all_closed = Arc::new(tokio::sync::Notify::new());
    let mut backoff = Backoff::default();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (socket, peer) = match accepted {
            Ok(pair) => {
                backoff.reset();
                pair
            }
            Err(err) => {
                let delay = backoff.next();
                if is_out_of_resources(&err) {
                    // Out of descriptors: free the longest-idle connection, and wait before
                    // trying again instead of spinning on the error.
                    registry.evict_oldest_idle();
                    tracing::warn!(error = %err, retry_in_ms = delay.as_millis(), "accept failed: out of resources");
                } else {
                    tracing::warn!(error = %err, retry_in_ms = delay.as_millis(), "accept failed");
                }
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(delay) => continue,
                }
            }
        };
        if registry.open_slots() >= limits.max_connections && !registry.evict_oldest_idle() {
            // Every connection is answering a request: refuse this one by closing it.
            tracing::warn!(
                max_connections = limits.max_connections,
                "connection cap reached, every connection busy: refused one"
            );
            drop(socket);
            continue;
        }
        spawn_connection(
            socket,
            local,
            peer,
            Arc::clone(&endpoint),
            Arc::clone(&registry),
            limits,
            stop.child_token(),
            Arc::clone(&all_closed),
        );
    }
    drop(listener);
    // Idle connections close at once; busy ones finish their request, within the grace.
    stop.cancel();
    let deadline = tokio::time::Instant::now() + grace;
    while registry.len() > 0 {
        let notified = all_closed.notified();
        if registry.len() == 0 {
            break;
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            tracing::warn!(
                open = registry.len(),
                "grace period over: closing connections still busy"
            );
            break;
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)] // one call site; the parts of one connection
fn spawn_connection(
    socket: TcpStream,
    local: SocketAddr,
    peer: SocketAddr,
    endpoint: Arc<BoxEndpoint<'static, Response>>,
    registry: Arc<Registry>,
    limits: ConnectionLimits,
    stop: CancellationToken,
    all_closed: Arc<tokio::sync::Notify>,
) {
    let _ = socket.set_nodelay(true);
    let id = registry.next_id.fetch_add(1, Ordering::Relaxed);
    let in_flight = Arc::new(AtomicUsize::new(0));
    let last_active = Arc::new(AtomicU64::new(registry.now_ms()));
    let evict = CancellationToken::new();
    if let Ok(mut open) = registry.open.lock() {
        open.insert(
            id,
            Tracked {
                in_flight: Arc::clone(&in_flight),
                last_active: Arc::clone(&last_active),
                evict: evict.clone(),
            },
        );
    }
    let watch_in_flight = Arc::clone(&in_flight);
    let watch_last_active = Arc::clone(&last_active);
    let service = {
        let registry = Arc::clone(&registry);
        hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let endpoint = Arc::clone(&endpoint);
            let activity = Activity::start(&in_flight, &last_active, &registry);
            async move {
                let request = poem::Request::from((
                    req,
                    LocalAddr(local.into()),
                    RemoteAddr(peer.into()),
                    Scheme::HTTP,
                ));
                let response = endpoint.get_response(request).await;
                drop(activity);
                Ok::<_, Infallible>(hyper::Response::from(response))
            }
        })
    };
    tokio::spawn(async move {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .keep_alive(true);
        builder.http2().timer(TokioTimer::new());
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(socket), service);
        tokio::pin!(connection);
        let idle = idle_for(
            limits.header_read_timeout,
            &watch_in_flight,
            &watch_last_active,
            &registry,
        );
        tokio::select! {
            _ = connection.as_mut() => {}
            // Chosen by the cap: no request is in flight, so dropping it loses nothing.
            () = evict.cancelled() => {}
            // Silent too long with no request in flight: before the first byte (hyper's
            // header timer starts only once the HTTP version is known), between requests
            // (HTTP/2 has no header timer), or in the middle of a request's headers.
            () = idle => {}
            () = stop.cancelled() => {
                connection.as_mut().graceful_shutdown();
                let _ = connection.await;
            }
        }
        registry.remove(id);
        all_closed.notify_waiters();
    });
}

/// Completes once the connection has had no request in flight for `limit`.
async fn idle_for(
    limit: Duration,
    in_flight: &AtomicUsize,
    last_active: &AtomicU64,
    registry: &Registry,
) {
    let limit_ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX);
    loop {
        let since = registry
            .now_ms()
            .saturating_sub(last_active.load(Ordering::Relaxed));
        let busy = in_flight.load(Ordering::Acquire) > 0;
        if !busy && since >= limit_ms {
            return;
        }
        // Asleep until the earliest moment it could be idle long enough (a busy
        // connection is looked at again a whole timeout later).
        let wait = if busy { limit_ms } else { limit_ms - since };
        tokio::time::sleep(Duration::from_millis(wait.max(10))).await;
    }
}

/// A request in flight on a connection: counted while it lives, and the connection's
/// last activity stamped when it starts and ends.
struct Activity {
    in_flight: Arc<AtomicUsize>,
    last_active: Arc<AtomicU64>,
    registry: Arc<Registry>,
}

impl Activity {
    fn start(
        in_flight: &Arc<AtomicUsize>,
        last_active: &Arc<AtomicU64>,
        registry: &Arc<Registry>,
    ) -> Self {
        in_flight.fetch_add(1, Ordering::AcqRel);
        last_active.store(registry.now_ms(), Ordering::Relaxed);
        Self {
            in_flight: Arc::clone(in_flight),
            last_active: Arc::clone(last_active),
            registry: Arc::clone(registry),
        }
    }
}

impl Drop for Activity {
    fn drop(&mut self) {
        self.last_active
            .store(self.registry.now_ms(), Ordering::Relaxed);
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Accept errors that mean the process or system ran out of something sockets need.
fn is_out_of_resources(err: &io::Error) -> bool {
    // EMFILE (24), ENFILE (23), ENOBUFS (105), ENOMEM (12) on Linux.
    matches!(err.raw_os_error(), Some(23 | 24 | 105 | 12))
        || err.kind() == io::ErrorKind::OutOfMemory
}

/// 5 ms, doubling to 1 s, after consecutive accept errors.
#[derive(Debug, Default)]
struct Backoff {
    failures: u32,
}

impl Backoff {
    fn next(&mut self) -> Duration {
        let delay = Duration::from_millis(5u64.saturating_mul(1 << self.failures.min(8)));
        self.failures = self.failures.saturating_add(1);
        delay.min(Duration::from_secs(1))
    }

    fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_to_a_second_and_resets() {
        let mut backoff = Backoff::default();
        let delays: Vec<u128> = (0..10).map(|_| backoff.next().as_millis()).collect();
        assert_eq!(delays, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        backoff.reset();
        assert_eq!(backoff.next(), Duration::from_millis(5));
    }

    #[test]
    fn out_of_descriptors_is_out_of_resources() {
        assert!(is_out_of_resources(&io::Error::from_raw_os_error(24)));
        assert!(is_out_of_resources(&io::Error::from_raw_os_error(23)));
        assert!(!is_out_of_resources(&io::Error::from_raw_os_error(104)));
    }

    #[test]
    fn the_default_cap_leaves_room_for_everything_else() {
        assert_eq!(default_max_connections(1024), 896);
        assert_eq!(default_max_connections(1_048_576), 10_000);
        assert_eq!(default_max_connections(100), 16);
    }
}
