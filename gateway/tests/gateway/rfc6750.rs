//! The RFC 6750 error responses: status, `WWW-Authenticate` and a JSON body that never echoes
//! the token.

use serde_json::Value;

use crate::harness::*;

#[tokio::test]
async fn no_token_is_401_with_a_challenge_and_no_error_code() {
    let s = Stack::start().await;
    let r = s.http.get(s.url("/beds/hospitals")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(challenge(&r), "Bearer realm=\"test\"");
    let r = s
        .http
        .get(s.url("/beds/hospitals"))
        .basic_auth("u", Some("p"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(challenge(&r), "Bearer realm=\"test\"");
}

#[tokio::test]
async fn malformed_authorization_headers_are_400_invalid_request() {
    let s = Stack::start().await;
    for value in ["Bearer", "Bearer a b c", "Bearer {not-b64}"] {
        let r = s
            .http
            .get(s.url("/beds/hospitals"))
            .header("authorization", value)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{value}");
        assert!(challenge(&r).contains("error=\"invalid_request\""));
    }
    let r = s
        .http
        .get(s.url("/beds/hospitals"))
        .header("authorization", "Bearer a")
        .header("authorization", "Bearer b")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = s
        .http
        .get(s.url("/beds/hospitals?access_token=abc"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn an_invalid_token_is_401_and_the_body_never_echoes_it() {
    let s = Stack::start().await;
    let mut claims = s.idp.access_claims(OPENID_APP, &["beds.read"], T0);
    claims["aud"] = "api://elsewhere".into();
    let token = s.idp.token(&claims);
    let r = s.get("/beds/hospitals", &token).await;
    assert_eq!(r.status(), 401);
    let c = challenge(&r);
    assert!(
        c.starts_with("Bearer realm=\"test\", error=\"invalid_token\""),
        "{c}"
    );
    assert_eq!(r.headers()["content-type"], "application/json");
    let text = r.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["error"], "invalid_token");
    let signature = token.rsplit('.').next().unwrap();
    assert!(
        !text.contains(signature) && !text.contains(&token[..20]),
        "{text}"
    );
    assert!(!text.contains(INTROSPECT_SECRET));
}

#[tokio::test]
async fn upstream_down_is_502_and_upstream_slow_is_504() {
    let idp = WireIdp::start().await;
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let g = start_gateway(
        &config_toml(&idp.discovery_url(), &dead_url),
        gateway::clock::ManualClock::new(T0),
    )
    .await;
    let token = idp.token(&idp.access_claims(OPENID_APP, &["beds.read"], T0));
    let http = reqwest::Client::new();
    let r = http
        .get(format!("{}/beds/hospitals", g.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "bad_gateway");

    let s = Stack::start().await;
    let token = s
        .idp
        .token(&s.idp.access_claims(OPENID_APP, &["beds.read"], T0));
    let r = s.get("/beds/slow?ms=3000", &token).await;
    assert_eq!(r.status(), 504);
}
