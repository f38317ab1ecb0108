//! The HTTP/1.1 exchange: the request head (and a body that is already at hand) goes out in one
//! write, a streamed body after it while an early answer is watched for; the response is read by
//! `response`. A request is sent again on a new connection only when a reused one had closed.

use std::io;
use std::sync::Arc;

use axum::body::Body;
use http::{HeaderName, Method, Request, Response, header};
use http_body_util::BodyExt as _;
use hyper::body::Body as _;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

use super::pool::{Conn, Pool, READ_SIZE, Stream, open_stream};
use super::response::{Framing, HeadError, MAX_HEADERS, MAX_INTERIM, read_head, respond};
use super::{HeadRewrite, field_name_is, is_field_value};
use crate::error::GatewayError;

/// How the request body is sent.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Outgoing {
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

/// Sends `req` (with `rewrite` applied) over `fresh`, a new connection, or a pooled one and returns the response once
/// its head has arrived; the body streams from the connection as the client reads it.
pub(crate) async fn exchange(
    pool: &Arc<Pool>,
    req: Request<Body>,
    rewrite: &HeadRewrite<'_>,
    body_deadline: tokio::time::Instant,
    mut fresh: Option<Conn>,
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
        let (mut conn, reused) = match fresh.take() {
            Some(conn) => (conn, false),
            None => match from_pool.then(|| pool.checkout()).flatten() {
                Some(conn) => (conn, true),
                None => (
                    // Once HTTP/1.1 is known, new connections offer nothing else by ALPN.
                    Conn::new(open_stream(&pool.address, pool.tls.as_ref(), true).await?),
                    false,
                ),
            },
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

/// Header fields that frame or steer the message on this hop, which the gateway states itself
/// (under any spelling: two lengths would make the request ambiguous).
pub(super) fn is_hop_framing(name: &HeaderName) -> bool {
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
pub(super) fn request_head(
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
        Outgoing::Empty => write_all(&mut conn.stream, head).await.map_err(Sent::Io),
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
    sending: (Outgoing, tokio::time::Instant),
    body: &mut Body,
) -> Result<(), Sent> {
    let Conn { stream, buf } = conn;
    match stream {
        Stream::Plain(tcp) => {
            let (reader, writer) = tcp.split();
            send_body_over(reader, writer, buf, head, sending, body).await
        }
        Stream::Tls(tls) => {
            let (reader, writer) = tokio::io::split(tls.as_mut());
            send_body_over(reader, writer, buf, head, sending, body).await
        }
    }
}

/// Writes `bytes` and, over TLS, what rustls still holds of them.
pub(super) async fn write_all<W: AsyncWrite + Unpin>(
    writer: &mut W,
    bytes: &[u8],
) -> io::Result<()> {
    writer.write_all(bytes).await?;
    writer.flush().await
}

async fn send_body_over<R, W>(
    mut reader: R,
    mut writer: W,
    buf: &mut bytes::BytesMut,
    head: &[u8],
    (outgoing, deadline): (Outgoing, tokio::time::Instant),
    body: &mut Body,
) -> Result<(), Sent>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
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
            write_all(&mut writer, &out).await.map_err(Sent::Io)?;
            out.clear();
        }
        match outgoing {
            Outgoing::Length(n) if sent != n => return Err(Sent::Body("shorter than declared")),
            Outgoing::Chunked => out.extend_from_slice(b"0\r\n\r\n"),
            _ => {}
        }
        if !out.is_empty() {
            write_all(&mut writer, &out).await.map_err(Sent::Io)?;
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

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

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
}
