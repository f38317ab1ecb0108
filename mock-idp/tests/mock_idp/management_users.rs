//! `/api/v1/users`: Okta's users API, live for sign-in at once.

use reqwest::Method;
use serde_json::{Value, json};

use crate::login_page::id_token_claims;
use crate::management_support::*;
use crate::support::{http, start};
use crate::user_support::{
    USER_ID, USER_LOGIN, authorize_url, browser_like, open_login, submit, web_params,
};

const PASSWORD: &str = "Fresh-Passw0rd-2026";

#[tokio::test]
async fn a_wrong_ssws_token_is_401_e0000011_before_the_path_is_resolved() {
    let idp = start().await;
    for path in [
        "/api/v1/users",
        "/api/v1/no-such-thing",
        "/api/v1/groups/00gnope",
    ] {
        let response = http()
            .get(format!("{}{path}", idp.base_url()))
            .header("authorization", "SSWS not-the-token")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["errorCode"], "E0000011", "{path}");
        let missing = http()
            .get(format!("{}{path}", idp.base_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(missing.status(), 403, "{path}");
        assert_eq!(
            missing.json::<Value>().await.unwrap()["errorCode"],
            "E0000005"
        );
    }
    // The anonymous authn API refuses a wrong token too, and takes none.
    let response = http()
        .post(format!("{}/api/v1/authn", idp.base_url()))
        .header("authorization", "SSWS not-the-token")
        .json(&json!({"username": USER_LOGIN, "password": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn a_created_active_user_signs_in_through_authn_and_the_login_page_at_once() {
    let idp = start().await;
    let id = create_user(&idp, "sam.porter@example.com", PASSWORD).await;
    let (status, body) = authn(&idp, "Sam.Porter@example.com", PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["_embedded"]["user"]["id"], id.as_str());

    let client = browser_like();
    let form = open_login(
        &client,
        &authorize_url(&idp, &web_params("openid email", "s")),
    )
    .await;
    let response = submit(&client, &form, "sam.porter@example.com", PASSWORD).await;
    assert_eq!(response.status(), 303);
    let claims = id_token_claims(&idp, &response).await;
    assert_eq!(claims["sub"], id.as_str());
    assert_eq!(claims["email"], "sam.porter@example.com");
}

#[tokio::test]
async fn a_suspended_user_is_refused_with_e0000004_and_signs_in_again_once_unsuspended() {
    let idp = start().await;
    let id = create_user(&idp, "sam.porter@example.com", PASSWORD).await;
    let (status, _) = post(
        &idp,
        &format!("/api/v1/users/{id}/lifecycle/suspend"),
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    let (_, user) = get(&idp, &format!("/api/v1/users/{id}")).await;
    assert_eq!(user["status"], "SUSPENDED");
    let (status, body) = authn(&idp, "sam.porter@example.com", PASSWORD).await;
    assert_eq!(status, 401);
    assert_eq!(body["errorCode"], "E0000004");
    assert_eq!(body["errorSummary"], "Authentication failed");

    let client = browser_like();
    let form = open_login(&client, &authorize_url(&idp, &web_params("openid", "s"))).await;
    let refused = submit(&client, &form, "sam.porter@example.com", PASSWORD).await;
    assert_eq!(
        refused.status(),
        401,
        "the login page refuses a suspended user"
    );

    let (status, body) = post(
        &idp,
        &format!("/api/v1/users/{id}/lifecycle/suspend"),
        json!({}),
    )
    .await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (400, Some("E0000001"))
    );
    let (status, _) = post(
        &idp,
        &format!("/api/v1/users/{id}/lifecycle/unsuspend"),
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(authn(&idp, "sam.porter@example.com", PASSWORD).await.0, 200);
}

#[tokio::test]
async fn users_are_created_staged_provisioned_or_active_as_okta_does() {
    let idp = start().await;
    let profile = |login: &str| json!({"firstName": "Kim", "lastName": "Lee", "email": login, "login": login});
    let (_, staged) = post(
        &idp,
        "/api/v1/users?activate=false",
        json!({"profile": profile("kim.staged@example.com"), "credentials": {"password": {"value": PASSWORD}}}),
    )
    .await;
    assert_eq!(staged["status"], "STAGED");
    assert_eq!(authn(&idp, "kim.staged@example.com", PASSWORD).await.0, 401);
    let (_, provisioned) = post(
        &idp,
        "/api/v1/users",
        json!({"profile": profile("kim.nopass@example.com")}),
    )
    .await;
    assert_eq!(provisioned["status"], "PROVISIONED");
    assert!(provisioned["credentials"].get("password").is_none());

    let id = staged["id"].as_str().unwrap();
    let (status, activation) = post(
        &idp,
        &format!("/api/v1/users/{id}/lifecycle/activate?sendEmail=false"),
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    assert!(activation["activationToken"].is_string());
    assert_eq!(authn(&idp, "kim.staged@example.com", PASSWORD).await.0, 200);
    let (status, again) = post(
        &idp,
        &format!("/api/v1/users/{id}/lifecycle/activate"),
        json!({}),
    )
    .await;
    assert_eq!(
        (status, again["errorCode"].as_str()),
        (403, Some("E0000016"))
    );
    let (status, unlock) = post(
        &idp,
        &format!("/api/v1/users/{id}/lifecycle/unlock"),
        json!({}),
    )
    .await;
    assert_eq!(
        (status, unlock["errorCode"].as_str()),
        (403, Some("E0000032"))
    );

    let (_, expired) = post(
        &idp,
        &format!("/api/v1/users/{id}/lifecycle/expire_password"),
        json!({}),
    )
    .await;
    assert_eq!(expired["status"], "PASSWORD_EXPIRED");
    let (status, reset) = post(
        &idp,
        &format!("/api/v1/users/{id}/lifecycle/reset_password?sendEmail=false"),
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    assert!(reset["resetPasswordUrl"].is_string());
    assert_eq!(
        get(&idp, &format!("/api/v1/users/{id}")).await.1["status"],
        "RECOVERY"
    );
}

#[tokio::test]
async fn bad_users_get_e0000001_with_error_causes() {
    let idp = start().await;
    let (status, body) = post(
        &idp,
        "/api/v1/users",
        json!({"profile": {"login": "no-email@example.com"}}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["errorCode"], "E0000001");
    let causes: Vec<&str> = body["errorCauses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["errorSummary"].as_str().unwrap())
        .collect();
    assert!(
        causes.contains(&"email: The field cannot be left blank"),
        "{causes:?}"
    );
    assert!(
        causes.contains(&"firstName: The field cannot be left blank"),
        "{causes:?}"
    );

    let weak = json!({
        "profile": {"firstName": "A", "lastName": "B", "email": "a.b@example.com", "login": "a.b@example.com"},
        "credentials": {"password": {"value": "short"}},
    });
    let (status, body) = post(&idp, "/api/v1/users", weak).await;
    assert_eq!(
        (status, body["errorSummary"].as_str()),
        (400, Some("Api validation failed: password"))
    );

    let duplicate = json!({
        "profile": {"firstName": "A", "lastName": "B", "email": USER_LOGIN, "login": USER_LOGIN.to_uppercase()},
    });
    let (status, body) = post(&idp, "/api/v1/users", duplicate).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["errorCauses"][0]["errorSummary"],
        "login: An object with this field already exists in the current organization"
    );
    let (status, body) = get(&idp, "/api/v1/users/00unope").await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (404, Some("E0000007"))
    );
    let (status, body) = get(&idp, "/api/v1/users?filter=status%20eq").await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (400, Some("E0000031"))
    );
}

#[tokio::test]
async fn users_are_found_by_id_login_q_filter_and_search_and_paged_with_link() {
    let idp = start().await;
    let (status, by_login) = get(&idp, &format!("/api/v1/users/{USER_LOGIN}")).await;
    assert_eq!(status, 200);
    assert_eq!(by_login["id"], USER_ID);
    assert_eq!(by_login["profile"]["login"], USER_LOGIN);
    for n in 0..5 {
        create_user(&idp, &format!("pager{n}@example.com"), PASSWORD).await;
    }
    let suspended = create_user(&idp, "zed@example.com", PASSWORD).await;
    post(
        &idp,
        &format!("/api/v1/users/{suspended}/lifecycle/suspend"),
        json!({}),
    )
    .await;

    let (_, by_q) = get(&idp, "/api/v1/users?q=pager").await;
    assert_eq!(by_q.as_array().unwrap().len(), 5);
    let (_, by_filter) = get(&idp, "/api/v1/users?filter=status%20eq%20%22SUSPENDED%22").await;
    assert_eq!(by_filter.as_array().unwrap().len(), 1);
    assert_eq!(by_filter[0]["id"], suspended.as_str());
    let search = "profile.login sw \"pager\" and (profile.login ew \"1@example.com\" or profile.login co \"3@\")";
    let (_, by_search) = get(
        &idp,
        &format!(
            "/api/v1/users?search={}",
            url::form_urlencoded::byte_serialize(search.as_bytes()).collect::<String>()
        ),
    )
    .await;
    let mut logins: Vec<&str> = by_search
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["profile"]["login"].as_str().unwrap())
        .collect();
    logins.sort_unstable();
    assert_eq!(logins, ["pager1@example.com", "pager3@example.com"]);

    // Paging: two at a time through the Link header's `next`, each user once.
    let mut seen = Vec::new();
    let mut url = "/api/v1/users?q=pager&limit=2".to_owned();
    loop {
        let (status, link, page) = call(&idp, Method::GET, &url, None).await;
        assert_eq!(status, 200);
        assert!(link.contains("rel=\"self\""), "{link}");
        seen.extend(page.as_array().unwrap().iter().map(|u| u["id"].clone()));
        let Some(next) = link.split(", ").find(|l| l.ends_with("rel=\"next\"")) else {
            break;
        };
        let next = next.trim_start_matches('<').split('>').next().unwrap();
        url = next.strip_prefix(idp.base_url()).unwrap().to_owned();
    }
    assert_eq!(seen.len(), 5);
    seen.dedup();
    assert_eq!(seen.len(), 5);
}

#[tokio::test]
async fn updates_merge_or_replace_the_profile_and_the_next_token_shows_it() {
    let idp = start().await;
    let id = create_user(&idp, "sam.porter@example.com", PASSWORD).await;
    let (status, user) = post(
        &idp,
        &format!("/api/v1/users/{id}"),
        json!({"profile": {"nickName": "Sammy", "email": "sam.p@example.com"}}),
    )
    .await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(
        user["profile"]["firstName"], "Sam",
        "a partial update keeps the rest"
    );
    assert_eq!(user["profile"]["nickName"], "Sammy");
    let claims = id_token_for(&idp, "sam.porter@example.com", PASSWORD, "openid email").await;
    assert_eq!(claims["email"], "sam.p@example.com");

    let (status, _, body) = call(
        &idp,
        Method::PUT,
        &format!("/api/v1/users/{id}"),
        Some(json!({"profile": {"firstName": "Sam", "email": "sam.p@example.com", "login": "sam.porter@example.com"}})),
    )
    .await;
    assert_eq!(status, 400, "a full replacement needs every required field");
    assert_eq!(
        body["errorCauses"][0]["errorSummary"],
        "lastName: The field cannot be left blank"
    );
}

#[tokio::test]
async fn change_password_needs_the_old_one_and_delete_deactivates_first() {
    let idp = start().await;
    let id = create_user(&idp, "sam.porter@example.com", PASSWORD).await;
    let path = format!("/api/v1/users/{id}/credentials/change_password");
    let (status, body) = post(
        &idp,
        &path,
        json!({"oldPassword": {"value": "wrong"}, "newPassword": {"value": "Another-Passw0rd"}}),
    )
    .await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (403, Some("E0000014"))
    );
    let (status, _) = post(
        &idp,
        &path,
        json!({"oldPassword": {"value": PASSWORD}, "newPassword": {"value": "Another-Passw0rd"}}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(authn(&idp, "sam.porter@example.com", PASSWORD).await.0, 401);
    assert_eq!(
        authn(&idp, "sam.porter@example.com", "Another-Passw0rd")
            .await
            .0,
        200
    );

    let (status, _, _) = call(&idp, Method::DELETE, &format!("/api/v1/users/{id}"), None).await;
    assert_eq!(status, 204);
    assert_eq!(
        get(&idp, &format!("/api/v1/users/{id}")).await.1["status"],
        "DEPROVISIONED"
    );
    assert_eq!(
        authn(&idp, "sam.porter@example.com", "Another-Passw0rd")
            .await
            .0,
        401
    );
    let (status, _, _) = call(&idp, Method::DELETE, &format!("/api/v1/users/{id}"), None).await;
    assert_eq!(status, 204);
    assert_eq!(get(&idp, &format!("/api/v1/users/{id}")).await.0, 404);
}

#[tokio::test]
async fn deleting_a_users_sessions_ends_the_browser_session() {
    let idp = start().await;
    let client = browser_like();
    let url = authorize_url(&idp, &web_params("openid", "s"));
    let form = open_login(&client, &url).await;
    assert_eq!(
        submit(
            &client,
            &form,
            USER_LOGIN,
            crate::user_support::USER_PASSWORD
        )
        .await
        .status(),
        303
    );
    let again = client.get(&url).send().await.unwrap();
    assert_eq!(again.status(), 302, "the session skips the login page");
    let (status, _, _) = call(
        &idp,
        Method::DELETE,
        &format!("/api/v1/users/{USER_ID}/sessions"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let after = client.get(&url).send().await.unwrap();
    assert_eq!(after.status(), 200, "the login page again");
}
