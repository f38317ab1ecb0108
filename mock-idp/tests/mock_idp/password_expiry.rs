//! Expired passwords in the authn API and on the login page: `PASSWORD_EXPIRED`
//! (seeded by the config or set by `expire_password`) and `PASSWORD_WARN`,
//! changed through `/api/v1/authn/credentials/change_password`.

use serde_json::{Value, json};

use crate::management_support::{authn, get, post};
use crate::support::{http, start, start_with};
use crate::user_support::*;

const NEW_PASSWORD: &str = "Brand-New-Passw0rd";

const EXPIRING_USERS: &str = r#"
[[users]]
login = "pat.expired@example.com"
password = "Expired-Passw0rd-1"
password_expired = true

[[users]]
login = "kim.warned@example.com"
password = "Warned-Passw0rd-1"
password_expires_in_days = 3
"#;

async fn authn_call(idp: &mock_idp::MockIdp, path: &str, body: Value) -> (u16, Value) {
    let response = http()
        .post(format!("{}/api/v1/authn{path}", idp.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

fn link(body: &Value, name: &str, path: &str, idp: &mock_idp::MockIdp) {
    let link = &body["_links"][name];
    assert_eq!(
        link["href"],
        format!("{}/api/v1/authn{path}", idp.base_url()),
        "{body}"
    );
    assert_eq!(link["hints"]["allow"], json!(["POST"]));
}

#[tokio::test]
async fn a_configured_expired_password_is_password_expired_then_changed_to_success() {
    let idp = start_with(EXPIRING_USERS).await;
    let (status, body) = authn(&idp, "pat.expired@example.com", "Expired-Passw0rd-1").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "PASSWORD_EXPIRED");
    assert!(body.get("sessionToken").is_none());
    let state_token = body["stateToken"].as_str().unwrap().to_owned();
    assert!(state_token.starts_with("00") && state_token.len() == 42);
    assert_eq!(body["_links"]["next"]["name"], "changePassword");
    link(&body, "next", "/credentials/change_password", &idp);
    link(&body, "cancel", "/cancel", &idp);
    assert_eq!(body["_embedded"]["policy"]["complexity"]["minLength"], 8);
    assert_eq!(
        body["_embedded"]["user"]["profile"]["login"],
        "pat.expired@example.com"
    );
    // A wrong password is still E0000004, not the expired state.
    let (status, _) = authn(&idp, "pat.expired@example.com", "wrong").await;
    assert_eq!(status, 401);
    // A weak new password: E0000080; a wrong old one: E0000014.
    let change = |old: &str, new: &str| json!({"stateToken": state_token, "oldPassword": old, "newPassword": new});
    let (status, body) = authn_call(
        &idp,
        "/credentials/change_password",
        change("Expired-Passw0rd-1", "short"),
    )
    .await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (403, Some("E0000080"))
    );
    let (status, body) = authn_call(
        &idp,
        "/credentials/change_password",
        change("not-the-old-one", NEW_PASSWORD),
    )
    .await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (403, Some("E0000014"))
    );
    let (status, body) = authn_call(
        &idp,
        "/credentials/change_password",
        change("Expired-Passw0rd-1", NEW_PASSWORD),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "SUCCESS");
    assert!(body["sessionToken"].is_string());
    // The transaction is over; the new password signs in; the old one does not.
    let (status, body) = authn_call(
        &idp,
        "/credentials/change_password",
        change("Expired-Passw0rd-1", NEW_PASSWORD),
    )
    .await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (401, Some("E0000011"))
    );
    let (status, body) = authn(&idp, "pat.expired@example.com", NEW_PASSWORD).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("SUCCESS")));
    assert_eq!(
        authn(&idp, "pat.expired@example.com", "Expired-Passw0rd-1")
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn expire_password_by_the_management_api_makes_authn_ask_for_a_new_one() {
    let idp = start().await;
    let (status, user) = post(
        &idp,
        &format!("/api/v1/users/{USER_ID}/lifecycle/expire_password"),
        json!({}),
    )
    .await;
    assert_eq!(
        (status, user["status"].as_str()),
        (200, Some("PASSWORD_EXPIRED"))
    );
    let (_, body) = authn(&idp, USER_LOGIN, USER_PASSWORD).await;
    assert_eq!(body["status"], "PASSWORD_EXPIRED");
    // The password grant cannot change a password: refused.
    assert_eq!(password_grant(&idp, USER_LOGIN, USER_PASSWORD).await, 400);
    let (status, body) = authn_call(
        &idp,
        "/credentials/change_password",
        json!({"stateToken": body["stateToken"], "oldPassword": USER_PASSWORD, "newPassword": NEW_PASSWORD}),
    )
    .await;
    assert_eq!((status, body["status"].as_str()), (200, Some("SUCCESS")));
    let (_, user) = get(&idp, &format!("/api/v1/users/{USER_ID}")).await;
    assert_eq!(user["status"], "ACTIVE");
}

#[tokio::test]
async fn a_password_about_to_expire_is_password_warn_when_asked_and_can_be_skipped() {
    let idp = start_with(EXPIRING_USERS).await;
    let login = "kim.warned@example.com";
    // Without warnBeforePasswordExpired: plain SUCCESS.
    let (_, body) = authn(&idp, login, "Warned-Passw0rd-1").await;
    assert_eq!(body["status"], "SUCCESS");
    let warned = json!({"username": login, "password": "Warned-Passw0rd-1",
        "options": {"warnBeforePasswordExpired": true}});
    let (status, body) = authn_call(&idp, "", warned.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "PASSWORD_WARN");
    assert_eq!(
        body["_embedded"]["policy"]["expiration"]["passwordExpireDays"],
        3
    );
    link(&body, "next", "/credentials/change_password", &idp);
    link(&body, "skip", "/skip", &idp);
    let (status, skipped) =
        authn_call(&idp, "/skip", json!({"stateToken": body["stateToken"]})).await;
    assert_eq!((status, skipped["status"].as_str()), (200, Some("SUCCESS")));
    // Skip is not allowed from PASSWORD_EXPIRED: E0000079.
    idp.clock()
        .advance(std::time::Duration::from_secs(3 * 86_400));
    let (_, body) = authn_call(&idp, "", warned).await;
    assert_eq!(body["status"], "PASSWORD_EXPIRED", "expired by the clock");
    let (status, refused) =
        authn_call(&idp, "/skip", json!({"stateToken": body["stateToken"]})).await;
    assert_eq!(
        (status, refused["errorCode"].as_str()),
        (403, Some("E0000079"))
    );
    // Cancel ends the transaction.
    let (status, _) = authn_call(&idp, "/cancel", json!({"stateToken": body["stateToken"]})).await;
    assert_eq!(status, 200);
    let (status, refused) = authn_call(
        &idp,
        "/credentials/change_password",
        json!({"stateToken": body["stateToken"], "oldPassword": "Warned-Passw0rd-1", "newPassword": NEW_PASSWORD}),
    )
    .await;
    assert_eq!(
        (status, refused["errorCode"].as_str()),
        (401, Some("E0000011"))
    );
}

#[tokio::test]
async fn a_state_token_expires_after_five_minutes() {
    let idp = start_with(EXPIRING_USERS).await;
    let (_, body) = authn(&idp, "pat.expired@example.com", "Expired-Passw0rd-1").await;
    idp.clock().advance(std::time::Duration::from_secs(300));
    let (status, refused) = authn_call(
        &idp,
        "/credentials/change_password",
        json!({"stateToken": body["stateToken"], "oldPassword": "Expired-Passw0rd-1", "newPassword": NEW_PASSWORD}),
    )
    .await;
    assert_eq!(
        (status, refused["errorCode"].as_str()),
        (401, Some("E0000011"))
    );
}

#[tokio::test]
async fn the_login_page_asks_for_a_new_password_when_the_password_has_expired() {
    let idp = start().await;
    post(
        &idp,
        &format!("/api/v1/users/{USER_ID}/lifecycle/expire_password"),
        json!({}),
    )
    .await;
    let client = browser_like();
    let form = open_login(&client, &authorize_url(&idp, &web_params("openid", "s"))).await;
    let response = submit(&client, &form, USER_LOGIN, USER_PASSWORD).await;
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(body.contains("Your password has expired"), "{body}");
    assert!(body.contains("name=\"new_password\""));
    assert!(
        !body.contains("<div id=\"change-password\" hidden"),
        "{body}"
    );
    let change = |new: &'static str| {
        client
            .post(&form.action)
            .form(&[
                ("transaction", form.transaction.as_str()),
                ("csrf", form.csrf.as_str()),
                ("username", USER_LOGIN),
                ("password", USER_PASSWORD),
                ("new_password", new),
                ("action", "login"),
            ])
            .send()
    };
    let response = change("weak").await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("The new password was refused")
    );
    let response = change(NEW_PASSWORD).await.unwrap();
    assert_eq!(response.status(), 303);
    let code = query(&location(&response))["code"].clone();
    assert!(!code.is_empty());
    assert_eq!(
        authn(&idp, USER_LOGIN, NEW_PASSWORD).await.1["status"],
        "SUCCESS"
    );
}
