//! Step 6, forward: send the request to the API's upstream over a pooled connection, with the
//! gateway's identity headers. Any header the client sent that looks like one of them (names
//! compared ignoring case and `_`/`-`) is removed first, as are hop-by-hop headers, the
//! `Authorization` header and method-override headers.
//!
//! Upstream connections are HTTP/1.1 keep-alive connections in a pool per upstream, driven by
//! the task that uses them (no connection task per connection): the request's task polls the
//! connection while it waits for the response head, and the response body polls it while the
//! server streams the body out. So a proxied request is one task, with no cross-task wake-ups.

use std::future::Future as _;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, Uri, header};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::route::RouteMatch;
use crate::config::Config;
use crate::error::GatewayError;

/// The identity headers the gateway sets.
pub const APPLICATION_HEADER: &str = "x-gateway-application";
/// `sub`.
pub const SUBJECT_HEADER: &str = "x-gateway-subject";
/// Space-separated AS scopes.
pub const SCOPES_HEADER: &str = "x-gateway-scopes";
/// The client id.
pub const CLIENT_ID_HEADER: &str = "x-gateway-client-id";
/// The authorization server's name.
pub const AUTH_SERVER_HEADER: &str = "x-gateway-authorization-server";

const IDENTITY_PREFIX: &[u8] = b"x-gateway-";

const STRIPPED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "authorization",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "x-original-url",
    "x-rewrite-url",
    "forwarded",
    "x-real-ip",
    "x-client-ip",
    "true-client-ip",
    "x-original-forwarded-for",
];

/// Hop-by-hop headers an upstream response may carry; none is passed on to the client.
const RESPONSE_HOP_BY_HOP: [HeaderName; 6] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::TRAILER,
];

/// What the upstream is told about the caller.
#[derive(Debug, Default)]
pub struct IdentityHeaders<'a> {
    /// Application name (`anonymous` when anonymous access passed).
    pub application: &'a str,
    /// `sub`.
    pub subject: Option<&'a str>,
    /// Client id.
    pub client_id: Option<&'a str>,
    /// AS scopes.
    pub scopes: &'a [String],
    /// AS name.
    pub authorization_server: Option<&'a str>,
}

#[derive(Debug)]
struct Upstream {
    authority: String,
    prefix: String,
    host: HeaderValue,
    pool: Arc<Pool>,
}

/// Idle connections are dropped after this long unused.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Idle connections kept per upstream, at most.
const POOL_MAX_IDLE: usize = 256;
/// Time allowed to open a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

type Conn = Pin<Box<http1::Connection<TokioIo<TcpStream>, Body>>>;

/// An open connection: the handle requests are sent on, and the connection it drives.
struct Link {
    sender: http1::SendRequest<Body>,
    conn: Conn,
}

/// Idle connections and since when, most recently used last.
type Idle = Vec<(Link, Instant)>;

/// One upstream's idle connections, in a slot per proxy worker
/// (`crate::server::worker_slot`): a connection is registered with the runtime that opened it,
/// so it is only used again on that runtime (no cross-thread wake-ups, and no connection left
/// tied to a runtime that has stopped).
struct Pool {
    slots: Box<[Mutex<Idle>]>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").finish_non_exhaustive()
    }
}

impl Pool {
    /// A pool for `workers` worker threads plus callers outside them.
    fn new(workers: usize) -> Self {
        Self {
            slots: (0..=workers).map(|_| Mutex::default()).collect(),
        }
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Idle> {
        let slot = crate::server::worker_slot();
        self.slots[slot.min(self.slots.len() - 1)]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn checkout(&self) -> Option<Link> {
        let mut idle = self.slot();
        while let Some((link, since)) = idle.pop() {
            if since.elapsed() < POOL_IDLE_TIMEOUT {
                return Some(link);
            }
        }
        None
    }

    fn checkin(&self, link: Link) {
        let mut idle = self.slot();
        if idle.len() < POOL_MAX_IDLE {
            idle.push((link, Instant::now()));
        }
    }
}

/// Polls the connection, if still open; forgets it once it has ended.
fn drive(conn: &mut Option<Conn>, cx: &mut Context<'_>) {
    if let Some(c) = conn
        && c.as_mut().poll(cx).is_ready()
    {
        *conn = None;
    }
}

impl Link {
    async fn open(authority: &str) -> Result<Self, GatewayError> {
        let stream =
            match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(authority)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "upstream connection failed");
                    return Err(GatewayError::UpstreamUnavailable);
                }
                Err(_) => return Err(GatewayError::UpstreamUnavailable),
            };
        let _ = stream.set_nodelay(true);
        let (sender, conn) = http1::handshake(TokioIo::new(stream)).await.map_err(|e| {
            tracing::warn!(error = %e, "upstream handshake failed");
            GatewayError::UpstreamUnavailable
        })?;
        Ok(Self {
            sender,
            conn: Box::pin(conn),
        })
    }

    /// Drives the connection until it can take a request; `None` if it has closed.
    async fn ready(self) -> Option<Self> {
        let Self { mut sender, conn } = self;
        let mut conn = Some(conn);
        let ok = std::future::poll_fn(|cx| {
            drive(&mut conn, cx);
            match sender.poll_ready(cx) {
                Poll::Ready(r) => Poll::Ready(r.is_ok()),
                Poll::Pending if conn.is_none() => Poll::Ready(false),
                Poll::Pending => Poll::Pending,
            }
        })
        .await;
        match conn {
            Some(conn) if ok => Some(Self { sender, conn }),
            _ => None,
        }
    }

    /// Sends `req` and waits for the response head, driving the connection meanwhile.
    /// `Err(Some(req))`: the request was not sent (the connection had closed).
    async fn send(
        self,
        req: Request<Body>,
        pool: Arc<Pool>,
    ) -> Result<Response<Body>, Option<Request<Body>>> {
        let Self { mut sender, conn } = self;
        let mut conn = Some(conn);
        let mut pending = std::pin::pin!(sender.try_send_request(req));
        let head = std::future::poll_fn(|cx| {
            drive(&mut conn, cx);
            pending.as_mut().poll(cx)
        })
        .await;
        match head {
            Ok(res) => {
                let (parts, body) = res.into_parts();
                let body = Driven {
                    body,
                    link: conn.map(|conn| (sender, conn)),
                    pool,
                };
                Ok(Response::from_parts(parts, Body::new(body)))
            }
            Err(mut e) => {
                let unsent = e.take_message();
                if unsent.is_none() {
                    tracing::warn!(error = %e.error(), "upstream request failed");
                }
                Err(unsent)
            }
        }
    }
}

/// An upstream response body that drives its connection, and returns it to the pool once the
/// body has been read to its end.
struct Driven {
    body: Incoming,
    link: Option<(http1::SendRequest<Body>, Conn)>,
    pool: Arc<Pool>,
}

impl hyper::body::Body for Driven {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        if let Some((_, conn)) = &mut this.link
            && conn.as_mut().poll(cx).is_ready()
        {
            this.link = None;
        }
        let frame = Pin::new(&mut this.body).poll_frame(cx);
        if frame.is_ready() {
            this.release();
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Driven {
    /// Returns the connection to the pool once the body has been read to its end (a server
    /// stops polling a body whose end it knows, so this is checked after each frame and on drop).
    fn release(&mut self) {
        if hyper::body::Body::is_end_stream(&self.body)
            && let Some((sender, conn)) = self.link.take()
        {
            self.pool.checkin(Link { sender, conn });
        }
    }
}

impl Drop for Driven {
    fn drop(&mut self) {
        self.release();
    }
}

/// The pooled connections to all upstreams.
#[derive(Debug)]
pub struct Forwarder {
    timeout: Duration,
    upstreams: Vec<Upstream>,
}

/// Client-supplied proxy headers (`X-Forwarded-*`, `Forwarded`, `X-Real-IP`...): an upstream
/// that trusts them could be told any client address, host or scheme, so none is passed on.
const FORWARDED_PREFIX: &[u8] = b"x-forwarded-";

fn has_prefix(name: &str, prefix: &[u8]) -> bool {
    let b = name.as_bytes();
    b.len() >= prefix.len()
        && b.iter().zip(prefix).all(|(c, p)| {
            let c = c.to_ascii_lowercase();
            c == *p || (c == b'_' && *p == b'-')
        })
}

fn is_identity_like(name: &str) -> bool {
    has_prefix(name, IDENTITY_PREFIX)
}

fn is_stripped(name: &str) -> bool {
    if is_identity_like(name) || has_prefix(name, FORWARDED_PREFIX) {
        return true;
    }
    let normal = |c: u8| {
        if c == b'_' {
            b'-'
        } else {
            c.to_ascii_lowercase()
        }
    };
    STRIPPED
        .iter()
        .any(|s| s.len() == name.len() && s.bytes().zip(name.bytes()).all(|(a, b)| a == normal(b)))
}

/// Removes hop-by-hop headers, including those named in `Connection`.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for n in listed {
        headers.remove(n);
    }
}

impl Forwarder {
    /// A forwarder for the configured APIs.
    pub fn new(config: &Config) -> Self {
        let upstreams = config
            .apis
            .iter()
            .map(|a| {
                let u = &a.upstream;
                let host = u.host_str().unwrap_or("localhost");
                let authority = match u.port() {
                    Some(p) => format!("{host}:{p}"),
                    None => host.to_owned(),
                };
                Upstream {
                    host: HeaderValue::from_str(&authority)
                        .unwrap_or(HeaderValue::from_static("localhost")),
                    authority,
                    prefix: u.path().trim_end_matches('/').to_owned(),
                    pool: Arc::new(Pool::new(config.workers)),
                }
            })
            .collect();
        Self {
            timeout: config.upstream_timeout,
            upstreams,
        }
    }

    /// Forwards `req` for the matched API.
    pub async fn forward(
        &self,
        mut req: Request<Body>,
        m: &RouteMatch,
        identity: &IdentityHeaders<'_>,
    ) -> Result<Response<Body>, GatewayError> {
        let upstream = &self.upstreams[m.api];
        let path = req.uri().path();
        let rest = &path[m.rest_start..];
        let rest = if rest.is_empty() && upstream.prefix.is_empty() {
            "/"
        } else {
            rest
        };
        let mut target = String::with_capacity(2 + upstream.prefix.len() + path.len());
        target.push_str(&upstream.prefix);
        target.push_str(rest);
        if let Some(q) = req.uri().query() {
            target.push('?');
            target.push_str(q);
        }
        *req.uri_mut() = Uri::try_from(target).map_err(|_| {
            GatewayError::InvalidRequest("the request path is not in canonical form")
        })?;
        *req.version_mut() = http::Version::HTTP_11;

        let headers = req.headers_mut();
        strip_hop_by_hop(headers);
        let doomed: Vec<HeaderName> = headers
            .keys()
            .filter(|n| is_stripped(n.as_str()))
            .cloned()
            .collect();
        for n in doomed {
            headers.remove(&n);
        }
        headers.insert(header::HOST, upstream.host.clone());
        let mut set = |name: &'static str, value: &str| {
            if let Ok(v) = HeaderValue::from_str(value) {
                headers.insert(HeaderName::from_static(name), v);
            }
        };
        set(APPLICATION_HEADER, identity.application);
        if let Some(s) = identity.subject {
            set(SUBJECT_HEADER, s);
        }
        if let Some(c) = identity.client_id {
            set(CLIENT_ID_HEADER, c);
        }
        if let Some(a) = identity.authorization_server {
            set(AUTH_SERVER_HEADER, a);
        }
        if !identity.scopes.is_empty() {
            set(SCOPES_HEADER, &identity.scopes.join(" "));
        }

        let response = match tokio::time::timeout(self.timeout, self.exchange(upstream, req)).await
        {
            Err(_) => return Err(GatewayError::UpstreamTimeout),
            Ok(r) => r?,
        };
        let (mut parts, body) = response.into_parts();
        // Most responses carry none of these: look before removing (a removal hashes the name).
        if parts
            .headers
            .keys()
            .any(|n| RESPONSE_HOP_BY_HOP.contains(n))
        {
            strip_hop_by_hop(&mut parts.headers);
            for n in &RESPONSE_HOP_BY_HOP {
                parts.headers.remove(n);
            }
        }
        Ok(Response::from_parts(parts, Body::new(body)))
    }
}

impl Forwarder {
    /// Sends `req` on an idle connection to `upstream` (one that turns out closed is replaced,
    /// the request not having been sent on it) or a new one.
    async fn exchange(
        &self,
        upstream: &Upstream,
        mut req: Request<Body>,
    ) -> Result<Response<Body>, GatewayError> {
        loop {
            let (link, reused) = match upstream.pool.checkout() {
                Some(idle) => match idle.ready().await {
                    Some(link) => (link, true),
                    None => continue,
                },
                None => match Link::open(&upstream.authority).await?.ready().await {
                    Some(link) => (link, false),
                    None => return Err(GatewayError::UpstreamUnavailable),
                },
            };
            match link.send(req, upstream.pool.clone()).await {
                Ok(response) => return Ok(response),
                Err(Some(unsent)) if reused => req = unsent,
                Err(_) => return Err(GatewayError::UpstreamUnavailable),
            }
        }
    }
}

/// The forward step as the innermost service: sends the request with the identity headers.
pub async fn handler(
    axum::extract::State(p): axum::extract::State<std::sync::Arc<super::Pipeline>>,
    mut req: Request<Body>,
) -> axum::response::Response {
    let Some(m) = req.extensions().get::<RouteMatch>().copied() else {
        return p.refuse(req.extensions(), GatewayError::NotFound);
    };
    let identity = req.extensions_mut().remove::<crate::validation::Identity>();
    let app = req.extensions().get::<super::AppId>().map(|a| a.0);
    let headers = match (&identity, app) {
        (Some(id), Some(app)) => IdentityHeaders {
            application: p.directory.name(app),
            subject: id.subject.as_deref(),
            client_id: id.client_id.as_deref(),
            scopes: &id.scopes,
            authorization_server: Some(p.validators.servers[id.authorization_server].name.as_str()),
        },
        _ => IdentityHeaders {
            application: "anonymous",
            ..Default::default()
        },
    };
    match p.forwarder.forward(req, &m, &headers).await {
        Ok(r) => {
            p.metrics
                .request(Some(m.api), app, crate::telemetry::Outcome::Forwarded);
            r
        }
        Err(e) => p.refuse_at(Some(m.api), app, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_header_variants_are_recognised() {
        for n in [
            "x-gateway-subject",
            "x_gateway_subject",
            "x-gateway_application",
            "x_gateway-anything",
        ] {
            assert!(is_stripped(n), "{n}");
        }
        for n in [
            "authorization",
            "x-http-method-override",
            "x_http_method_override",
            "proxy-authorization",
        ] {
            assert!(is_stripped(n), "{n}");
        }
        for n in [
            "x-forwarded-for",
            "X_Forwarded_Host",
            "forwarded",
            "x-real-ip",
        ] {
            assert!(is_stripped(n), "{n}");
        }
        for n in ["accept", "x-gatewayx", "content-type", "x-forwardedx"] {
            assert!(!is_stripped(n), "{n}");
        }
    }
}
