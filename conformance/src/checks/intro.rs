//! INTRO: token introspection (RFC 7662) against the AS, and the crate's
//! local-JWT mode (the JWT checked against the JWKS), compared with each other.

use std::time::Duration;

use serde_json::Value;

use super::Ctx;
use crate::http::Req;
use crate::jwt::{self, Jwt};

pub const IDS: &[&str] = &[
    "INTRO-01",
    "INTRO-02",
    "INTRO-03",
    "INTRO-04",
    "INTRO-05",
    "INTRO-06",
    "INTRO-07",
    "INTRO-08",
    "INTRO-09",
    "INTRO-10",
    "INTRO-11",
    "INTRO-12",
    "INTRO-13",
    "INTRO-L01",
    "INTRO-L02",
    "INTRO-L03",
    "INTRO-L04",
    "INTRO-L05",
];

/// What local validation expects.
#[derive(Debug, Clone)]
pub struct LocalPolicy {
    pub issuer: String,
    pub audience: Option<String>,
    /// Allowed algorithms (RS256 by default).
    pub algs: Vec<String>,
    /// Require `typ: at+jwt` (strict RFC 9068).
    pub strict_typ: bool,
    pub leeway: i64,
}

/// Validates a JWT access token locally: alg allowlist, `kid` → one key,
/// signature, `iss`, `aud`, `exp`/`nbf`/`iat` at `now` with leeway, `typ`.
pub fn local_validate(token: &str, jwks: &Value, p: &LocalPolicy, now: i64) -> Result<Jwt, String> {
    let j = Jwt::decode(token).ok_or("not a JWT")?;
    let alg = j.h("alg").unwrap_or("");
    if !p.algs.iter().any(|a| a == alg) {
        return Err(format!("alg `{alg}` not allowed"));
    }
    if j.header.get("crit").is_some() {
        return Err("unsupported crit".into());
    }
    jwt::verify(&j, jwks)?;
    if j.c("iss") != Some(p.issuer.as_str()) {
        return Err(format!("iss {:?}", j.c("iss")));
    }
    if let Some(aud) = &p.audience
        && !j.aud_contains(aud)
    {
        return Err(format!("aud {:?}", j.claims.get("aud")));
    }
    let exp = j.n("exp").ok_or("no exp")?;
    if now > exp + p.leeway {
        return Err("expired".into());
    }
    if j.n("nbf").is_some_and(|nbf| nbf > now + p.leeway) {
        return Err("not yet valid (nbf)".into());
    }
    if j.n("iat").is_some_and(|iat| iat > now + p.leeway) {
        return Err("iat in the future".into());
    }
    if p.strict_typ {
        let typ = j.h("typ").unwrap_or("").to_ascii_lowercase();
        if typ != "at+jwt" && typ != "application/at+jwt" {
            return Err(format!("typ `{typ}` is not at+jwt"));
        }
    }
    if j.claims.get("nonce").is_some() || j.c("at_hash").is_some() {
        return Err("looks like an ID token".into());
    }
    Ok(j)
}

pub async fn run(cx: &mut Ctx) {
    let Some(url) = cx.introspection_endpoint().await else {
        cx.skip_all(IDS, "the target offers no introspection endpoint");
        return;
    };
    let Some(caller) = cx.introspect_client() else {
        cx.skip_all(IDS, "no client to call introspection with");
        return;
    };
    let Some(token) = cx.introspectable_token().await else {
        cx.skip_all(IDS, "no access token to introspect");
        return;
    };
    let secret = caller.client_secret.clone().unwrap_or_default();
    // 01
    let live = cx
        .introspect(&token, None)
        .await
        .unwrap_or_else(|| unreachable_ex(&url));
    let jt = live.json().unwrap_or_default();
    let active_true = jt.get("active") == Some(&Value::Bool(true));
    let jwt_refused = live.error_code().as_deref() == Some("unsupported_token_type")
        && Jwt::decode(&token).is_some();
    if jwt_refused {
        cx.skip(
            "INTRO-01",
            "the AS does not introspect its JWT access tokens (unsupported_token_type)",
        );
    } else {
        cx.check(
            "INTRO-01",
            live.status == 200 && live.is_json_content_type() && active_true,
            "a live token does not introspect as 200 JSON active:true",
            &live,
        );
    }
    // 02 no caller authentication
    let ex = cx
        .http
        .send(Req::post_form(&url, &[("token", &token)]))
        .await;
    cx.check(
        "INTRO-02",
        ex.status == 401 && ex.field("active").is_none(),
        "introspection without caller authentication was not 401",
        &ex,
    );
    // 03 wrong credentials
    let ex = cx
        .http
        .send(Req::post_form(&url, &[("token", &token)]).basic(&caller.client_id, "wrong-secret"))
        .await;
    cx.check(
        "INTRO-03",
        ex.status == 401 && ex.error_code().as_deref() == Some("invalid_client"),
        "wrong caller credentials were not 401 invalid_client",
        &ex,
    );
    // 04, 07, 08 garbage token
    let garbage = cx
        .introspect("conformance-garbage-token-0000", None)
        .await
        .unwrap_or_else(|| unreachable_ex(&url));
    let gj = garbage.json().unwrap_or_default();
    cx.check(
        "INTRO-04",
        garbage.status == 200 && gj.get("active") == Some(&Value::Bool(false)),
        "an unknown token is not 200 active:false",
        &garbage,
    );
    let only_active = gj.as_object().is_some_and(|o| o.len() == 1);
    cx.check(
        "INTRO-07",
        only_active,
        "an inactive response carries members besides `active`",
        &garbage,
    );
    let bool_ok = gj.get("active").is_some_and(Value::is_boolean)
        && (jwt_refused || jt.get("active").is_some_and(Value::is_boolean));
    cx.check(
        "INTRO-08",
        bool_ok,
        "`active` is not a JSON boolean",
        if jwt_refused { &garbage } else { &live },
    );
    // 09 types and agreement
    if active_true {
        let mut p = Vec::new();
        for c in ["exp", "iat", "nbf"] {
            if let Some(v) = jt.get(c)
                && !v.is_i64()
                && !v.is_u64()
            {
                p.push(format!("{c} is not an integer"));
            }
        }
        if let Some(s) = jt.get("scope")
            && !s.is_string()
        {
            p.push("scope is not a space-separated string".into());
        }
        let svc_id = cx.service().map(|s| s.client_id);
        if let Some(c) = jt.get("client_id").and_then(Value::as_str)
            && Some(c) != svc_id.as_deref()
        {
            p.push(format!("client_id {c} is not the requesting client"));
        }
        if let Some(j) = Jwt::decode(&token) {
            if let (Some(a), Some(b)) = (jt.get("exp").and_then(Value::as_i64), j.n("exp"))
                && a != b
            {
                p.push(format!("exp {a} != token exp {b}"));
            }
            if let (Some(a), Some(b)) = (jt.get("iss").and_then(Value::as_str), j.c("iss"))
                && a != b
            {
                p.push("iss differs from the token's".into());
            }
        }
        cx.check("INTRO-09", p.is_empty(), p.join("; "), &live);
    } else {
        cx.skip("INTRO-09", "no active introspection response");
    }
    // 10 wrong hint
    if !jwt_refused {
        let ex = cx
            .introspect(&token, Some("refresh_token"))
            .await
            .unwrap_or_else(|| unreachable_ex(&url));
        cx.check(
            "INTRO-10",
            ex.field("active") == Some(Value::Bool(true)),
            "with token_type_hint=refresh_token the access token was not found",
            &ex,
        );
    } else {
        cx.skip("INTRO-10", "the AS does not introspect this token kind");
    }
    // 11 refresh tokens
    match cx.user_tokens().await.and_then(|u| u.refresh_token) {
        Some(rt) => {
            let ex = cx
                .introspect(&rt, Some("refresh_token"))
                .await
                .unwrap_or_else(|| unreachable_ex(&url));
            if ex.field("active") == Some(Value::Bool(true)) {
                cx.pass("INTRO-11", "a live refresh token introspects as active");
            } else {
                cx.info(
                    "INTRO-11",
                    format!("a live refresh token introspects as {}", ex.body),
                );
            }
        }
        None => cx.skip("INTRO-11", "no refresh token"),
    }
    // 12 another client's view
    match (cx.not_service(), cx.service()) {
        (Some(w), Some(s)) => {
            let ex = cx
                .http
                .send(Ctx::authenticated(&url, &w, &[("token", &token)]))
                .await;
            cx.info(
                "INTRO-12",
                format!(
                    "client {} introspecting {}'s token: {} {}",
                    w.client_id,
                    s.client_id,
                    ex.status,
                    ex.body.chars().take(80).collect::<String>()
                ),
            );
        }
        _ => cx.skip("INTRO-12", "needs a second client"),
    }
    // 13 GET / query
    let ex = cx
        .http
        .send(
            Req::get(&url)
                .query(&[("token", &token)])
                .basic(&caller.client_id, &secret),
        )
        .await;
    cx.check(
        "INTRO-13",
        ex.field("active") != Some(Value::Bool(true)),
        "GET with the token in the query was answered with token metadata",
        &ex,
    );

    // 06 revoked → inactive (uses a fresh token, revoked through REV)
    if let (Some(rev), Some(fresh)) = (
        cx.revocation_endpoint().await,
        cx.introspectable_token().await,
    ) {
        let r = cx
            .http
            .send(Ctx::authenticated(
                &rev,
                &caller,
                &[("token", &fresh), ("token_type_hint", "access_token")],
            ))
            .await;
        let ex = cx
            .introspect(&fresh, None)
            .await
            .unwrap_or_else(|| unreachable_ex(&url));
        if ex.error_code().as_deref() == Some("unsupported_token_type") {
            cx.skip("INTRO-06", "the AS does not introspect this token kind");
        } else if r.status != 200 {
            cx.skip("INTRO-06", format!("revocation answered {}", r.status));
        } else {
            cx.check(
                "INTRO-06",
                ex.field("active") == Some(Value::Bool(false)),
                "a revoked token still introspects as active",
                &ex,
            );
        }
        // L03: local mode still accepts it until exp
        local_l03(cx, &fresh, ex.field("active") == Some(Value::Bool(false))).await;
    } else {
        cx.skip("INTRO-06", "no revocation endpoint");
        cx.skip("INTRO-L03", "no revocation endpoint");
    }

    let jwt_token = cx.cc_token().await.unwrap_or(token.clone());
    let remote_of_jwt = if jwt_token == token {
        jt.clone()
    } else {
        Value::Null
    };
    local_mode(
        cx,
        &jwt_token,
        &remote_of_jwt,
        jwt_refused || jwt_token != token,
    )
    .await;

    // 05 expired → inactive (moves the mock's clock; real tenants only with slow checks)
    if !cx.slow_ok() {
        cx.skip(
            "INTRO-05",
            "slow check (waits for expiry): enable server.slow_checks",
        );
    } else if jwt_refused {
        cx.skip("INTRO-05", "the AS does not introspect this token kind");
    } else if let Some(fresh) = cx.introspectable_token().await {
        let ttl = cx
            .cc_exchange()
            .await
            .and_then(|e| e.field("expires_in"))
            .and_then(|v| v.as_u64())
            .unwrap_or(3600);
        cx.elapse(Duration::from_secs(ttl + 120)).await;
        let r = cx
            .introspect(&fresh, None)
            .await
            .unwrap_or_else(|| unreachable_ex(&url));
        cx.check(
            "INTRO-05",
            r.field("active") == Some(Value::Bool(false)),
            "an expired token still introspects as active",
            &r,
        );
        cx.restore_time();
    }
}

fn unreachable_ex(url: &str) -> crate::http::Exchange {
    crate::http::Exchange {
        req: Req::get(url),
        status: 0,
        headers: Vec::new(),
        body: String::new(),
        error: Some("not sent".into()),
    }
}

/// The local policy for this target.
pub async fn policy(cx: &mut Ctx) -> LocalPolicy {
    LocalPolicy {
        issuer: cx.issuer.clone(),
        audience: cx.target.server.audience.clone(),
        algs: vec!["RS256".into()],
        strict_typ: false,
        leeway: 60,
    }
}

async fn local_l03(cx: &mut Ctx, token: &str, remote_inactive: bool) {
    if Jwt::decode(token).is_none() {
        cx.skip("INTRO-L03", "opaque access tokens");
        return;
    }
    let jwks = cx.jwks().await;
    let p = policy(cx).await;
    let local_ok = local_validate(token, &jwks, &p, crate::clock::unix_now()).is_ok();
    cx.info(
        "INTRO-L03",
        format!("revoked JWT access token: remote inactive = {remote_inactive}, local still accepts = {local_ok} (the documented window until exp)"),
    );
}

async fn local_mode(cx: &mut Ctx, token: &str, remote: &Value, jwt_refused: bool) {
    // L05: an opaque (non-JWT) token goes to remote mode and is answered there.
    let opaque = "conformanceOpaqueToken0123456789abcdef";
    let ex = cx.introspect(opaque, None).await;
    if let Some(ex) = ex {
        cx.check(
            "INTRO-L05",
            Jwt::decode(opaque).is_none()
                && ex.status == 200
                && ex.field("active") == Some(Value::Bool(false)),
            "an opaque token was not routed to remote introspection and answered inactive",
            &ex,
        );
    }
    if !cx.target.server.jwt_access_tokens || Jwt::decode(token).is_none() {
        for id in ["INTRO-L01", "INTRO-L02", "INTRO-L04"] {
            cx.skip(
                id,
                "opaque access tokens (local mode applies to JWT access tokens only)",
            );
        }
        return;
    }
    let jwks = cx.jwks().await;
    let p = policy(cx).await;
    let Some(cc) = cx.cc_exchange().await else {
        return;
    };
    // L01
    match local_validate(token, &jwks, &p, crate::clock::unix_now()) {
        Ok(j) if jwt_refused => cx.pass(
            "INTRO-L01",
            format!(
                "locally valid (remote does not introspect JWTs); sub {:?}",
                j.c("sub")
            ),
        ),
        Ok(j) => {
            let mut diffs = Vec::new();
            if remote.get("active") != Some(&Value::Bool(true)) {
                diffs.push("remote says inactive".to_owned());
            }
            if let Some(s) = remote.get("sub").and_then(Value::as_str)
                && Some(s) != j.c("sub")
            {
                diffs.push(format!("sub {s} vs {:?}", j.c("sub")));
            }
            let local_client = j.c("client_id").or_else(|| j.c("cid"));
            if let Some(c) = remote.get("client_id").and_then(Value::as_str)
                && Some(c) != local_client
            {
                diffs.push(format!("client_id {c} vs {local_client:?}"));
            }
            if let (Some(a), Some(b)) = (remote.get("exp").and_then(Value::as_i64), j.n("exp"))
                && a != b
            {
                diffs.push(format!("exp {a} vs {b}"));
            }
            let local_scope: Vec<String> = match (j.claims.get("scope"), j.claims.get("scp")) {
                (Some(Value::String(s)), _) => s.split_whitespace().map(str::to_owned).collect(),
                (_, Some(Value::Array(a))) => a
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            };
            if let Some(s) = remote.get("scope").and_then(Value::as_str) {
                let mut r: Vec<&str> = s.split_whitespace().collect();
                let mut l: Vec<&str> = local_scope.iter().map(String::as_str).collect();
                r.sort_unstable();
                l.sort_unstable();
                if r != l {
                    diffs.push(format!("scope {r:?} vs {l:?}"));
                }
            }
            cx.check("INTRO-L01", diffs.is_empty(), diffs.join("; "), &cc);
        }
        Err(e) => cx.fail(
            "INTRO-L01",
            format!("local validation rejects a live token: {e}"),
            Some(&cc),
        ),
    }
    // L02: hostile variants must all be rejected locally.
    let j = Jwt::decode(token).unwrap_or_else(|| unreachable!());
    let n = crate::clock::unix_now();
    let mut hdr_none = j.header.clone();
    hdr_none["alg"] = Value::from("none");
    let mut hdr_kid = j.header.clone();
    hdr_kid["kid"] = Value::from("conformance-unknown-kid");
    let mut hdr_hs = j.header.clone();
    hdr_hs["alg"] = Value::from("HS256");
    let n_bytes = jwks
        .get("keys")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .map(|k| k.to_string())
        .unwrap_or_default();
    let variants: Vec<(&str, String, LocalPolicy, i64)> = vec![
        ("bad signature", jwt::tamper_signature(token), p.clone(), n),
        (
            "alg none",
            jwt::forge(&hdr_none, &j.claims, ""),
            p.clone(),
            n,
        ),
        (
            "HS256 keyed with the public key",
            jwt::sign_hs256(&hdr_hs, &j.claims, n_bytes.as_bytes()),
            p.clone(),
            n,
        ),
        (
            "unknown kid",
            jwt::forge(&hdr_kid, &j.claims, &j.signature),
            p.clone(),
            n,
        ),
        (
            "expired beyond the leeway",
            token.to_owned(),
            p.clone(),
            j.n("exp").unwrap_or(n) + 3600,
        ),
        (
            "not yet valid",
            token.to_owned(),
            p.clone(),
            j.n("iat").unwrap_or(n) - 3600,
        ),
        (
            "wrong iss",
            token.to_owned(),
            LocalPolicy {
                issuer: "https://evil.example/oauth2/default".into(),
                ..p.clone()
            },
            n,
        ),
        (
            "wrong aud",
            token.to_owned(),
            LocalPolicy {
                audience: Some("api://conformance-other".into()),
                ..p.clone()
            },
            n,
        ),
        (
            "alg outside the allowlist",
            token.to_owned(),
            LocalPolicy {
                algs: vec!["ES256".into()],
                ..p.clone()
            },
            n,
        ),
    ];
    let mut accepted = Vec::new();
    for (what, t, pol, at) in &variants {
        if local_validate(t, &jwks, pol, *at).is_ok() {
            accepted.push(*what);
        }
    }
    if let Some(id) = cx.user_tokens().await.and_then(|u| u.id_token)
        && local_validate(&id, &jwks, &p, n).is_ok()
    {
        accepted.push("an ID token");
    }
    cx.check(
        "INTRO-L02",
        accepted.is_empty(),
        format!("local mode accepted: {}", accepted.join(", ")),
        &cc,
    );
    // L04: rotation (in-process mock only)
    match cx.rotate.clone() {
        Some(rotate) => {
            rotate().await;
            let fresh = cx.introspectable_token().await.unwrap_or_default();
            let stale = local_validate(&fresh, &jwks, &p, crate::clock::unix_now());
            let refreshed = cx.jwks_exchange(true).await.json().unwrap_or_default();
            let after = local_validate(&fresh, &refreshed, &p, crate::clock::unix_now());
            let ok = stale.is_err() && after.is_ok();
            cx.check(
                "INTRO-L04",
                ok || (stale.is_ok() && after.is_ok()),
                format!(
                    "after rotation: stale set {:?}, refetched set {:?}",
                    stale.err(),
                    after.err()
                ),
                &cc,
            );
        }
        None => cx.skip(
            "INTRO-L04",
            "key rotation needs admin set-up on this target (mode A)",
        ),
    }
}
