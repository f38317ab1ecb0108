//! Account lockout: wrong passwords in a row lock a user out (Okta's password
//! policy `lockout`), authn and the login page answer as Okta does, and an
//! admin (management API), the control API or the clock unlocks.

use serde_json::{Value, json};

use crate::management_support::{authn, get, post};
use crate::support::{http, start, start_with_server_settings};
use crate::user_support::*;

/// `count` wrong passwords through authn, each answered `E0000004`.
async fn fail(idp: &mock_idp::MockIdp, count: u32) {
    for _ in 0..count {
        let (status, body) = authn(idp, USER_LOGIN, "wrong-password").await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["errorCode"], "E0000004");
    }
}

async fn user_status(idp: &mock_idp::MockIdp) -> Value {
    let (status, user) = get(idp, &format!("/api/v1/users/{USER_ID}")).await;
    assert_eq!(status, 200, "{user}");
    user["status"].clone()
}

#[tokio::test]
async fn ten_wrong_passwords_lock_the_user_out_hidden_as_e0000004_by_default() {
    let idp = start().await;
    fail(&idp, 9).await;
    assert_eq!(user_status(&idp).await, "ACTIVE");
    // The right password resets the count.
    assert_eq!(authn(&idp, USER_LOGIN, USER_PASSWORD).await.0, 200);
    fail(&idp, 10).await;
    assert_eq!(user_status(&idp).await, "LOCKED_OUT");
    // Locked: even the right password fails, as Okta's default hides lockout.
    let (status, body) = authn(&idp, USER_LOGIN, USER_PASSWORD).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (401, Some("E0000004"))
    );
    let (status, _) = post(
        &idp,
        &format!("/api/v1/users/{USER_ID}/lifecycle/unlock"),
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(user_status(&idp).await, "ACTIVE");
    let (status, body) = authn(&idp, USER_LOGIN, USER_PASSWORD).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("SUCCESS")));
}

#[tokio::test]
async fn a_locked_out_user_gets_oktas_locked_out_transaction_when_the_policy_shows_it() {
    let idp =
        start_with_server_settings("lockout_max_attempts = 3\nshow_lockout_failures = true").await;
    fail(&idp, 3).await;
    let (status, body) = authn(&idp, USER_LOGIN, USER_PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "LOCKED_OUT");
    assert!(body.get("sessionToken").is_none());
    let next = &body["_links"]["next"];
    assert_eq!(next["name"], "unlock");
    assert_eq!(
        next["href"],
        format!("{}/api/v1/authn/recovery/unlock", idp.base_url())
    );
    assert_eq!(next["hints"]["allow"], json!(["POST"]));
    // A wrong password while locked is the same answer: the account is locked.
    assert_eq!(
        authn(&idp, USER_LOGIN, "wrong").await.1["status"],
        "LOCKED_OUT"
    );
}

/// `POST /__mock/users/{who}/unlock`: the status and body.
async fn control_unlock(idp: &mock_idp::MockIdp, who: &str) -> (u16, Value) {
    let response = http()
        .post(format!("{}/__mock/users/{who}/unlock", idp.base_url()))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn the_control_api_unlocks_a_locked_out_user() {
    let idp = start_with_server_settings("lockout_max_attempts = 2").await;
    fail(&idp, 2).await;
    assert_eq!(user_status(&idp).await, "LOCKED_OUT");
    let (status, body) = control_unlock(&idp, USER_LOGIN).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ACTIVE");
    assert_eq!(body["id"], USER_ID);
    assert_eq!(authn(&idp, USER_LOGIN, USER_PASSWORD).await.0, 200);
    // Two more failures lock again: the count started over.
    fail(&idp, 1).await;
    assert_eq!(user_status(&idp).await, "ACTIVE");
    let (status, body) = control_unlock(&idp, "nobody@example.com").await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (404, Some("E0000007"))
    );
}

#[tokio::test]
async fn a_locked_out_user_is_unlocked_by_the_mock_clock_after_auto_unlock_minutes() {
    let idp =
        start_with_server_settings("lockout_max_attempts = 2\nlockout_auto_unlock_minutes = 15")
            .await;
    fail(&idp, 2).await;
    idp.clock().advance(std::time::Duration::from_secs(14 * 60));
    assert_eq!(authn(&idp, USER_LOGIN, USER_PASSWORD).await.0, 401);
    assert_eq!(user_status(&idp).await, "LOCKED_OUT");
    idp.clock().advance(std::time::Duration::from_secs(60));
    let (status, body) = authn(&idp, USER_LOGIN, USER_PASSWORD).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("SUCCESS")));
    assert_eq!(user_status(&idp).await, "ACTIVE");
}

#[tokio::test]
async fn the_password_grant_counts_towards_lockout_and_refuses_a_locked_user() {
    let idp = start_with_server_settings("lockout_max_attempts = 2").await;
    assert_eq!(password_grant(&idp, USER_LOGIN, "wrong").await, 400);
    assert_eq!(password_grant(&idp, USER_LOGIN, "wrong").await, 400);
    assert_eq!(user_status(&idp).await, "LOCKED_OUT");
    assert_eq!(password_grant(&idp, USER_LOGIN, USER_PASSWORD).await, 400);
    let unlock = format!("/api/v1/users/{USER_ID}/lifecycle/unlock");
    assert_eq!(post(&idp, &unlock, json!({})).await.0, 200);
    assert_eq!(password_grant(&idp, USER_LOGIN, USER_PASSWORD).await, 200);
    // Unlocking a user who is not locked out is Okta's E0000032.
    let (status, body) = post(&idp, &unlock, json!({})).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (403, Some("E0000032"))
    );
}

#[tokio::test]
async fn the_login_page_shows_the_lockout_message_when_the_policy_shows_it() {
    let idp =
        start_with_server_settings("lockout_max_attempts = 2\nshow_lockout_failures = true").await;
    let client = browser_like();
    let form = open_login(&client, &authorize_url(&idp, &web_params("openid", "s"))).await;
    for _ in 0..2 {
        let response = submit(&client, &form, USER_LOGIN, "wrong").await;
        assert_eq!(response.status(), 401);
        let body = response.text().await.unwrap();
        assert!(
            body.contains("the username or password is incorrect"),
            "{body}"
        );
    }
    let response = submit(&client, &form, USER_LOGIN, USER_PASSWORD).await;
    assert_eq!(response.status(), 401);
    let body = response.text().await.unwrap();
    assert!(body.contains("role=\"alert\""));
    assert!(body.contains("Your account is locked"), "{body}");
    assert_eq!(user_status(&idp).await, "LOCKED_OUT");
}
