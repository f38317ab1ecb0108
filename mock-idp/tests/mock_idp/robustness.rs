//! Bad input never yields a 5xx or a panic: malformed bodies, wrong content
//! types, duplicated parameters, huge inputs, and arbitrary forms (proptest).

use std::sync::OnceLock;

use proptest::prelude::*;

use crate::support::{SERVICE_CLIENT_ID, SERVICE_CLIENT_SECRET, expect_oauth_error, http, start};

#[tokio::test]
async fn json_instead_of_a_form_is_invalid_request() {
    let idp = start().await;
    let response = http()
        .post(idp.token_endpoint())
        .basic_auth(SERVICE_CLIENT_ID, Some(SERVICE_CLIENT_SECRET))
        .json(&serde_json::json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    expect_oauth_error(response, 400, "invalid_request").await;
}

#[tokio::test]
async fn duplicated_parameters_are_invalid_request() {
    let idp = start().await;
    let response = http()
        .post(idp.token_endpoint())
        .basic_auth(SERVICE_CLIENT_ID, Some(SERVICE_CLIENT_SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&scope=beds.read&scope=beds.write")
        .send()
        .await
        .unwrap();
    let body = expect_oauth_error(response, 400, "invalid_request").await;
    assert_eq!(
        body["error_description"],
        "The request contained multiple parameters with the same name."
    );
}

#[tokio::test]
async fn a_huge_body_is_refused_with_an_oauth_error() {
    let idp = start().await;
    let huge = format!(
        "grant_type=client_credentials&scope={}",
        "a".repeat(200_000)
    );
    let response = http()
        .post(idp.token_endpoint())
        .basic_auth(SERVICE_CLIENT_ID, Some(SERVICE_CLIENT_SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(huge)
        .send()
        .await
        .unwrap();
    expect_oauth_error(response, 413, "invalid_request").await;
}

#[tokio::test]
async fn a_malformed_authorization_header_is_invalid_client() {
    let idp = start().await;
    for header in ["Basic !!!notbase64", "Basic", "Bearer abc", "Basic Og=="] {
        let response = http()
            .post(idp.token_endpoint())
            .header("authorization", header)
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{header}");
    }
}

#[tokio::test]
async fn invalid_utf8_and_broken_percent_encoding_get_a_4xx() {
    let idp = start().await;
    for body in [&b"grant_type=%ZZ&scope=%"[..], &b"\xff\xfe=\x00"[..]] {
        let response = http()
            .post(idp.token_endpoint())
            .basic_auth(SERVICE_CLIENT_ID, Some(SERVICE_CLIENT_SECRET))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert!(response.status().is_client_error(), "{}", response.status());
    }
}

#[tokio::test]
async fn unknown_paths_get_oktas_404() {
    let idp = start().await;
    let response = http()
        .get(format!("{}/oauth2/default/v1/nothing", idp.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["errorCode"], "E0000007");
}

/// One mock for all proptest cases, on its own runtime thread.
fn shared_mock() -> &'static str {
    static BASE: OnceLock<String> = OnceLock::new();
    BASE.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            runtime.block_on(async {
                let idp = start().await;
                tx.send(idp.base_url().to_owned()).unwrap();
                std::future::pending::<()>().await;
            });
        });
        rx.recv().unwrap()
    })
}

fn form_field() -> impl Strategy<Value = (String, String)> {
    let names = prop_oneof![
        Just("grant_type".to_owned()),
        Just("scope".to_owned()),
        Just("client_id".to_owned()),
        Just("client_secret".to_owned()),
        Just("client_assertion".to_owned()),
        Just("client_assertion_type".to_owned()),
        Just("token".to_owned()),
        Just("token_type_hint".to_owned()),
        "[a-z_]{0,12}",
    ];
    let values = prop_oneof![
        Just("client_credentials".to_owned()),
        Just("beds.read".to_owned()),
        Just(SERVICE_CLIENT_ID.to_owned()),
        Just("eyJhbGciOiJub25lIn0.e30.".to_owned()),
        any::<String>(),
    ];
    (names, values)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_forms_and_headers_never_yield_a_5xx(
        endpoint in prop_oneof![Just("token"), Just("introspect"), Just("revoke")],
        fields in proptest::collection::vec(form_field(), 0..6),
        raw_tail in proptest::collection::vec(any::<u8>(), 0..40),
        authorization in prop_oneof![
            Just(None),
            Just(Some(format!("Basic {}", "MG9hN21zMmJlZHN2YzAwMHg3ZDE6bW9jay1pZHAtc2VydmljZS1zZWNyZXQtQng3ZFkycUx3OVp0UjR2TmM4SHM="))),
            "[ -~]{0,60}".prop_map(Some),
        ],
        content_type in prop_oneof![
            Just("application/x-www-form-urlencoded"),
            Just("application/x-www-form-urlencoded; charset=UTF-8"),
            Just("application/json"),
            Just("text/plain"),
            Just(""),
        ],
    ) {
        let base = shared_mock();
        let mut body: Vec<u8> = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields.iter())
            .finish()
            .into_bytes();
        body.extend_from_slice(&raw_tail);
        let status = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
            let mut request = http()
                .post(format!("{base}/oauth2/default/v1/{endpoint}"))
                .body(body);
            if !content_type.is_empty() {
                request = request.header("content-type", content_type);
            }
            if let Some(value) = &authorization
                && let Ok(value) = reqwest::header::HeaderValue::from_str(value) {
                    request = request.header("authorization", value);
                }
            request.send().await.unwrap().status()
        });
        prop_assert!(!status.is_server_error(), "{endpoint}: {status}");
    }
}
