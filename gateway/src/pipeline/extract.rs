//! Step 2, extract: the bearer token from the one `Authorization` header (RFC 6750 §2.1).
//! Several headers, a token in the query string, or a malformed value are `invalid_request`.

use http::{HeaderMap, Uri, header};

use crate::error::GatewayError;
use crate::validation::dpop::{DpopMode, Presented};
use crate::validation::jwt::MAX_TOKEN_LEN;

/// The bearer token, if the request carries one (an API without DPoP).
pub fn bearer<'h>(headers: &'h HeaderMap, uri: &Uri) -> Result<Option<&'h str>, GatewayError> {
    Ok(credentials(headers, uri, DpopMode::Disabled)?.map(|(token, _)| token))
}

/// The access token and how it came: `Bearer`, or (where the API takes DPoP) `DPoP` with the
/// one `DPoP` proof header (RFC 9449 §7.1).
pub fn credentials<'h>(
    headers: &'h HeaderMap,
    uri: &Uri,
    dpop: DpopMode,
) -> Result<Option<(&'h str, Presented<'h>)>, GatewayError> {
    if let Some(q) = uri.query()
        && q.split(['&', ';']).any(names_access_token)
    {
        return Err(GatewayError::InvalidRequest(
            "tokens are accepted only in the Authorization header",
        ));
    }
    if dpop == DpopMode::Disabled && headers.contains_key("dpop") {
        return Err(GatewayError::InvalidRequest(
            "DPoP proofs are not supported; send a Bearer token alone",
        ));
    }
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(GatewayError::InvalidRequest(
            "the request carries several Authorization headers",
        ));
    }
    let value = value
        .to_str()
        .map_err(|_| GatewayError::InvalidRequest("the Authorization header is malformed"))?;
    let (scheme, rest) = match value.split_once(' ') {
        Some(parts) => parts,
        // `Bearer` alone, or followed by a tab or other separator (RFC 9110 §11.4: one SP).
        None if value.len() >= 6 && value[..6].eq_ignore_ascii_case("bearer") => {
            return Err(GatewayError::InvalidRequest(
                "the Authorization header is malformed",
            ));
        }
        None => return Ok(None),
    };
    let is_dpop = scheme.eq_ignore_ascii_case("dpop");
    if is_dpop && dpop == DpopMode::Disabled {
        return Err(GatewayError::InvalidRequest(
            "DPoP proofs are not supported; send a Bearer token alone",
        ));
    }
    if !is_dpop && !scheme.eq_ignore_ascii_case("bearer") {
        // Another scheme: no bearer token was presented.
        return Ok(None);
    }
    let token = rest.trim_start_matches(' ');
    if token.is_empty() || token.len() > MAX_TOKEN_LEN || !is_b64token(token) {
        return Err(GatewayError::InvalidRequest(
            "the Authorization header is malformed",
        ));
    }
    if !is_dpop {
        // A proof without the DPoP scheme proves nothing about a Bearer token.
        if headers.contains_key("dpop") {
            return Err(GatewayError::InvalidDpopProof(
                "A DPoP proof accompanies the DPoP scheme, not Bearer.",
            ));
        }
        return Ok(Some((token, Presented::Bearer)));
    }
    let mut proofs = headers.get_all("dpop").iter();
    let (Some(proof), None) = (proofs.next(), proofs.next()) else {
        return Err(GatewayError::InvalidDpopProof(
            "Exactly one DPoP proof header is required.",
        ));
    };
    let proof = proof
        .to_str()
        .map_err(|_| GatewayError::InvalidDpopProof("The DPoP proof is not a signed JWT."))?;
    Ok(Some((token, Presented::Dpop(proof))))
}

/// Whether a query parameter is named `access_token` (RFC 6750 §2.3) as some framework reads
/// it: escapes and `+` decoded, case ignored, `.` and space as `_` (PHP), `access_token[]`.
fn names_access_token(param: &str) -> bool {
    let key = param.split('=').next().unwrap_or("");
    let name: Vec<u8> = super::route::percent_decoded(key)
        .map(|c| match c.to_ascii_lowercase() {
            b'+' | b' ' | b'.' => b'_',
            c => c,
        })
        .collect();
    name.strip_prefix(b"access_token")
        .is_some_and(|rest| rest.is_empty() || rest[0] == b'[')
}

/// RFC 6750 `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(t: &str) -> bool {
    let body = t.as_bytes();
    let end = body.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
    // Checked a chunk at a time without an early exit, so the compiler can vectorize it.
    end > 0
        && body[..end]
            .chunks(32)
            .all(|chunk| chunk.iter().fold(true, |ok, &b| ok & is_b64token_char(b)))
}

/// RFC 6750 `b64token` characters (before the trailing `=`s).
fn is_b64token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        | (b == b'-')
        | (b == b'.')
        | (b == b'_')
        | (b == b'~')
        | (b == b'+')
        | (b == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn reads_a_bearer_token() {
        let h = headers(&["Bearer abc.def-ghi_"]);
        assert_eq!(
            bearer(&h, &Uri::from_static("/x")).unwrap(),
            Some("abc.def-ghi_")
        );
        let h = headers(&["bearer abc"]);
        assert_eq!(bearer(&h, &Uri::from_static("/x")).unwrap(), Some("abc"));
    }

    #[test]
    fn other_schemes_are_no_token() {
        let h = headers(&["Basic dXNlcjpwYXNz"]);
        assert_eq!(bearer(&h, &Uri::from_static("/x")).unwrap(), None);
    }

    #[test]
    fn malformed_or_ambiguous_is_invalid_request() {
        let uri = Uri::from_static("/x");
        for h in [
            headers(&["Bearer"]),
            headers(&["Bearer "]),
            headers(&["Bearer a b"]),
            headers(&["Bearer a", "Bearer b"]),
        ] {
            assert!(matches!(
                bearer(&h, &uri),
                Err(GatewayError::InvalidRequest(_))
            ));
        }
        let h = headers(&[]);
        for uri in [
            "/x?access_token=abc",
            "/x?a=1&%61ccess_token=abc",
            "/x?a=1;access_token=abc",
            "/x?ACCESS%5FTOKEN=abc",
            "/x?access_token[]=abc",
            "/x?access.token=abc",
        ] {
            assert!(
                matches!(
                    bearer(&h, &Uri::from_static(uri)),
                    Err(GatewayError::InvalidRequest(_))
                ),
                "{uri}"
            );
        }
        assert!(matches!(
            bearer(
                &h,
                &Uri::from_static("/x?access_tokens=1&my_access_token=2")
            ),
            Ok(None)
        ));
        for value in ["Bearer\tabc", "DPoP abc"] {
            assert!(
                matches!(
                    bearer(&headers(&[value]), &uri),
                    Err(GatewayError::InvalidRequest(_))
                ),
                "{value}"
            );
        }
        let mut h = headers(&["Bearer abc"]);
        h.insert("dpop", HeaderValue::from_static("x"));
        assert!(matches!(
            bearer(&h, &uri),
            Err(GatewayError::InvalidRequest(_))
        ));
    }
}
