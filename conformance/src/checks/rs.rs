//! RS: the gateway's RFC 6750 behaviour, through the gateway in front of the
//! demo backend. Every challenge is parsed strictly (RS-09).

use std::time::Duration;

use serde_json::json;

use super::Ctx;
use crate::http::{Exchange, Req, challenge_param, parse_challenge};
use crate::jwt::{self, Jwt};
use crate::target::Gateway;

pub const IDS: &[&str] = &[
    "RS-01", "RS-02", "RS-03", "RS-04", "RS-05", "RS-06", "RS-07", "RS-08", "RS-09", "RS-10",
    "RS-11", "RS-12", "RS-13", "RS-14", "RS-15", "RS-16",
];

/// The challenge's scheme and `error`, or a syntax error.
fn challenge(ex: &Exchange) -> Result<(String, Option<String>), String> {
    let h = ex.header("www-authenticate").ok_or("no WWW-Authenticate")?;
    let (scheme, params) = parse_challenge(h)?;
    Ok((scheme, challenge_param(&params, "error").map(str::to_owned)))
}

pub async fn run(cx: &mut Ctx) {
    let (Some(base), Some(g)) = (cx.gateway_url.clone(), cx.target.gateway.clone()) else {
        cx.skip_all(IDS, "no gateway in the target");
        return;
    };
    let url = format!("{}{}", base.trim_end_matches('/'), g.path);
    let mut all: Vec<Exchange> = Vec::new();
    // 06 a valid token
    let Some(token) = cx.cc_token().await else {
        cx.skip_all(IDS, "no access token for the gateway");
        return;
    };
    let ok = cx.http.send(Req::new(&g.method, &url).bearer(&token)).await;
    if !cx.check(
        "RS-06",
        (200..300).contains(&ok.status),
        "a valid token with the route's scope was not admitted",
        &ok,
    ) {
        for id in IDS.iter().filter(|i| **i != "RS-06") {
            cx.skip(
                id,
                "the gateway does not admit a valid token; the other checks would be meaningless",
            );
        }
        return;
    }
    invalid_credential_checks(cx, &url, &g, &token, &mut all).await;
    // A fresh token: the checks above may have moved the clock past the first one.
    let token = cx.cc_token().await.unwrap_or(token);
    scope_and_request_shape_checks(cx, &base, &url, &g, &token, &mut all).await;
    foreign_token_checks(cx, &url, &g, &mut all).await;
    header_and_syntax_checks(cx, &url, &g, &all).await;
}

/// No credentials (RS-01), invalid, tampered and expired tokens (RS-02, RS-14's no-echo), a token
/// from the future (RS-13, with the in-process clock).
async fn invalid_credential_checks(
    cx: &mut Ctx,
    url: &str,
    g: &Gateway,
    token: &str,
    all: &mut Vec<Exchange>,
) {
    // 01 no credentials
    let ex = cx.http.send(Req::new(&g.method, url)).await;
    match challenge(&ex) {
        Ok((s, e)) => {
            cx.check(
                "RS-01",
                s.eq_ignore_ascii_case("bearer"),
                format!("scheme {s}"),
                &ex,
            );
            if ex.status != 401 || e.is_some() {
                cx.warn(
                    "RS-01",
                    format!("status {} error {e:?} (want 401 without error)", ex.status),
                    Some(&ex),
                );
            }
        }
        Err(e) => cx.fail("RS-01", e, Some(&ex)),
    }
    all.push(ex);
    // 02 invalid tokens
    let j = Jwt::decode(token);
    let mut bad: Vec<(&str, String)> = vec![
        ("a bad signature", jwt::tamper_signature(token)),
        ("garbage", "not-a-jwt".into()),
        (
            "an unknown opaque token",
            "conformanceUnknownOpaqueToken0123456789".into(),
        ),
    ];
    if let Some(j) = &j {
        let mut h = j.header.clone();
        h["alg"] = json!("none");
        bad.push(("alg none", jwt::forge(&h, &j.claims, "")));
        let mut h = j.header.clone();
        h["alg"] = json!("HS256");
        let jwks = cx.jwks().await;
        bad.push((
            "HS256 keyed with the public key",
            jwt::sign_hs256(&h, &j.claims, jwks.to_string().as_bytes()),
        ));
    }
    for (what, t) in &bad {
        let ex = cx.http.send(Req::new(&g.method, url).bearer(t)).await;
        match challenge(&ex) {
            Ok((_, e)) => {
                cx.check(
                    "RS-02",
                    e.as_deref() == Some("invalid_token"),
                    format!("{what}: error {e:?} (want invalid_token)"),
                    &ex,
                );
                if ex.status != 401 {
                    cx.warn(
                        "RS-02",
                        format!("{what}: status {} (want 401)", ex.status),
                        Some(&ex),
                    );
                }
            }
            Err(e) => cx.fail("RS-02", format!("{what}: {e}"), Some(&ex)),
        }
        // 14: never echo the token
        cx.check(
            "RS-14",
            t.len() < 12
                || !ex.body.contains(t.as_str())
                    && !ex
                        .header("www-authenticate")
                        .unwrap_or("")
                        .contains(t.as_str()),
            format!("{what}: the error response echoes the token"),
            &ex,
        );
        all.push(ex);
    }
    // 02 expired, 13 future iat: move the shared clock (mock + gateway), else skip
    if cx.clock.is_some() {
        let ttl = cx
            .cc_exchange()
            .await
            .and_then(|e| e.field("expires_in"))
            .and_then(|v| v.as_u64())
            .unwrap_or(3600);
        cx.elapse(Duration::from_secs(ttl + 600)).await;
        let ex = cx.http.send(Req::new(&g.method, url).bearer(token)).await;
        cx.check(
            "RS-02",
            challenge(&ex).ok().and_then(|c| c.1).as_deref() == Some("invalid_token"),
            "an expired token was not refused with invalid_token",
            &ex,
        );
        // a token minted "two hours from now", presented at the real time
        let future = cx
            .client_credentials()
            .await
            .and_then(|e| e.str_field("access_token"));
        cx.restore_time();
        if let Some(f) = future {
            let ex = cx.http.send(Req::new(&g.method, url).bearer(&f)).await;
            cx.check(
                "RS-13",
                challenge(&ex).ok().and_then(|c| c.1).as_deref() == Some("invalid_token"),
                "a token with iat/nbf far in the future was admitted",
                &ex,
            );
            all.push(ex);
        }
        cx.restore_time();
    } else {
        cx.skip(
            "RS-13",
            "needs a token from the future (in-process mock clock)",
        );
    }
}

/// A route needing a scope the token lacks (RS-03); malformed `Authorization` values (RS-04),
/// scheme case (RS-05), a token in a GET body (RS-07) or the query (RS-08), a Basic scheme (RS-10).
async fn scope_and_request_shape_checks(
    cx: &mut Ctx,
    base: &str,
    url: &str,
    g: &Gateway,
    token: &str,
    all: &mut Vec<Exchange>,
) {
    // 03 insufficient scope
    match &g.insufficient_scope_path {
        Some(p) => {
            let u = format!("{}{p}", base.trim_end_matches('/'));
            let ex = cx
                .http
                .send(Req::new(&g.insufficient_scope_method, u).bearer(token))
                .await;
            match challenge(&ex) {
                Ok((_, e)) => {
                    cx.check(
                        "RS-03",
                        e.as_deref() == Some("insufficient_scope"),
                        format!("error {e:?} (want insufficient_scope)"),
                        &ex,
                    );
                    if ex.status != 403 {
                        cx.warn(
                            "RS-03",
                            format!("status {} (want 403)", ex.status),
                            Some(&ex),
                        );
                    }
                }
                Err(e) => cx.fail("RS-03", e, Some(&ex)),
            }
            all.push(ex);
        }
        None => cx.skip(
            "RS-03",
            "no route needing a scope the token lacks (gateway.insufficient_scope_path)",
        ),
    }
    // 04 malformed requests
    let probes: Vec<(&str, Req)> = vec![
        (
            "the token in the header and the query",
            Req::new(&g.method, url)
                .bearer(token)
                .query(&[("access_token", token)]),
        ),
        (
            "Bearer with no token",
            Req::new(&g.method, url).header("Authorization", "Bearer "),
        ),
        (
            "a token outside b64token",
            Req::new(&g.method, url).header("Authorization", "Bearer abc def\"ghi"),
        ),
        (
            "two Authorization headers",
            Req::new(&g.method, url).bearer(token).bearer(token),
        ),
    ];
    for (what, r) in probes {
        let ex = cx.http.send(r).await;
        let e = challenge(&ex).ok().and_then(|c| c.1);
        cx.check(
            "RS-04",
            ex.status == 400 && e.as_deref() == Some("invalid_request"),
            format!("{what}: {} {e:?} (want 400 invalid_request)", ex.status),
            &ex,
        );
        all.push(ex);
    }
    // 05 scheme case
    for scheme in ["bearer", "BEARER"] {
        let ex = cx
            .http
            .send(Req::new(&g.method, url).header("Authorization", format!("{scheme} {token}")))
            .await;
        cx.check(
            "RS-05",
            (200..300).contains(&ex.status),
            format!("scheme `{scheme}` refused"),
            &ex,
        );
    }
    // 07 token in a GET body
    let ex = cx
        .http
        .send(Req::new("GET", url).form(&[("access_token", token)]))
        .await;
    cx.check(
        "RS-07",
        !(200..300).contains(&ex.status),
        "a token in a GET form body was accepted",
        &ex,
    );
    // 08 query token
    let ex = cx
        .http
        .send(Req::new(&g.method, url).query(&[("access_token", token)]))
        .await;
    if (200..300).contains(&ex.status) {
        let private = ex
            .header("cache-control")
            .is_some_and(|c| c.to_ascii_lowercase().contains("private"));
        cx.check(
            "RS-08",
            private,
            "?access_token= accepted without Cache-Control: private",
            &ex,
        );
    } else {
        cx.pass("RS-08", "query tokens are not accepted");
    }
    // 10 a Basic scheme
    let ex = cx
        .http
        .send(Req::new(&g.method, url).header("Authorization", "Basic dXNlcjpwYXNz"))
        .await;
    match challenge(&ex) {
        Ok((s, e)) => cx.check(
            "RS-10",
            ex.status == 401 && s.eq_ignore_ascii_case("bearer") && e.is_none(),
            format!("Basic: {} {s} error {e:?}", ex.status),
            &ex,
        ),
        Err(e) => cx.check("RS-10", false, e, &ex),
    };
    all.push(ex);
}

/// Tokens that are genuine but not for this resource server (RS-11, RS-13's `nbf`), an ID token
/// (RS-12), a revoked token (RS-15).
async fn foreign_token_checks(cx: &mut Ctx, url: &str, g: &Gateway, all: &mut Vec<Exchange>) {
    // 11 (and BCP-02): a genuinely signed token for another resource server; 13: a future nbf.
    match cx.mint.clone() {
        Some(mint) => {
            let svc = cx.service().map(|c| c.client_id).unwrap_or_default();
            let scope = g.required_scope.clone().unwrap_or_default();
            let foreign = mint(
                json!({"client_id": svc, "scopes": [scope], "claims": {"aud": "api://conformance-other-rs"}}),
            );
            match foreign {
                Some(t) => {
                    let ex = cx.http.send(Req::new(&g.method, url).bearer(&t)).await;
                    let ok = ex.status == 401
                        && challenge(&ex).ok().and_then(|c| c.1).as_deref()
                            == Some("invalid_token");
                    cx.check(
                        "RS-11",
                        ok,
                        format!(
                            "a token for another audience (aud {:?}) got {}",
                            Jwt::decode(&t).and_then(|j| j.claims.get("aud").cloned()),
                            ex.status
                        ),
                        &ex,
                    );
                    cx.check(
                        "BCP-02",
                        !(200..300).contains(&ex.status),
                        "an access token minted for another resource server was admitted",
                        &ex,
                    );
                    all.push(ex);
                }
                None => cx.skip(
                    "RS-11",
                    "the target could not mint a token for another audience",
                ),
            }
            let now = crate::clock::unix_now();
            if let Some(t) =
                mint(json!({"client_id": svc, "scopes": [scope], "claims": {"nbf": now + 3600}}))
            {
                let ex = cx.http.send(Req::new(&g.method, url).bearer(&t)).await;
                let ok = ex.status == 401
                    && challenge(&ex).ok().and_then(|c| c.1).as_deref() == Some("invalid_token");
                cx.check(
                    "RS-13",
                    ok,
                    format!(
                        "a token with nbf an hour ahead (nbf {:?}) got {}",
                        Jwt::decode(&t).and_then(|j| j.n("nbf")),
                        ex.status
                    ),
                    &ex,
                );
                all.push(ex);
            }
        }
        None => {
            cx.skip(
                "RS-11",
                "needs a token minted for another resource server (admin set-up, mode A)",
            );
            cx.skip(
                "BCP-02",
                "needs a token minted for another resource server (admin set-up, mode A)",
            );
        }
    }
    // 12 an ID token as a bearer token
    match cx.user_tokens().await.and_then(|u| u.id_token) {
        Some(id) => {
            let ex = cx.http.send(Req::new(&g.method, url).bearer(&id)).await;
            cx.check(
                "RS-12",
                ex.status == 401
                    && challenge(&ex).ok().and_then(|c| c.1).as_deref() == Some("invalid_token"),
                format!("an ID token got {}", ex.status),
                &ex,
            );
            all.push(ex);
        }
        None => cx.skip("RS-12", "no ID token (needs a user login)"),
    }
    // 15 revocation seen at the gateway
    if let (Some(rev), Some(c)) = (cx.revocation_endpoint().await, cx.introspect_client()) {
        if let Some(t) = cx
            .client_credentials()
            .await
            .and_then(|e| e.str_field("access_token"))
        {
            let _ = cx
                .http
                .send(Ctx::authenticated(&rev, &c, &[("token", &t)]))
                .await;
            let ex = cx.http.send(Req::new(&g.method, url).bearer(&t)).await;
            if (200..300).contains(&ex.status) {
                cx.pass("RS-15", "local-JWT mode: a revoked token is admitted until its exp (the documented window)");
            } else {
                cx.pass("RS-15", "a revoked token is refused at once");
            }
        }
    } else {
        cx.skip("RS-15", "no revocation endpoint");
    }
}

/// Oversize or garbage headers (RS-16), then the syntax and charset of every challenge seen
/// (RS-09, RS-14).
async fn header_and_syntax_checks(cx: &mut Ctx, url: &str, g: &Gateway, all: &[Exchange]) {
    // 16 oversize / garbage header
    let big = format!("Bearer {}", "A".repeat(16 * 1024));
    for (what, v) in [
        ("a 16 kB Authorization header", big),
        (
            "a garbage Authorization header",
            "\u{1}\u{2}garbage".replace(['\u{1}', '\u{2}'], "%"),
        ),
    ] {
        let ex = cx
            .http
            .send(Req::new(&g.method, url).header("Authorization", v))
            .await;
        cx.check(
            "RS-16",
            ex.status != 0 && ex.status < 500 && (400..500).contains(&ex.status),
            format!("{what}: {}", ex.status),
            &ex,
        );
    }
    // 09 + 14: strict syntax and charset on every challenge seen
    for ex in all.iter() {
        if let Some(h) = ex.header("www-authenticate") {
            if let Err(e) = parse_challenge(h) {
                cx.fail("RS-09", e, Some(ex));
            } else {
                cx.pass("RS-09", "");
            }
            if let Ok((_, p)) = parse_challenge(h)
                && let Some(d) = challenge_param(&p, "error_description")
            {
                cx.check(
                    "RS-14",
                    d.bytes()
                        .all(|b| (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\'),
                    "error_description outside printable ASCII",
                    ex,
                );
            }
        }
        cx.check(
            "RS-14",
            !ex.body.contains("panicked") && !ex.body.contains("stack backtrace"),
            "a stack trace in an error response",
            ex,
        );
    }
}
