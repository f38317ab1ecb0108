//! Attacks from the landscape notes (§5): algorithm confusion, `none`, key selection, claims.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::harness::*;

#[tokio::test]
async fn rs_to_hs_confusion_with_the_public_key_as_secret_never_passes() {
    let s = Stack::start().await;
    let claims = s.idp.access_claims(OPENID_APP, &["beds.read"], T0);
    let key = &s.idp.keys[0];
    let n = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(key.jwk["n"].as_str().unwrap())
        .unwrap();
    let secrets: Vec<Vec<u8>> = vec![
        key.public_pem.as_bytes().to_vec(),
        key.public_pem.trim_end().as_bytes().to_vec(),
        key.public_pem.replace('\n', "\r\n").into_bytes(),
        key.jwk.to_string().into_bytes(),
        n,
        Vec::new(),
    ];
    for secret in secrets {
        for kid in [Some(key.kid.as_str()), None] {
            let token = sign_hs256(&secret, kid, &claims);
            let r = s.get("/beds/hospitals", &token).await;
            assert_eq!(r.status(), 401);
            let id = sign_hs256(&secret, kid, &s.idp.id_claims(OPENID_APP, T0));
            assert_eq!(s.get("/profile/me", &id).await.status(), 401);
        }
    }
}

#[tokio::test]
async fn alg_none_and_unsigned_tokens_are_refused() {
    alg_none_and_unsigned_tokens_are_refused_over(Transport::Http).await;
}

#[tokio::test]
async fn alg_none_and_unsigned_tokens_are_refused_over_tls() {
    alg_none_and_unsigned_tokens_are_refused_over(Transport::Tls).await;
}

async fn alg_none_and_unsigned_tokens_are_refused_over(transport: Transport) {
    let s = Stack::start_over(transport).await;
    let claims = s.idp.access_claims(OPENID_APP, &["beds.read"], T0);
    for alg in ["none", "None", "NONE", "nOnE"] {
        for sig in [&b""[..], b"sig"] {
            let t = raw_token(&json!({ "alg": alg, "kid": "key-1" }), &claims, sig);
            assert_eq!(s.get("/beds/hospitals", &t).await.status(), 401, "{alg}");
        }
    }
    let good = s.idp.token(&claims);
    let (two, _) = good.rsplit_once('.').unwrap();
    let r = s.get("/beds/hospitals", two).await;
    assert_eq!(r.status(), 401);
    let r = s.get("/beds/hospitals", &format!("{good}.extra")).await;
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn embedded_keys_and_key_urls_in_the_header_are_ignored() {
    let s = Stack::start().await;
    let attacker = RsaKey::generate("key-1");
    let claims = s.idp.access_claims(OPENID_APP, &["beds.read"], T0);
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    h.kid = Some("key-1".into());
    h.jku = Some(format!("{}/attacker-jwks", s.idp.server.uri()));
    let token = jsonwebtoken::encode(&h, &claims, &attacker.encoding).unwrap();
    assert_eq!(s.get("/beds/hospitals", &token).await.status(), 401);
    assert_eq!(
        s.idp.calls("/attacker-jwks").await,
        0,
        "no request to the header's URL"
    );
}

#[tokio::test]
async fn odd_kids_and_duplicate_claims_are_refused_without_crashing() {
    let s = Stack::start().await;
    let claims = s.idp.access_claims(OPENID_APP, &["beds.read"], T0);
    for kid in [
        json!("../../../../dev/null"),
        json!(7),
        json!(["a"]),
        json!("x".repeat(10_000)),
    ] {
        let t = raw_token(&json!({ "alg": "RS256", "kid": kid }), &claims, b"sig");
        let r = s.get("/beds/hospitals", &t).await;
        assert!(r.status() == 401 || r.status() == 400, "{}", r.status());
    }
    // Duplicate `sub`: the JSON is refused rather than one value picked.
    let good = s.idp.token(&claims);
    let mut parts = good.split('.');
    let header = parts.next().unwrap();
    let dup = r#"{"sub":"a","sub":"admin"}"#;
    let t = format!(
        "{header}.{}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(dup),
        parts.nth(1).unwrap()
    );
    assert_eq!(s.get("/beds/hospitals", &t).await.status(), 401);
}

#[tokio::test]
async fn an_id_token_is_not_an_access_token_and_vice_versa() {
    let s = Stack::start().await;
    let id = s.idp.token(&s.idp.id_claims(OPENID_APP, T0));
    assert_eq!(s.get("/beds/hospitals", &id).await.status(), 401);
    let at = s
        .idp
        .token(&s.idp.access_claims(OPENID_APP, &["beds.read"], T0));
    assert_eq!(s.get("/profile/me", &at).await.status(), 401);
}

/// A stack whose configuration is the test configuration edited by `edit`.
pub async fn stack_with(edit: impl FnOnce(String) -> String) -> Stack {
    let idp = WireIdp::start().await;
    let echo = Echo::start().await;
    let clock = gateway::clock::ManualClock::new(T0);
    let toml = edit(config_toml(&idp.discovery_url(), &echo.url()));
    let gateway = start_gateway(&toml, clock.clone()).await;
    Stack {
        idp,
        echo,
        gateway,
        clock,
        http: reqwest::Client::new(),
        pki: None,
    }
}

const INTROSPECT: &str = "/oauth2/default/v1/introspect";

#[tokio::test]
async fn a_signed_token_for_another_audience_is_not_readmitted_by_introspection() {
    // RS-11 / BCP-02: local validation refuses the audience; the AS (asked by the remote
    // fallback) would say "active". The gateway must not ask, nor admit.
    let s = Stack::start().await;
    let mut claims = s.idp.access_claims(OPENID_APP, &["beds.read"], T0);
    claims["aud"] = json!("api://conformance-other-rs");
    let token = s.idp.token(&claims);
    s.idp.activate(&token, claims.clone());
    let r = s.get("/beds/hospitals", &token).await;
    assert_eq!(r.status(), 401);
    assert!(challenge(&r).contains("invalid_token"));
    assert_eq!(s.idp.calls(INTROSPECT).await, 0, "no introspection call");
    // Same for a wrong issuer, an expired token and a bad signature.
    let mut wrong_iss = s.idp.access_claims(OPENID_APP, &["beds.read"], T0);
    wrong_iss["iss"] = json!("https://evil.example/oauth2/default");
    let expired = s.idp.access_claims(OPENID_APP, &["beds.read"], T0 - 7200);
    let forged =
        RsaKey::generate("key-1").sign(&s.idp.access_claims(OPENID_APP, &["beds.read"], T0));
    for token in [s.idp.token(&wrong_iss), s.idp.token(&expired), forged] {
        s.idp.activate(
            &token,
            json!({ "active": true, "client_id": OPENID_APP,
            "scope": "beds.read", "exp": T0 + 3600, "iss": s.idp.issuer(), "aud": AUDIENCE }),
        );
        let r = s.get("/beds/hospitals", &token).await;
        assert_eq!(r.status(), 401);
    }
}

#[tokio::test]
async fn remote_first_ordering_still_checks_a_jwt_locally() {
    let s = stack_with(|t| {
        t.replace(
            r#"identification = ["oauth2_local", "oauth2_remote"]"#,
            r#"identification = ["oauth2_remote", "oauth2_local"]"#,
        )
    })
    .await;
    let mut claims = s.idp.access_claims(OPENID_APP, &["beds.read"], T0);
    claims["aud"] = json!("api://other");
    let token = s.idp.token(&claims);
    s.idp.activate(&token, claims);
    assert_eq!(s.get("/beds/hospitals", &token).await.status(), 401);
}

#[tokio::test]
async fn future_iat_or_nbf_is_refused_even_when_introspection_says_active() {
    // RS-13: an hour ahead, well past the 30 s skew; 29 s ahead is inside it.
    let s = Stack::start().await;
    for (claim, ahead, want) in [
        ("iat", 3600, 401),
        ("nbf", 3600, 401),
        ("nbf", 29, 200),
        ("iat", 29, 200),
        ("nbf", 31, 401),
    ] {
        let mut claims = s.idp.access_claims(OPENID_APP, &["beds.read"], T0);
        claims[claim] = json!(T0 + ahead);
        let token = s.idp.token(&claims);
        s.idp.activate(&token, claims.clone());
        let r = s.get("/beds/hospitals", &token).await;
        assert_eq!(r.status(), want, "{claim} +{ahead}s");
    }
}

#[tokio::test]
async fn introspection_answers_are_checked_for_audience_issuer_and_times() {
    let s = Stack::start().await;
    let good = json!({ "active": true, "client_id": OPENID_APP, "scope": "beds.read",
        "exp": T0 + 3600, "iat": T0, "iss": s.idp.issuer(), "aud": AUDIENCE });
    let mut cases = vec![("good", good.clone(), 200)];
    let mut c = good.clone();
    c["aud"] = json!("api://other");
    cases.push(("other audience", c, 401));
    let mut c = good.clone();
    c["aud"] = json!(["api://other", "api://third"]);
    cases.push(("audience array without ours", c, 401));
    let mut c = good.clone();
    c["aud"] = json!(["api://other", AUDIENCE]);
    cases.push(("audience array with ours", c, 200));
    // Okta answers for a refresh token with `token_type: Bearer` and no `aud` (C4, D4).
    let mut c = good.clone();
    c.as_object_mut().unwrap().remove("aud");
    c["token_type"] = json!("Bearer");
    cases.push(("no audience (a refresh token)", c, 401));
    for (token_type, want) in [
        ("Bearer", 200),
        ("access_token", 200),
        ("id_token", 401),
        ("refresh_token", 401),
        ("urn:ietf:params:oauth:token-type:id_token", 401),
    ] {
        let mut c = good.clone();
        c["token_type"] = json!(token_type);
        cases.push(("token_type", c, want));
    }
    let mut c = good.clone();
    c["iss"] = json!("https://evil.example/oauth2/default");
    cases.push(("other issuer", c, 401));
    let mut c = good.clone();
    c["nbf"] = json!(T0 + 3600);
    cases.push(("nbf ahead", c, 401));
    let mut c = good.clone();
    c["iat"] = json!(T0 + 3600);
    cases.push(("iat ahead", c, 401));
    let mut c = good.clone();
    c["exp"] = json!(T0 - 1);
    cases.push(("expired", c, 401));
    let mut c = good.clone();
    c.as_object_mut().unwrap().remove("exp");
    cases.push(("no exp", c, 401));
    let mut c = good.clone();
    c.as_object_mut().unwrap().remove("active");
    cases.push(("no active", c, 401));
    let mut c = good.clone();
    c["active"] = json!("true");
    cases.push(("active as a string", c, 401));
    let mut c = good.clone();
    c["active"] = json!(1);
    cases.push(("active as a number", c, 401));
    for (i, (what, answer, want)) in cases.into_iter().enumerate() {
        let token = format!("opaque-{i}");
        s.idp.activate(&token, answer);
        let r = s.get("/beds/hospitals", &token).await;
        assert_eq!(r.status(), want, "{what}");
    }
}

#[tokio::test]
async fn an_id_token_where_an_access_token_is_required_is_invalid_token_not_403() {
    // RS-12: the API accepts ID tokens (openid_connect) but its resource needs a scope.
    let s = stack_with(|t| {
        t.replace(
            r#"identification = ["oauth2_local", "oauth2_remote"]"#,
            r#"identification = ["openid_connect", "oauth2_local", "oauth2_remote"]"#,
        )
    })
    .await;
    let id = s.idp.token(&s.idp.id_claims(OPENID_APP, T0));
    let r = s.get("/beds/hospitals", &id).await;
    assert_eq!(r.status(), 401);
    assert!(
        challenge(&r).contains("error=\"invalid_token\""),
        "{}",
        challenge(&r)
    );
    // The access token still passes, and an access token lacking the scope is still a 403.
    let at = s
        .idp
        .token(&s.idp.access_claims(OPENID_APP, &["beds.read"], T0));
    assert_eq!(s.get("/beds/hospitals", &at).await.status(), 200);
    let at = s
        .idp
        .token(&s.idp.access_claims(OPENID_APP, &["other"], T0));
    assert_eq!(s.get("/beds/hospitals", &at).await.status(), 403);
}

#[tokio::test]
async fn id_tokens_carrying_scope_claims_open_no_scoped_resource() {
    // C4/A8: scopes written into an ID token (by the AS, or by whoever holds an HMAC-enabled
    // client's secret) grant nothing; the ID token still opens resources that need no scope.
    let s = stack_with(|t| {
        t.replace(
            r#"identification = ["oauth2_local", "oauth2_remote"]"#,
            r#"identification = ["openid_connect", "oauth2_local", "oauth2_remote"]"#,
        )
    })
    .await;
    let mut claims = s.idp.id_claims(OPENID_APP, T0);
    claims["scp"] = serde_json::json!(["beds.read", "beds.reserve"]);
    claims["scope"] = serde_json::json!("beds.read beds.reserve");
    let rs = s.idp.token(&claims);
    claims["sub"] = serde_json::json!("00uADMIN");
    let hs = sign_hs256(OPENID_APP_SECRET.as_bytes(), None, &claims);
    let before = s.echo.received.load(std::sync::atomic::Ordering::SeqCst);
    for token in [&rs, &hs] {
        let r = s.get("/beds/hospitals", token).await;
        assert_eq!(r.status(), 401);
        assert!(challenge(&r).contains("error=\"invalid_token\""));
    }
    assert_eq!(
        s.echo.received.load(std::sync::atomic::Ordering::SeqCst),
        before
    );
    let r = s.get("/profile/me", &hs).await;
    assert_eq!(r.status(), 200);
    let seen = r.json::<serde_json::Value>().await.unwrap();
    assert!(
        seen["headers"]
            .get("x-gateway-scopes")
            .is_none_or(|v| v == ""),
        "an ID token's scope claims are not passed on: {seen}"
    );
}

#[tokio::test]
async fn an_id_token_whose_azp_is_not_among_its_audiences_is_refused() {
    // OIDC Core §3.1.3.7: a token issued to one client is not taken as another's.
    let s = Stack::start().await;
    let mut claims = s.idp.id_claims(PLAIN_APP, T0);
    claims["azp"] = serde_json::json!(OPENID_APP);
    let r = s.get("/profile/me", &s.idp.token(&claims)).await;
    assert_eq!(r.status(), 401);
    // Nor is one with an audience the gateway does not trust beside a trusted one.
    let mut claims = s.idp.id_claims(PLAIN_APP, T0);
    claims["aud"] = serde_json::json!([PLAIN_APP, "evil-client"]);
    let r = s.get("/profile/me", &s.idp.token(&claims)).await;
    assert_eq!(r.status(), 401);
    // A subject an upstream would read as another (edge whitespace is trimmed by parsers).
    let mut claims = s.idp.id_claims(PLAIN_APP, T0);
    claims["sub"] = serde_json::json!(" 00u-doctor");
    let r = s.get("/profile/me", &s.idp.token(&claims)).await;
    assert_eq!(r.status(), 401);
    let control = s.idp.token(&s.idp.id_claims(PLAIN_APP, T0));
    assert_eq!(s.get("/profile/me", &control).await.status(), 200);
}

#[tokio::test]
async fn spellings_of_a_literal_resource_never_pass_as_a_parameter_resource() {
    // E3: `/hospitals/{id}` (beds.read) next to `/hospitals/secret` (beds.reserve), in either
    // order. A spelling that an upstream would read as `secret` is refused, not authorized as
    // `{id}`; the literal needs its own scope whatever the order of the configuration.
    for secret_first in [false, true] {
        let s = stack_with(|t| {
            let (param, literal) = ("/hospitals/{id}", "/hospitals/secret");
            let (first, second) = if secret_first {
                (literal, param)
            } else {
                (param, literal)
            };
            t.replace(
                "path = \"/slow\"\nmethods = [\"GET\"]\n",
                &format!(
                    "path = \"/slow\"\nmethods = [\"GET\"]\n\
                     [[apis.resources]]\npath = \"{first}\"\nmethods = [\"GET\"]\n\
                     [[apis.resources]]\npath = \"{second}\"\nmethods = [\"GET\"]\n"
                ),
            )
            .replace(
                r#"{ path = "/slow", methods = ["GET"] }]"#,
                r#"{ path = "/slow", methods = ["GET"] }, { path = "/hospitals/{id}", methods = ["GET"] }]"#,
            )
            .replace(
                r#"methods = ["POST"] }]"#,
                r#"methods = ["POST"] }, { path = "/hospitals/secret", methods = ["GET"] }]"#,
            )
        })
        .await;
        let read = s
            .idp
            .token(&s.idp.access_claims(OPENID_APP, &["beds.read"], T0));
        let reserve = s
            .idp
            .token(&s.idp.access_claims(OPENID_APP, &["beds.reserve"], T0));
        let auth = format!("Authorization: Bearer {read}\r\n");
        assert_eq!(raw_get(&s, "/beds/hospitals/h1", &auth).await, 200);
        assert_eq!(raw_get(&s, "/beds/hospitals/secret", &auth).await, 403);
        let spellings = [
            "/beds/hospitals/s%65cret",
            "/beds/hospitals/%73%65%63%72%65%74",
            "/beds/hospitals/SECRET",
            "/beds/hospitals/Secret",
            "/beds/hospitals/secret/",
            "/beds/hospitals/s%zzcret",
            "/beds/hospitals/%u0073ecret",
            "/beds/hospitals/secret%00",
        ];
        refused_before_the_upstream(&s, &spellings, &auth).await;
        let auth = format!("Authorization: Bearer {reserve}\r\n");
        assert_eq!(raw_get(&s, "/beds/hospitals/secret", &auth).await, 200);
    }
}

/// Signs `header.claims` (given as JSON text, so duplicate keys survive) with `key`.
fn sign_raw(
    header: &str,
    claims: &str,
    key: &jsonwebtoken::EncodingKey,
    alg: jsonwebtoken::Algorithm,
) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let message = format!("{}.{}", b64.encode(header), b64.encode(claims));
    let sig = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).unwrap();
    format!("{message}.{sig}")
}

/// Sends `GET target` as written (no client-side normalisation) and returns the status code.
async fn raw_get(s: &Stack, target: &str, extra: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut c = tokio::net::TcpStream::connect(s.gateway.local_addr())
        .await
        .unwrap();
    let req = format!("GET {target} HTTP/1.1\r\nHost: gw\r\n{extra}Connection: close\r\n\r\n");
    c.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out);
    text.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn refused(status: u16) -> bool {
    matches!(status, 400 | 401 | 403 | 404 | 405 | 431)
}

/// Sends each target (with `extra` header lines) and asserts that it is refused, and that
/// none of them reached the upstream.
async fn refused_before_the_upstream(s: &Stack, targets: &[&str], extra: &str) {
    let before = s.echo.received.load(std::sync::atomic::Ordering::SeqCst);
    for target in targets {
        let st = raw_get(s, target, extra).await;
        assert!(refused(st), "{target}: {st}");
    }
    assert_eq!(
        s.echo.received.load(std::sync::atomic::Ordering::SeqCst),
        before,
        "nothing reached the upstream"
    );
}

#[tokio::test]
async fn rs_to_hs_confusion_with_der_and_jwk_component_encodings_never_passes() {
    let s = Stack::start().await;
    let key = &s.idp.keys[0];
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let der = pem::parse(&key.public_pem).unwrap().contents().to_vec();
    let n = b64.decode(key.jwk["n"].as_str().unwrap()).unwrap();
    let e = b64.decode(key.jwk["e"].as_str().unwrap()).unwrap();
    let secrets: Vec<Vec<u8>> = vec![
        der.clone(),
        base64::engine::general_purpose::STANDARD
            .encode(&der)
            .into_bytes(),
        [n.clone(), e.clone()].concat(),
        e,
        key.jwk["n"].as_str().unwrap().as_bytes().to_vec(),
        format!("{}\n", key.jwk).into_bytes(),
        serde_json::to_string_pretty(&key.jwk).unwrap().into_bytes(),
        format!("{}\n", key.public_pem.trim_end()).into_bytes(),
    ];
    let claims = s.idp.access_claims(OPENID_APP, &["beds.read"], T0);
    for (i, secret) in secrets.iter().enumerate() {
        for alg in [
            jsonwebtoken::Algorithm::HS256,
            jsonwebtoken::Algorithm::HS384,
            jsonwebtoken::Algorithm::HS512,
        ] {
            let h = json!({ "alg": format!("{alg:?}"), "kid": key.kid }).to_string();
            let t = sign_raw(
                &h,
                &claims.to_string(),
                &jsonwebtoken::EncodingKey::from_secret(secret),
                alg,
            );
            assert_eq!(
                s.get("/beds/hospitals", &t).await.status(),
                401,
                "secret {i} {alg:?}"
            );
        }
    }
}

#[tokio::test]
async fn hs256_with_a_known_client_secret_is_refused_where_hmac_is_off() {
    let s = Stack::start().await;
    // PlainApp's strategy has hmac off: its own secret does not make an ID token.
    let id = sign_hs256(
        PLAIN_APP_SECRET.as_bytes(),
        None,
        &s.idp.id_claims(PLAIN_APP, T0),
    );
    assert_eq!(s.get("/profile/me", &id).await.status(), 401);
    // Another HMAC client's secret for PlainApp's audience: refused.
    let id = sign_hs256(
        OPENID_APP_SECRET.as_bytes(),
        None,
        &s.idp.id_claims(PLAIN_APP, T0),
    );
    assert_eq!(s.get("/profile/me", &id).await.status(), 401);
    // HMAC never signs an access token, even with a client secret that signs ID tokens.
    for secret in [OPENID_APP_SECRET, PLAIN_APP_SECRET, INTROSPECT_SECRET] {
        let at = sign_hs256(
            secret.as_bytes(),
            None,
            &s.idp.access_claims(OPENID_APP, &["beds.read"], T0),
        );
        assert_eq!(
            s.get("/beds/hospitals", &at).await.status(),
            401,
            "access token"
        );
    }
    // An empty HMAC key never verifies anything.
    let id = sign_hs256(b"", None, &s.idp.id_claims(OPENID_APP, T0));
    assert_eq!(s.get("/profile/me", &id).await.status(), 401);
    // Control: OpenIDApp has hmac on, its secret signs its ID tokens.
    let id = sign_hs256(
        OPENID_APP_SECRET.as_bytes(),
        None,
        &s.idp.id_claims(OPENID_APP, T0),
    );
    assert_eq!(s.get("/profile/me", &id).await.status(), 200);
}

#[tokio::test]
async fn ecdsa_zero_signatures_and_truncated_or_empty_signatures_are_refused() {
    let mut s = Stack::start().await;
    let ec = s.idp.rotate_ec("ec-1");
    let claims = s.idp.access_claims(OPENID_APP, &["beds.read"], T0);
    let header = json!({ "alg": "ES256", "kid": "ec-1" });
    let good = sign_raw(
        &header.to_string(),
        &claims.to_string(),
        &ec,
        jsonwebtoken::Algorithm::ES256,
    );
    assert_eq!(
        s.get("/beds/hospitals", &good).await.status(),
        200,
        "control"
    );
    // r = s = 0 ("psychic signatures", CVE-2022-21449), fixed-width and DER-encoded.
    for sig in [
        vec![0u8; 64],
        vec![0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00],
        vec![0u8; 1],
    ] {
        let t = raw_token(&header, &claims, &sig);
        assert_eq!(s.get("/beds/hospitals", &t).await.status(), 401);
    }
    // Truncated, empty, bit-flipped and padded signatures of genuine tokens.
    let rs = s.idp.token(&claims);
    for good in [good, rs] {
        let (msg, sig) = good.rsplit_once('.').unwrap();
        let mut flipped = sig.as_bytes().to_vec();
        flipped[5] = if flipped[5] == b'A' { b'B' } else { b'A' };
        for bad in [
            format!("{msg}.{}", &sig[..sig.len() / 2]),
            format!("{msg}.{}", &sig[..sig.len() - 1]),
            format!("{msg}."),
            format!("{msg}.{}", String::from_utf8(flipped).unwrap()),
            format!("{msg}.{sig}AAAA"),
            format!("{msg}.{sig}=="),
        ] {
            let st = s.get("/beds/hospitals", &bad).await.status();
            assert!(st == 401 || st == 400, "{st}");
        }
    }
}

#[tokio::test]
async fn a_key_whose_type_does_not_match_the_algorithm_is_refused() {
    let mut s = Stack::start().await;
    let ec = s.idp.rotate_ec("ec-1");
    let rsa = &s.idp.keys[0];
    let claims = s
        .idp
        .access_claims(OPENID_APP, &["beds.read"], T0)
        .to_string();
    // The RSA key's kid with EC and EdDSA algorithms; the EC key's kid with RSA algorithms.
    for (kid, alg, key, sign_alg) in [
        ("key-1", "ES256", &ec, jsonwebtoken::Algorithm::ES256),
        ("key-1", "ES384", &ec, jsonwebtoken::Algorithm::ES256),
        (
            "ec-1",
            "RS256",
            &rsa.encoding,
            jsonwebtoken::Algorithm::RS256,
        ),
        (
            "ec-1",
            "PS256",
            &rsa.encoding,
            jsonwebtoken::Algorithm::PS256,
        ),
        ("key-1", "EdDSA", &ec, jsonwebtoken::Algorithm::ES256),
    ] {
        let h = json!({ "alg": sign_alg_name(sign_alg), "kid": kid }).to_string();
        let t = sign_raw(&h, &claims, key, sign_alg);
        // Rewrite the header's alg to the mismatching one, keeping the signature.
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let (_, rest) = t.split_once('.').unwrap();
        let lie = format!(
            "{}.{rest}",
            b64.encode(json!({ "alg": alg, "kid": kid }).to_string())
        );
        assert_eq!(
            s.get("/beds/hospitals", &t).await.status(),
            401,
            "{kid} signed {sign_alg:?}"
        );
        assert_eq!(
            s.get("/beds/hospitals", &lie).await.status(),
            401,
            "{kid} as {alg}"
        );
    }
}

fn sign_alg_name(a: jsonwebtoken::Algorithm) -> String {
    format!("{a:?}")
}

#[tokio::test]
async fn embedded_jwk_x5u_and_self_signed_x5c_are_never_used_to_verify() {
    let s = Stack::start().await;
    let attacker = RsaKey::generate("attacker");
    let claims = s
        .idp
        .access_claims(OPENID_APP, &["beds.read"], T0)
        .to_string();
    let x5u = format!("{}/attacker-x5u", s.idp.server.uri());
    let jku = format!("{}/attacker-jku", s.idp.server.uri());
    let fake_cert =
        base64::engine::general_purpose::STANDARD.encode(b"0\x82self-signed-not-a-real-cert");
    for header in [
        json!({ "alg": "RS256", "jwk": attacker.jwk }),
        json!({ "alg": "RS256", "kid": "attacker", "jwk": attacker.jwk }),
        json!({ "alg": "RS256", "kid": "key-1", "jwk": attacker.jwk }),
        json!({ "alg": "RS256", "x5u": x5u }),
        json!({ "alg": "RS256", "kid": "attacker", "jku": jku, "x5u": x5u }),
        json!({ "alg": "RS256", "x5c": [fake_cert, fake_cert] }),
        json!({ "alg": "RS256", "kid": "key-1", "x5c": [fake_cert] }),
    ] {
        let t = sign_raw(
            &header.to_string(),
            &claims,
            &attacker.encoding,
            jsonwebtoken::Algorithm::RS256,
        );
        assert_eq!(s.get("/beds/hospitals", &t).await.status(), 401, "{header}");
    }
    assert_eq!(s.idp.calls("/attacker-x5u").await, 0, "no outbound fetch");
    assert_eq!(s.idp.calls("/attacker-jku").await, 0, "no outbound fetch");
}

#[tokio::test]
async fn kid_injection_strings_are_refused_and_do_not_flood_the_jwks_endpoint() {
    let s = Stack::start().await;
    let attacker = RsaKey::generate("attacker");
    let claims = s
        .idp
        .access_claims(OPENID_APP, &["beds.read"], T0)
        .to_string();
    let kids = [
        "../../../../etc/passwd",
        "key-1/../key-1",
        "..\\..\\key-1",
        "' OR '1'='1",
        "key-1' --",
        "key-1\u{0}",
        "$(touch /tmp/pwned)",
        "`id`",
        "%6bey-1",
        "KEY-1",
        "key-1 ",
        "file:///dev/null",
        "http://evil.example/jwks",
        "{\"kid\":\"key-1\"}",
        "key-1\r\nx-injected: 1",
    ];
    for kid in kids {
        let h = json!({ "alg": "RS256", "kid": kid }).to_string();
        // Signed by the real key under a lookalike kid: the kid must match exactly.
        let real = sign_raw(
            &h,
            &claims,
            &s.idp.keys[0].encoding,
            jsonwebtoken::Algorithm::RS256,
        );
        assert_eq!(
            s.get("/beds/hospitals", &real).await.status(),
            401,
            "{kid:?}"
        );
        let forged = sign_raw(
            &h,
            &claims,
            &attacker.encoding,
            jsonwebtoken::Algorithm::RS256,
        );
        assert_eq!(
            s.get("/beds/hospitals", &forged).await.status(),
            401,
            "{kid:?}"
        );
    }
    let keys = s.idp.calls("/oauth2/default/v1/keys").await;
    assert!(
        keys <= 2,
        "{keys} JWKS fetches for {} unknown kids",
        kids.len() * 2
    );
}

#[tokio::test]
async fn missing_or_ill_typed_registered_claims_are_refused() {
    let s = Stack::start().await;
    let base = s.idp.access_claims(OPENID_APP, &["beds.read"], T0);
    let edits: Vec<(&str, Value)> = vec![
        ("exp", Value::Null),
        ("exp", json!("1800003600")),
        ("exp", json!(1_800_003_600.5)),
        ("exp", json!(-1)),
        ("exp", json!(true)),
        ("nbf", json!("0")),
        ("nbf", json!([0])),
        ("iat", json!("1800000000")),
        ("iat", json!(1.8e9)),
        ("iss", Value::Null),
        ("iss", json!(["https://evil.example", "x"])),
        ("aud", Value::Null),
        ("aud", json!(7)),
        ("aud", json!([7])),
        ("aud", json!(["api://other", "api://third"])),
        ("aud", json!({ "aud": AUDIENCE })),
        ("sub", json!(7)),
        ("cid", json!(["x"])),
        ("scp", json!(7)),
    ];
    for (claim, value) in edits {
        let mut c = base.clone();
        if value.is_null() {
            c.as_object_mut().unwrap().remove(claim);
        } else {
            c[claim] = value.clone();
        }
        let r = s.get("/beds/hospitals", &s.idp.token(&c)).await;
        assert_eq!(r.status(), 401, "{claim}: {value}");
    }
    // An `aud` array that includes this API's audience is for this API too (RFC 7519 §4.1.3).
    let mut c = base.clone();
    c["aud"] = json!(["api://other", AUDIENCE]);
    assert_eq!(
        s.get("/beds/hospitals", &s.idp.token(&c)).await.status(),
        200
    );
}

#[tokio::test]
async fn scp_and_scope_claims_in_both_shapes() {
    let s = Stack::start().await;
    let base = s.idp.access_claims(OPENID_APP, &[], T0);
    let cases = [
        (json!({ "scp": ["beds.read"] }), 200),
        (json!({ "scp": "openid beds.read" }), 200),
        (json!({ "scope": "openid beds.read" }), 200),
        (json!({ "scope": ["beds.read"] }), 200),
        // `scp` wins over `scope`: scopes are never merged from two claims.
        (json!({ "scp": ["openid"], "scope": "beds.read" }), 403),
        // Not split on commas or other separators.
        (json!({ "scope": "openid,beds.read" }), 403),
        (json!({ "scope": "BEDS.READ" }), 403),
        (json!({}), 403),
    ];
    for (extra, want) in cases {
        let mut c = base.clone();
        c.as_object_mut().unwrap().remove("scp");
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        let r = s.get("/beds/hospitals", &s.idp.token(&c)).await;
        assert_eq!(r.status(), want, "{extra}");
    }
}

#[tokio::test]
async fn duplicate_json_keys_in_a_correctly_signed_header_or_claims_are_refused() {
    let s = Stack::start().await;
    let key = &s.idp.keys[0].encoding;
    let iss = s.idp.issuer();
    let claims = |dup: &str| {
        format!(
            r#"{{"iss":"{iss}","aud":"{AUDIENCE}","iat":{T0},"exp":{},"cid":"{OPENID_APP}","scp":["beds.read"],"sub":"nurse"{dup}}}"#,
            T0 + 3600
        )
    };
    let h = r#"{"alg":"RS256","kid":"key-1"}"#;
    let ok = sign_raw(h, &claims(""), key, jsonwebtoken::Algorithm::RS256);
    assert_eq!(s.get("/beds/hospitals", &ok).await.status(), 200, "control");
    for dup in [
        r#","aud":"api://other""#,
        r#","iss":"https://evil.example""#,
        r#","exp":99999999999"#,
        r#","cid":"admin-app-client""#,
        r#","scp":["beds.reserve"]"#,
        r#","sub":"admin""#,
    ] {
        let t = sign_raw(h, &claims(dup), key, jsonwebtoken::Algorithm::RS256);
        assert_eq!(s.get("/beds/hospitals", &t).await.status(), 401, "{dup}");
    }
    for h in [
        r#"{"alg":"RS256","kid":"key-1","alg":"none"}"#,
        r#"{"alg":"RS256","kid":"key-1","kid":"other"}"#,
    ] {
        let t = sign_raw(h, &claims(""), key, jsonwebtoken::Algorithm::RS256);
        assert_eq!(s.get("/beds/hospitals", &t).await.status(), 401, "{h}");
    }
}

#[tokio::test]
async fn a_jwe_presented_as_a_jws_is_refused() {
    let s = Stack::start().await;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let jwe_header = b64.encode(r#"{"alg":"RSA-OAEP","enc":"A256GCM","kid":"key-1"}"#);
    let five = format!(
        "{jwe_header}.{}.{}.{}.{}",
        b64.encode([1u8; 256]),
        b64.encode([2u8; 12]),
        b64.encode([3u8; 64]),
        b64.encode([4u8; 16])
    );
    assert_eq!(s.get("/beds/hospitals", &five).await.status(), 401);
    // The JWE header on a three-part token, with genuine claims and signature bytes.
    let good = s
        .idp
        .token(&s.idp.access_claims(OPENID_APP, &["beds.read"], T0));
    let (_, rest) = good.split_once('.').unwrap();
    assert_eq!(
        s.get("/beds/hospitals", &format!("{jwe_header}.{rest}"))
            .await
            .status(),
        401
    );
    let dir = b64.encode(r#"{"alg":"dir","enc":"A128CBC-HS256"}"#);
    assert_eq!(
        s.get("/beds/hospitals", &format!("{dir}.{rest}"))
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn oversized_tokens_headers_and_deeply_nested_json_are_refused_without_5xx() {
    let s = Stack::start().await;
    let big = "A".repeat(17 * 1024);
    assert_eq!(s.get("/beds/hospitals", &big).await.status(), 400);
    // A huge header value and very many headers: 4xx from the HTTP layer, never 5xx.
    let huge = format!("X-Pad: {}\r\n", "p".repeat(200 * 1024));
    let st = raw_get(&s, "/beds/hospitals", &huge).await;
    assert!(st == 0 || (400..500).contains(&st), "{st}");
    // A head over 64 KiB never reaches the upstream, even in headers of legal size each.
    let before = s.echo.received.load(std::sync::atomic::Ordering::SeqCst);
    let wide: String = (0..9)
        .map(|i| format!("X-Pad{i}: {}\r\n", "p".repeat(8 * 1024)))
        .collect();
    assert_eq!(raw_get(&s, "/beds/hospitals", &wide).await, 431);
    assert_eq!(
        s.echo.received.load(std::sync::atomic::Ordering::SeqCst),
        before
    );
    let many: String = (0..500).map(|i| format!("X-H{i}: v\r\n")).collect();
    let st = raw_get(&s, "/beds/hospitals", &many).await;
    assert!(st == 0 || (400..500).contains(&st), "{st}");
    // Deeply nested JSON inside a token under the size limit.
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let nested = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    for t in [
        format!("{}.{}.c2ln", b64.encode(&nested), b64.encode("{}")),
        format!(
            "{}.{}.c2ln",
            b64.encode(r#"{"alg":"RS256"}"#),
            b64.encode(format!(r#"{{"aud":{nested}}}"#))
        ),
    ] {
        let st = s.get("/beds/hospitals", &t).await.status();
        assert!(st == 401 || st == 400, "{st}");
    }
    // The gateway still serves.
    let good = s
        .idp
        .token(&s.idp.access_claims(OPENID_APP, &["beds.read"], T0));
    assert_eq!(s.get("/beds/hospitals", &good).await.status(), 200);
}

#[tokio::test]
async fn a_cached_introspection_answer_is_never_reused_for_other_scopes_or_apis() {
    let s = Stack::start().await;
    let token = "opaque-read-only";
    s.idp.activate(token, json!({ "active": true, "client_id": OPENID_APP, "scope": "beds.read", "exp": T0 + 3600, "iat": T0, "aud": AUDIENCE }));
    assert_eq!(s.get("/beds/hospitals", token).await.status(), 200);
    let r = s
        .http
        .post(s.url("/beds/hospitals/h1/wards/icu/reservations"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        403,
        "the cached answer does not open another scope"
    );
    // The Admin API identifies by oauth2_local only: the introspected token is not a credential.
    assert_eq!(s.get("/admin/x", token).await.status(), 401);
    assert_eq!(s.idp.calls(INTROSPECT).await, 1);
}

#[tokio::test]
async fn client_supplied_forwarding_headers_never_reach_the_upstream() {
    client_supplied_forwarding_headers_never_reach_the_upstream_over(Transport::Http).await;
}

#[tokio::test]
async fn client_supplied_forwarding_headers_never_reach_the_upstream_over_tls() {
    client_supplied_forwarding_headers_never_reach_the_upstream_over(Transport::Tls).await;
}

async fn client_supplied_forwarding_headers_never_reach_the_upstream_over(transport: Transport) {
    let s = Stack::start_over(transport).await;
    let token = s
        .idp
        .token(&s.idp.access_claims(OPENID_APP, &["beds.read"], T0));
    let r = s
        .http
        .get(s.url("/beds/hospitals"))
        .bearer_auth(&token)
        .header("X-Forwarded-For", "10.0.0.1")
        .header("X-Forwarded-Host", "admin.internal")
        .header("X-Forwarded-Proto", "https")
        .header("x_forwarded_prefix", "/admin")
        .header("Forwarded", "for=10.0.0.1;host=admin.internal")
        .header("X-Real-IP", "10.0.0.1")
        .header("X-Original-URL", "/admin/secrets")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let echo: Value = r.json().await.unwrap();
    for name in echo["headers"].as_object().unwrap().keys() {
        let n = name.to_ascii_lowercase().replace('_', "-");
        assert!(
            !n.starts_with("x-forwarded")
                && n != "forwarded"
                && n != "x-real-ip"
                && n != "x-original-url",
            "{name} reached the upstream"
        );
    }
    assert_eq!(echo["path"], "/hospitals");
}

#[tokio::test]
async fn raw_path_tricks_never_reach_a_resource_the_token_does_not_open() {
    let s = Stack::start().await;
    // The token opens GET /beds/hospitals only; AdminApp's API is not open to it.
    let token = s
        .idp
        .token(&s.idp.access_claims(OPENID_APP, &["beds.read"], T0));
    let auth = format!("Authorization: Bearer {token}\r\n");
    assert_eq!(raw_get(&s, "/beds/hospitals", &auth).await, 200, "control");
    let tricks = [
        "/beds/hospitals/../../admin/x",
        "/beds/./hospitals",
        "/beds/%2e%2e/admin/x",
        "/beds/%2E%2E/admin/x",
        "/beds/.%2e/admin/x",
        "/beds//hospitals",
        "//beds/hospitals",
        "/beds/hospitals%2f..%2f..%2fadmin%2fx",
        "/beds/hospitals%2F",
        "/beds/hospitals%5c..%5cadmin",
        "/beds\\hospitals",
        "/beds/Hospitals",
        "/BEDS/hospitals",
        "/beds/hospitals.",
        "/beds/hospitals%2e",
        "/beds/hospitals./",
        "/beds/%68ospitals",
        "/beds/hospitals;jsessionid=x",
        "/beds;x=1/hospitals",
        "/beds/hospitals%00",
        "/beds/hospitals%252e%252e/admin",
        "/beds/hospitals/h1/wards/icu/reservations/../../../..",
        "http://evil.example/admin/x",
        "*",
    ];
    refused_before_the_upstream(&s, &tricks, &auth).await;
}

#[tokio::test]
async fn a_cors_preflight_does_not_open_a_protected_resource() {
    let s = Stack::start().await;
    let before = s.echo.received.load(std::sync::atomic::Ordering::SeqCst);
    let r = s
        .http
        .request(http::Method::OPTIONS, s.url("/beds/hospitals"))
        .header("Origin", "https://evil.example")
        .header("Access-Control-Request-Method", "GET")
        .header("Access-Control-Request-Headers", "authorization")
        .send()
        .await
        .unwrap();
    assert!(refused(r.status().as_u16()), "{}", r.status());
    assert!(r.headers().get("access-control-allow-origin").is_none());
    assert!(
        r.headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
    // A simple cross-origin GET without a token is still refused.
    let r = s
        .http
        .get(s.url("/beds/hospitals"))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        s.echo.received.load(std::sync::atomic::Ordering::SeqCst),
        before
    );
}

#[tokio::test]
async fn several_tokens_in_one_request_are_refused() {
    let s = Stack::start().await;
    let good = s
        .idp
        .token(&s.idp.access_claims(OPENID_APP, &["beds.read"], T0));
    for extra in [
        format!("Authorization: Bearer {good}\r\nAuthorization: Bearer {good}\r\n"),
        format!("Authorization: Bearer {good}, Bearer {good}\r\n"),
        format!("Authorization: Bearer {good} {good}\r\n"),
    ] {
        let st = raw_get(&s, "/beds/hospitals", &extra).await;
        assert_eq!(st, 400, "{extra}");
    }
    let st = raw_get(
        &s,
        &format!("/beds/hospitals?access_token={good}"),
        &format!("Authorization: Bearer {good}\r\n"),
    )
    .await;
    assert_eq!(st, 400);
    let st = raw_get(&s, &format!("/beds/hospitals?ACCESS_TOKEN={good}"), "").await;
    assert_eq!(st, 400);
    let bearer = format!("Authorization: Bearer {good}\r\n");
    for target in [
        "/beds/hospitals?x=1&%61ccess_token=zzz",
        "/beds/hospitals?access_token[]=zzz",
        "/beds/hospitals?x=1;access_token=zzz",
    ] {
        assert_eq!(raw_get(&s, target, &bearer).await, 400, "{target}");
    }
    let st = raw_get(&s, "/beds/hospitals", &format!("{bearer}DPoP: eyJ.x.y\r\n")).await;
    assert_eq!(st, 400, "Bearer with a DPoP proof is ambiguous");
}

/// Sends `request` as written on a new connection and returns the status code of the answer.
async fn raw_status(s: &Stack, request: &[u8]) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut c = tokio::net::TcpStream::connect(s.gateway.local_addr())
        .await
        .unwrap();
    c.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out)
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// RFC 9112 §3.2: an HTTP/1.1 request with no `Host`, two, or one that is not `host[:port]` is
/// 400 and reaches no upstream; HTTP/1.0 may omit it; HTTP/2 carries `:authority` instead.
#[tokio::test]
async fn a_request_without_exactly_one_valid_host_is_400() {
    let s = Stack::start().await;
    let token = s
        .idp
        .token(&s.idp.access_claims(OPENID_APP, &["beds.read"], T0));
    let before = s.echo.received.load(std::sync::atomic::Ordering::SeqCst);
    for hosts in [
        "",
        "Host: gw\r\nHost: gw\r\n",
        "Host: gw\r\nHost: other\r\n",
        "Host: \r\n",
        "Host: user@gw\r\n",
        "Host: gw:port\r\n",
        "Host: gw/admin\r\n",
        "Host: gw, other\r\n",
    ] {
        let req = format!(
            "GET /beds/hospitals HTTP/1.1\r\n{hosts}Authorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        );
        assert_eq!(raw_status(&s, req.as_bytes()).await, 400, "{hosts:?}");
    }
    assert_eq!(
        s.echo.received.load(std::sync::atomic::Ordering::SeqCst),
        before,
        "nothing reached the upstream"
    );
    let ok = format!(
        "GET /beds/hospitals HTTP/1.1\r\nHost: gw:8080\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(raw_status(&s, ok.as_bytes()).await, 200);
    let old = format!("GET /beds/hospitals HTTP/1.0\r\nAuthorization: Bearer {token}\r\n\r\n");
    assert_eq!(raw_status(&s, old.as_bytes()).await, 200);
    // HTTP/2 with `:authority` passes: `operations::http2_with_prior_knowledge_is_served_like_http1`.
}

/// Identity and client-address claims other proxies set (`Remote-User`, `CF-Connecting-IP`…)
/// never reach the upstream from a client, in any spelling; `[identity_headers]` adds names to
/// the list (`strip`) and takes them off it (`keep`).
#[tokio::test]
async fn other_proxies_identity_headers_never_reach_the_upstream_and_the_list_is_configurable() {
    const DEFAULT: [&str; 13] = [
        "Remote-User",
        "X-Remote-User",
        "X-User",
        "X-Auth-Request-User",
        "X-Authenticated-User",
        "X-Original-Host",
        "X-Host",
        "Client-IP",
        "X-Cluster-Client-IP",
        "CF-Connecting-IP",
        "Fastly-Client-IP",
        "X-Envoy-External-Address",
        "X-ProxyUser-Ip",
    ];
    async fn received(s: &Stack, extra: &[(&str, &str)]) -> Vec<String> {
        let token = s
            .idp
            .token(&s.idp.access_claims(OPENID_APP, &["beds.read"], T0));
        let mut r = s.http.get(s.url("/beds/hospitals")).bearer_auth(&token);
        for (n, v) in extra {
            r = r.header(*n, *v);
        }
        let r = r.send().await.unwrap();
        assert_eq!(r.status(), 200);
        let echo: Value = r.json().await.unwrap();
        echo["headers"]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.to_ascii_lowercase().replace('_', "-"))
            .collect()
    }
    let s = Stack::start().await;
    let mut sent: Vec<(&str, &str)> = DEFAULT.iter().map(|n| (*n, "admin")).collect();
    sent.push(("remote_user", "admin"));
    sent.push(("X-Employee-Id", "7"));
    let got = received(&s, &sent).await;
    for n in DEFAULT {
        assert!(
            !got.contains(&n.to_ascii_lowercase()),
            "{n} reached the upstream"
        );
    }
    assert!(
        got.contains(&"x-employee-id".to_owned()),
        "not on the default list"
    );

    let s = stack_with(|t| {
        t + "\n[identity_headers]\nstrip = [\"X-Employee-Id\"]\nkeep = [\"Client-IP\"]\n"
    })
    .await;
    let got = received(&s, &sent).await;
    assert!(
        !got.contains(&"x-employee-id".to_owned()),
        "strip adds a name"
    );
    assert!(got.contains(&"client-ip".to_owned()), "keep takes one off");
    assert!(!got.contains(&"remote-user".to_owned()));
    // A `keep` that is not on the default list is a typo, named by its key.
    let e = gateway::config::Config::from_toml(
        &(config_toml(
            "https://as.example/.well-known/openid-configuration",
            "http://127.0.0.1:1",
        ) + "\n[identity_headers]\nkeep = [\"X-Nope\"]\n"),
        &test_env,
    )
    .unwrap_err();
    assert_eq!(e.key, "identity_headers.keep[0]");
}

/// A back end that ignores bodies on GET, reading whatever follows a head as the next request.
struct LaxBackend {
    addr: std::net::SocketAddr,
    heads: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl LaxBackend {
    async fn start() -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = heads.clone();
        tokio::spawn(async move {
            while let Ok((mut c, _)) = l.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while let Ok(n) = c.read(&mut chunk).await {
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        // Every head is a request; nothing after it is skipped as a body.
                        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                            buf.drain(..end + 4);
                            seen.lock().unwrap().push(head);
                            let _ = c
                                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                                .await;
                        }
                    }
                });
            }
        });
        Self { addr, heads }
    }
}

/// A body on GET (or HEAD, TRACE) is 400 by default: a back end that ignores GET bodies would
/// read it as a second request with `x-gateway-*` headers the gateway never set. An API that
/// uses GET bodies turns `allow_get_body` on.
#[tokio::test]
async fn a_body_on_get_is_refused_so_a_lax_back_end_reads_no_smuggled_request() {
    let lax = LaxBackend::start().await;
    let upstream = format!("http://{}", lax.addr);
    let s = stack_with(|t| {
        let mut out = String::new();
        for line in t.lines() {
            if line.starts_with("upstream = ") {
                out.push_str(&format!("upstream = \"{upstream}\"\n"));
            } else {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    })
    .await;
    let token = s
        .idp
        .token(&s.idp.access_claims(OPENID_APP, &["beds.read"], T0));
    let smuggled =
        "GET /hospitals HTTP/1.1\r\nHost: beds\r\nx-gateway-application: AdminApp\r\n\r\n";
    for (method, framing) in [
        ("GET", format!("Content-Length: {}\r\n", smuggled.len())),
        ("HEAD", format!("Content-Length: {}\r\n", smuggled.len())),
        ("GET", "Transfer-Encoding: chunked\r\n".to_owned()),
    ] {
        let body = if framing.contains("chunked") {
            format!("{:x}\r\n{smuggled}\r\n0\r\n\r\n", smuggled.len())
        } else {
            smuggled.to_owned()
        };
        let req = format!(
            "{method} /beds/hospitals HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {token}\r\n{framing}Connection: close\r\n\r\n{body}"
        );
        assert_eq!(
            raw_status(&s, req.as_bytes()).await,
            400,
            "{method} {framing}"
        );
    }
    assert!(
        lax.heads.lock().unwrap().is_empty(),
        "nothing reached the back end: {:?}",
        lax.heads.lock().unwrap()
    );
    // No body, or an empty one, passes.
    let req = format!(
        "GET /beds/hospitals HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {token}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(raw_status(&s, req.as_bytes()).await, 200);
    assert_eq!(lax.heads.lock().unwrap().len(), 1);
    assert!(
        !lax.heads.lock().unwrap()[0].contains("AdminApp"),
        "the one request is the gateway's"
    );

    // The per-API switch forwards GET bodies.
    let s = stack_with(|t| {
        t.replace(
            "name = \"CheckBedAvailability\"\n",
            "name = \"CheckBedAvailability\"\nallow_get_body = true\n",
        )
    })
    .await;
    let token = s
        .idp
        .token(&s.idp.access_claims(OPENID_APP, &["beds.read"], T0));
    let r = s
        .http
        .get(s.url("/beds/hospitals"))
        .bearer_auth(&token)
        .body("{\"query\":{}}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
