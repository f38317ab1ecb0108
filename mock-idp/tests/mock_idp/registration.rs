//! DCR: Okta's `/oauth2/v1/clients` (RFC 7591/7592) with SSWS API tokens.

use serde_json::{Value, json};

use crate::support::{expect_oauth_error, http, post_basic, start};

const SSWS: &str = "SSWS 00mockIdpSswsApiToken7ms2Bx7dY2qLw9ZtR4vNc";

fn clients_url(idp: &mock_idp::MockIdp) -> String {
    format!("{}/oauth2/v1/clients", idp.base_url())
}

async fn register(idp: &mock_idp::MockIdp, metadata: Value) -> reqwest::Response {
    http()
        .post(clients_url(idp))
        .header("authorization", SSWS)
        .json(&metadata)
        .send()
        .await
        .unwrap()
}

fn service_app() -> Value {
    json!({"client_name": "Bed monitor", "application_type": "service", "grant_types": ["client_credentials"],
           "response_types": [], "token_endpoint_auth_method": "client_secret_basic"})
}

#[tokio::test]
async fn dcr_01_a_registered_service_client_gets_tokens_at_once() {
    let idp = start().await;
    let response = register(&idp, service_app()).await;
    assert_eq!(response.status(), 201);
    assert!(response.headers().contains_key("x-rate-limit-remaining"));
    let client: Value = response.json().await.unwrap();
    let id = client["client_id"].as_str().unwrap();
    let secret = client["client_secret"].as_str().unwrap();
    assert!(id.starts_with("0oa") && id.len() == 20, "{id}");
    assert_eq!(secret.len(), 40);
    assert_eq!(client["client_secret_expires_at"], 0, "DCR-02");
    assert!(client["client_id_issued_at"].is_i64());
    assert_eq!(client["client_name"], "Bed monitor");
    assert_eq!(client["grant_types"], json!(["client_credentials"]));
    assert_eq!(
        client["client_uri"],
        Value::Null,
        "unset URIs come back as null"
    );
    // DCR-16: the new client works in the very next request.
    let token = post_basic(
        &idp.token_endpoint(),
        id,
        secret,
        &[("grant_type", "client_credentials"), ("scope", "beds.read")],
    )
    .await;
    assert_eq!(token.status(), 200);
}

#[tokio::test]
async fn dcr_04_defaults_are_filled_in_and_shown() {
    let idp = start().await;
    let client: Value = register(
        &idp,
        json!({"client_name": "Ward app", "redirect_uris": ["https://ward.example/cb"]}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(client["application_type"], "web");
    assert_eq!(client["grant_types"], json!(["authorization_code"]));
    assert_eq!(client["response_types"], json!(["code"]));
    assert_eq!(client["token_endpoint_auth_method"], "client_secret_basic");
}

#[tokio::test]
async fn dcr_17_19_secrets_are_unique_and_a_requested_client_id_is_ignored() {
    let idp = start().await;
    let mut metadata = service_app();
    metadata["client_id"] = json!("0oaChosenByTheClient1");
    let a: Value = register(&idp, metadata.clone()).await.json().await.unwrap();
    let b: Value = register(&idp, metadata).await.json().await.unwrap();
    assert_ne!(a["client_id"], "0oaChosenByTheClient1");
    assert_ne!(a["client_id"], b["client_id"]);
    assert_ne!(a["client_secret"], b["client_secret"]);
}

#[tokio::test]
async fn dcr_05_to_10_bad_metadata_gets_rfc_7591_errors() {
    let idp = start().await;
    let cases = [
        (
            json!({"application_type": "service", "grant_types": ["client_credentials"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"client_name": "x", "redirect_uris": ["https://a.example/cb#frag"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"client_name": "x", "redirect_uris": ["http://a.example/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"client_name": "x", "redirect_uris": ["/relative"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"client_name": "x", "grant_types": ["authorization_code"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"client_name": "x", "redirect_uris": ["https://a.example/cb"], "jwks": {"keys": []}, "jwks_uri": "https://a.example/jwks"}),
            "invalid_client_metadata",
        ),
        (
            json!({"client_name": "x", "redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "magic"}),
            "invalid_client_metadata",
        ),
        (
            json!({"client_name": "x", "application_type": "service", "grant_types": ["authorization_code"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"client_name": "x", "redirect_uris": ["https://a.example/cb"], "initiate_login_uri": "http://a.example/login"}),
            "invalid_client_metadata",
        ),
        (json!({"client_name": 7}), "invalid_client_metadata"),
    ];
    let before = http()
        .get(clients_url(&idp))
        .header("authorization", SSWS)
        .send()
        .await
        .unwrap()
        .json::<Vec<Value>>()
        .await
        .unwrap()
        .len();
    for (metadata, error) in cases {
        let response = register(&idp, metadata.clone()).await;
        let body = expect_oauth_error(response, 400, error).await;
        assert!(
            body["error_description"].as_str().unwrap().contains(':'),
            "names the field: {body}"
        );
    }
    let after = http()
        .get(clients_url(&idp))
        .header("authorization", SSWS)
        .send()
        .await
        .unwrap()
        .json::<Vec<Value>>()
        .await
        .unwrap()
        .len();
    assert_eq!(
        before, after,
        "no client was created by a failed registration"
    );
}

#[tokio::test]
async fn dcr_14_missing_or_wrong_api_tokens_get_oktas_errors() {
    let idp = start().await;
    let none = http()
        .post(clients_url(&idp))
        .json(&service_app())
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 403);
    assert_eq!(none.json::<Value>().await.unwrap()["errorCode"], "E0000005");
    let bearer = http()
        .get(clients_url(&idp))
        .header("authorization", "Bearer abc")
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 403);
    let wrong = http()
        .get(clients_url(&idp))
        .header("authorization", "SSWS 00wrongTokenValue00000000")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(body["errorCode"], "E0000011");
    assert_eq!(body["errorSummary"], "Invalid token provided");
}

#[tokio::test]
async fn dcr_malformed_json_is_e0000003() {
    let idp = start().await;
    let response = http()
        .post(clients_url(&idp))
        .header("authorization", SSWS)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<Value>().await.unwrap()["errorCode"],
        "E0000003"
    );
}

#[tokio::test]
async fn dcr_18_read_replace_rotate_and_delete_a_client() {
    let idp = start().await;
    let created: Value = register(&idp, service_app()).await.json().await.unwrap();
    let id = created["client_id"].as_str().unwrap().to_owned();
    let old_secret = created["client_secret"].as_str().unwrap().to_owned();
    let url = format!("{}/{id}", clients_url(&idp));

    let read: Value = http()
        .get(&url)
        .header("authorization", SSWS)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["client_name"], "Bed monitor");
    assert!(
        read.get("client_secret").is_none(),
        "the secret is shown only on create and rotation"
    );

    let mut renamed = service_app();
    renamed["client_name"] = json!("Bed monitor v2");
    let replaced = http()
        .put(&url)
        .header("authorization", SSWS)
        .json(&renamed)
        .send()
        .await
        .unwrap();
    assert_eq!(replaced.status(), 200);
    let replaced: Value = replaced.json().await.unwrap();
    assert_eq!(replaced["client_name"], "Bed monitor v2");
    assert_eq!(
        replaced["client_secret"],
        old_secret.as_str(),
        "PUT keeps the secret"
    );
    assert_eq!(
        replaced["client_id_issued_at"],
        created["client_id_issued_at"]
    );

    let rotated: Value = http()
        .post(format!("{url}/lifecycle/newSecret"))
        .header("authorization", SSWS)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new_secret = rotated["client_secret"].as_str().unwrap();
    assert_ne!(new_secret, old_secret);
    let cc = [("grant_type", "client_credentials"), ("scope", "beds.read")];
    assert_eq!(
        post_basic(&idp.token_endpoint(), &id, &old_secret, &cc)
            .await
            .status(),
        401
    );
    assert_eq!(
        post_basic(&idp.token_endpoint(), &id, new_secret, &cc)
            .await
            .status(),
        200
    );

    let deleted = http()
        .delete(&url)
        .header("authorization", SSWS)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        post_basic(&idp.token_endpoint(), &id, new_secret, &cc)
            .await
            .status(),
        401
    );
    let gone = http()
        .get(&url)
        .header("authorization", SSWS)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    assert_eq!(gone.json::<Value>().await.unwrap()["errorCode"], "E0000007");
}

#[tokio::test]
async fn dcr_list_pages_with_link_headers_and_filters_by_name_prefix() {
    let idp = start().await;
    for name in ["Alpha ward", "Alpha theatre", "Beta ward"] {
        let mut metadata = service_app();
        metadata["client_name"] = json!(name);
        register(&idp, metadata).await;
    }
    let response = http()
        .get(format!("{}?q=alpha&limit=1", clients_url(&idp)))
        .header("authorization", SSWS)
        .send()
        .await
        .unwrap();
    let link = response.headers()["link"].to_str().unwrap().to_owned();
    let page: Vec<Value> = response.json().await.unwrap();
    assert_eq!(page.len(), 1);
    assert!(link.contains("rel=\"next\""), "{link}");
    let next = link.split(", ").find(|l| l.contains("next")).unwrap();
    let next_url = next.trim_start_matches('<').split('>').next().unwrap();
    let second: Vec<Value> = http()
        .get(format!("{next_url}&q=alpha"))
        .header("authorization", SSWS)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(second.len(), 1);
    assert_ne!(page[0]["client_id"], second[0]["client_id"]);
    assert!(
        second[0]["client_name"]
            .as_str()
            .unwrap()
            .starts_with("Alpha")
    );
}

#[tokio::test]
async fn rate_limit_headers_are_on_every_response_and_a_configured_limit_gives_e0000047() {
    let idp = crate::support::start_with("").await;
    let response = http().get(idp.jwks_uri()).send().await.unwrap();
    for header in [
        "x-rate-limit-limit",
        "x-rate-limit-remaining",
        "x-rate-limit-reset",
        "date",
        "x-okta-request-id",
    ] {
        assert!(response.headers().contains_key(header), "{header}");
    }
    let text = mock_idp::config::DEFAULT_CONFIG_TOML
        .replace("[server]\n", "[server]\nrate_limit_per_minute = 2\n");
    let limited = mock_idp::MockIdp::builder()
        .config_toml(&text)
        .unwrap()
        .start()
        .await
        .unwrap();
    for _ in 0..2 {
        assert_eq!(
            http()
                .get(limited.jwks_uri())
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    let refused = http().get(limited.jwks_uri()).send().await.unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["x-rate-limit-remaining"], "0");
    assert_eq!(
        refused.json::<Value>().await.unwrap()["errorCode"],
        "E0000047"
    );
}

#[tokio::test]
async fn dcr_tokens_of_a_deleted_client_are_no_longer_active() {
    // Okta invalidates what it issued to a client when the client is deleted.
    let idp = start().await;
    let created: Value = register(&idp, service_app()).await.json().await.unwrap();
    let id = created["client_id"].as_str().unwrap();
    let secret = created["client_secret"].as_str().unwrap();
    let cc = [("grant_type", "client_credentials"), ("scope", "beds.read")];
    let issued: Value = post_basic(&idp.token_endpoint(), id, secret, &cc)
        .await
        .json()
        .await
        .unwrap();
    let token = issued["access_token"].as_str().unwrap();
    let kept = crate::support::access_token(&idp, "beds.read").await;
    assert_eq!(
        crate::support::introspect(&idp, token).await["active"],
        true
    );
    let deleted = http()
        .delete(format!("{}/{id}", clients_url(&idp)))
        .header("authorization", SSWS)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        crate::support::introspect(&idp, token).await,
        json!({"active": false})
    );
    assert_eq!(
        crate::support::introspect(&idp, &kept).await["active"],
        true,
        "other clients' tokens are untouched"
    );
}

#[tokio::test]
async fn ssws_cannot_replace_or_rotate_the_secret_of_a_configured_client() {
    use crate::support::{SERVICE_CLIENT_ID, SERVICE_CLIENT_SECRET};
    let idp = start().await;
    let url = format!("{}/{SERVICE_CLIENT_ID}", clients_url(&idp));
    let replaced = http()
        .put(&url)
        .header("authorization", SSWS)
        .json(&service_app())
        .send()
        .await
        .unwrap();
    let rotated = http()
        .post(format!("{url}/lifecycle/newSecret"))
        .header("authorization", SSWS)
        .send()
        .await
        .unwrap();
    for response in [replaced, rotated] {
        assert_eq!(response.status(), 403);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["errorCode"], "E0000006", "{body}");
        assert!(
            body["errorCauses"][0]["errorSummary"]
                .as_str()
                .unwrap()
                .contains("configuration"),
            "{body}"
        );
        assert!(!body.to_string().contains(SERVICE_CLIENT_SECRET));
    }
    let read: Value = http()
        .get(&url)
        .header("authorization", SSWS)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["client_name"], "CheckBedAvailability Service");
    let cc = [("grant_type", "client_credentials"), ("scope", "beds.read")];
    assert_eq!(
        post_basic(
            &idp.token_endpoint(),
            SERVICE_CLIENT_ID,
            SERVICE_CLIENT_SECRET,
            &cc
        )
        .await
        .status(),
        200,
        "the documented secret still works"
    );
}
