//! Pushed authorization requests (RFC 9126): `/v1/par`, `/v1/authorize` by
//! `request_uri` (single use, 60 s, bound to the client), clients that
//! require PAR, and the login page replaying a pushed request.

use serde_json::{Value, json};

use crate::support::{
    WEB_CLIENT_ID, WEB_CLIENT_SECRET, get_json, http, python_peer_summary, python_with, start,
    start_with,
};
use crate::user_support::*;

const PAR_ONLY_CLIENT: &str = "0oa7ms2paronly000x9a";
const PAR_ONLY_SECRET: &str = "mock-idp-par-only-secret-7Gk2Lw9Qz4Xc8Vn3";
const PAR_ONLY_REDIRECT: &str = "http://localhost:8080/par/callback";

async fn par_only_idp() -> mock_idp::MockIdp {
    start_with(&format!(
        r#"
[[clients]]
client_id = "{PAR_ONLY_CLIENT}"
client_secret = "{PAR_ONLY_SECRET}"
client_name = "PAR-only app"
grant_types = ["authorization_code"]
redirect_uris = ["{PAR_ONLY_REDIRECT}"]
require_pushed_authorization_requests = true
"#
    ))
    .await
}

async fn push(idp: &mock_idp::MockIdp, client: (&str, &str), redirect: &str) -> Value {
    let response = http()
        .post(format!("{}/v1/par", idp.issuer()))
        .basic_auth(client.0, Some(client.1))
        .form(&[
            ("response_type", "code"),
            ("redirect_uri", redirect),
            ("scope", "openid"),
            ("state", "st-par"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

#[tokio::test]
async fn par_with_requests_and_authlib_then_authorize_by_request_uri_and_replay_refused() {
    let Some(python) = python_with("PAR", &["requests", "authlib"]) else {
        return;
    };
    let idp = start().await;
    idp.clock().freeze_at(idp.clock().now());
    let seen = python_peer_summary(
        &python,
        "par_flow.py",
        &[
            &idp.issuer(),
            TEST_CLIENT_ID,
            TEST_CLIENT_SECRET,
            WEB_REDIRECT,
            WEB_CLIENT_ID,
            WEB_CLIENT_SECRET,
        ],
    )
    .await;
    assert_eq!(
        seen,
        json!({"redeemed": true, "replay": 400, "other_client": true, "expired": true, "refused": true})
    );
}

#[tokio::test]
async fn par_discovery_advertises_the_endpoint_on_org_and_custom_servers() {
    let idp = start().await;
    for (issuer, base) in [
        (idp.issuer(), idp.issuer()),
        (idp.org_issuer(), format!("{}/oauth2", idp.org_issuer())),
    ] {
        let doc = get_json(&format!("{issuer}/.well-known/openid-configuration")).await;
        assert_eq!(
            doc["pushed_authorization_request_endpoint"],
            format!("{base}/v1/par")
        );
        assert_eq!(doc["require_pushed_authorization_requests"], false);
    }
}

#[tokio::test]
async fn par_required_client_is_refused_a_plain_authorize_and_served_a_pushed_one() {
    let idp = par_only_idp().await;
    let plain = get(&authorize_url(
        &idp,
        &[
            ("client_id", PAR_ONLY_CLIENT),
            ("response_type", "code"),
            ("scope", "openid"),
            ("redirect_uri", PAR_ONLY_REDIRECT),
            ("state", "st-plain"),
        ],
    ))
    .await;
    let refused = query(&location(&plain));
    assert_eq!(refused["error"], "invalid_request");
    assert!(
        refused["error_description"].contains("pushed"),
        "{refused:?}"
    );
    assert_eq!(refused["state"], "st-plain");

    // Pushed, then the login page: the replay after login keeps the pushed parameters.
    let pushed = push(&idp, (PAR_ONLY_CLIENT, PAR_ONLY_SECRET), PAR_ONLY_REDIRECT).await;
    let browser = browser_like();
    let url = authorize_url(
        &idp,
        &[
            ("client_id", PAR_ONLY_CLIENT),
            ("request_uri", pushed["request_uri"].as_str().unwrap()),
        ],
    );
    let form = open_login(&browser, &url).await;
    let logged_in = submit(&browser, &form, USER_LOGIN, USER_PASSWORD).await;
    assert_eq!(logged_in.status(), 303);
    let params = query(&location(&logged_in));
    assert_eq!(params["state"], "st-par");
    assert!(params.contains_key("code"), "{params:?}");
}

#[tokio::test]
async fn par_request_uri_needs_one_client_id_and_is_not_reusable_after_a_login_page() {
    let idp = par_only_idp().await;
    let pushed = push(&idp, (PAR_ONLY_CLIENT, PAR_ONLY_SECRET), PAR_ONLY_REDIRECT).await;
    let uri = pushed["request_uri"].as_str().unwrap();
    let no_client = get(&authorize_url(&idp, &[("request_uri", uri)])).await;
    assert_eq!(no_client.status(), 400);
    // Showing the login page used the request_uri up.
    let browser = browser_like();
    let url = authorize_url(
        &idp,
        &[("client_id", PAR_ONLY_CLIENT), ("request_uri", uri)],
    );
    open_login(&browser, &url).await;
    assert_eq!(browser.get(&url).send().await.unwrap().status(), 400);
}
