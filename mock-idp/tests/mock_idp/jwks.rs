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

/// Keys are generated while the server already answers: requests sent the
/// moment `start` returns wait for the key they need, and what they get
/// belongs together (the token verifies against the JWKS served alongside it).
#[tokio::test]
async fn requests_sent_as_start_returns_wait_for_a_key_that_verifies_their_tokens() {
    let idp = start().await;
    let client = http();
    let (jwks, token, org_jwks, discovery) = tokio::join!(
        client.get(idp.jwks_uri()).send(),
        access_token(&idp, "beds.read"),
        client
            .get(format!("{}/oauth2/v1/keys", idp.base_url()))
            .send(),
        client.get(idp.discovery_url()).send(),
    );
    let (jwks, org_jwks, discovery) = (jwks.unwrap(), org_jwks.unwrap(), discovery.unwrap());
    for response in [&jwks, &org_jwks, &discovery] {
        assert_eq!(response.status(), 200, "{}", response.url());
    }
    let jwks: Value = jwks.json().await.unwrap();
    let kid = crate::support::decode_parts(&token).0["kid"].clone();
    assert_eq!(jwks["keys"][0]["kid"], kid, "{jwks}");
    verify_independently(&idp.jwks_uri(), &token, &idp.issuer(), "api://default").await;
}

/// Library calls made right after start wait for the key too (blocking, as
/// they are not async), and rotating then keeps the first key published.
#[tokio::test]
async fn the_signing_key_and_rotation_are_usable_right_after_start() {
    let idp = start().await;
    let first = idp.signing_key();
    let minted = idp
        .mint_access_token(crate::support::SERVICE_CLIENT_ID, &["beds.read"])
        .unwrap();
    assert_eq!(crate::support::decode_parts(&minted).0["kid"], first.kid());
    let next = idp.rotate_keys().await.unwrap();
    assert_ne!(next.kid(), first.kid());
    verify_independently(&idp.jwks_uri(), &minted, &idp.issuer(), "api://default").await;
}

/// Each mock generates keys of its own: tests never share signing keys.
#[tokio::test]
async fn every_mock_and_every_server_signs_with_a_key_of_its_own() {
    let (a, b) = tokio::join!(start(), start());
    let mut kids = Vec::new();
    for idp in [&a, &b] {
        for uri in [idp.jwks_uri(), format!("{}/oauth2/v1/keys", idp.base_url())] {
            let jwks = crate::support::get_json(&uri).await;
            kids.push(jwks["keys"][0]["kid"].as_str().unwrap().to_owned());
        }
    }
    let distinct: std::collections::HashSet<&String> = kids.iter().collect();
    assert_eq!(distinct.len(), kids.len(), "{kids:?}");
}
