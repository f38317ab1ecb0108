//! Device authorization (RFC 8628): `/v1/device/authorize`, the token
//! endpoint's polling answers on the mock clock, the verification page in
//! headless Chromium, the control API's approve/deny, and discovery.

use fantoccini::Locator;
use serde_json::{Value, json};

use crate::support::{
    expect_oauth_error, get_json, http, post_json, python_peer_summary, python_with, start,
    start_with, verify_independently,
};
use crate::user_support::{USER_ID, USER_LOGIN, USER_PASSWORD};

const TV_CLIENT_ID: &str = "0oa7ms2bedtv0000x7d5";
const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

async fn device_authorize(endpoint: &str, client_id: &str, scope: &str) -> reqwest::Response {
    http()
        .post(endpoint)
        .form(&[("client_id", client_id), ("scope", scope)])
        .send()
        .await
        .unwrap()
}

async fn poll(idp: &mock_idp::MockIdp, device_code: &str) -> reqwest::Response {
    http()
        .post(idp.token_endpoint())
        .form(&[
            ("grant_type", GRANT),
            ("device_code", device_code),
            ("client_id", TV_CLIENT_ID),
        ])
        .send()
        .await
        .unwrap()
}

fn device_endpoint(idp: &mock_idp::MockIdp) -> String {
    format!("{}/v1/device/authorize", idp.issuer())
}

#[tokio::test]
async fn device_flow_with_python_requests_polls_slows_down_and_ends_approved_denied_or_expired() {
    let Some(python) = python_with("device flow", &["requests"]) else {
        return;
    };
    let idp = start().await;
    idp.clock().freeze_at(idp.clock().now());
    let issuer = idp.issuer();
    let seen = python_peer_summary(
        &python,
        "device_flow.py",
        &[&issuer, TV_CLIENT_ID, USER_LOGIN],
    )
    .await;
    assert_eq!(
        seen["approved"],
        json!([
            "authorization_pending",
            "slow_down",
            "authorization_pending"
        ])
    );
    assert_eq!(seen["denied"][0], "authorization_pending");
    assert_eq!(seen["expired"], true);
}

#[tokio::test]
async fn device_tokens_name_the_approving_user_and_verify_with_the_jwks() {
    let idp = start().await;
    let device: Value = device_authorize(&device_endpoint(&idp), TV_CLIENT_ID, "openid profile")
        .await
        .json()
        .await
        .unwrap();
    let decided = post_json(
        &format!("{}/__mock/device", idp.base_url()),
        &json!({"user_code": device["user_code"].as_str().unwrap().to_lowercase(), "action": "approve", "user": USER_LOGIN}),
    )
    .await;
    assert_eq!(decided["status"], "approved");
    let response = poll(&idp, device["device_code"].as_str().unwrap()).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let claims = verify_independently(
        &idp.jwks_uri(),
        body["id_token"].as_str().unwrap(),
        &idp.issuer(),
        TV_CLIENT_ID,
    )
    .await;
    assert_eq!(claims["sub"], USER_ID);
    assert!(
        body.get("refresh_token").is_none(),
        "no offline_access asked"
    );
}

#[tokio::test]
async fn device_authorize_on_the_org_server_and_discovery_advertise_it() {
    let idp = start().await;
    for issuer in [idp.issuer(), idp.org_issuer()] {
        let doc = get_json(&format!("{issuer}/.well-known/openid-configuration")).await;
        let endpoint = format!(
            "{}/v1/device/authorize",
            if issuer == idp.org_issuer() {
                format!("{issuer}/oauth2")
            } else {
                issuer.clone()
            }
        );
        assert_eq!(doc["device_authorization_endpoint"], endpoint.as_str());
        assert!(
            doc["grant_types_supported"]
                .as_array()
                .unwrap()
                .contains(&json!(GRANT)),
            "{doc}"
        );
        let response = device_authorize(&endpoint, TV_CLIENT_ID, "openid").await;
        assert_eq!(response.status(), 200, "{endpoint}");
    }
}

#[tokio::test]
async fn device_grant_needs_the_client_grant_type_and_a_policy_that_allows_it() {
    let idp = start_with(
        r#"
[[clients]]
client_id = "0oa7ms2tvnopolicy0x9"
client_name = "TV without a policy"
application_type = "native"
grant_types = ["urn:ietf:params:oauth:grant-type:device_code"]
response_types = []
token_endpoint_auth_method = "none"
"#,
    )
    .await;
    // The web client is not registered for the grant.
    let response = device_authorize(
        &device_endpoint(&idp),
        crate::support::WEB_CLIENT_ID,
        "openid",
    )
    .await;
    // (a confidential client without its secret is not authenticated at all)
    assert_eq!(response.status(), 401);
    let spa = device_authorize(&device_endpoint(&idp), "0oa7ms2bedspa000x7d3", "openid").await;
    expect_oauth_error(spa, 400, "unauthorized_client").await;
    let unknown_scope = device_authorize(&device_endpoint(&idp), TV_CLIENT_ID, "nope").await;
    expect_oauth_error(unknown_scope, 400, "invalid_scope").await;
    let no_scope = device_authorize(&device_endpoint(&idp), TV_CLIENT_ID, "").await;
    expect_oauth_error(no_scope, 400, "invalid_scope").await;
    // The default server's policy names its grant types; a client it does
    // not cover is refused as Okta refuses it.
    let idp = start_with(
        r#"
[[clients]]
client_id = "0oa7ms2tvnopolicy0x9"
application_type = "native"
grant_types = ["urn:ietf:params:oauth:grant-type:device_code"]
response_types = []
token_endpoint_auth_method = "none"

[[authorization_servers]]
id = "tv-less"
[[authorization_servers.policies]]
name = "No devices"
grant_types = ["authorization_code"]
"#,
    )
    .await;
    let endpoint = format!("{}/oauth2/tv-less/v1/device/authorize", idp.base_url());
    let refused = device_authorize(&endpoint, "0oa7ms2tvnopolicy0x9", "openid").await;
    expect_oauth_error(refused, 401, "access_denied").await;
}

#[tokio::test]
async fn device_code_polled_by_another_client_or_unknown_is_invalid_grant() {
    let idp = start().await;
    let device: Value = device_authorize(&device_endpoint(&idp), TV_CLIENT_ID, "openid")
        .await
        .json()
        .await
        .unwrap();
    let other = http()
        .post(idp.token_endpoint())
        .form(&[
            ("grant_type", GRANT),
            ("device_code", device["device_code"].as_str().unwrap()),
            ("client_id", "0oa7ms2tvother000x9"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        other.status(),
        401,
        "an unknown client is not authenticated"
    );
    let unknown = poll(&idp, "5cbeb234-7e00-4ff7-9aa2-b1a4558a75d2").await;
    expect_oauth_error(unknown, 400, "invalid_grant").await;
    let unknown_code = http()
        .post(format!("{}/__mock/device", idp.base_url()))
        .json(&json!({"user_code": "BCDFGHJK", "action": "deny"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown_code.status(), 404);
    let no_user = http()
        .post(format!("{}/__mock/device", idp.base_url()))
        .json(&json!({"user_code": device["user_code"], "action": "approve"}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_user.status(), 400);
}

#[tokio::test]
async fn device_verification_page_in_headless_chromium_signs_in_and_approves() {
    let Some(session) = crate::browser::Browser::start().await else {
        return;
    };
    let idp = start().await;
    let device: Value = device_authorize(&device_endpoint(&idp), TV_CLIENT_ID, "openid")
        .await
        .json()
        .await
        .unwrap();
    let browser = session.client.clone();
    let result = approve_in_browser(&browser, &idp, &device).await;
    session.close().await;
    result.unwrap_or_else(|e| panic!("verification page: {e}"));
    let response = poll(&idp, device["device_code"].as_str().unwrap()).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let (_, claims) = crate::support::decode_parts(body["id_token"].as_str().unwrap());
    assert_eq!(claims["sub"], USER_ID);
}

async fn approve_in_browser(
    browser: &fantoccini::Client,
    idp: &mock_idp::MockIdp,
    device: &Value,
) -> Result<(), String> {
    let err = |e: fantoccini::error::CmdError| e.to_string();
    let user_code = device["user_code"].as_str().unwrap();
    // The user types the code (lower case, with a dash) on the plain page.
    browser
        .goto(device["verification_uri"].as_str().unwrap())
        .await
        .map_err(err)?;
    let typed = format!("{}-{}", &user_code[..4], &user_code[4..]).to_lowercase();
    browser
        .find(Locator::Css("#user_code"))
        .await
        .map_err(err)?
        .send_keys(&typed)
        .await
        .map_err(err)?;
    browser
        .find(Locator::Css("#next"))
        .await
        .map_err(err)?
        .click()
        .await
        .map_err(err)?;
    // Not signed in: the login page.
    let username = browser
        .wait()
        .for_element(Locator::Css("#username"))
        .await
        .map_err(err)?;
    if !browser.source().await.map_err(err)?.contains("Ward TV") {
        return Err("the device client's name is not on the login page".into());
    }
    username.send_keys(USER_LOGIN).await.map_err(err)?;
    browser
        .find(Locator::Css("#password"))
        .await
        .map_err(err)?
        .send_keys(USER_PASSWORD)
        .await
        .map_err(err)?;
    browser
        .find(Locator::Css("#sign-in"))
        .await
        .map_err(err)?
        .click()
        .await
        .map_err(err)?;
    // Signed in: allow or deny.
    let approve = browser
        .wait()
        .for_element(Locator::Css("#confirm:not([hidden]) #approve"))
        .await
        .map_err(err)?;
    let login = browser
        .find(Locator::Css("#login"))
        .await
        .map_err(err)?
        .text()
        .await
        .map_err(err)?;
    if login != USER_LOGIN {
        return Err(format!("the confirmation names {login:?}"));
    }
    // Before approval the device is still told to wait.
    let pending = poll(idp, device["device_code"].as_str().unwrap()).await;
    let pending: Value = pending.json().await.unwrap();
    if pending["error"] != "authorization_pending" {
        return Err(format!("before approval: {pending}"));
    }
    idp.clock().advance(std::time::Duration::from_secs(5));
    approve.click().await.map_err(err)?;
    let title = browser
        .wait()
        .for_element(Locator::Css("#done:not([hidden]) #done-title"))
        .await
        .map_err(err)?
        .text()
        .await
        .map_err(err)?;
    if title != "Device activated" {
        return Err(format!("after approval: {title:?}"));
    }
    Ok(())
}
