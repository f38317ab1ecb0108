//! Fuzz targets in libFuzzer's shape (`fn(&[u8])`, must never panic), shared by the stable
//! proptest harness (`tests/gateway/fuzz.rs`, `just fuzz`) and the `cargo fuzz` targets in
//! `gateway/fuzz/` (nightly only). Nothing here is used on the request path.

use http::{HeaderMap, HeaderValue, Uri, header};

use super::jwt;
use crate::pipeline::extract;

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
        }
        super::upstream_response(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        );
        super::authorization_header(b"/x?access_token=1\nBearer a\0Bearer b");
    }
}
