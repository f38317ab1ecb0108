//! The forward-auth decision endpoint: the gateway decides but does not proxy, for nginx
//! `auth_request`, Traefik `forwardAuth` and Envoy `ext_authz` (HTTP service).
//!
//! A request to `[forward_auth] path` from a trusted proxy names the original request: by
//! `X-Original-Method` + `X-Original-URI` (nginx), else `X-Forwarded-Method` + `X-Forwarded-Uri`
//! (Traefik), else its own method and the path after `path` (Envoy appends the original path
//! to its `path_prefix`). That request runs through [`Pipeline::decide`], the same steps and
//! policy the proxy port runs before forwarding; the answer is 200 with the identity headers
//! the upstream would have been sent (for the proxy to copy), or the proxy port's refusal
//! (401/403 with `WWW-Authenticate`, 400, 404, 503). Only trusted proxies are answered so:
//! their headers are statements about a request we did not see, and anyone else's are not
//! believed, so to them `path` is an ordinary path of the proxy port.

use std::net::IpAddr;

use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Uri};

use crate::config::ForwardAuthConfig;
use crate::error::GatewayError;
use crate::pipeline::{ClientAddr, Pipeline};
use crate::telemetry::Outcome;

/// The address a connection came from, as is (the server sets it; [`ClientAddr`] is by /64).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub IpAddr);

/// Whether `req` asks `config`'s endpoint for a decision: its path is the endpoint's (or
/// under it) and it comes from a trusted proxy.
pub fn is_decision_request(config: &ForwardAuthConfig, req: &Request<Body>) -> bool {
    under(&config.path, req.uri().path()).is_some()
        && req
            .extensions()
            .get::<PeerAddr>()
            .is_some_and(|p| config.trusted_proxies.iter().any(|n| n.contains(p.0)))
}

/// What follows `base` in `path` ("" for `base` itself), if `path` is `base` or under it.
fn under<'a>(base: &str, path: &'a str) -> Option<&'a str> {
    let rest = path.strip_prefix(base)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// The original request's method and target, from the proxy's headers or the path.
fn original(
    config: &ForwardAuthConfig,
    req: &Request<Body>,
) -> Result<(Method, Uri), GatewayError> {
    let h = req.headers();
    let named = |a: &str, b: &str| h.get(a).or_else(|| h.get(b));
    let target = match named("x-original-uri", "x-forwarded-uri") {
        Some(v) => v.as_bytes().to_vec(),
        None => {
            let rest = under(&config.path, req.uri().path()).unwrap_or_default();
            if rest.is_empty() {
                return Err(GatewayError::InvalidRequest(
                    "a forward-auth request must name the original URI",
                ));
            }
            let mut t = rest.as_bytes().to_vec();
            if let Some(q) = req.uri().query() {
                t.push(b'?');
                t.extend_from_slice(q.as_bytes());
            }
            t
        }
    };
    // Origin form only: the proxy port routes by path, and an absolute URI names a host.
    let uri = Uri::try_from(target)
        .ok()
        .filter(|u| u.scheme().is_none() && u.path().starts_with('/'))
        .ok_or(GatewayError::InvalidRequest(
            "the original URI must be a path with an optional query",
        ))?;
    let method = match named("x-original-method", "x-forwarded-method") {
        Some(v) => Method::from_bytes(v.as_bytes()).map_err(|_| {
            GatewayError::InvalidRequest("the original method is not an HTTP method")
        })?,
        None => req.method().clone(),
    };
    Ok((method, uri))
}

/// The original client's address, as a trusted proxy reports it (`X-Real-IP`, else the last
/// `X-Forwarded-For` entry, the one the proxy itself added), for per-client budgets.
fn original_client(h: &HeaderMap) -> Option<IpAddr> {
    let real = h.get("x-real-ip").and_then(|v| v.to_str().ok());
    let forwarded = || {
        h.get_all("x-forwarded-for")
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
    };
    real.or_else(forwarded)?.trim().parse().ok()
}

/// Answers a decision request ([`is_decision_request`]).
pub async fn answer(p: &Pipeline, config: &ForwardAuthConfig, req: Request<Body>) -> Response {
    let (method, uri) = match original(config, &req) {
        Ok(o) => o,
        Err(e) => return p.refuse_at(None, None, e),
    };
    let mut extensions = req.extensions().clone();
    if let Some(client) = original_client(req.headers()) {
        extensions.insert(ClientAddr(crate::server::client_of(client)));
    }
    // The proxy forwards no body to the decision (nginx: `proxy_pass_request_body off`); GET
    // bodies are the proxy port's to refuse.
    let admitted = match p
        .decide(&method, &uri, req.headers(), &extensions, false)
        .await
    {
        Ok(a) => a,
        Err(refused) => return refused,
    };
    let identity = p.identity_headers(&admitted);
    let scopes = identity.scopes.join(" ");
    let (fields, count) = match identity.fields(&scopes) {
        Ok(f) => f,
        Err(e) => return p.refuse_at(Some(admitted.matched.api), admitted.application, e),
    };
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::OK;
    for (name, value) in &fields[..count] {
        if let Ok(v) = HeaderValue::from_str(value) {
            res.headers_mut().insert(HeaderName::from_static(name), v);
        }
    }
    p.metrics.request(
        Some(admitted.matched.api),
        admitted.application,
        Outcome::Allowed,
    );
    crate::access_log::Note::admitted(p, &admitted, Outcome::Allowed, None, &mut res);
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_covers_its_path_and_what_is_under_it_only() {
        assert_eq!(under("/_auth", "/_auth"), Some(""));
        assert_eq!(under("/_auth", "/_auth/api/x"), Some("/api/x"));
        assert_eq!(under("/_auth", "/_authx"), None);
        assert_eq!(under("/_auth", "/api"), None);
    }

    #[test]
    fn the_original_client_is_the_address_the_proxy_added() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 10.0.0.7"),
        );
        assert_eq!(original_client(&h), Some("10.0.0.7".parse().unwrap()));
        h.insert("x-real-ip", HeaderValue::from_static("10.0.0.8"));
        assert_eq!(original_client(&h), Some("10.0.0.8".parse().unwrap()));
    }
}
