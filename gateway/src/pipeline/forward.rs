//! Step 6, forward: send the request to the API's upstream over a pooled connection, with the
//! gateway's identity headers. Any header the client sent that looks like one of them (names
//! compared ignoring case and `_`/`-`) is removed first, as are hop-by-hop headers, the
//! `Authorization` header, method-override headers, proxy headers and other proxies' identity
//! claims (`[identity_headers]`), all by [`is_stripped`].
//!
//! Upstream connections are HTTP/1.1 keep-alive connections in a pool per upstream, spoken by
//! `crate::upstream`'s client in the request's own task: a proxied request is one task, with no
//! cross-task wake-ups.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, header};

use super::route::RouteMatch;
use crate::config::Config;
use crate::error::GatewayError;
use crate::upstream::{
    HeadRewrite, Pool, TlsKey, UpstreamProtocol, exchange, field_name_is, field_name_starts_with,
    is_field_value, is_upgrade, upgrade,
};

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

const IDENTITY_PREFIX: &str = "x-gateway-";

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

/// Up to five identity headers as (name, value) pairs.
pub type IdentityFields<'a> = [(&'static str, &'a str); 5];

impl<'a> IdentityHeaders<'a> {
    /// The identity headers as (name, value) pairs, the first `count` of the array set;
    /// `scopes` is [`IdentityHeaders::scopes`] joined by spaces. What cannot be passed on
    /// faithfully refuses the token rather than being dropped or mangled: a subject with a line
    /// break, or a scope with a space (which an upstream splitting the header would read as
    /// two).
    pub fn fields(&self, scopes: &'a str) -> Result<(IdentityFields<'a>, usize), GatewayError> {
        if self.scopes.iter().any(|s| !is_scope_token(s))
            || [self.subject, self.client_id]
                .into_iter()
                .flatten()
                // Edge whitespace would be trimmed by the upstream's parser: " admin" → "admin".
                .any(|v| !is_field_value(v.as_bytes()) || v.trim() != v)
        {
            return Err(GatewayError::InvalidToken(
                "the token's subject, client or scopes cannot be passed on",
            ));
        }
        let mut added: [(&'static str, &str); 5] = [("", ""); 5];
        let mut count = 0;
        for (name, value) in [
            (APPLICATION_HEADER, Some(self.application)),
            (SUBJECT_HEADER, self.subject),
            (CLIENT_ID_HEADER, self.client_id),
            (AUTH_SERVER_HEADER, self.authorization_server),
            (SCOPES_HEADER, (!scopes.is_empty()).then_some(scopes)),
        ] {
            if let Some(value) = value {
                added[count] = (name, value);
                count += 1;
            }
        }
        Ok((added, count))
    }
}

#[derive(Debug)]
struct Upstream {
    prefix: String,
    host: HeaderValue,
    pool: Arc<Pool>,
    /// Per resource: whether a WebSocket handshake may upgrade.
    websocket: Vec<bool>,
    websocket_idle: Duration,
}

/// What a pool is for: scheme, `host:port`, protocol, TLS settings.
type PoolKey = (String, String, UpstreamProtocol, Option<TlsKey>);

/// The pooled connections to all upstreams.
#[derive(Debug)]
pub struct Forwarder {
    timeout: Duration,
    upstreams: Vec<Upstream>,
    /// `Config::stripped_identity_headers`: identity and client-address claims of other
    /// proxies (`Remote-User`, `CF-Connecting-IP`…), never passed on.
    stripped_identity: Vec<String>,
}

/// Client-supplied proxy headers (`X-Forwarded-*`, `Forwarded`, `X-Real-IP`...): an upstream
/// that trusts them could be told any client address, host or scheme, so none is passed on.
const FORWARDED_PREFIX: &str = "x-forwarded-";

fn is_identity_like(name: &str) -> bool {
    field_name_starts_with(name, IDENTITY_PREFIX)
}

/// Whether a client header is left out: the gateway's own identity headers in any spelling,
/// proxy and hop-by-hop headers, and `identity` (the configured identity-claim list). The one
/// rule for what of the client's head does not reach the upstream.
fn is_stripped(name: &str, identity: &[String]) -> bool {
    is_identity_like(name)
        || field_name_starts_with(name, FORWARDED_PREFIX)
        || STRIPPED.iter().any(|s| field_name_is(name, s))
        || identity.iter().any(|s| field_name_is(name, s))
}

/// The header names `Connection` lists (hop-by-hop by that listing, RFC 9110 §7.6.1).
fn connection_listed(headers: &HeaderMap) -> Vec<HeaderName> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect()
}

/// Removes hop-by-hop headers, including those named in `Connection`.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for n in connection_listed(headers) {
        headers.remove(n);
    }
}

impl Forwarder {
    /// A forwarder for the configured APIs. APIs with the same scheme, host, port and TLS
    /// settings share a pool.
    pub fn new(config: &Config) -> Self {
        let mut pools: Vec<(PoolKey, Arc<Pool>)> = Vec::new();
        let upstreams = config
            .apis
            .iter()
            .map(|a| {
                let u = &a.upstream;
                let host = u.host_str().unwrap_or("localhost");
                // Host names the port only when the URL did; the connection always needs one.
                let authority = match u.port() {
                    Some(p) => format!("{host}:{p}"),
                    None => host.to_owned(),
                };
                let address = format!("{host}:{}", u.port_or_known_default().unwrap_or(80));
                let client = &a.upstream_client;
                let key = (
                    u.scheme().to_owned(),
                    address.clone(),
                    client.protocol,
                    client.tls.as_ref().map(|t| t.key.clone()),
                );
                let pool = match pools.iter().find(|(k, _)| *k == key) {
                    Some((_, pool)) => pool.clone(),
                    None => {
                        let pool = Arc::new(Pool::new(address, client, config.workers));
                        pools.push((key, pool.clone()));
                        pool
                    }
                };
                Upstream {
                    host: HeaderValue::from_str(&authority)
                        .unwrap_or(HeaderValue::from_static("localhost")),
                    prefix: u.path().trim_end_matches('/').to_owned(),
                    pool,
                    websocket: a.resources.iter().map(|r| r.websocket).collect(),
                    websocket_idle: client.websocket_idle_timeout,
                }
            })
            .collect();
        Self {
            timeout: config.upstream_timeout,
            upstreams,
            stripped_identity: config.stripped_identity_headers.clone(),
        }
    }

    /// Forwards `req` for the matched API.
    pub async fn forward(
        &self,
        req: Request<Body>,
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

        // The client's header map is sent as it is, less what `leave_out` names: nothing is
        // removed from or inserted into it (each would hash a name and allocate).
        let listed = connection_listed(req.headers());
        let leave_out = |n: &HeaderName| {
            n == header::HOST
                || is_stripped(n.as_str(), &self.stripped_identity)
                || listed.iter().any(|l| l == n)
        };
        let scopes = identity.scopes.join(" ");
        let (added, count) = identity.fields(&scopes)?;
        let rewrite = HeadRewrite {
            target: &target,
            host: &upstream.host,
            added: &added[..count],
            leave_out: &leave_out,
        };

        // One deadline for the whole exchange. Running out while the client's body is still
        // awaited is the client's delay (408), not the upstream's (504).
        let deadline = tokio::time::Instant::now() + self.timeout;
        if upstream.websocket[m.resource] && is_upgrade(req.headers()) {
            // Boxed: the upgrade's state (4 KiB) would otherwise be part of every request's
            // future, which hyper moves per request (callgrind: +13k instructions a request).
            let upgrade = Box::pin(upgrade(
                &upstream.pool,
                req,
                &rewrite,
                upstream.websocket_idle,
            ));
            let response = match tokio::time::timeout_at(deadline, upgrade).await {
                Err(_) => return Err(GatewayError::UpstreamTimeout),
                Ok(r) => r?,
            };
            if response.status() == http::StatusCode::SWITCHING_PROTOCOLS {
                return Ok(response);
            }
            return Ok(without_hop_by_hop(response));
        }
        let exchange = exchange(&upstream.pool, req, &rewrite, deadline);
        let response = match tokio::time::timeout_at(deadline, exchange).await {
            Err(_) => return Err(GatewayError::UpstreamTimeout),
            Ok(r) => r?,
        };
        Ok(without_hop_by_hop(response))
    }
}

/// The response less its hop-by-hop fields.
fn without_hop_by_hop(response: Response<Body>) -> Response<Body> {
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
    Response::from_parts(parts, Body::new(body))
}

/// RFC 6749 §3.3 `scope-token`: visible ASCII less `"` and the backslash.
fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5b | 0x5d..=0x7e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upstream_on_its_default_port_is_reached_on_it_and_named_without_it() {
        let config = Config::from_toml(
            r#"
[[apis]]
name = "Beds"
base_path = "/beds"
upstream = "http://beds.internal/api/"
allow_anonymous = true
resources = [{ path = "/x", methods = ["GET"] }]

[[apis]]
name = "Other"
base_path = "/other"
upstream = "http://127.0.0.1:8081"
allow_anonymous = true
resources = [{ path = "/x", methods = ["GET"] }]
"#,
            &|_: &str| None,
        )
        .unwrap();
        let forwarder = Forwarder::new(&config);
        let beds = &forwarder.upstreams[0];
        assert_eq!(beds.pool.address(), "beds.internal:80");
        assert_eq!(beds.host, "beds.internal");
        assert_eq!(beds.prefix, "/api");
        let other = &forwarder.upstreams[1];
        assert_eq!(other.pool.address(), "127.0.0.1:8081");
        assert_eq!(other.host, "127.0.0.1:8081");
    }

    #[test]
    fn identity_header_variants_are_recognised() {
        for n in [
            "x-gateway-subject",
            "x_gateway_subject",
            "x-gateway_application",
            "x_gateway-anything",
        ] {
            assert!(is_stripped(n, &[]), "{n}");
        }
        for n in [
            "authorization",
            "x-http-method-override",
            "x_http_method_override",
            "proxy-authorization",
        ] {
            assert!(is_stripped(n, &[]), "{n}");
        }
        for n in [
            "x-forwarded-for",
            "X_Forwarded_Host",
            "forwarded",
            "x-real-ip",
        ] {
            assert!(is_stripped(n, &[]), "{n}");
        }
        for n in ["accept", "x-gatewayx", "content-type", "x-forwardedx"] {
            assert!(!is_stripped(n, &[]), "{n}");
        }
    }
}
