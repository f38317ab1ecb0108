//! JWKS: the published keys, their cache headers, and rotation.

use serde_json::Value;

use crate::support::{access_token, http, introspect, start, verify_independently};

#[tokio::test]
async fn jwks_keys_have_oktas_members_and_cache_headers() {
    let idp = start().await;
    let response = http().get(idp.jwks_uri()).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let cache = response.headers()["cache-control"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cache.starts_with("max-age=") && cache.ends_with(", must-revalidate"),
        "{cache}"
    );
    assert!(response.headers().contains_key("expires"));
    let jwks: Value = response.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert!(!keys.is_empty());
    for key in keys {
        assert_eq!(key["kty"], "RSA");
        assert_eq!(key["alg"], "RS256");
        assert_eq!(key["use"], "sig");
        assert_eq!(key["e"], "AQAB");
        assert!(key["n"].as_str().unwrap().len() >= 342, "2048-bit modulus");
        let kid = key["kid"].as_str().unwrap();
        assert!(
            !kid.contains(['-', '_']),
            "kid safe for okta-jwt-verifier-golang: {kid}"
        );
        assert!(
            key.get("d").is_none() && key.get("p").is_none(),
            "no private members"
        );
    }
}

#[tokio::test]
async fn jwks_rotation_signs_with_the_new_key_and_keeps_the_old_one_published() {
    let idp = start().await;
    let before = access_token(&idp, "beds.read").await;
    let old_kid = crate::support::decode_parts(&before).0["kid"].clone();
    let new_key = idp.rotate_keys().await.unwrap();
    let after = access_token(&idp, "beds.read").await;
    assert_eq!(crate::support::decode_parts(&after).0["kid"], new_key.kid());
    assert_ne!(old_kid, new_key.kid());
    let jwks: Value = http()
        .get(idp.jwks_uri())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids: Vec<&Value> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| &k["kid"])
        .collect();
    assert!(
        kids.contains(&&old_kid) && kids.iter().any(|k| *k == new_key.kid()),
        "{jwks}"
    );
    // Tokens signed before the rotation still verify and introspect active.
    verify_independently(&idp.jwks_uri(), &before, &idp.issuer(), "api://default").await;
    assert_eq!(introspect(&idp, &before).await["active"], true);
    verify_independently(&idp.jwks_uri(), &after, &idp.issuer(), "api://default").await;
}
