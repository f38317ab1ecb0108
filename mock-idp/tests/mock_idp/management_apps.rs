//! `/api/v1/apps`: OIDC apps over the same registry as `/oauth2/v1/clients`,
//! with Okta's assignments enforced at sign-in.

use reqwest::Method;
use serde_json::{Value, json};

use crate::management_support::*;
use crate::support::{WEB_CLIENT_ID, http, start};
use crate::user_support::{
    USER_ID, USER_LOGIN, USER_PASSWORD, WEB_REDIRECT, authorize_url, location, query,
};

const REDIRECT: &str = "http://localhost:8081/callback";

async fn create_web_app(idp: &mock_idp::MockIdp) -> Value {
    let (status, app) = post(
        idp,
        "/api/v1/apps",
        json!({
            "name": "oidc_client",
            "label": "Ward board",
            "signOnMode": "OPENID_CONNECT",
            "credentials": {"oauthClient": {"token_endpoint_auth_method": "client_secret_basic"}},
            "settings": {"oauthClient": {
                "redirect_uris": [REDIRECT],
                "response_types": ["code"],
                "grant_types": ["authorization_code"],
                "application_type": "web",
            }},
        }),
    )
    .await;
    assert_eq!(status, 200, "{app}");
    app
}

/// Signs the user in headlessly to `client_id`; the redirect's query.
async fn sign_in(
    idp: &mock_idp::MockIdp,
    client_id: &str,
    redirect: &str,
) -> std::collections::HashMap<String, String> {
    let (status, body) = authn(idp, USER_LOGIN, USER_PASSWORD).await;
    assert_eq!(status, 200);
    let token = body["sessionToken"].as_str().unwrap();
    let url = authorize_url(
        idp,
        &[
            ("client_id", client_id),
            ("response_type", "code"),
            ("scope", "openid"),
            ("redirect_uri", redirect),
            ("state", "s"),
            ("sessionToken", token),
        ],
    );
    query(&location(&http().get(url).send().await.unwrap()))
}

#[tokio::test]
async fn an_app_is_a_client_at_once_and_only_assigned_users_sign_in_to_it() {
    let idp = start().await;
    let app = create_web_app(&idp).await;
    let id = app["id"].as_str().unwrap();
    assert_eq!(app["status"], "ACTIVE");
    assert_eq!(app["signOnMode"], "OPENID_CONNECT");
    let secret = app["credentials"]["oauthClient"]["client_secret"]
        .as_str()
        .unwrap();
    assert!(!secret.is_empty());

    // The same registry: /oauth2/v1/clients shows the client.
    let (status, client) = get(&idp, &format!("/oauth2/v1/clients/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(client["client_name"], "Ward board");
    assert_eq!(client["redirect_uris"], json!([REDIRECT]));

    let refused = sign_in(&idp, id, REDIRECT).await;
    assert_eq!(refused["error"], "access_denied");
    assert_eq!(
        refused["error_description"],
        "User is not assigned to the client application."
    );

    let (status, assignment) = post(
        &idp,
        &format!("/api/v1/apps/{id}/users"),
        json!({"id": USER_ID}),
    )
    .await;
    assert_eq!((status, assignment["scope"].as_str()), (200, Some("USER")));
    let admitted = sign_in(&idp, id, REDIRECT).await;
    assert!(admitted.contains_key("code"), "{admitted:?}");

    let (status, _, _) = call(
        &idp,
        Method::DELETE,
        &format!("/api/v1/apps/{id}/users/{USER_ID}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(sign_in(&idp, id, REDIRECT).await["error"], "access_denied");

    // A group assignment admits its members.
    let (_, groups) = get(&idp, "/api/v1/groups?q=Nurses").await;
    let nurses = groups[0]["id"].as_str().unwrap();
    let (status, _, _) = call(
        &idp,
        Method::PUT,
        &format!("/api/v1/apps/{id}/groups/{nurses}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(sign_in(&idp, id, REDIRECT).await.contains_key("code"));
    let (_, users) = get(&idp, &format!("/api/v1/apps/{id}/users")).await;
    assert_eq!(users[0]["scope"], "GROUP");
}

#[tokio::test]
async fn configured_clients_are_apps_open_to_everyone_until_unassigned() {
    let idp = start().await;
    let (status, app) = get(&idp, &format!("/api/v1/apps/{WEB_CLIENT_ID}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        app["settings"]["oauthClient"]["redirect_uris"][0],
        WEB_REDIRECT
    );
    let (_, groups) = get(&idp, &format!("/api/v1/apps/{WEB_CLIENT_ID}/groups")).await;
    let everyone = groups[0]["id"].as_str().unwrap().to_owned();
    assert!(
        sign_in(&idp, WEB_CLIENT_ID, WEB_REDIRECT)
            .await
            .contains_key("code")
    );
    let (status, _, _) = call(
        &idp,
        Method::DELETE,
        &format!("/api/v1/apps/{WEB_CLIENT_ID}/groups/{everyone}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        sign_in(&idp, WEB_CLIENT_ID, WEB_REDIRECT).await["error"],
        "access_denied"
    );
    let (_, list) = get(&idp, "/api/v1/apps?filter=status%20eq%20%22ACTIVE%22").await;
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == WEB_CLIENT_ID)
    );
}

#[tokio::test]
async fn an_app_is_deactivated_before_deletion_and_an_inactive_app_cannot_be_used() {
    let idp = start().await;
    let app = create_web_app(&idp).await;
    let id = app["id"].as_str().unwrap();
    let (status, _, body) = call(&idp, Method::DELETE, &format!("/api/v1/apps/{id}"), None).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (403, Some("E0000056"))
    );
    let (status, _) = post(
        &idp,
        &format!("/api/v1/apps/{id}/lifecycle/deactivate"),
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        get(&idp, &format!("/api/v1/apps/{id}")).await.1["status"],
        "INACTIVE"
    );
    let url = authorize_url(
        &idp,
        &[
            ("client_id", id),
            ("response_type", "code"),
            ("scope", "openid"),
            ("redirect_uri", REDIRECT),
        ],
    );
    let page = http().get(url).send().await.unwrap();
    assert_eq!(
        page.status(),
        400,
        "an inactive app's client is unknown to the flows"
    );
    let (status, _, _) = call(&idp, Method::DELETE, &format!("/api/v1/apps/{id}"), None).await;
    assert_eq!(status, 204);
    assert_eq!(get(&idp, &format!("/oauth2/v1/clients/{id}")).await.0, 404);

    let (status, body) = post(
        &idp,
        "/api/v1/apps",
        json!({"label": "SAML thing", "signOnMode": "SAML_2_0"}),
    )
    .await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (400, Some("E0000001"))
    );
    let (status, body) = post(
        &idp,
        "/api/v1/apps",
        json!({"label": "No redirect", "signOnMode": "OPENID_CONNECT",
               "settings": {"oauthClient": {"grant_types": ["authorization_code"]}}}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["errorCauses"][0]["errorSummary"]
            .as_str()
            .unwrap()
            .starts_with("redirect_uris"),
        "{body}"
    );
}

#[tokio::test]
async fn the_org_and_the_trusted_origins_of_registered_redirects_are_listed() {
    let idp = start().await;
    let (status, org) = get(&idp, "/api/v1/org").await;
    assert_eq!(status, 200);
    assert!(org["id"].as_str().unwrap().starts_with("00o"));
    assert_eq!(org["status"], "ACTIVE");
    let (status, origins) = get(&idp, "/api/v1/trustedOrigins").await;
    assert_eq!(status, 200);
    let names: Vec<&str> = origins
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["origin"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"http://localhost:8080"), "{names:?}");
    assert!(!names.contains(&"http://localhost:8081"));
    create_web_app(&idp).await;
    let (_, origins) = get(&idp, "/api/v1/trustedOrigins").await;
    assert!(
        origins
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["origin"] == "http://localhost:8081")
    );
}
