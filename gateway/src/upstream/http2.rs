//! HTTP/2 to upstreams (chosen by ALPN for `https://`, or `upstream_protocol = "h2c"`), with
//! hyper's client connection: one connection per worker and upstream carries that worker's
//! requests, its driver a task on the worker's runtime. Bodies stream both ways frame by frame,
//! trailers included (gRPC's status travels in them).

use std::sync::Arc;

use axum::body::Body;
use http::{HeaderName, HeaderValue, Method, Request, Response, Version, header};
use hyper_util::rt::{TokioExecutor, TokioIo};

use super::http1::is_hop_framing;
use super::pool::{H2Sender, Pool, Stream};
use super::{HeadRewrite, is_field_value};
use crate::error::GatewayError;

/// Opens HTTP/2 over `stream` and starts its driver on this runtime.
pub(super) async fn handshake(stream: Stream) -> Result<H2Sender, GatewayError> {
    let (sender, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "upstream HTTP/2 handshake failed");
            GatewayError::UpstreamUnavailable
        })?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "upstream HTTP/2 connection ended");
        }
    });
    Ok(sender)
}

/// Sends `req` (with `rewrite` applied) on `sender`; the response body streams as it arrives.
pub(super) async fn send(
    mut sender: H2Sender,
    pool: &Arc<Pool>,
    req: Request<Body>,
    rewrite: &HeadRewrite<'_>,
) -> Result<Response<Body>, GatewayError> {
    let (parts, body) = req.into_parts();
    if parts.method == Method::CONNECT {
        return Err(GatewayError::InvalidRequest("CONNECT is not forwarded"));
    }
    let scheme = if pool.tls.is_some() { "https" } else { "http" };
    let authority = rewrite.host.to_str().unwrap_or("localhost");
    let uri = format!("{scheme}://{authority}{}", rewrite.target);
    let mut out = Request::builder()
        .method(parts.method.clone())
        .uri(uri)
        .version(Version::HTTP_2)
        .body(body)
        .map_err(|_| GatewayError::InvalidRequest("the request target cannot be sent"))?;
    let headers = out.headers_mut();
    for (name, value) in &parts.headers {
        // HTTP/2 has no connection-specific fields; the length is the body's own.
        if is_hop_framing(name) || name == header::HOST || (rewrite.leave_out)(name) {
            continue;
        }
        headers.append(name, value.clone());
    }
    // `TE: trailers` is the one TE an HTTP/2 request carries; gRPC servers insist on it.
    if parts
        .headers
        .get_all(header::TE)
        .iter()
        .any(|v| v.as_bytes().eq_ignore_ascii_case(b"trailers"))
    {
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
    }
    for (name, value) in rewrite.added {
        if is_field_value(value.as_bytes())
            && let Ok(value) = HeaderValue::from_str(value)
        {
            headers.append(HeaderName::from_static(name), value);
        }
    }
    sender.ready().await.map_err(|e| {
        tracing::warn!(error = %e, "the upstream HTTP/2 connection closed");
        GatewayError::UpstreamUnavailable
    })?;
    let response = sender.send_request(out).await.map_err(|e| {
        tracing::warn!(error = %e, "upstream HTTP/2 request failed");
        GatewayError::UpstreamUnavailable
    })?;
    Ok(response.map(Body::new))
}
