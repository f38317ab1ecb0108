//! `/api/v1/groups`: groups and members, seen in the next token's `groups` claim.

use reqwest::Method;
use serde_json::{Value, json};

use crate::management_support::*;
use crate::support::start;
use crate::user_support::{USER_ID, USER_LOGIN, USER_PASSWORD};

async fn create_group(idp: &mock_idp::MockIdp, name: &str) -> String {
    let (status, group) = post(
        idp,
        "/api/v1/groups",
        json!({"profile": {"name": name, "description": "ward staff"}}),
    )
    .await;
    assert_eq!(status, 200, "{group}");
    assert_eq!(group["type"], "OKTA_GROUP");
    group["id"].as_str().unwrap().to_owned()
}

fn names(list: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["profile"]["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    names
}

#[tokio::test]
async fn a_group_added_to_a_user_appears_in_the_groups_claim_and_leaves_with_removal() {
    let idp = start().await;
    let group = create_group(&idp, "Surgeons").await;
    let member = format!("/api/v1/groups/{group}/users/{USER_ID}");
    let (status, _, _) = call(&idp, Method::PUT, &member, None).await;
    assert_eq!(status, 204);
    let claims = id_token_for(&idp, USER_LOGIN, USER_PASSWORD, "openid groups").await;
    assert_eq!(claims["groups"], json!(["Everyone", "Nurses", "Surgeons"]));
    let (_, of_user) = get(&idp, &format!("/api/v1/users/{USER_ID}/groups")).await;
    assert_eq!(names(&of_user), ["Everyone", "Nurses", "Surgeons"]);
    let (_, members) = get(&idp, &format!("/api/v1/groups/{group}/users")).await;
    assert_eq!(members[0]["id"], USER_ID);

    // A rename is seen in members' next token; so is a removal.
    let (status, _, renamed) = call(
        &idp,
        Method::PUT,
        &format!("/api/v1/groups/{group}"),
        Some(json!({"profile": {"name": "Theatre"}})),
    )
    .await;
    assert_eq!(
        (status, renamed["profile"]["name"].as_str()),
        (200, Some("Theatre"))
    );
    let claims = id_token_for(&idp, USER_LOGIN, USER_PASSWORD, "openid groups").await;
    assert_eq!(claims["groups"], json!(["Everyone", "Nurses", "Theatre"]));
    let (status, _, _) = call(&idp, Method::DELETE, &member, None).await;
    assert_eq!(status, 204);
    let claims = id_token_for(&idp, USER_LOGIN, USER_PASSWORD, "openid groups").await;
    assert_eq!(claims["groups"], json!(["Everyone", "Nurses"]));
}

#[tokio::test]
async fn groups_are_listed_searched_and_deleted_and_the_built_in_group_is_protected() {
    let idp = start().await;
    let (_, all) = get(&idp, "/api/v1/groups").await;
    assert_eq!(
        names(&all),
        ["Everyone", "Nurses"],
        "the configuration's groups"
    );
    let everyone = all
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["type"] == "BUILT_IN")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ward = create_group(&idp, "Ward 7").await;
    let (_, by_q) = get(&idp, "/api/v1/groups?q=war").await;
    assert_eq!(names(&by_q), ["Ward 7"]);
    let (_, by_filter) = get(&idp, "/api/v1/groups?filter=type%20eq%20%22OKTA_GROUP%22").await;
    assert_eq!(names(&by_filter), ["Nurses", "Ward 7"]);

    let (status, body) = post(
        &idp,
        "/api/v1/groups",
        json!({"profile": {"name": "ward 7"}}),
    )
    .await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (400, Some("E0000001"))
    );
    let (status, body) = post(&idp, "/api/v1/groups", json!({"profile": {}})).await;
    assert_eq!(
        body["errorCauses"][0]["errorSummary"],
        "name: The field cannot be left blank"
    );
    assert_eq!(status, 400);

    let (status, _, body) = call(
        &idp,
        Method::DELETE,
        &format!("/api/v1/groups/{everyone}"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (403, Some("E0000006"))
    );
    let (status, _, _) = call(
        &idp,
        Method::DELETE,
        &format!("/api/v1/groups/{ward}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, body) = get(&idp, &format!("/api/v1/groups/{ward}")).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (404, Some("E0000007"))
    );
    let (status, _, body) = call(
        &idp,
        Method::PUT,
        &format!("/api/v1/groups/{ward}/users/{USER_ID}"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (404, Some("E0000007"))
    );
}

#[tokio::test]
async fn a_user_created_with_group_ids_is_in_them_and_in_everyone() {
    let idp = start().await;
    let ward = create_group(&idp, "Ward 7").await;
    let (status, user) = post(
        &idp,
        "/api/v1/users",
        json!({
            "profile": {"firstName": "Jo", "lastName": "Ward", "email": "jo@example.com", "login": "jo@example.com"},
            "credentials": {"password": {"value": "Fresh-Passw0rd-2026"}},
            "groupIds": [ward],
        }),
    )
    .await;
    assert_eq!(status, 200, "{user}");
    let claims = id_token_for(
        &idp,
        "jo@example.com",
        "Fresh-Passw0rd-2026",
        "openid groups",
    )
    .await;
    assert_eq!(claims["groups"], json!(["Everyone", "Ward 7"]));
}
