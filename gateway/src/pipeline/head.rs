//! Step 0, head: what the request head must say before any other step reads it.
//!
//! - `Host` (RFC 9112 §3.2): an HTTP/1.1 request without one, with two, or with one that is not
//!   `host[:port]` is 400; over HTTP/2 the `:authority` pseudo-header stands for it (RFC 9113
//!   §8.3.1), and a `Host` naming another authority beside it is 400 too. HTTP/1.0 may omit it.
//! - A body on a method whose semantics give it none (GET, HEAD, TRACE; RFC 9110 §9.3) is 400:
//!   a back end that ignores such bodies would read the body as a second request, with headers
//!   the gateway never checked. An API whose clients search with GET bodies sets
//!   `allow_get_body` (HEAD and TRACE never carry one).

use http::{HeaderMap, Method, Uri, Version, header, uri::Authority};

use crate::error::GatewayError;

/// Checks the request's `Host` / `:authority`.
pub fn check_host(version: Version, uri: &Uri, headers: &HeaderMap) -> Result<(), GatewayError> {
    let mut hosts = headers.get_all(header::HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(GatewayError::InvalidRequest("more than one Host header"));
    }
    let host = match host {
        Some(v) => Some(
            parse_authority(v.as_bytes()).ok_or(GatewayError::InvalidRequest(
                "the Host header is not host[:port]",
            ))?,
        ),
        None => None,
    };
    match (version, uri.authority(), host) {
        // HTTP/2 and later: `:authority`, or `Host` alone; both must name the same server.
        (v, Some(authority), Some(host)) if v >= Version::HTTP_2 => {
            if !authority.as_str().eq_ignore_ascii_case(host.as_str()) {
                return Err(GatewayError::InvalidRequest(
                    "the Host header differs from :authority",
                ));
            }
            Ok(())
        }
        (v, Some(authority), None) if v >= Version::HTTP_2 => {
            parse_authority(authority.as_str().as_bytes())
                .map(|_| ())
                .ok_or(GatewayError::InvalidRequest(
                    ":authority is not host[:port]",
                ))
        }
        (Version::HTTP_09 | Version::HTTP_10, _, _) | (_, _, Some(_)) => Ok(()),
        _ => Err(GatewayError::InvalidRequest("the Host header is required")),
    }
}

/// `host[:port]` with no user information, or `None`.
fn parse_authority(v: &[u8]) -> Option<Authority> {
    if v.is_empty() || v.contains(&b'@') {
        return None;
    }
    let a = Authority::try_from(v).ok()?;
    if a.host().is_empty() {
        return None;
    }
    // `host:` with an empty or non-numeric port.
    match a
        .as_str()
        .strip_prefix(a.host())
        .and_then(|r| r.strip_prefix(':'))
    {
        Some(port) if port.parse::<u16>().is_err() => None,
        _ => Some(a),
    }
}

/// Refuses a body on a method that gives it no meaning (GET unless `allow_get_body`).
pub fn check_body(
    method: &Method,
    has_body: bool,
    allow_get_body: bool,
) -> Result<(), GatewayError> {
    let refused = *method == Method::HEAD
        || *method == Method::TRACE
        || (*method == Method::GET && !allow_get_body);
    if has_body && refused {
        return Err(GatewayError::InvalidRequest(
            "a request body is not accepted with this method",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn with_hosts(hosts: &[&[u8]]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in hosts {
            h.append(header::HOST, HeaderValue::from_bytes(v).unwrap());
        }
        h
    }

    #[test]
    fn host_headers_are_checked_as_rfc_9112_says() {
        let origin = Uri::from_static("/beds");
        let v11 = Version::HTTP_11;
        for ok in [
            &b"gw.example"[..],
            b"gw.example:8080",
            b"127.0.0.1:1",
            b"[::1]:80",
        ] {
            check_host(v11, &origin, &with_hosts(&[ok])).unwrap();
        }
        for bad in [
            &[][..],
            &[&b""[..]][..],
            &[&b"a"[..], &b"a"[..]][..],
            &[&b"user@gw.example"[..]][..],
            &[&b"gw.example:x"[..]][..],
            &[&b"gw.example:"[..]][..],
            &[&b"gw example"[..]][..],
            &[&b"gw.example/path"[..]][..],
        ] {
            assert!(
                check_host(v11, &origin, &with_hosts(bad)).is_err(),
                "{bad:?}"
            );
        }
        check_host(Version::HTTP_10, &origin, &HeaderMap::new()).unwrap();
        let h2 = Uri::from_static("https://gw.example/beds");
        check_host(Version::HTTP_2, &h2, &HeaderMap::new()).unwrap();
        check_host(Version::HTTP_2, &h2, &with_hosts(&[b"GW.example"])).unwrap();
        assert!(check_host(Version::HTTP_2, &h2, &with_hosts(&[b"other.example"])).is_err());
        assert!(check_host(Version::HTTP_2, &origin, &HeaderMap::new()).is_err());
    }
}
