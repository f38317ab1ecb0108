//! `/api/v1/sessions/me`: the browser session a login leaves, as okta-auth-js's
//! `session.get()`, `session.refresh()` and `closeSession()` use it.

use serde_json::Value;

use crate::support::*;
use crate::user_support::*;

/// A headless login that leaves a session; returns the `sid` cookie pair.
async fn logged_in(idp: &mock_idp::MockIdp) -> String {
    let response = authorize_with_session_token(idp, &web_params("openid", "st-s")).await;
    assert!(response.status().is_redirection());
    session_cookie(&response)
}

/// `GET /api/v1/sessions/me` with the cookie, expecting a session.
async fn session_of(idp: &mock_idp::MockIdp, sid: &str) -> Value {
    let response = me(idp, reqwest::Method::GET, "")
        .header("cookie", sid)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn me(idp: &mock_idp::MockIdp, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    http().request(
        method,
        format!("{}/api/v1/sessions/me{path}", idp.base_url()),
    )
}

async fn expect_no_session(response: reqwest::Response) {
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errorCode"], "E0000007");
}

#[tokio::test]
async fn the_session_of_a_login_is_read_refreshed_and_closed() {
    let idp = start().await;
    let sid = logged_in(&idp).await;
    let session = session_of(&idp, &sid).await;
    assert_eq!(session["status"], "ACTIVE");
    assert_eq!(session["userId"], USER_ID);
    assert_eq!(session["login"], USER_LOGIN);
    assert_eq!(session["amr"], serde_json::json!(["pwd"]));
    let id = session["id"].as_str().unwrap();
    assert!(!sid.contains(id), "the id is not the cookie");
    assert!(
        session["_links"]["refresh"]["href"]
            .as_str()
            .unwrap()
            .ends_with("/api/v1/sessions/me/lifecycle/refresh")
    );

    // An hour later, a refresh moves the end an hour further.
    idp.clock().advance(std::time::Duration::from_secs(3600));
    let refreshed: Value = me(&idp, reqwest::Method::POST, "/lifecycle/refresh")
        .header("cookie", &sid)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(refreshed["id"], session["id"]);
    assert!(refreshed["expiresAt"].as_str() > session["expiresAt"].as_str());

    let closed = me(&idp, reqwest::Method::DELETE, "")
        .header("cookie", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(closed.status(), 204);
    let cleared = closed.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cleared.starts_with("sid=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    expect_no_session(
        me(&idp, reqwest::Method::GET, "")
            .header("cookie", &sid)
            .send()
            .await
            .unwrap(),
    )
    .await;
    // The session is gone for /authorize too.
    let mut params = web_params("openid", "st-n");
    params.push(("prompt", "none"));
    let silent = http()
        .get(authorize_url(&idp, &params))
        .header("cookie", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(query(&location(&silent))["error"], "login_required");
}

#[tokio::test]
async fn without_a_live_session_every_call_is_e0000007() {
    let idp = start().await;
    for (method, path) in [
        (reqwest::Method::GET, ""),
        (reqwest::Method::DELETE, ""),
        (reqwest::Method::POST, "/lifecycle/refresh"),
    ] {
        expect_no_session(me(&idp, method.clone(), path).send().await.unwrap()).await;
        let forged = me(&idp, method, path).header("cookie", "sid=forged");
        expect_no_session(forged.send().await.unwrap()).await;
    }
    // An expired session is no session.
    let sid = logged_in(&idp).await;
    idp.clock()
        .advance(std::time::Duration::from_secs(3 * 86_400));
    expect_no_session(
        me(&idp, reqwest::Method::GET, "")
            .header("cookie", &sid)
            .send()
            .await
            .unwrap(),
    )
    .await;
}

#[tokio::test]
async fn a_trusted_origin_may_read_the_session_with_credentials() {
    let idp = start().await;
    let sid = logged_in(&idp).await;
    let origin = "http://localhost:8080";
    let preflight = me(&idp, reqwest::Method::OPTIONS, "")
        .header("origin", origin)
        .header("access-control-request-method", "GET")
        .header(
            "access-control-request-headers",
            "x-okta-user-agent-extended",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(
        preflight.headers()["access-control-allow-credentials"],
        "true"
    );
    let response = me(&idp, reqwest::Method::GET, "")
        .header("origin", origin)
        .header("cookie", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], origin);
    assert_eq!(
        response.headers()["access-control-allow-credentials"],
        "true"
    );
    let untrusted = me(&idp, reqwest::Method::GET, "")
        .header("origin", "https://evil.example")
        .header("cookie", &sid)
        .send()
        .await
        .unwrap();
    assert!(
        !untrusted
            .headers()
            .contains_key("access-control-allow-origin")
    );
}

#[tokio::test]
async fn a_session_token_becomes_the_browser_session_at_session_cookie_redirect() {
    let idp = start().await;
    let token = session_token(&idp).await;
    let redirect = |token: &str, to: &str| {
        let mut url =
            url::Url::parse(&format!("{}/login/sessionCookieRedirect", idp.base_url())).unwrap();
        url.query_pairs_mut()
            .append_pair("checkAccountSetupComplete", "true")
            .append_pair("token", token)
            .append_pair("redirectUrl", to);
        url.to_string()
    };
    // An untrusted redirectUrl is refused before the token is spent: no open redirect.
    for to in ["https://evil.example/", "javascript:alert(1)", "/relative"] {
        let refused = get(&redirect(&token, to)).await;
        assert_eq!(refused.status(), 400, "{to}");
        assert!(!refused.headers().contains_key("set-cookie"));
    }
    let app = "http://localhost:8080/app?after=login";
    let response = get(&redirect(&token, app)).await;
    assert_eq!(location(&response).as_str(), app);
    let session = session_of(&idp, &session_cookie(&response)).await;
    assert_eq!(session["userId"], USER_ID);
    // A sessionToken is single use.
    let again = get(&redirect(&token, app)).await;
    assert_eq!(again.status(), 403);
    assert!(!again.headers().contains_key("set-cookie"));
}
