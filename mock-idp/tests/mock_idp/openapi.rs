//! The OpenAPI document (`/__mock/openapi.json`, `fixtures/mock-idp/openapi.json`)
//! stays true: every documented operation is served, and a minimal request to
//! it gets one of the documented statuses.

use serde_json::{Value, json};

use crate::support::{http, start};

const SSWS: &str = "SSWS 00mockIdpSswsApiToken7ms2Bx7dY2qLw9ZtR4vNc";

#[tokio::test]
async fn every_documented_operation_answers_with_a_documented_status() {
    let idp = start().await;
    let doc: Value = http()
        .get(format!("{}/__mock/openapi.json", idp.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["servers"][0]["url"], idp.base_url());
    let client: Value = http()
        .post(format!("{}/oauth2/v1/clients", idp.base_url()))
        .header("authorization", SSWS)
        .json(&json!({"client_name": "openapi probe", "application_type": "service", "grant_types": ["client_credentials"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client_id = client["client_id"].as_str().unwrap();
    let mut checked = 0;
    for (template, item) in doc["paths"].as_object().unwrap() {
        let path = template
            .replace("{server}", "default")
            .replace("{clientId}", client_id)
            .replace("{id}", "999");
        for (method, operation) in item.as_object().unwrap() {
            if method == "parameters" {
                continue;
            }
            let url = format!("{}{path}", idp.base_url());
            let mut request = http().request(method.to_uppercase().parse().unwrap(), &url);
            let uses_ssws = operation["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.get("ssws").is_some()));
            if uses_ssws {
                request = request.header("authorization", SSWS);
            }
            let body_types = operation["requestBody"]["content"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            if body_types.contains_key("application/x-www-form-urlencoded") {
                request = request.form(&[("probe", "1")]);
            } else if body_types.contains_key("application/json") {
                request = request.json(&json!({}));
            }
            let status = request.send().await.unwrap().status().as_u16();
            let documented: Vec<String> = operation["responses"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect();
            assert!(
                documented.contains(&status.to_string()),
                "{method} {template}: {status} is not among {documented:?}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 40, "{checked} operations checked");
}

#[test]
fn the_served_document_is_the_fixture() {
    let fixture = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/mock-idp/openapi.json"
    ))
    .unwrap();
    assert_eq!(fixture, mock_idp::control::OPENAPI);
    let doc: Value = serde_json::from_str(&fixture).unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
}
