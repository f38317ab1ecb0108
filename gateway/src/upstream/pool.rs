//! Upstream connections and their pool: idle connections per upstream, in a slot per proxy
//! worker, reused only while nothing has arrived on them since their last response.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::net::TcpStream;
use tokio_util::io::poll_read_buf;

use crate::error::GatewayError;

/// Idle connections are dropped after this long unused.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Idle connections kept per upstream and worker, at most.
const POOL_MAX_IDLE: usize = 256;
/// Time allowed to open a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Bytes asked of the socket per read.
pub(super) const READ_SIZE: usize = 16 * 1024;

/// One upstream connection and the bytes read from it but not yet used.
pub(super) struct Conn {
    pub(super) stream: TcpStream,
    pub(super) buf: BytesMut,
}

impl Conn {
    pub(super) async fn open(address: &str) -> Result<Self, GatewayError> {
        let stream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address)).await
        {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "upstream connection failed");
                return Err(GatewayError::UpstreamUnavailable);
            }
            Err(_) => return Err(GatewayError::UpstreamUnavailable),
        };
        let _ = stream.set_nodelay(true);
        Ok(Self {
            stream,
            buf: BytesMut::with_capacity(READ_SIZE),
        })
    }

    /// Whether an idle connection can take a request: nothing (not even its end) has arrived
    /// since its last response. Read readiness is what the runtime last saw from epoll, so
    /// this costs no system call unless the socket looks readable.
    fn is_fresh(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        match self.stream.poll_read_ready(&mut cx) {
            Poll::Pending => true,
            Poll::Ready(Err(_)) => false,
            // Readable: its end, unsolicited bytes, or readiness left over from a read that
            // filled the buffer exactly. Only the last leaves it usable.
            Poll::Ready(Ok(())) => {
                let mut probe = [0u8; 1];
                matches!(self.stream.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
        }
    }

    /// Reads more into the buffer; `Ok(0)` at the end of the stream.
    pub(super) fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.buf.capacity() - self.buf.len() < READ_SIZE / 4 {
            self.buf.reserve(READ_SIZE);
        }
        poll_read_buf(Pin::new(&mut self.stream), cx, &mut self.buf)
    }

    pub(super) async fn fill(&mut self) -> io::Result<usize> {
        poll_fn(|cx| self.poll_fill(cx)).await
    }
}

/// Idle connections and since when, most recently used last.
type Idle = Vec<(Conn, Instant)>;

/// One upstream's idle connections, in a slot per proxy worker
/// (`crate::server::worker_slot`): a connection is registered with the runtime that opened it,
/// so it is only used again on that runtime (no cross-thread wake-ups, and no connection left
/// tied to a runtime that has stopped).
pub(crate) struct Pool {
    pub(super) address: String,
    slots: Box<[Slot]>,
}

/// One worker's idle connections, on cache lines of its own (workers never contend).
#[derive(Default)]
#[repr(align(128))]
struct Slot(Mutex<Idle>);

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl Pool {
    /// A pool of connections to `address` (`host:port`) for `workers` worker threads plus
    /// callers outside them.
    pub(crate) fn new(address: String, workers: usize) -> Self {
        Self {
            address,
            slots: (0..=workers).map(|_| Slot::default()).collect(),
        }
    }

    /// The `host:port` connections go to.
    #[cfg(test)]
    pub(crate) fn address(&self) -> &str {
        &self.address
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Idle> {
        let slot = crate::server::worker_slot();
        self.slots[slot.min(self.slots.len() - 1)]
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn checkout(&self) -> Option<Conn> {
        let mut idle = self.slot();
        expire(&mut idle);
        while let Some((mut conn, _)) = idle.pop() {
            if conn.is_fresh() {
                return Some(conn);
            }
        }
        None
    }

    pub(super) fn checkin(&self, conn: Conn) {
        let mut idle = self.slot();
        expire(&mut idle);
        if idle.len() < POOL_MAX_IDLE {
            #[allow(
                clippy::disallowed_methods,
                reason = "how long a connection sat idle, not a token time"
            )]
            idle.push((conn, Instant::now()));
        }
    }
}

/// Closes the connections idle too long (the oldest are first).
fn expire(idle: &mut Idle) {
    let expired = idle
        .iter()
        .take_while(|(_, since)| since.elapsed() >= POOL_IDLE_TIMEOUT)
        .count();
    if expired > 0 {
        idle.drain(..expired);
    }
}
