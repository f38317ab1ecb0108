//! The small parts of Okta's surface: `/.well-known/okta-organization`,
//! `client_id_issued_at` of configured clients, the `sid` cookie's
//! `SameSite`, and Universal Logout (`/oauth2/v1/global-token-revocation`).

use serde_json::{Value, json};

use crate::support::{http, introspect, start};
use crate::user_support::*;

const SSWS: &str = "SSWS 00mockIdpSswsApiToken7ms2Bx7dY2qLw9ZtR4vNc";

#[tokio::test]
async fn okta_organization_names_the_org_and_the_classic_pipeline() {
    let idp = start().await;
    let response = http()
        .get(format!("{}/.well-known/okta-organization", idp.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let body: Value = response.json().await.unwrap();
    let id = body["id"].as_str().unwrap();
    assert!(id.starts_with("00o") && id.len() == 20, "{id}");
    // The mock signs in through /api/v1/authn, Okta Classic's pipeline.
    assert_eq!(body["pipeline"], "v1");
    assert_eq!(body["_links"]["organization"]["href"], idp.base_url());
    // The org id is the `idp` claim of its ID tokens.
    let tokens = web_tokens(&idp, "openid").await;
    let (_, claims) = crate::support::decode_parts(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["idp"], id);
}

#[tokio::test]
async fn configured_clients_report_client_id_issued_at_as_an_integer() {
    let idp = start().await;
    let listed: Value = http()
        .get(format!("{}/oauth2/v1/clients?limit=200", idp.base_url()))
        .header("authorization", SSWS)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let clients = listed.as_array().unwrap();
    assert!(clients.len() >= 4);
    for client in clients {
        let issued = client["client_id_issued_at"].as_i64();
        assert!(
            issued.is_some_and(|at| at > 1_600_000_000),
            "{}: {}",
            client["client_id"],
            client["client_id_issued_at"]
        );
    }
}

/// The attributes of the `sid` cookie a response sets.
fn sid_attributes(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("sid="))
        .expect("a sid cookie")
        .to_owned()
}

#[tokio::test]
async fn sid_cookie_is_samesite_none_secure_over_https_and_lax_over_http() {
    let http_idp = start().await;
    let response = authorize_with_session_token(&http_idp, &web_params("openid", "st")).await;
    let cookie = sid_attributes(&response);
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "{cookie}");

    let idp = mock_idp::MockIdp::builder()
        .tls(mock_idp::tls::TlsMode::Generated)
        .start()
        .await
        .unwrap();
    let ca = reqwest::Certificate::from_pem(idp.ca_pem().unwrap().as_bytes()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let authn: Value = client
        .post(format!("{}/api/v1/authn", idp.base_url()))
        .json(&json!({"username": USER_LOGIN, "password": USER_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = authn["sessionToken"].as_str().unwrap();
    let mut params = web_params("openid", "st");
    params.push(("sessionToken", token));
    let response = client
        .get(authorize_url(&idp, &params))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_redirection());
    let cookie = sid_attributes(&response);
    assert!(cookie.contains("SameSite=None"), "{cookie}");
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
}

async fn revoke_globally(
    idp: &mock_idp::MockIdp,
    authorization: &str,
    body: Value,
) -> reqwest::Response {
    http()
        .post(format!(
            "{}/oauth2/v1/global-token-revocation",
            idp.base_url()
        ))
        .header("authorization", authorization)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn global_token_revocation_ends_sessions_and_refresh_tokens_of_the_user_named() {
    for sub_id in [
        json!({"format": "opaque", "id": USER_ID}),
        json!({"format": "email", "email": USER_LOGIN}),
        json!({"format": "iss_sub", "iss": "ISSUER", "sub": USER_LOGIN}),
    ] {
        let idp = crate::support::start().await;
        let sub_id: Value =
            serde_json::from_str(&sub_id.to_string().replace("ISSUER", &idp.issuer())).unwrap();
        let browser = browser_like();
        let response =
            authorize_with_session_token(&idp, &web_params("openid offline_access", "s")).await;
        let sid = session_cookie(&response);
        let code = query(&location(&response))["code"].clone();
        let tokens: Value = redeem_web(&idp, &code, &[]).await.json().await.unwrap();
        let refresh = tokens["refresh_token"].as_str().unwrap();
        assert_eq!(introspect(&idp, refresh).await["active"], true);

        let done = revoke_globally(&idp, SSWS, json!({ "sub_id": sub_id })).await;
        assert_eq!(done.status(), 204, "{sub_id}");
        assert_eq!(introspect(&idp, refresh).await["active"], false, "{sub_id}");
        assert_eq!(
            introspect(&idp, tokens["access_token"].as_str().unwrap()).await["active"],
            false
        );
        // The browser session is over: the next authorize shows the login page.
        let again = browser
            .get(authorize_url(&idp, &web_params("openid", "s2")))
            .header("cookie", &sid)
            .send()
            .await
            .unwrap();
        assert_eq!(
            again.status(),
            200,
            "the login page, not a redirect with a code"
        );
    }
}

#[tokio::test]
async fn global_token_revocation_refuses_bad_callers_and_bad_subjects() {
    let idp = start().await;
    let body = json!({"sub_id": {"format": "opaque", "id": USER_ID}});
    let none = http()
        .post(format!(
            "{}/oauth2/v1/global-token-revocation",
            idp.base_url()
        ))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
    assert_eq!(
        revoke_globally(&idp, "SSWS wrong-token-000000000", body.clone())
            .await
            .status(),
        401
    );
    // An org access token without okta.universalLogout.manage is not enough; with it, it is.
    let tokens_url = format!("{}/__mock/tokens", idp.base_url());
    let mint = |scopes: Value| {
        let url = tokens_url.clone();
        async move {
            crate::support::post_json(
                &url,
                &json!({"server": "org", "client_id": crate::support::SERVICE_CLIENT_ID, "scopes": scopes}),
            )
            .await
        }
    };
    let weak = mint(json!(["okta.users.read"])).await;
    let weak = format!("Bearer {}", weak["token"].as_str().unwrap());
    assert_eq!(
        revoke_globally(&idp, &weak, body.clone()).await.status(),
        403
    );
    let strong = mint(json!(["okta.universalLogout.manage"])).await;
    let strong = format!("Bearer {}", strong["token"].as_str().unwrap());
    assert_eq!(
        revoke_globally(&idp, &strong, body.clone()).await.status(),
        204
    );
    // A custom server's token is not the org's.
    let custom = crate::support::access_token(&idp, "beds.read").await;
    assert_eq!(
        revoke_globally(&idp, &format!("Bearer {custom}"), body)
            .await
            .status(),
        401
    );
    for (sub_id, status) in [
        (
            json!({"format": "opaque", "id": "00unobody0000000000"}),
            404,
        ),
        (
            json!({"format": "iss_sub", "iss": "https://attacker.example", "sub": USER_ID}),
            404,
        ),
        (json!({"format": "phone", "phone": "+1"}), 400),
        (json!({"format": "opaque"}), 400),
        (json!("00u7ms2nurse0000x7d1"), 400),
    ] {
        let response = revoke_globally(&idp, SSWS, json!({ "sub_id": sub_id })).await;
        assert_eq!(response.status(), status, "{sub_id}");
        let error: Value = response.json().await.unwrap();
        assert!(
            error["errorCode"].as_str().unwrap().starts_with("E0000"),
            "{error}"
        );
    }
}
