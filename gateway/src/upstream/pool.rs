//! Upstream connections and their pool: idle connections per upstream, in a slot per proxy
//! worker, reused only while nothing has arrived on them since their last response.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::net::TcpStream;
use tokio_util::io::poll_read_buf;

use super::settings::{UpstreamClient, UpstreamProtocol, UpstreamTls};

/// Requests on one HTTP/2 connection.
pub(super) type H2Sender = hyper::client::conn::http2::SendRequest<axum::body::Body>;
use crate::error::GatewayError;

/// Idle connections are dropped after this long unused.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Idle connections kept per upstream and worker, at most.
const POOL_MAX_IDLE: usize = 256;
/// Time allowed to open a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Bytes asked of the socket per read.
pub(super) const READ_SIZE: usize = 16 * 1024;

/// An upstream connection's byte stream: plain TCP, or TLS over it.
pub(super) enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl tokio::io::AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl tokio::io::AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

impl Stream {
    /// Whether the upstream chose HTTP/2 by ALPN.
    pub(super) fn is_h2(&self) -> bool {
        matches!(self, Self::Tls(t) if t.get_ref().1.alpn_protocol() == Some(b"h2"))
    }
}

/// One upstream connection and the bytes read from it but not yet used.
pub(super) struct Conn {
    pub(super) stream: Stream,
    pub(super) buf: BytesMut,
}

/// Opens a connection to `address` (TLS when `tls` is given, offering HTTP/1.1 only when
/// `http1_only`), within [`CONNECT_TIMEOUT`].
pub(super) async fn open_stream(
    address: &str,
    tls: Option<&UpstreamTls>,
    http1_only: bool,
) -> Result<Stream, GatewayError> {
    let opening = async {
        let tcp = TcpStream::connect(address).await.map_err(|e| {
            tracing::warn!(error = %e, address, "upstream connection failed");
            GatewayError::UpstreamUnavailable
        })?;
        let _ = tcp.set_nodelay(true);
        let Some(tls) = tls else {
            return Ok(Stream::Plain(tcp));
        };
        let config = if http1_only {
            &tls.config_http1
        } else {
            &tls.config
        };
        match super::tls::connect(config, &tls.server_name, tcp).await {
            Ok(s) => Ok(Stream::Tls(Box::new(s))),
            Err(e) => {
                // A wrong certificate (unknown issuer, another name, expired) lands here.
                tracing::warn!(
                    error = %e,
                    address,
                    server_name = %tls.key.server_name,
                    "upstream TLS handshake failed"
                );
                Err(GatewayError::UpstreamUnavailable)
            }
        }
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, opening).await {
        Ok(r) => r,
        Err(_) => {
            tracing::warn!(address, "upstream connection timed out");
            Err(GatewayError::UpstreamUnavailable)
        }
    }
}

impl Conn {
    pub(super) fn new(stream: Stream) -> Self {
        Self {
            stream,
            buf: BytesMut::with_capacity(READ_SIZE),
        }
    }

    /// Whether an idle connection can take a request: nothing (not even its end) has arrived
    /// since its last response. Read readiness is what the runtime last saw from epoll, so
    /// this costs no system call unless the socket looks readable.
    fn is_fresh(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        let tcp = match &mut self.stream {
            Stream::Plain(s) => s,
            Stream::Tls(s) => {
                // TLS records that carry no data (a session ticket) are taken in here; data
                // or the end (close_notify, EOF) make the connection unusable.
                let mut probe = [0u8; 1];
                let mut probe = tokio::io::ReadBuf::new(&mut probe);
                return matches!(
                    tokio::io::AsyncRead::poll_read(Pin::new(s.as_mut()), &mut cx, &mut probe),
                    Poll::Pending
                );
            }
        };
        match tcp.poll_read_ready(&mut cx) {
            Poll::Pending => true,
            Poll::Ready(Err(_)) => false,
            // Readable: its end, unsolicited bytes, or readiness left over from a read that
            // filled the buffer exactly. Only the last leaves it usable.
            Poll::Ready(Ok(())) => {
                let mut probe = [0u8; 1];
                matches!(tcp.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
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
    /// For an `https://` upstream.
    pub(super) tls: Option<UpstreamTls>,
    pub(super) protocol: UpstreamProtocol,
    /// Set once an `https://` upstream chose HTTP/1.1 by ALPN.
    chose_http1: AtomicBool,
    /// One HTTP/2 connection per worker (it multiplexes the worker's requests).
    h2: Box<[H2Slot]>,
    slots: Box<[Slot]>,
}

/// One worker's HTTP/2 connection to an upstream.
#[derive(Default)]
#[repr(align(128))]
struct H2Slot(Mutex<Option<H2Sender>>);

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
    /// A pool of connections to `address` (`host:port`; over TLS with `tls`) for `workers` worker threads plus
    /// callers outside them.
    pub(crate) fn new(address: String, client: &UpstreamClient, workers: usize) -> Self {
        Self {
            address,
            tls: client.tls.clone(),
            protocol: client.protocol,
            chose_http1: AtomicBool::new(false),
            h2: (0..=workers).map(|_| H2Slot::default()).collect(),
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

    /// This worker's HTTP/2 connection, while it is open.
    pub(super) fn h2_sender(&self) -> Option<H2Sender> {
        let slot = crate::server::worker_slot().min(self.h2.len() - 1);
        let mut sender = self.h2[slot]
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if sender.as_ref().is_some_and(H2Sender::is_closed) {
            *sender = None;
        }
        sender.clone()
    }

    pub(super) fn set_h2_sender(&self, sender: H2Sender) {
        let slot = crate::server::worker_slot().min(self.h2.len() - 1);
        *self.h2[slot]
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(sender);
    }

    /// Whether requests go over HTTP/1.1 without asking: configured so, or the upstream
    /// chose it by ALPN before.
    pub(super) fn speaks_http1(&self) -> bool {
        self.protocol == UpstreamProtocol::Http1 || self.chose_http1.load(Ordering::Relaxed)
    }

    pub(super) fn mark_http1(&self) {
        self.chose_http1.store(true, Ordering::Relaxed);
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
