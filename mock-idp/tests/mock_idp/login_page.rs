//! The login page, sessions and auto-login, driven over HTTP with a cookie
//! jar (the Chromium test in browser.rs drives the same page for real).

use std::time::Duration;

use serde_json::Value;

use crate::support::{WEB_CLIENT_ID, start, start_with};
use crate::user_support::*;

pub(crate) async fn id_token_claims(
    idp: &mock_idp::MockIdp,
    response: &reqwest::Response,
) -> Value {
    let code = query(&location(response))["code"].clone();
    let tokens: Value = redeem_web(idp, &code, &[]).await.json().await.unwrap();
    verify_id_token(idp, tokens["id_token"].as_str().unwrap(), WEB_CLIENT_ID).await
}

#[tokio::test]
async fn login_page_shows_labels_and_the_client_name_and_logs_in_with_a_303() {
    let idp = start().await;
    let client = browser_like();
    let url = authorize_url(&idp, &web_params("openid profile", "s"));
    let body = client.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(body.contains("<label for=\"username\">Username</label>"));
    assert!(body.contains("<label for=\"password\">Password</label>"));
    assert!(body.contains("OpenIDApp"), "the client's name is shown");
    assert!(!body.contains("<script"), "no JavaScript needed");
    let form = open_login(&client, &url).await;
    let response = submit(&client, &form, USER_LOGIN, USER_PASSWORD).await;
    assert_eq!(
        response.status(),
        303,
        "AUTHZ-20: 303 after the credential POST"
    );
    let claims = id_token_claims(&idp, &response).await;
    assert_eq!(claims["sub"], USER_ID);
}

#[tokio::test]
async fn bad_credentials_show_a_clear_error_and_the_page_again() {
    let idp = start().await;
    let client = browser_like();
    let form = open_login(&client, &authorize_url(&idp, &web_params("openid", "s"))).await;
    let response = submit(&client, &form, "<b>alex</b>", "wrong").await;
    assert_eq!(response.status(), 401);
    assert!(response.headers().get("location").is_none());
    let body = response.text().await.unwrap();
    assert!(body.contains("role=\"alert\""));
    assert!(
        body.contains("the username or password is incorrect"),
        "{body}"
    );
    assert!(
        body.contains("value=\"&lt;b&gt;alex&lt;/b&gt;\""),
        "escaped: {body}"
    );
    assert!(!body.contains("<b>alex</b>"));
    // The same form then works with the right password.
    let response = submit(&client, &form, USER_LOGIN, USER_PASSWORD).await;
    assert_eq!(response.status(), 303);
}

#[tokio::test]
async fn authz_26_the_login_form_is_csrf_protected() {
    let idp = start().await;
    let client = browser_like();
    let form = open_login(&client, &authorize_url(&idp, &web_params("openid", "s"))).await;
    let forged = LoginForm {
        csrf: "forged".into(),
        ..form
    };
    assert_eq!(
        submit(&client, &forged, USER_LOGIN, USER_PASSWORD)
            .await
            .status(),
        403
    );
    // The right form token from a browser without the cookie is refused too.
    let form = open_login(&client, &authorize_url(&idp, &web_params("openid", "s"))).await;
    let response = submit(&crate::support::http(), &form, USER_LOGIN, USER_PASSWORD).await;
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn authz_13_cancel_on_the_login_page_is_access_denied() {
    let idp = start().await;
    let client = browser_like();
    let form = open_login(&client, &authorize_url(&idp, &web_params("openid", "s"))).await;
    let response = client
        .post(&form.action)
        .form(&[
            ("transaction", form.transaction.as_str()),
            ("csrf", form.csrf.as_str()),
            ("action", "cancel"),
        ])
        .send()
        .await
        .unwrap();
    let q = query(&location(&response));
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "s");
}

#[tokio::test]
async fn oidc_05_08_a_session_skips_the_login_page_and_keeps_auth_time() {
    let idp = start().await;
    let client = browser_like();
    let url = authorize_url(&idp, &web_params("openid", "s"));
    let form = open_login(&client, &url).await;
    let first = id_token_claims(
        &idp,
        &submit(&client, &form, USER_LOGIN, USER_PASSWORD).await,
    )
    .await;
    idp.clock().advance(Duration::from_secs(120));
    let mut params = web_params("openid", "s");
    params.push(("prompt", "none"));
    params.push(("max_age", "10000"));
    let response = client
        .get(authorize_url(&idp, &params))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let second = id_token_claims(&idp, &response).await;
    assert_eq!(second["sub"], first["sub"]);
    assert_eq!(second["auth_time"], first["auth_time"]);
}

#[tokio::test]
async fn oidc_06_07_prompt_login_and_max_age_force_a_new_login_with_a_later_auth_time() {
    let idp = start().await;
    let client = browser_like();
    let url = authorize_url(&idp, &web_params("openid", "s"));
    let form = open_login(&client, &url).await;
    let first = id_token_claims(
        &idp,
        &submit(&client, &form, USER_LOGIN, USER_PASSWORD).await,
    )
    .await;
    idp.clock().advance(Duration::from_secs(5));
    let mut params = web_params("openid", "s");
    params.push(("prompt", "login"));
    let form = open_login(&client, &authorize_url(&idp, &params)).await;
    let second = id_token_claims(
        &idp,
        &submit(&client, &form, USER_LOGIN, USER_PASSWORD).await,
    )
    .await;
    assert!(second["auth_time"].as_i64() > first["auth_time"].as_i64());
    idp.clock().advance(Duration::from_secs(5));
    let mut params = web_params("openid", "s");
    params.push(("max_age", "1"));
    let form = open_login(&client, &authorize_url(&idp, &params)).await;
    let third = id_token_claims(
        &idp,
        &submit(&client, &form, USER_LOGIN, USER_PASSWORD).await,
    )
    .await;
    assert!(third["auth_time"].as_i64() > second["auth_time"].as_i64());
    // max_age with prompt=none and a stale session: login_required.
    idp.clock().advance(Duration::from_secs(5));
    let mut params = web_params("openid", "s");
    params.push(("max_age", "1"));
    params.push(("prompt", "none"));
    let response = client
        .get(authorize_url(&idp, &params))
        .send()
        .await
        .unwrap();
    assert_eq!(query(&location(&response))["error"], "login_required");
}

#[tokio::test]
async fn the_session_expires_with_the_clock() {
    let idp = start().await;
    let client = browser_like();
    let form = open_login(&client, &authorize_url(&idp, &web_params("openid", "s"))).await;
    submit(&client, &form, USER_LOGIN, USER_PASSWORD).await;
    idp.clock().advance(Duration::from_secs(7201));
    let mut params = web_params("openid", "s");
    params.push(("prompt", "none"));
    let response = client
        .get(authorize_url(&idp, &params))
        .send()
        .await
        .unwrap();
    assert_eq!(query(&location(&response))["error"], "login_required");
}

#[tokio::test]
async fn auto_login_clients_get_a_code_without_any_page() {
    let idp = start().await;
    let params = [
        ("client_id", TEST_CLIENT_ID),
        ("response_type", "code"),
        ("scope", "openid"),
        ("redirect_uri", WEB_REDIRECT),
        ("state", "s"),
    ];
    let response = get(&authorize_url(&idp, &params)).await;
    assert_eq!(response.status(), 302);
    assert!(query(&location(&response)).contains_key("code"));
}

#[tokio::test]
async fn auto_login_by_server_config_and_escaped_client_names() {
    let idp = start_with(
        r#"
[[clients]]
client_id = "0oa7ms2evil0000x7d9"
client_name = "<script>alert(1)</script> & Co"
grant_types = ["authorization_code"]
redirect_uris = ["http://localhost:9999/cb"]
token_endpoint_auth_method = "none"
"#,
    )
    .await;
    let (_, challenge) = pkce();
    let params = [
        ("client_id", "0oa7ms2evil0000x7d9"),
        ("response_type", "code"),
        ("scope", "openid"),
        ("redirect_uri", "http://localhost:9999/cb"),
        ("state", "s"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let body = get(&authorize_url(&idp, &params))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        body.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co"),
        "{body}"
    );
    assert!(!body.contains("<script>alert(1)"));

    let text = mock_idp::config::DEFAULT_CONFIG_TOML.replace(
        "# auto_login = \"alex.nurse@example.com\"",
        "auto_login = \"alex.nurse@example.com\"",
    );
    let idp = mock_idp::MockIdp::builder()
        .config_toml(&text)
        .unwrap()
        .start()
        .await
        .unwrap();
    let response = get(&authorize_url(&idp, &web_params("openid", "s"))).await;
    assert_eq!(response.status(), 302);
    assert!(query(&location(&response)).contains_key("code"));
}
