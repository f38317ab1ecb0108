//! The HTTP/1.1 client of upstream connections. The request head (and a body that is already
//! at hand) goes out in one write; the response head is parsed with httparse, and the body is
//! framed here by RFC 9112 §6.3. Everything runs in the request's own task: no connection task,
//! no channel between the request and its connection.
//!
//! A connection goes back to the pool only when its response was framed by `Content-Length` or
//! chunked coding and read to its end, nothing followed it, the upstream did not ask to close,
//! and (when taken out again) nothing arrived while it sat idle. Anything else closes it: a
//! mis-framed response must never be read as the start of the next one (response
//! desynchronisation, where one caller would be handed another's response).

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker, ready};
use std::time::{Duration, Instant};

use axum::body::Body;
use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt as _;
use hyper::body::{Body as _, Frame, SizeHint};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_util::io::poll_read_buf;

use crate::error::GatewayError;

/// Idle connections are dropped after this long unused.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Idle connections kept per upstream and worker, at most.
const POOL_MAX_IDLE: usize = 256;
/// Time allowed to open a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A response head larger than this is refused (hyper's client allows about as much).
const MAX_HEAD: usize = 64 * 1024;
/// Response header fields, at most (hyper's default).
const MAX_HEADERS: usize = 100;
/// Interim (1xx) responses skipped before a final one, at most.
const MAX_INTERIM: usize = 16;
/// A chunk-size line (with extensions) or the trailer section longer than this is refused.
const MAX_CHUNK_LINE: usize = 4 * 1024;
const MAX_TRAILERS: usize = 16 * 1024;
/// Bytes asked of the socket per read.
const READ_SIZE: usize = 16 * 1024;
/// A body at most this long, already read with its head, is copied out so the connection's
/// buffer stays its own (and is reused in place) rather than shared with the response.
const COPY_BODY_UP_TO: usize = 16 * 1024;

/// One upstream connection and the bytes read from it but not yet used.
struct Conn {
    stream: TcpStream,
    buf: BytesMut,
}

impl Conn {
    async fn open(address: &str) -> Result<Self, GatewayError> {
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
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.buf.capacity() - self.buf.len() < READ_SIZE / 4 {
            self.buf.reserve(READ_SIZE);
        }
        poll_read_buf(Pin::new(&mut self.stream), cx, &mut self.buf)
    }

    async fn fill(&mut self) -> io::Result<usize> {
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
    address: String,
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

    fn checkout(&self) -> Option<Conn> {
        let mut idle = self.slot();
        expire(&mut idle);
        while let Some((mut conn, _)) = idle.pop() {
            if conn.is_fresh() {
                return Some(conn);
            }
        }
        None
    }

    fn checkin(&self, conn: Conn) {
        let mut idle = self.slot();
        expire(&mut idle);
        if idle.len() < POOL_MAX_IDLE {
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

/// How the request body is sent.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Outgoing {
    /// No body.
    Empty,
    /// `Content-Length`.
    Length(u64),
    /// Chunked coding (length unknown up front).
    Chunked,
}

/// Why an exchange failed, and whether it may be tried again on a new connection.
enum Failure {
    /// Nothing came back on a reused connection and nothing of the request is lost: the
    /// upstream had closed it (the keep-alive race), so a new connection may be tried.
    Stale,
    /// Anything else; the connection is dropped.
    Fatal(GatewayError),
}

/// What a response head says about the body that follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    Length(u64),
    Chunked(Chunk),
    UntilClose,
}

/// Where a chunked body's reader is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunk {
    /// At a chunk-size line.
    Size,
    /// In a chunk's data, this many bytes left.
    Data(u64),
    /// After a chunk's data, at its CRLF.
    DataEnd,
    /// In the trailer section (read and dropped: trailers are not relayed).
    Trailers,
}

/// How the request head sent upstream differs from the client's.
pub(crate) struct HeadRewrite<'a> {
    /// The origin-form target (path and query).
    pub target: &'a str,
    /// The `Host` field.
    pub host: &'a HeaderValue,
    /// Fields added after the client's; one whose value is not a valid field value (a control
    /// character, from a token claim) is left out.
    pub added: &'a [(&'static str, &'a str)],
    /// The client's fields not passed on.
    pub leave_out: &'a (dyn Fn(&HeaderName) -> bool + Sync),
}

/// Sends `req` (with `rewrite` applied) over a pooled connection and returns the response once
/// its head has arrived; the body streams from the connection as the client reads it.
pub(crate) async fn exchange(
    pool: &Arc<Pool>,
    req: Request<Body>,
    rewrite: &HeadRewrite<'_>,
    body_deadline: tokio::time::Instant,
) -> Result<Response<Body>, GatewayError> {
    let (parts, mut body) = req.into_parts();
    if parts.method == Method::CONNECT {
        return Err(GatewayError::InvalidRequest("CONNECT is not forwarded"));
    }
    let outgoing = if body.is_end_stream() {
        Outgoing::Empty
    } else {
        match body.size_hint().exact() {
            Some(0) => Outgoing::Empty,
            Some(n) => Outgoing::Length(n),
            None => Outgoing::Chunked,
        }
    };
    let head = request_head(&parts, rewrite, outgoing);
    // Only a request whose whole content is its head can be sent again; and only one that is
    // safe, or marked idempotent, in case the upstream did act on the first copy (as Go's
    // transport decides).
    let replayable = outgoing == Outgoing::Empty && is_replayable(&parts);
    let expects_body = parts.method != Method::HEAD;

    let mut from_pool = true;
    loop {
        let (mut conn, reused) = match from_pool.then(|| pool.checkout()).flatten() {
            Some(conn) => (conn, true),
            None => (Conn::open(&pool.address).await?, false),
        };
        let sending = (outgoing, body_deadline);
        match send_and_read(&mut conn, &head, sending, &mut body, expects_body, reused).await {
            Ok((response, framing, keep_alive)) => {
                return Ok(respond(conn, pool, response, framing, keep_alive));
            }
            Err(Failure::Stale) if replayable => from_pool = false,
            Err(Failure::Stale) => {
                tracing::warn!("the upstream closed a reused connection before answering");
                return Err(GatewayError::UpstreamUnavailable);
            }
            Err(Failure::Fatal(e)) => return Err(e),
        }
    }
}

fn is_replayable(parts: &http::request::Parts) -> bool {
    matches!(
        parts.method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) || parts.headers.contains_key("idempotency-key")
        || parts.headers.contains_key("x-idempotency-key")
}

/// Whether header `name` begins with `prefix` (given in lowercase), ignoring case and reading
/// `_` as `-`: some servers (CGI, WSGI, Rack) do, so `Content_Length` or
/// `X_Gateway_Subject` mean to them what the dashed names mean.
pub(super) fn field_name_starts_with(name: &str, prefix: &str) -> bool {
    name.len() >= prefix.len()
        && name.bytes().zip(prefix.bytes()).all(|(n, p)| {
            let n = n.to_ascii_lowercase();
            n == p || (n == b'_' && p == b'-')
        })
}

/// Whether header `name` is `canonical`, in the sense of [`field_name_starts_with`].
pub(super) fn field_name_is(name: &str, canonical: &str) -> bool {
    name.len() == canonical.len() && field_name_starts_with(name, canonical)
}

/// Header fields that frame or steer the message on this hop, which the gateway states itself
/// (under any spelling: two lengths would make the request ambiguous).
fn is_hop_framing(name: &HeaderName) -> bool {
    const FRAMING: [&str; 5] = [
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "expect",
    ];
    FRAMING.iter().any(|f| field_name_is(name.as_str(), f))
}

/// The request line and header section, with this body's framing header.
fn request_head(
    parts: &http::request::Parts,
    rewrite: &HeadRewrite<'_>,
    outgoing: Outgoing,
) -> Vec<u8> {
    let mut head = Vec::with_capacity(256 + parts.headers.len() * 48);
    head.extend_from_slice(parts.method.as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(rewrite.target.as_bytes());
    head.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    head.extend_from_slice(rewrite.host.as_bytes());
    head.extend_from_slice(b"\r\n");
    for (name, value) in &parts.headers {
        // The framing is the gateway's to state. `Expect: 100-continue` was the client's
        // question to the gateway, which answers it by reading the body.
        if is_hop_framing(name) || name == header::HOST || (rewrite.leave_out)(name) {
            continue;
        }
        push_field(&mut head, name.as_str(), value.as_bytes());
    }
    for (name, value) in rewrite.added {
        if is_field_value(value.as_bytes()) {
            push_field(&mut head, name, value.as_bytes());
        }
    }
    match outgoing {
        Outgoing::Length(n) => {
            head.extend_from_slice(b"content-length: ");
            head.extend_from_slice(n.to_string().as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        Outgoing::Chunked => head.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        // A method that defines a body gets an explicit empty one (some servers insist).
        Outgoing::Empty
            if matches!(parts.method, Method::POST | Method::PUT | Method::PATCH)
                || parts.headers.contains_key(header::CONTENT_LENGTH) =>
        {
            head.extend_from_slice(b"content-length: 0\r\n");
        }
        Outgoing::Empty => {}
    }
    head.extend_from_slice(b"\r\n");
    head
}

fn push_field(head: &mut Vec<u8>, name: &str, value: &[u8]) {
    head.extend_from_slice(name.as_bytes());
    head.extend_from_slice(b": ");
    head.extend_from_slice(value);
    head.extend_from_slice(b"\r\n");
}

/// What `HeaderValue` accepts: visible characters, spaces, tabs and obs-text (no CR, LF, NUL).
pub(super) fn is_field_value(value: &[u8]) -> bool {
    value
        .iter()
        .all(|b| (*b >= 0x20 && *b != 0x7f) || *b == b'\t')
}

/// Writes the request and reads the response head.
async fn send_and_read(
    conn: &mut Conn,
    head: &[u8],
    (outgoing, body_deadline): (Outgoing, tokio::time::Instant),
    body: &mut Body,
    expects_body: bool,
    reused: bool,
) -> Result<(http::response::Parts, Framing, bool), Failure> {
    // With nothing but a head to send, nothing is lost if the connection turns out closed.
    let resendable = reused && outgoing == Outgoing::Empty;
    let sent = match outgoing {
        Outgoing::Empty => conn.stream.write_all(head).await.map_err(Sent::Io),
        _ => send_body(conn, head, (outgoing, body_deadline), body).await,
    };
    let mut whole = true;
    match sent {
        Ok(()) => {}
        Err(Sent::Io(_)) if resendable => return Err(Failure::Stale),
        // The upstream answered before it took the whole body (a 413, a 401) and may have
        // stopped reading: its answer stands, and the connection is closed after it.
        Err(Sent::Answered) => whole = false,
        Err(Sent::Io(e)) => {
            tracing::warn!(error = %e, "writing to the upstream failed");
            whole = false;
        }
        Err(Sent::ClientTimeout) => {
            return Err(Failure::Fatal(GatewayError::RequestTimeout));
        }
        Err(Sent::Body(reason)) => {
            tracing::debug!(reason, "the request body ended unexpectedly");
            return Err(Failure::Fatal(GatewayError::InvalidRequest(
                "the request body ended before its declared length",
            )));
        }
    }
    match read_head(conn, expects_body).await {
        Ok((parts, framing, keep_alive)) => Ok((parts, framing, keep_alive && whole)),
        Err(HeadError::Closed { nothing_read: true }) if resendable => Err(Failure::Stale),
        Err(e) => {
            tracing::warn!(error = %e, "upstream request failed");
            Err(Failure::Fatal(GatewayError::UpstreamUnavailable))
        }
    }
}

enum Sent {
    Io(io::Error),
    Body(&'static str),
    /// The client's body did not arrive by the deadline.
    ClientTimeout,
    /// A final response head arrived while the body was still being sent.
    Answered,
}

/// Streams the request body after its head (the head and the first data in one write), while
/// watching for an early answer: an upstream may refuse a body (413, 401) and stop reading it,
/// and one may answer as it reads. Writing on regardless would stall until the timeout.
async fn send_body(
    conn: &mut Conn,
    head: &[u8],
    (outgoing, deadline): (Outgoing, tokio::time::Instant),
    body: &mut Body,
) -> Result<(), Sent> {
    let Conn { stream, buf } = conn;
    let (mut reader, mut writer) = stream.split();
    let sending = async {
        let mut out = head.to_vec();
        let mut sent = 0u64;
        loop {
            // The exchange's deadline (an upstream that reads slowly delays the body too, but
            // the usual cause of a body still missing then is the client).
            let Ok(frame) = tokio::time::timeout_at(deadline, body.frame()).await else {
                return Err(Sent::ClientTimeout);
            };
            let Some(frame) = frame else { break };
            let frame = frame.map_err(|_| Sent::Body("the client's body failed"))?;
            let Ok(data) = frame.into_data() else {
                continue; // trailers are not relayed
            };
            if data.is_empty() {
                continue;
            }
            sent += data.len() as u64;
            match outgoing {
                Outgoing::Length(n) if sent > n => return Err(Sent::Body("longer than declared")),
                Outgoing::Chunked => {
                    out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
                    out.extend_from_slice(&data);
                    out.extend_from_slice(b"\r\n");
                }
                _ => out.extend_from_slice(&data),
            }
            writer.write_all(&out).await.map_err(Sent::Io)?;
            out.clear();
        }
        match outgoing {
            Outgoing::Length(n) if sent != n => return Err(Sent::Body("shorter than declared")),
            Outgoing::Chunked => out.extend_from_slice(b"0\r\n\r\n"),
            _ => {}
        }
        if !out.is_empty() {
            writer.write_all(&out).await.map_err(Sent::Io)?;
        }
        Ok(())
    };
    let watching = async {
        loop {
            if buf.capacity() - buf.len() < READ_SIZE / 4 {
                buf.reserve(READ_SIZE);
            }
            match reader.read_buf(buf).await {
                Ok(n) if n > 0 => {
                    if final_head_arrived(buf) {
                        return;
                    }
                }
                // Its end, or an error: the writes find out too, and reading the head reports it.
                _ => std::future::pending::<()>().await,
            }
        }
    };
    tokio::select! {
        biased;
        sent = sending => sent,
        () = watching => Err(Sent::Answered),
    }
}

/// Whether `buf` holds a final (non-1xx) response head, or something that cannot be one.
fn final_head_arrived(buf: &[u8]) -> bool {
    let mut at = 0;
    for _ in 0..=MAX_INTERIM {
        let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Response::new(&mut fields);
        match parsed.parse(&buf[at..]) {
            Ok(httparse::Status::Complete(len)) => match parsed.code {
                Some(code) if (100..200).contains(&code) && code != 101 => at += len,
                _ => return true,
            },
            Ok(httparse::Status::Partial) => return false,
            Err(_) => return true,
        }
    }
    true
}

#[derive(Debug, thiserror::Error)]
enum HeadError {
    #[error("the connection closed before a complete response head")]
    Closed { nothing_read: bool },
    #[error("reading the response failed: {0}")]
    Io(#[from] io::Error),
    #[error("the response head is malformed: {0}")]
    Malformed(&'static str),
}

/// Reads one final response head (interim 1xx responses are skipped) and what it says of the
/// body: its framing, and whether the connection may be used again after it.
async fn read_head(
    conn: &mut Conn,
    expects_body: bool,
) -> Result<(http::response::Parts, Framing, bool), HeadError> {
    let mut nothing_read = conn.buf.is_empty();
    loop {
        if !conn.buf.is_empty() {
            nothing_read = false;
            if let Some(parsed) = parse_head(&mut conn.buf, expects_body)? {
                return Ok(parsed);
            }
            if conn.buf.len() >= MAX_HEAD {
                return Err(HeadError::Malformed("the head is too large"));
            }
        }
        match conn.fill().await {
            Ok(0) => return Err(HeadError::Closed { nothing_read }),
            Ok(_) => {}
            // An upstream that closed a connection with our request unread resets it.
            Err(e)
                if nothing_read
                    && matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionReset
                            | io::ErrorKind::ConnectionAborted
                            | io::ErrorKind::BrokenPipe
                    ) =>
            {
                return Err(HeadError::Closed { nothing_read });
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Parses a final response head at the start of `buf`, consuming it (and any interim 1xx
/// heads before it). `None`: more bytes are needed.
fn parse_head(
    buf: &mut BytesMut,
    expects_body: bool,
) -> Result<Option<(http::response::Parts, Framing, bool)>, HeadError> {
    for _ in 0..=MAX_INTERIM {
        let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Response::new(&mut fields);
        let len = match parsed.parse(buf) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(httparse::Error::TooManyHeaders) => {
                return Err(HeadError::Malformed("too many header fields"));
            }
            Err(_) => return Err(HeadError::Malformed("not an HTTP/1.x response head")),
        };
        let code = parsed.code.unwrap_or(0);
        let status =
            StatusCode::from_u16(code).map_err(|_| HeadError::Malformed("bad status code"))?;
        if status.is_informational() {
            // 101 would switch protocols: never asked for (Upgrade is not forwarded).
            if status == StatusCode::SWITCHING_PROTOCOLS {
                return Err(HeadError::Malformed("an unrequested protocol switch"));
            }
            buf.advance(len);
            continue;
        }
        let http10 = parsed.version == Some(0);
        // One copy of the head; the field values are slices of it (not an allocation each).
        let base = buf.as_ptr() as usize;
        let head = Bytes::copy_from_slice(&buf[..len]);
        let mut headers = HeaderMap::with_capacity(parsed.headers.len());
        let mut lengths: Option<u64> = None;
        let mut chunked = None;
        let (mut close_asked, mut keep_alive_asked) = (false, false);
        for field in parsed.headers.iter() {
            let name = HeaderName::from_bytes(field.name.as_bytes())
                .map_err(|_| HeadError::Malformed("a bad header name"))?;
            if name == header::CONTENT_LENGTH {
                // Repeated or listed values must agree (RFC 9110 §8.6).
                for v in field.value.split(|b| *b == b',') {
                    let n = parse_length(v.trim_ascii())
                        .ok_or(HeadError::Malformed("a bad Content-Length"))?;
                    if lengths.is_some_and(|l| l != n) {
                        return Err(HeadError::Malformed("conflicting Content-Length values"));
                    }
                    lengths = Some(n);
                }
            } else if name == header::TRANSFER_ENCODING {
                // Chunked only when it is the final coding; otherwise the body runs to close.
                let last = field.value.rsplit(|b| *b == b',').next().unwrap_or(b"");
                chunked = Some(last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
            } else if name == header::CONNECTION {
                for token in field.value.split(|b| *b == b',') {
                    let token = token.trim_ascii();
                    close_asked |= token.eq_ignore_ascii_case(b"close");
                    keep_alive_asked |= token.eq_ignore_ascii_case(b"keep-alive");
                }
            }
            // A slice of `head` when httparse's value lies within it, as it always should.
            let end = field.value.len();
            let value = match (field.value.as_ptr() as usize).checked_sub(base) {
                Some(start) if start + end <= head.len() => {
                    HeaderValue::from_maybe_shared(head.slice(start..start + end))
                }
                _ => HeaderValue::from_bytes(field.value),
            }
            .map_err(|_| HeadError::Malformed("a bad header value"))?;
            headers.append(name, value);
        }
        buf.advance(len);
        // `close` wins over anything else said; HTTP/1.0 keeps a connection only when asked,
        // and never after a chunked body, which it does not define (RFC 9112 §6.1).
        let mut close = close_asked || (http10 && (!keep_alive_asked || chunked.is_some()));

        let no_body =
            !expects_body || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
        let framing = match (no_body, chunked, lengths) {
            (true, _, _) => Framing::Length(0),
            // Transfer-Encoding wins over Content-Length, and such a message closes its
            // connection after it (RFC 9112 §6.1, §6.3).
            (false, Some(is_chunked), length) => {
                if length.is_some() {
                    headers.remove(header::CONTENT_LENGTH);
                    close = true;
                }
                if is_chunked {
                    Framing::Chunked(Chunk::Size)
                } else {
                    close = true;
                    Framing::UntilClose
                }
            }
            (false, None, Some(n)) => {
                // Agreeing repeats (`5, 5`) go on as one value.
                if headers.get_all(header::CONTENT_LENGTH).iter().count() > 1
                    || headers
                        .get(header::CONTENT_LENGTH)
                        .is_some_and(|v| v.as_bytes().contains(&b','))
                {
                    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
                }
                Framing::Length(n)
            }
            (false, None, None) => {
                close = true;
                Framing::UntilClose
            }
        };
        let mut response = Response::new(());
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        let (parts, ()) = response.into_parts();
        return Ok(Some((parts, framing, !close)));
    }
    Err(HeadError::Malformed("too many interim responses"))
}

/// A Content-Length value: digits only, within `u64`.
fn parse_length(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter().try_fold(0u64, |n, d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// The response with its body: at hand already (the connection back in the pool at once), or
/// streamed from the connection.
fn respond(
    mut conn: Conn,
    pool: &Arc<Pool>,
    parts: http::response::Parts,
    framing: Framing,
    keep_alive: bool,
) -> Response<Body> {
    if let Framing::Length(n) = framing
        && n <= conn.buf.len() as u64
    {
        let n = n as usize;
        let body = if n <= COPY_BODY_UP_TO {
            let body = Bytes::copy_from_slice(&conn.buf[..n]);
            conn.buf.advance(n);
            body
        } else {
            conn.buf.split_to(n).freeze()
        };
        // Bytes after the response were never asked for: the connection is out of step.
        if keep_alive && conn.buf.is_empty() {
            pool.checkin(conn);
        }
        let body = if body.is_empty() {
            Body::empty()
        } else {
            Body::from(body)
        };
        return Response::from_parts(parts, body);
    }
    let streaming = Streaming {
        conn: Some(conn),
        framing,
        keep_alive,
        pool: pool.clone(),
        trailer_bytes: 0,
    };
    Response::from_parts(parts, Body::new(streaming))
}

/// A response body read from its connection as the client takes it. At its end the connection
/// goes back to the pool (if it may); dropped before the end, the connection is closed.
struct Streaming {
    /// `None` once the body has ended.
    conn: Option<Conn>,
    framing: Framing,
    keep_alive: bool,
    pool: Arc<Pool>,
    trailer_bytes: usize,
}

fn malformed(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

impl Streaming {
    /// The body has ended: the connection is released.
    fn finish(&mut self) {
        if let Some(conn) = self.conn.take()
            && self.keep_alive
            && conn.buf.is_empty()
        {
            self.pool.checkin(conn);
        }
    }

    /// The next piece of body, or `None` at its end, from bytes already read.
    fn next_from_buffer(&mut self) -> Result<Option<Option<Bytes>>, io::Error> {
        let Some(conn) = &mut self.conn else {
            return Ok(Some(None));
        };
        let buf = &mut conn.buf;
        loop {
            match &mut self.framing {
                Framing::Length(0) => return Ok(Some(None)),
                Framing::Length(left) => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let n = (*left).min(buf.len() as u64) as usize;
                    *left -= n as u64;
                    return Ok(Some(Some(buf.split_to(n).freeze())));
                }
                Framing::UntilClose => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    return Ok(Some(Some(buf.split().freeze())));
                }
                Framing::Chunked(state) => match *state {
                    Chunk::Size => {
                        let Some(end) = memchr_crlf(buf) else {
                            if buf.len() > MAX_CHUNK_LINE {
                                return Err(malformed("a chunk-size line is too long"));
                            }
                            return Ok(None);
                        };
                        let line = &buf[..end];
                        if has_control(line) {
                            return Err(malformed("a control character in a chunk-size line"));
                        }
                        let size = line.split(|b| *b == b';').next().unwrap_or(b"");
                        let size = parse_chunk_size(size.trim_ascii_end())
                            .ok_or_else(|| malformed("a bad chunk size"))?;
                        buf.advance(end + 2);
                        *state = if size == 0 {
                            Chunk::Trailers
                        } else {
                            Chunk::Data(size)
                        };
                    }
                    Chunk::Data(left) => {
                        if buf.is_empty() {
                            return Ok(None);
                        }
                        let n = left.min(buf.len() as u64) as usize;
                        *state = if left == n as u64 {
                            Chunk::DataEnd
                        } else {
                            Chunk::Data(left - n as u64)
                        };
                        return Ok(Some(Some(buf.split_to(n).freeze())));
                    }
                    Chunk::DataEnd => {
                        if buf.len() < 2 {
                            return Ok(None);
                        }
                        if &buf[..2] != b"\r\n" {
                            return Err(malformed("chunk data longer than its size"));
                        }
                        buf.advance(2);
                        *state = Chunk::Size;
                    }
                    Chunk::Trailers => {
                        let Some(end) = memchr_crlf(buf) else {
                            if self.trailer_bytes + buf.len() > MAX_TRAILERS {
                                return Err(malformed("the trailer section is too large"));
                            }
                            return Ok(None);
                        };
                        if has_control(&buf[..end]) {
                            return Err(malformed("a control character in a trailer field"));
                        }
                        self.trailer_bytes += end + 2;
                        if self.trailer_bytes > MAX_TRAILERS {
                            return Err(malformed("the trailer section is too large"));
                        }
                        buf.advance(end + 2);
                        if end == 0 {
                            self.framing = Framing::Length(0);
                        }
                    }
                },
            }
        }
    }
}

/// A control character other than HTAB (a bare LF or CR included): a line that different
/// parsers would split differently.
fn has_control(line: &[u8]) -> bool {
    line.iter()
        .any(|b| (*b < 0x20 && *b != b'\t') || *b == 0x7f)
}

fn memchr_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

/// A chunk size: hexadecimal digits only, within `u64`.
fn parse_chunk_size(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 16 {
        return None;
    }
    v.iter().try_fold(0u64, |n, d| {
        let digit = (*d as char).to_digit(16)?;
        Some((n << 4) | u64::from(digit))
    })
}

impl hyper::body::Body for Streaming {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        loop {
            match this.next_from_buffer() {
                Err(e) => {
                    this.conn = None;
                    return Poll::Ready(Some(Err(e)));
                }
                Ok(Some(Some(data))) => {
                    // Release as soon as the end is known: a server stops polling a body whose
                    // end it knows.
                    if this.framing == Framing::Length(0) {
                        this.finish();
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Ok(Some(None)) => {
                    this.finish();
                    return Poll::Ready(None);
                }
                Ok(None) => {}
            }
            let Some(conn) = &mut this.conn else {
                return Poll::Ready(None);
            };
            match ready!(conn.poll_fill(cx)) {
                Ok(0) if this.framing == Framing::UntilClose => {
                    this.conn = None;
                    return Poll::Ready(None);
                }
                Ok(0) => {
                    this.conn = None;
                    return Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the upstream closed the connection mid-body",
                    ))));
                }
                Ok(_) => {}
                Err(e) => {
                    this.conn = None;
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.conn.is_none() || self.framing == Framing::Length(0)
    }

    fn size_hint(&self) -> SizeHint {
        match self.framing {
            Framing::Length(n) => SizeHint::with_exact(n),
            _ => SizeHint::default(),
        }
    }
}

impl std::fmt::Debug for Streaming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streaming")
            .field("framing", &self.framing)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(bytes: &[u8], expects_body: bool) -> Result<Option<(u16, Framing, bool)>, HeadError> {
        let mut buf = BytesMut::from(bytes);
        Ok(parse_head(&mut buf, expects_body)?.map(|(p, f, k)| (p.status.as_u16(), f, k)))
    }

    /// A response head, whether the request expects a body, and the status, framing and
    /// keep-alive it should yield.
    type Case<'a> = (&'a [u8], bool, (u16, Framing, bool));

    #[test]
    fn framing_follows_rfc_9112() {
        let cases: &[Case<'_>] = &[
            (b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n", true, (200, Framing::Length(5), true)),
            (b"HTTP/1.1 200 OK\r\nx-empty:\r\nx-b: \r\ncontent-length: 5\r\n\r\n", true, (200, Framing::Length(5), true)),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n", true, (200, Framing::Length(5), true)),
            (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n", true, (200, Framing::Chunked(Chunk::Size), true)),
            (b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\ncontent-length: 3\r\n\r\n", true, (200, Framing::Chunked(Chunk::Size), false)),
            (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked, gzip\r\n\r\n", true, (200, Framing::UntilClose, false)),
            (b"HTTP/1.1 200 OK\r\n\r\n", true, (200, Framing::UntilClose, false)),
            (b"HTTP/1.1 204 No Content\r\ncontent-length: 9\r\n\r\n", true, (204, Framing::Length(0), true)),
            (b"HTTP/1.1 304 Not Modified\r\ntransfer-encoding: chunked\r\n\r\n", true, (304, Framing::Length(0), true)),
            (b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n", false, (200, Framing::Length(0), true)),
            (b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\nconnection: close\r\n\r\n", true, (200, Framing::Length(1), false)),
            (b"HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\n", true, (200, Framing::Length(1), false)),
            (b"HTTP/1.0 200 OK\r\ncontent-length: 1\r\nconnection: keep-alive\r\n\r\n", true, (200, Framing::Length(1), true)),
            (b"HTTP/1.0 200 OK\r\ncontent-length: 1\r\nconnection: close, keep-alive\r\n\r\n", true, (200, Framing::Length(1), false)),
            (b"HTTP/1.0 200 OK\r\ntransfer-encoding: chunked\r\nconnection: keep-alive\r\n\r\n", true, (200, Framing::Chunked(Chunk::Size), false)),
            (b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\nconnection: keep-alive, close\r\n\r\n", true, (200, Framing::Length(1), false)),
            (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n", true, (201, Framing::Length(0), true)),
        ];
        for (bytes, expects_body, want) in cases {
            let got = head(bytes, *expects_body).ok().flatten();
            assert_eq!(got, Some(*want), "{}", String::from_utf8_lossy(bytes));
        }
    }

    #[test]
    fn ambiguous_or_broken_heads_are_refused() {
        for bytes in [
            &b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\ncontent-length: 5, 6\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: +5\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 99999999999999999999\r\n\r\n",
            b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nbad header\r\n\r\n",
            b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nx: a\r\n folded\r\n\r\n",
        ] {
            assert!(
                head(bytes, true).is_err(),
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
        assert!(matches!(
            head(b"HTTP/1.1 200 OK\r\ncontent-le", true),
            Ok(None)
        ));
        let endless = b"HTTP/1.1 102 Processing\r\n\r\n".repeat(MAX_INTERIM + 1);
        assert!(head(&endless, true).is_err(), "interim answers are bounded");
    }

    #[test]
    fn agreeing_repeated_lengths_go_on_as_one() {
        let mut buf = BytesMut::from(
            &b"HTTP/1.1 200 OK\r\ncontent-length: 5, 5\r\ncontent-length: 5\r\n\r\n"[..],
        );
        let (parts, framing, _) = parse_head(&mut buf, true).unwrap().unwrap();
        assert_eq!(framing, Framing::Length(5));
        let lengths: Vec<_> = parts
            .headers
            .get_all(header::CONTENT_LENGTH)
            .iter()
            .collect();
        assert_eq!(lengths, [&HeaderValue::from(5u64)]);
    }

    #[test]
    fn request_framing_fields_from_the_client_never_reach_the_upstream() {
        let mut req = Request::post("/x").body(()).unwrap();
        for (name, value) in [
            ("content_length", "0"),
            ("Content-Length", "99"),
            ("transfer_encoding", "chunked"),
            ("expect", "100-continue"),
            ("connection", "x"),
            ("keep_alive", "1"),
            ("x-kept", "yes"),
        ] {
            req.headers_mut().append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_static(value),
            );
        }
        req.headers_mut()
            .insert(header::HOST, HeaderValue::from_static("client-said"));
        req.headers_mut()
            .insert("x-dropped", HeaderValue::from_static("no"));
        let (parts, ()) = req.into_parts();
        let host = HeaderValue::from_static("beds.internal");
        let rewrite = HeadRewrite {
            target: "/api/x?y=1",
            host: &host,
            added: &[
                ("x-gateway-subject", "alex"),
                ("x-gateway-client-id", "bad\r\nx: y"),
            ],
            leave_out: &|n: &HeaderName| n == "x-dropped",
        };
        let head = String::from_utf8(request_head(&parts, &rewrite, Outgoing::Length(3))).unwrap();
        assert_eq!(
            head,
            "POST /api/x?y=1 HTTP/1.1\r\nhost: beds.internal\r\nx-kept: yes\r\n\
             x-gateway-subject: alex\r\ncontent-length: 3\r\n\r\n",
            "a value that would split the head is left out"
        );
    }

    #[test]
    fn only_safe_or_idempotency_keyed_requests_are_resent() {
        let parts = |method: Method, key: Option<&str>| {
            let mut req = Request::builder().method(method).uri("/");
            if let Some(k) = key {
                req = req.header(k, "abc");
            }
            req.body(()).unwrap().into_parts().0
        };
        for m in [Method::GET, Method::HEAD, Method::OPTIONS, Method::TRACE] {
            assert!(is_replayable(&parts(m, None)));
        }
        for m in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
            assert!(!is_replayable(&parts(m.clone(), None)), "{m}");
            assert!(
                is_replayable(&parts(m.clone(), Some("Idempotency-Key"))),
                "{m}"
            );
        }
    }

    #[test]
    fn chunk_lines_with_control_characters_are_refused() {
        assert!(has_control(b"5;x\nfoo"));
        assert!(has_control(b"5\r"));
        assert!(!has_control(b"5;name=\"a\tb\""));
    }

    #[test]
    fn chunk_sizes_are_strict_hex() {
        assert_eq!(parse_chunk_size(b"1a"), Some(26));
        assert_eq!(parse_chunk_size(b"FFFFFFFFFFFFFFFF"), Some(u64::MAX));
        for bad in [&b""[..], b"-1", b"0x10", b"10000000000000000", b" 1", b"g"] {
            assert_eq!(
                parse_chunk_size(bad),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
