//! The client side of the gateway: connections to upstreams, plain or TLS (`tls`), in a pool per
//! (scheme, host, port, TLS settings) with a slot per proxy worker (`pool`), and the HTTP/1.1
//! exchange spoken over them (`http1`: the request head and body out, `response`: the response
//! head parsed with httparse and the body framed by RFC 9112 §6.3). `settings` is the
//! configuration's part (`apis[].upstream_protocol`, `apis[].upstream_tls`). HTTP/2 (`http2`)
//! is spoken when the upstream picks it by ALPN, or with `h2c`; `websocket` relays upgraded
//! connections. Everything runs in the request's own task: no connection task, no channel
//! between the request and its connection.
//!
//! A connection goes back to the pool only when its response was framed by `Content-Length` or
//! chunked coding and read to its end, nothing followed it, the upstream did not ask to close,
//! and (when taken out again) nothing arrived while it sat idle. Anything else closes it: a
//! mis-framed response must never be read as the start of the next one (response
//! desynchronisation, where one caller would be handed another's response).

mod http1;
mod http2;
mod pool;
mod response;
mod settings;
mod tls;
mod websocket;

use std::sync::Arc;

use axum::body::Body;
use http::{HeaderName, HeaderValue, Request, Response};
use tokio_util::either::Either;

use crate::error::GatewayError;

pub(crate) use pool::Pool;
pub(crate) use response::parse_response_head;
pub use settings::{RawUpstreamTls, UpstreamClient, UpstreamProtocol, UpstreamTls};
pub(crate) use settings::{TlsKey, validate};
pub(crate) use websocket::{is_upgrade, upgrade};

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

/// Sends `req` (with `rewrite` applied) to the pool's upstream and returns the response once
/// its head has arrived; the body streams as the client reads it. `body_deadline` bounds the
/// wait for the client's body over HTTP/1.1 (the exchange as a whole is bounded by the caller).
pub(crate) fn exchange<'a>(
    pool: &'a Arc<Pool>,
    req: Request<Body>,
    rewrite: &'a HeadRewrite<'a>,
    body_deadline: tokio::time::Instant,
) -> impl Future<Output = Result<Response<Body>, GatewayError>> + 'a {
    // Plain HTTP/1.1, the usual case, asks nothing more, and its future carries nothing of
    // the others' (a larger future is a larger copy per request).
    if pool.tls.is_none() && pool.protocol != UpstreamProtocol::H2c {
        Either::Left(http1::exchange(pool, req, rewrite, body_deadline, None))
    } else {
        Either::Right(Box::pin(negotiated(pool, req, rewrite, body_deadline)))
    }
}

/// An exchange whose protocol is HTTP/2 or may turn out to be (TLS with ALPN, h2c).
async fn negotiated(
    pool: &Arc<Pool>,
    req: Request<Body>,
    rewrite: &HeadRewrite<'_>,
    body_deadline: tokio::time::Instant,
) -> Result<Response<Body>, GatewayError> {
    if let Some(sender) = pool.h2_sender() {
        return http2::send(sender, pool, req, rewrite).await;
    }
    if pool.speaks_http1() {
        return http1::exchange(pool, req, rewrite, body_deadline, None).await;
    }
    // Not known yet: a new connection tells (h2c, or the upstream's choice by ALPN).
    let stream = pool::open_stream(&pool.address, pool.tls.as_ref(), false).await?;
    if pool.protocol == UpstreamProtocol::H2c || stream.is_h2() {
        let sender = http2::handshake(stream).await?;
        pool.set_h2_sender(sender.clone());
        return http2::send(sender, pool, req, rewrite).await;
    }
    pool.mark_http1();
    let fresh = Some(pool::Conn::new(stream));
    http1::exchange(pool, req, rewrite, body_deadline, fresh).await
}

/// Whether header `name` begins with `prefix` (given in lowercase), ignoring case and reading
/// `_` as `-`: some servers (CGI, WSGI, Rack) do, so `Content_Length` or
/// `X_Gateway_Subject` mean to them what the dashed names mean.
pub(crate) fn field_name_starts_with(name: &str, prefix: &str) -> bool {
    name.len() >= prefix.len()
        && name.bytes().zip(prefix.bytes()).all(|(n, p)| {
            let n = n.to_ascii_lowercase();
            n == p || (n == b'_' && p == b'-')
        })
}

/// Whether header `name` is `canonical`, in the sense of [`field_name_starts_with`].
pub(crate) fn field_name_is(name: &str, canonical: &str) -> bool {
    name.len() == canonical.len() && field_name_starts_with(name, canonical)
}

/// What `HeaderValue` accepts: visible characters, spaces, tabs and obs-text (no CR, LF, NUL).
pub(crate) fn is_field_value(value: &[u8]) -> bool {
    value
        .iter()
        .all(|b| (*b >= 0x20 && *b != 0x7f) || *b == b'\t')
}
