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
