//! Attacks from the landscape notes (§5): algorithm confusion, `none`, key selection, claims.

use base64::Engine as _;
use serde_json::json;

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
    let s = Stack::start().await;
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
