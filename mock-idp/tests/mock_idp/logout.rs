//! Logout: `id_token_hint`, registered `post_logout_redirect_uri`, `state`,
//! and the session ends.

use serde_json::Value;

use crate::support::start;
use crate::user_support::*;

async fn session_and_id_token(idp: &mock_idp::MockIdp, client: &reqwest::Client) -> String {
    let token = session_token(idp).await;
    let mut params = web_params("openid", "s");
    params.push(("sessionToken", &token));
    let response = client
        .get(authorize_url(idp, &params))
        .send()
        .await
        .unwrap();
    let code = query(&location(&response))["code"].clone();
    let tokens: Value = redeem_web(idp, &code, &[]).await.json().await.unwrap();
    tokens["id_token"].as_str().unwrap().to_owned()
}

fn logout_url(idp: &mock_idp::MockIdp, params: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&format!("{}/v1/logout", idp.issuer())).unwrap();
    url.query_pairs_mut().extend_pairs(params);
    url.to_string()
}

#[tokio::test]
async fn logout_ends_the_session_and_redirects_with_state() {
    let idp = start().await;
    let client = browser_like();
    let id_token = session_and_id_token(&idp, &client).await;
    let mut none = web_params("openid", "s");
    none.push(("prompt", "none"));
    let response = client.get(authorize_url(&idp, &none)).send().await.unwrap();
    assert!(
        query(&location(&response)).contains_key("code"),
        "session is live"
    );

    let response = client
        .get(logout_url(
            &idp,
            &[
                ("id_token_hint", &id_token),
                ("post_logout_redirect_uri", POST_LOGOUT),
                ("state", "bye"),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let url = location(&response);
    assert_eq!(url.as_str(), format!("{POST_LOGOUT}?state=bye"));

    let response = client.get(authorize_url(&idp, &none)).send().await.unwrap();
    assert_eq!(query(&location(&response))["error"], "login_required");
}

#[tokio::test]
async fn logout_refuses_unregistered_post_logout_uris_and_missing_hints() {
    let idp = start().await;
    let client = browser_like();
    let id_token = session_and_id_token(&idp, &client).await;
    let response = client
        .get(logout_url(
            &idp,
            &[
                ("id_token_hint", &id_token),
                ("post_logout_redirect_uri", "https://evil.example/"),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    let response = client.get(logout_url(&idp, &[])).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let response = client
        .get(logout_url(&idp, &[("id_token_hint", "not.a.jwt")]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn logout_by_post_accepts_an_expired_hint() {
    let idp = start().await;
    let client = browser_like();
    let id_token = session_and_id_token(&idp, &client).await;
    idp.clock().advance(std::time::Duration::from_secs(7200));
    let response = client
        .post(format!("{}/v1/logout", idp.issuer()))
        .form(&[
            ("id_token_hint", id_token.as_str()),
            ("post_logout_redirect_uri", POST_LOGOUT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
}
