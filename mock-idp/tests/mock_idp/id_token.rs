//! IDT: ID tokens checked by an independent verifier (jsonwebtoken against
//! the JWKS fetched over HTTP; at_hash recomputed here).

use serde_json::Value;

use crate::support::{WEB_CLIENT_ID, decode_parts, introspect, start};
use crate::user_support::*;

#[tokio::test]
async fn idt_01_to_13_id_token_has_oktas_claims_and_verifies_independently() {
    let idp = start().await;
    let token = session_token(&idp).await;
    let mut params = web_params("openid profile email", "s");
    params.push(("nonce", "n-0S6_WzA2Mj"));
    params.push(("max_age", "600"));
    params.push(("sessionToken", &token));
    let code = query(&location(&get(&authorize_url(&idp, &params)).await))["code"].clone();
    let tokens: Value = redeem_web(&idp, &code, &[]).await.json().await.unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();
    let access_token = tokens["access_token"].as_str().unwrap();

    let (header, _) = decode_parts(id_token);
    assert_eq!(header["alg"], "RS256");
    assert!(header["kid"].is_string());
    let claims = verify_id_token(&idp, id_token, WEB_CLIENT_ID).await;
    assert_eq!(claims["sub"], USER_ID, "sub is the user id, not the login");
    assert_eq!(claims["aud"], WEB_CLIENT_ID);
    assert_eq!(claims["iss"], idp.issuer());
    assert_eq!(claims["ver"], 1);
    assert!(claims["jti"].as_str().unwrap().starts_with("ID."));
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    let idp_claim = claims["idp"].as_str().unwrap();
    assert!(
        idp_claim.starts_with("00o") && idp_claim.len() == 20,
        "{idp_claim}"
    );
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(claims["name"], "Alex Nurse");
    assert_eq!(claims["email"], USER_LOGIN);
    assert_eq!(claims["preferred_username"], USER_LOGIN);
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert_eq!(exp - iat, 3600);
    let auth_time = claims["auth_time"].as_i64().unwrap();
    assert!(auth_time <= iat);
    assert_eq!(claims["at_hash"], half_hash(access_token), "IDT-11 at_hash");
    assert!(claims.get("c_hash").is_none());
    assert!(claims.get("nbf").is_none());
    // IDT-16: with an access token, profile details stay in /userinfo.
    assert!(claims.get("given_name").is_none() && claims.get("zoneinfo").is_none());
    let (_, at) = decode_parts(access_token);
    assert_eq!(at["auth_time"].as_i64().unwrap(), auth_time);
}

#[tokio::test]
async fn idt_08_nonce_is_absent_when_none_was_sent() {
    let idp = start().await;
    let tokens = web_tokens(&idp, "openid").await;
    let claims = verify_id_token(&idp, tokens["id_token"].as_str().unwrap(), WEB_CLIENT_ID).await;
    assert!(claims.get("nonce").is_none());
    // Without profile/email, no profile claims either.
    assert!(claims.get("name").is_none() && claims.get("email").is_none());
}

#[tokio::test]
async fn oidc_01_no_openid_scope_no_id_token() {
    let idp = start().await;
    let tokens = web_tokens(&idp, "profile").await;
    assert!(tokens.get("id_token").is_none());
    assert!(tokens["access_token"].is_string());
}

#[tokio::test]
async fn intro_id_tokens_introspect_with_their_claims() {
    let idp = start().await;
    let tokens = web_tokens(&idp, "openid profile").await;
    let body = introspect(&idp, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(body["active"], true);
    assert_eq!(body["sub"], USER_ID);
    assert_eq!(body["aud"], WEB_CLIENT_ID);
    assert_eq!(body["username"], USER_LOGIN);
}
