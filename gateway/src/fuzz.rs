//! Fuzz targets in libFuzzer's shape (`fn(&[u8])`, must never panic), shared by the `cargo fuzz`
//! targets in `fuzz/` (`just fuzz-cov TARGET SECONDS`), the corpus replay test
//! (`tests/gateway/fuzz.rs`) and the stable proptest harness. Nothing here is used on the request
//! path.

use std::sync::OnceLock;

use http::{HeaderMap, HeaderValue, Method, Uri, header};

use crate::config::Config;
use crate::pipeline::extract;
use crate::pipeline::route::{self, RouteTable};
use crate::validation::jwt;

/// A fixed "now" for the time checks (2027-01-15).
const NOW: u64 = 1_800_000_000;

/// The token parser: shape check, strict decode, and everything read from a decoded token.
pub fn token(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = jwt::looks_like_jwt(text);
    if let Ok(t) = jwt::decode(text) {
        assert!(text.len() <= jwt::MAX_TOKEN_LEN);
        assert!(!t.signature.is_empty());
        assert!(
            !t.header.alg.eq_ignore_ascii_case("none"),
            "`none` must never decode"
        );
        let _ = jwt::is_hmac(t.alg);
        let _ = t.claims.scopes();
        let _ = t.claims.check_times(NOW, 30);
        let _ = t.claims.check_times(u64::MAX, u64::MAX);
        if let Some(aud) = &t.claims.aud {
            let _ = aud.single();
            let _ = aud.any(|a| a.is_empty());
        }
    }
}

/// Header extraction: the bytes are split on NUL into `Authorization` values, and the first
/// line (up to `\n`), when present, is the request target.
pub fn authorization_header(data: &[u8]) {
    let (target, rest) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b"/"[..], data),
    };
    let uri = std::str::from_utf8(target)
        .ok()
        .and_then(|t| t.parse::<Uri>().ok())
        .unwrap_or_else(|| Uri::from_static("/"));
    let mut headers = HeaderMap::new();
    for value in rest.split(|b| *b == 0) {
        if let Ok(v) = HeaderValue::from_bytes(value) {
            headers.append(header::AUTHORIZATION, v);
        }
    }
    if let Ok(Some(token)) = extract::bearer(&headers, &uri) {
        assert!(!token.is_empty() && token.len() <= jwt::MAX_TOKEN_LEN);
        assert!(!token.contains(' '));
        assert_eq!(headers.get_all(header::AUTHORIZATION).iter().count(), 1);
        token_from_str(token);
    }
}

/// The upstream HTTP/1.1 response parser (`crate::upstream`): the bytes as an upstream's answer,
/// to a request that expects a body when the first byte is even.
pub fn upstream_response(data: &[u8]) {
    let expects_body = data.first().is_none_or(|b| b % 2 == 0);
    if let Ok(Some(r)) = crate::upstream::parse_response_head(data, expects_body) {
        assert!(r.body.len() <= data.len());
        assert!(
            !r.keep_alive || r.body_complete,
            "reuse only after a whole body"
        );
        assert!(
            !r.parts.status.is_informational(),
            "interim heads are skipped"
        );
        assert!(
            r.parts
                .headers
                .get_all(http::header::CONTENT_LENGTH)
                .iter()
                .count()
                <= 1,
            "one length at most is passed on"
        );
    }
}

/// A fixed policy for [`route`]: two APIs, literal, parameter and rest segments.
const ROUTES: &str = r#"
[[apis]]
name = "Beds"
base_path = "/beds"
upstream = "http://127.0.0.1:9"
allow_anonymous = true
resources = [
  { path = "/hospitals", methods = ["GET", "POST"] },
  { path = "/hospitals/{id}", methods = ["GET"] },
  { path = "/hospitals/secret", methods = ["DELETE"] },
  { path = "/hospitals/{id}/wards/*", methods = ["PUT"] },
]

[[apis]]
name = "Root"
base_path = "/"
upstream = "http://127.0.0.1:9"
allow_anonymous = true
resources = [{ path = "/*", methods = ["GET"] }]
"#;

/// The route matcher and path canonicaliser: the first byte picks the method, the rest is the
/// request target. A routed path is canonical, and every literal segment of the resource it
/// matched is spelt in it exactly as configured (no escape, case or trailing-dot variant).
pub fn route(data: &[u8]) {
    static TABLE: OnceLock<(Config, RouteTable)> = OnceLock::new();
    let (config, table) = TABLE.get_or_init(|| {
        let config = Config::from_toml(ROUTES, &|_: &str| None).expect("the fuzz policy is valid");
        let table = RouteTable::new(&config);
        (config, table)
    });
    let Some((&m, target)) = data.split_first() else {
        return;
    };
    let method = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::OPTIONS,
    ][usize::from(m) % 6]
        .clone();
    let Ok(uri) = std::str::from_utf8(target).map(str::parse::<Uri>) else {
        return;
    };
    let Ok(uri) = uri else {
        return;
    };
    let Ok(found) = route::route(table, &method, &uri) else {
        return;
    };
    let path = uri.path();
    assert!(path.is_ascii() && !path.contains("//") && !path.contains("/../"));
    assert!(!path.contains(['\\', ';']), "{path}");
    let api = &config.apis[found.api];
    let rest = &path[found.rest_start..];
    let pattern = &api.resources[found.resource].path;
    for (want, got) in pattern.split('/').zip(rest.split('/')) {
        if want == "*" {
            break;
        }
        if !want.starts_with('{') {
            assert_eq!(want, got, "{path} matched {pattern}");
        }
    }
}

/// The configuration loader: arbitrary TOML, every `${NAME}` set. Inputs naming a file to read
/// (`*_file` keys) are skipped: the target reads no files.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(value) = toml::from_str::<toml::Table>(text) else {
        return;
    };
    if names_a_file(&toml::Value::Table(value)) {
        return;
    }
    let env = |name: &str| Some(format!("{name}-value-long-enough-0123456789"));
    if let Ok(c) = Config::from_toml(text, &env) {
        let _ = RouteTable::new(&c);
    }
}

fn names_a_file(v: &toml::Value) -> bool {
    match v {
        toml::Value::Table(t) => t
            .iter()
            .any(|(k, v)| k.ends_with("_file") || names_a_file(v)),
        toml::Value::Array(a) => a.iter().any(names_a_file),
        _ => false,
    }
}

fn token_from_str(t: &str) {
    token(t.as_bytes());
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_targets_accept_edge_inputs() {
        for d in [
            &b""[..],
            b"..",
            b"a.b.c",
            b"\xff\xfe",
            b"eyJhbGciOiJub25lIn0.e30.",
            b"eyJhbGciOiJub25lIn0.e30.c2ln",
        ] {
            super::token(d);
            super::authorization_header(d);
            super::upstream_response(d);
            super::route(d);
            super::config(d);
        }
        super::route(b"\x00/beds/hospitals/x");
        super::route(b"\x04/beds/hospitals/SECRET");
        super::upstream_response(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        );
        super::authorization_header(b"/x?access_token=1\nBearer a\0Bearer b");
    }
}
