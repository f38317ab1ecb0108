//! `acr_values` and `max_age` (step-up): the ID token's `acr`, `amr` and
//! `auth_time` say how and when the user signed in.

use std::time::Duration;

use serde_json::Value;

use crate::support::{WEB_CLIENT_ID, WEB_CLIENT_SECRET, http, start};
use crate::user_support::*;

/// Authorize with a cookie-jar browser; signs in on the login page when asked.
async fn code_for(
    browser: &reqwest::Client,
    idp: &mock_idp::MockIdp,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut params = web_params("openid offline_access", "st-up");
    params.extend_from_slice(extra);
    let url = authorize_url(idp, &params);
    let first = browser.get(&url).send().await.unwrap();
    if first.status() != 200 {
        return first;
    }
    let form = open_login(browser, &url).await;
    submit(browser, &form, USER_LOGIN, USER_PASSWORD).await
}

async fn id_token_claims(idp: &mock_idp::MockIdp, response: &reqwest::Response) -> (Value, Value) {
    let code = query(&location(response))["code"].clone();
    let tokens: Value = redeem_web(idp, &code, &[]).await.json().await.unwrap();
    let claims = verify_id_token(idp, tokens["id_token"].as_str().unwrap(), WEB_CLIENT_ID).await;
    (claims, tokens)
}

#[tokio::test]
async fn acr_values_and_max_age_shape_acr_amr_and_auth_time_in_id_tokens() {
    let idp = start().await;
    let t0 = 1_900_000_000;
    idp.clock().freeze_at(t0);
    let browser = browser_like();

    // No acr_values: no acr claim.
    let (claims, _) = id_token_claims(&idp, &code_for(&browser, &idp, &[]).await).await;
    assert!(claims.get("acr").is_none(), "{claims}");
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    assert_eq!(claims["auth_time"], t0);

    // A password login meets 1fa:pwd; the session is reused, auth_time stays.
    idp.clock().advance(Duration::from_secs(30));
    let response = code_for(&browser, &idp, &[("acr_values", "urn:okta:loa:1fa:pwd")]).await;
    let (claims, tokens) = id_token_claims(&idp, &response).await;
    assert_eq!(claims["acr"], "urn:okta:loa:1fa:pwd");
    assert_eq!(claims["auth_time"], t0);
    // A refreshed ID token says the same.
    let refreshed: Value = http()
        .post(idp.token_endpoint())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", WEB_CLIENT_ID),
            ("client_secret", WEB_CLIENT_SECRET),
            ("scope", "openid offline_access"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let again = verify_id_token(&idp, refreshed["id_token"].as_str().unwrap(), WEB_CLIENT_ID).await;
    assert_eq!(again["acr"], "urn:okta:loa:1fa:pwd");

    // max_age shorter than the session's age: a fresh login, a later auth_time.
    idp.clock().advance(Duration::from_secs(90));
    let response = code_for(
        &browser,
        &idp,
        &[
            ("max_age", "60"),
            ("acr_values", "urn:okta:loa:2fa:any:ifpossible"),
        ],
    )
    .await;
    assert_eq!(response.status(), 303, "the login page was shown");
    let (claims, _) = id_token_claims(&idp, &response).await;
    assert_eq!(claims["auth_time"], t0 + 120);
    assert_eq!(claims["acr"], "urn:okta:loa:2fa:any:ifpossible");
}

#[tokio::test]
async fn acr_values_a_password_cannot_meet_are_errors_and_unknown_ones_are_ignored() {
    let idp = start().await;
    for (acr, error) in [
        ("urn:okta:loa:2fa:any", "unmet_authentication_requirements"),
        ("phr", "unmet_authentication_requirements"),
    ] {
        let mut params = web_params("openid", "st-acr");
        params.push(("acr_values", acr));
        let response = get(&authorize_url(&idp, &params)).await;
        let answer = query(&location(&response));
        assert_eq!(answer["error"], error, "{acr}");
        assert_eq!(answer["state"], "st-acr");
        assert!(!answer.contains_key("code"));
    }
    // Not Okta's classes: voluntary, ignored (no acr claim).
    let mut params = web_params("openid", "st-acr");
    params.push(("acr_values", "urn:mace:incommon:iap:silver"));
    let response = authorize_with_session_token(&idp, &params).await;
    let code = query(&location(&response))["code"].clone();
    let tokens: Value = redeem_web(&idp, &code, &[]).await.json().await.unwrap();
    let claims = verify_id_token(&idp, tokens["id_token"].as_str().unwrap(), WEB_CLIENT_ID).await;
    assert!(claims.get("acr").is_none(), "{claims}");
}
