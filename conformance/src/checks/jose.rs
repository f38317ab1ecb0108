//! JOSE: what the AS signs (JOSE-01, JOSE-12) and how validators treat
//! hostile tokens. Validator checks go through the gateway when the target
//! has one, else through the crate's local-JWT validator (the same rules).

use serde_json::{Value, json};

use super::Ctx;
use super::intro::{self, LocalPolicy};
use crate::http::Req;
use crate::jwt::{self, Jwt};

pub const IDS: &[&str] = &[
    "JOSE-01", "JOSE-02", "JOSE-03", "JOSE-04", "JOSE-06", "JOSE-07", "JOSE-08", "JOSE-09",
    "JOSE-10", "JOSE-12", "JOSE-13", "JOSE-14", "JOSE-15",
];

/// How a validator treated a token.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub accepted: bool,
    /// A 5xx or transport failure.
    pub crashed: bool,
    pub evidence: Option<crate::http::Exchange>,
}

/// Presents `token` to the gateway (when configured) or the local validator.
pub async fn present(cx: &mut Ctx, token: &str, policy: &LocalPolicy, at: i64) -> Verdict {
    if let (Some(base), Some(g)) = (cx.gateway_url.clone(), cx.target.gateway.clone()) {
        let ex = cx
            .http
            .send(
                Req::new(
                    &g.method,
                    format!("{}{}", base.trim_end_matches('/'), g.path),
                )
                .bearer(token),
            )
            .await;
        return Verdict {
            accepted: (200..300).contains(&ex.status),
            crashed: ex.status == 0 || ex.status >= 500,
            evidence: Some(ex),
        };
    }
    let jwks = cx.jwks().await;
    Verdict {
        accepted: intro::local_validate(token, &jwks, policy, at).is_ok(),
        crashed: false,
        evidence: None,
    }
}

pub async fn run(cx: &mut Ctx) {
    let Some(cc) = cx.cc_exchange().await else {
        cx.skip_all(IDS, "no access token");
        return;
    };
    let token = cc.str_field("access_token").unwrap_or_default();
    // 01: nothing the AS issues is alg none
    let mut issued = vec![("access token", token.clone())];
    if let Some(u) = cx.user_tokens().await {
        issued.extend(u.id_token.map(|t| ("ID token", t)));
        issued.extend(u.access_token.map(|t| ("user access token", t)));
    }
    let none: Vec<&str> = issued
        .iter()
        .filter(|(_, t)| {
            Jwt::decode(t)
                .is_some_and(|j| j.h("alg").is_none_or(|a| a.eq_ignore_ascii_case("none")))
        })
        .map(|(w, _)| *w)
        .collect();
    cx.check(
        "JOSE-01",
        none.is_empty(),
        format!("alg none issued: {}", none.join(", ")),
        &cc,
    );
    // 12: key sizes
    let jwks = cx.jwks().await;
    let weak: Vec<String> = jwks
        .get("keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|k| k.get("kty").and_then(Value::as_str) == Some("RSA"))
        .filter(|k| jwt::rsa_bits(k).is_none_or(|b| b < 2048))
        .map(|k| format!("{:?}", k.get("kid")))
        .collect();
    let jx = cx.jwks_exchange(false).await;
    cx.check(
        "JOSE-12",
        weak.is_empty(),
        format!("RSA keys under 2048 bits: {}", weak.join(", ")),
        &jx,
    );

    let Some(j) = Jwt::decode(&token) else {
        for id in &IDS[1..] {
            if *id != "JOSE-12" {
                cx.skip(id, "opaque access tokens: validator checks need a JWT");
            }
        }
        return;
    };
    let through = if cx.gateway_url.is_some() {
        "the gateway"
    } else {
        "local validation"
    };
    let p = intro::policy(cx).await;
    let now = crate::clock::unix_now();
    // Sanity: the genuine token is accepted, else every rejection below means nothing.
    let genuine = present(cx, &token, &p, now).await;
    if !genuine.accepted {
        let msg = format!("{through} rejects the genuine token; validator checks are inconclusive");
        for id in [
            "JOSE-02", "JOSE-03", "JOSE-04", "JOSE-07", "JOSE-09", "JOSE-10", "JOSE-13", "JOSE-14",
            "JOSE-15",
        ] {
            cx.skip(id, msg.clone());
        }
        return;
    }
    let probe = async |cx: &mut Ctx,
                       id: &'static str,
                       what: &str,
                       t: String,
                       pol: &LocalPolicy,
                       at: i64| {
        let v = present(cx, &t, pol, at).await;
        let ok = !v.accepted && !v.crashed;
        let msg = format!(
            "{through} {} a token with {what}",
            if v.accepted { "accepted" } else { "crashed on" }
        );
        match &v.evidence {
            Some(e) => {
                cx.check(id, ok, msg, e);
            }
            None if ok => cx.pass(id, ""),
            None => cx.fail(id, msg, None),
        }
    };
    let hdr = |f: &dyn Fn(&mut Value)| {
        let mut h = j.header.clone();
        f(&mut h);
        h
    };
    // 02: alg outside the allowlist (RS512 header on an RS256 signature, PS256)
    for alg in ["RS512", "PS256", "ES256"] {
        let t = jwt::forge(&hdr(&|h| h["alg"] = json!(alg)), &j.claims, &j.signature);
        probe(cx, "JOSE-02", &format!("header alg {alg}"), t, &p, now).await;
    }
    // 03: alg none, signature stripped
    for alg in ["none", "None", "NONE"] {
        let t = jwt::forge(&hdr(&|h| h["alg"] = json!(alg)), &j.claims, "");
        probe(
            cx,
            "JOSE-03",
            &format!("alg {alg} and no signature"),
            t,
            &p,
            now,
        )
        .await;
    }
    // 04: HS256 keyed with the public key (JWK JSON and raw modulus)
    let key = jwks
        .get("keys")
        .and_then(Value::as_array)
        .and_then(|a| {
            a.iter()
                .find(|k| k.get("kid").and_then(Value::as_str) == j.h("kid"))
        })
        .cloned()
        .unwrap_or_default();
    let n = key
        .get("n")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    for (what, secret) in [
        ("the JWK as HMAC key", key.to_string()),
        ("the modulus as HMAC key", n),
    ] {
        let t = jwt::sign_hs256(
            &hdr(&|h| h["alg"] = json!("HS256")),
            &j.claims,
            secret.as_bytes(),
        );
        probe(cx, "JOSE-04", &format!("HS256 and {what}"), t, &p, now).await;
    }
    // 07: hostile kid values
    let long = "A".repeat(10_000);
    for (what, kid) in [
        ("a path-traversal kid", "../../../../etc/passwd"),
        ("a quoting kid", "x\"' OR '1'='1"),
        ("a 10 kB kid", long.as_str()),
    ] {
        let t = jwt::forge(&hdr(&|h| h["kid"] = json!(kid)), &j.claims, &j.signature);
        probe(cx, "JOSE-07", what, t, &p, now).await;
    }
    // 09: foreign audience / missing audience (signature kept: must fail either way)
    let t = jwt::with_claims(&token, |c| {
        c.insert("aud".into(), json!("api://conformance-other"));
    });
    probe(cx, "JOSE-09", "a foreign aud", t, &p, now).await;
    let t = jwt::with_claims(&token, |c| {
        c.remove("aud");
    });
    probe(cx, "JOSE-09", "no aud", t, &p, now).await;
    if cx.gateway_url.is_none() {
        let other = LocalPolicy {
            audience: Some("api://conformance-other".into()),
            ..p.clone()
        };
        probe(
            cx,
            "JOSE-09",
            "a genuine token for another audience",
            token.clone(),
            &other,
            now,
        )
        .await;
    }
    // 10: an ID token as an access token
    match cx.user_tokens().await.and_then(|u| u.id_token) {
        Some(id) => probe(cx, "JOSE-10", "an ID token", id, &p, now).await,
        None => cx.skip("JOSE-10", "no ID token (needs a user login)"),
    }
    // 13: unknown crit
    let t = jwt::forge(
        &hdr(&|h| {
            h["crit"] = json!(["urn:conformance:unknown"]);
            h["urn:conformance:unknown"] = json!(true);
        }),
        &j.claims,
        &j.signature,
    );
    probe(cx, "JOSE-13", "an unknown crit extension", t, &p, now).await;
    // 14: malformed base64url / non-JSON
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() == 3 {
        probe(
            cx,
            "JOSE-14",
            "padded base64url",
            format!("{}==.{}.{}", parts[0], parts[1], parts[2]),
            &p,
            now,
        )
        .await;
        probe(
            cx,
            "JOSE-14",
            "a non-base64 payload",
            format!("{}.%%%.{}", parts[0], parts[2]),
            &p,
            now,
        )
        .await;
        probe(
            cx,
            "JOSE-14",
            "a non-JSON header",
            format!(
                "{}.{}.{}",
                jwt::seg(&json!("x")).trim_end_matches('='),
                parts[1],
                parts[2]
            ),
            &p,
            now,
        )
        .await;
    }
    // 15: exp enforced with bounded leeway
    if cx.gateway_url.is_none() {
        let exp = j.n("exp").unwrap_or(now);
        probe(
            cx,
            "JOSE-15",
            "exp one hour in the past",
            token.clone(),
            &p,
            exp + 3600,
        )
        .await;
    } else {
        let t = jwt::with_claims(&token, |c| {
            c.insert("exp".into(), json!(now - 3600));
        });
        probe(cx, "JOSE-15", "an exp an hour ago", t, &p, now).await;
    }
    // 06 / 08: tokens signed by a key the attacker controls, advertised in the header
    // (embedded jwk, jku, x5u) or claimed under the issuer's own kid / another issuer.
    match jwt::AttackerKey::generate() {
        Some(k) => {
            let mut h = json!({"alg": "RS256", "kid": k.kid, "typ": j.h("typ").unwrap_or("JWT")});
            h["jwk"] = k.jwk();
            probe(
                cx,
                "JOSE-06",
                "an embedded `jwk` header (attacker key)",
                k.sign(&h, &j.claims),
                &p,
                now,
            )
            .await;
            let h = json!({"alg": "RS256", "kid": k.kid, "jku": "https://evil.example/jwks.json"});
            probe(
                cx,
                "JOSE-06",
                "a `jku` header (attacker key)",
                k.sign(&h, &j.claims),
                &p,
                now,
            )
            .await;
            let h = json!({"alg": "RS256", "kid": k.kid, "x5u": "https://evil.example/cert.pem"});
            probe(
                cx,
                "JOSE-06",
                "an `x5u` header (attacker key)",
                k.sign(&h, &j.claims),
                &p,
                now,
            )
            .await;
            let h = json!({"alg": "RS256", "kid": j.h("kid").unwrap_or("")});
            probe(
                cx,
                "JOSE-08",
                "the issuer's kid but the attacker's key",
                k.sign(&h, &j.claims),
                &p,
                now,
            )
            .await;
            let mut claims = j.claims.clone();
            claims["iss"] = json!("https://evil.example/oauth2/default");
            let h = json!({"alg": "RS256", "kid": k.kid});
            probe(
                cx,
                "JOSE-08",
                "another issuer's token and key",
                k.sign(&h, &claims),
                &p,
                now,
            )
            .await;
        }
        None => {
            cx.skip("JOSE-06", "could not generate an RSA key");
            cx.skip("JOSE-08", "could not generate an RSA key");
        }
    }
}
