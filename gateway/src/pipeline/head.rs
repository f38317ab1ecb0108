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
        Some(v) if is_authority(v.as_bytes()) => Some(v.as_bytes()),
        Some(_) => {
            return Err(GatewayError::InvalidRequest(
                "the Host header is not host[:port]",
            ));
        }
        None => None,
    };
    match (version, uri.authority(), host) {
        // HTTP/2 and later: `:authority`, or `Host` alone; both must name the same server.
        (v, Some(authority), Some(host)) if v >= Version::HTTP_2 => {
            if !authority.as_str().as_bytes().eq_ignore_ascii_case(host) {
                return Err(GatewayError::InvalidRequest(
                    "the Host header differs from :authority",
                ));
            }
            Ok(())
        }
        (v, Some(authority), None) if v >= Version::HTTP_2 => {
            if is_authority(authority.as_str().as_bytes()) {
                Ok(())
            } else {
                Err(GatewayError::InvalidRequest(
                    ":authority is not host[:port]",
                ))
            }
        }
        (Version::HTTP_09 | Version::HTTP_10, _, _) | (_, _, Some(_)) => Ok(()),
        _ => Err(GatewayError::InvalidRequest("the Host header is required")),
    }
}

/// Whether `v` is `host[:port]` with no user information. The common spelling (a name or
/// IPv4 address of letters, digits, `.` and `-`, and a numeric port) is checked byte by byte;
/// anything else goes through `http`'s authority parser, which allocates.
fn is_authority(v: &[u8]) -> bool {
    let (host, port) = match v.iter().rposition(|&b| b == b':') {
        Some(i) => (&v[..i], Some(&v[i + 1..])),
        None => (v, None),
    };
    let plain_host = !host.is_empty()
        && host
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    let plain_port = port.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 5
            && p.iter().all(u8::is_ascii_digit)
            && p.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0')) <= u32::from(u16::MAX)
    });
    if plain_host && plain_port {
        return true;
    }
    parse_authority(v)
}

/// `host[:port]` with no user information, by `http`'s parser.
fn parse_authority(v: &[u8]) -> bool {
    if v.is_empty() || v.contains(&b'@') {
        return false;
    }
    let Ok(a) = Authority::try_from(v) else {
        return false;
    };
    if a.host().is_empty() {
        return false;
    }
    // `host:` with an empty or non-numeric port.
    !matches!(
        a.as_str()
            .strip_prefix(a.host())
            .and_then(|r| r.strip_prefix(':')),
        Some(port) if port.parse::<u16>().is_err()
    )
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
            b"gw-1.example:65535",
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
            &[&b"gw.example:65536"[..]][..],
            &[&b":80"[..]][..],
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
