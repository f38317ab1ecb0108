//! WebSocket upgrades (RFC 6455) on resources with `websocket = true`: the handshake is a GET
//! that went through the whole pipeline like any request; it is sent to the upstream over a
//! connection of its own (HTTP/1.1, never pooled), and when the upstream switches protocols the
//! client's connection and the upstream's are relayed both ways, byte for byte (frames are not
//! interpreted), until either side closes or nothing passes for the idle timeout.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

use super::HeadRewrite;
use super::http1::{Outgoing, request_head, write_all};
use super::pool::{Conn, Pool, open_stream};
use super::response::{MAX_HEADERS, parse_head, respond};
use crate::error::GatewayError;

/// Bytes relayed per read, each way.
const RELAY_CHUNK: usize = 16 * 1024;
/// A 101 head larger than this is refused.
const MAX_SWITCH_HEAD: usize = 16 * 1024;

/// Whether the request asks to switch to WebSocket (`Connection: upgrade`, `Upgrade: websocket`).
pub(crate) fn is_upgrade(headers: &HeaderMap) -> bool {
    let lists = |name: HeaderName, token: &str| {
        headers.get_all(name).iter().any(|v| {
            v.as_bytes()
                .split(|b| *b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
        })
    };
    lists(header::UPGRADE, "websocket") && lists(header::CONNECTION, "upgrade")
}

/// Sends the handshake `req` (with `rewrite`) to the upstream. A 101 answer is passed on and the
/// two connections relayed once the client's is upgraded; any other answer is passed on as is.
pub(crate) async fn upgrade(
    pool: &Arc<Pool>,
    mut req: Request<Body>,
    rewrite: &HeadRewrite<'_>,
    idle: Duration,
) -> Result<Response<Body>, GatewayError> {
    if req.method() != Method::GET || req.version() != http::Version::HTTP_11 {
        return Err(GatewayError::InvalidRequest(
            "a WebSocket handshake is an HTTP/1.1 GET",
        ));
    }
    let client = hyper::upgrade::on(&mut req);
    let (parts, _) = req.into_parts();
    let mut head = request_head(&parts, rewrite, Outgoing::Empty);
    // `Connection` and `Upgrade` are left out of every other request; here they are the point.
    head.truncate(head.len() - 2);
    head.extend_from_slice(b"connection: upgrade\r\nupgrade: websocket\r\n\r\n");

    let mut conn = Conn::new(open_stream(&pool.address, pool.tls.as_ref(), true).await?);
    let broken = |e: std::io::Error| {
        tracing::warn!(error = %e, "the upstream WebSocket handshake failed");
        GatewayError::UpstreamUnavailable
    };
    write_all(&mut conn.stream, &head).await.map_err(broken)?;
    let switched = loop {
        let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Response::new(&mut fields);
        match parsed.parse(&conn.buf) {
            Ok(httparse::Status::Complete(len)) if parsed.code == Some(101) => {
                break Some((switching_head(parsed.headers)?, len));
            }
            // Another answer (a refusal, a redirect): read and passed on as any response.
            Ok(httparse::Status::Complete(_)) => break None,
            Ok(httparse::Status::Partial) if conn.buf.len() < MAX_SWITCH_HEAD => {}
            _ => {
                tracing::warn!("the upstream answered the WebSocket handshake with garbage");
                return Err(GatewayError::UpstreamUnavailable);
            }
        }
        if conn.fill().await.map_err(broken)? == 0 {
            return Err(broken(std::io::ErrorKind::UnexpectedEof.into()));
        }
    };
    let Some((headers, len)) = switched else {
        return match parse_head(&mut conn.buf, true) {
            Ok(Some((parts, framing, _))) => Ok(respond(conn, pool, parts, framing, false)),
            _ => Err(GatewayError::UpstreamUnavailable),
        };
    };
    let _ = conn.buf.split_to(len);
    tokio::spawn(async move {
        let Ok(upgraded) = client.await else {
            return;
        };
        let mut client = TokioIo::new(upgraded);
        // Frames the upstream sent right after its 101.
        if !conn.buf.is_empty() && write_all(&mut client, &conn.buf).await.is_err() {
            return;
        }
        relay(client, conn.stream, idle).await;
    });
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    *response.headers_mut() = headers;
    Ok(response)
}

/// The 101 answer's fields the client is given (`Sec-WebSocket-Accept`, `-Protocol`,
/// `-Extensions`, …, with `Connection`/`Upgrade` stated afresh); a switch to anything but
/// WebSocket is refused.
fn switching_head(fields: &[httparse::Header<'_>]) -> Result<HeaderMap, GatewayError> {
    let mut headers = HeaderMap::with_capacity(fields.len() + 2);
    let mut websocket = false;
    for f in fields {
        let name = HeaderName::from_bytes(f.name.as_bytes())
            .map_err(|_| GatewayError::UpstreamUnavailable)?;
        if name == header::UPGRADE {
            websocket |= f.value.trim_ascii().eq_ignore_ascii_case(b"websocket");
            continue;
        }
        if matches!(
            name.as_str(),
            "connection" | "keep-alive" | "transfer-encoding" | "content-length"
        ) {
            continue;
        }
        let value =
            HeaderValue::from_bytes(f.value).map_err(|_| GatewayError::UpstreamUnavailable)?;
        headers.append(name, value);
    }
    if !websocket {
        tracing::warn!("the upstream switched to a protocol other than WebSocket");
        return Err(GatewayError::UpstreamUnavailable);
    }
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    Ok(headers)
}

/// Copies both ways until both sides have closed, either fails, or nothing passes for `idle`.
/// One side's end is passed on as the end of writing to the other (a half close).
async fn relay<A, B>(a: A, b: B, idle: Duration)
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let (mut a_read, mut a_write) = tokio::io::split(a);
    let (mut b_read, mut b_write) = tokio::io::split(b);
    let mut a_buf = vec![0u8; RELAY_CHUNK];
    let mut b_buf = vec![0u8; RELAY_CHUNK];
    let (mut a_open, mut b_open) = (true, true);
    while a_open || b_open {
        tokio::select! {
            read = a_read.read(&mut a_buf), if a_open => match read {
                Ok(0) | Err(_) => {
                    a_open = false;
                    let _ = b_write.shutdown().await;
                }
                Ok(n) => {
                    if write_all(&mut b_write, &a_buf[..n]).await.is_err() {
                        return;
                    }
                }
            },
            read = b_read.read(&mut b_buf), if b_open => match read {
                Ok(0) | Err(_) => {
                    b_open = false;
                    let _ = a_write.shutdown().await;
                }
                Ok(n) => {
                    if write_all(&mut a_write, &b_buf[..n]).await.is_err() {
                        return;
                    }
                }
            },
            () = tokio::time::sleep(idle) => {
                tracing::debug!("a relayed WebSocket connection was idle too long");
                return;
            }
        }
    }
}
