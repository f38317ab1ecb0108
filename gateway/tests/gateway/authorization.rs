//! Scope mappings, application subscriptions and identity headers.

use serde_json::{Value, json};

use crate::harness::*;

#[tokio::test]
async fn a_scope_mapping_opens_one_resource_and_refuses_another() {
    let s = Stack::start().await;
    let token = s
        .idp
        .token(&s.idp.access_claims(OPENID_APP, &["beds.read"], T0));
    assert_eq!(s.get("/beds/hospitals", &token).await.status(), 200);
    let r = s
        .http
        .post(s.url("/beds/hospitals/st-marys/wards/icu/reservations"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let c = challenge(&r);
    assert!(c.contains("error=\"insufficient_scope\""), "{c}");
    assert!(c.contains("scope=\"beds.reserve\""), "{c}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["scope"], "beds.reserve");

    let both = s.idp.token(
        &s.idp
            .access_claims(OPENID_APP, &["beds.read", "beds.reserve"], T0),
    );
    let r = s
        .http
        .post(s.url("/beds/hospitals/st-marys/wards/icu/reservations"))
        .bearer_auth(&both)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_token_without_mapped_scopes_is_refused_with_the_needed_scope() {
    let s = Stack::start().await;
    let token = s
        .idp
        .token(&s.idp.access_claims(OPENID_APP, &["openid", "profile"], T0));
    let r = s.get("/beds/hospitals", &token).await;
    assert_eq!(r.status(), 403);
    assert!(challenge(&r).contains("scope=\"beds.read\""));
}

#[tokio::test]
async fn an_application_not_subscribed_to_the_api_is_refused() {
    let s = Stack::start().await;
    // AdminApp is valid and identified but may call only the Admin API.
    let token = s
        .idp
        .token(&s.idp.access_claims(ADMIN_APP, &["beds.read"], T0));
    let r = s.get("/beds/hospitals", &token).await;
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["error_description"],
        "the application is not allowed to call this API"
    );
    assert_eq!(s.get("/admin/stats", &token).await.status(), 200);
    // And OpenIDApp may not call Admin.
    let token = s
        .idp
        .token(&s.idp.access_claims(OPENID_APP, &["beds.read"], T0));
    assert_eq!(s.get("/admin/stats", &token).await.status(), 403);
}

#[tokio::test]
async fn a_token_from_an_unknown_client_is_refused() {
    let s = Stack::start().await;
    let token = s
        .idp
        .token(&s.idp.access_claims("someone-else", &["beds.read"], T0));
    let r = s.get("/beds/hospitals", &token).await;
    assert_eq!(r.status(), 401);
    assert!(challenge(&r).contains("invalid_token"));
}

#[tokio::test]
async fn spoofed_identity_headers_never_reach_the_upstream() {
    let s = Stack::start().await;
    let token = s
        .idp
        .token(&s.idp.access_claims(OPENID_APP, &["beds.read"], T0));
    let r = s
        .http
        .get(s.url("/beds/hospitals"))
        .bearer_auth(&token)
        .header("X-Gateway-Application", "AdminApp")
        .header("x-gateway-subject", "root")
        .header("x_gateway_subject", "root")
        .header("X_Gateway_Scopes", "beds.admin")
        .header("x-gateway-client-id", "admin-app-client")
        .header("x-http-method-override", "DELETE")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let echo: Value = r.json().await.unwrap();
    let headers = echo["headers"].as_object().unwrap();
    assert_eq!(headers["x-gateway-application"], json!(["OpenIDApp"]));
    assert_eq!(headers["x-gateway-subject"], json!(["nurse@example.org"]));
    assert_eq!(headers["x-gateway-scopes"], json!(["beds.read"]));
    assert_eq!(headers["x-gateway-client-id"], json!([OPENID_APP]));
    for name in headers.keys() {
        assert!(
            !name.starts_with("x_gateway"),
            "{name} reached the upstream"
        );
        assert_ne!(name, "x-http-method-override");
    }
}

#[tokio::test]
async fn path_tricks_do_not_reach_other_resources() {
    let s = Stack::start().await;
    let token = s
        .idp
        .token(&s.idp.access_claims(OPENID_APP, &["beds.read"], T0));
    for p in [
        "/beds/hospitals/../admin",
        "/beds//hospitals",
        "/beds/hospitals;x",
        "/beds/%2e%2e/admin",
        "/beds/hospitals%2F..%2Fadmin",
    ] {
        let r = s.get(p, &token).await;
        assert!(
            r.status() == 400 || r.status() == 404,
            "{p}: {}",
            r.status()
        );
    }
    // Spellings some upstreams read as `/beds/hospitals` are refused as not canonical.
    assert_eq!(s.get("/beds/hospitals/", &token).await.status(), 400);
    assert_eq!(s.get("/BEDS/hospitals", &token).await.status(), 400);
    let r = s
        .http
        .delete(s.url("/beds/hospitals"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
}
