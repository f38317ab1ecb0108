//! AUTHZ / OIDC: the authorize endpoint's validation, response modes and
//! error behaviour (headless, via `/api/v1/authn` + `sessionToken`).

use serde_json::Value;

use crate::support::{WEB_CLIENT_ID, decode_parts, http, start};
use crate::user_support::*;

#[tokio::test]
async fn authz_01_get_and_form_post_both_return_a_code() {
    let idp = start().await;
    let response = authorize_with_session_token(&idp, &web_params("openid", "s1")).await;
    assert_eq!(response.status(), 302);
    assert!(query(&location(&response)).contains_key("code"));

    let token = session_token(&idp).await;
    let mut form = web_params("openid", "s2");
    form.push(("sessionToken", &token));
    let response = http()
        .post(authorize_endpoint(&idp))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let params = query(&location(&response));
    assert!(params.contains_key("code"));
    assert_eq!(params["state"], "s2");
}

#[tokio::test]
async fn authz_02_unknown_parameters_and_idp_are_ignored() {
    let idp = start().await;
    let mut params = web_params("email openid", "s");
    params.push(("extra", "foobar"));
    params.push(("idp", "0oa00000000000000000"));
    params.push(("display", "page"));
    let response = authorize_with_session_token(&idp, &params).await;
    assert!(query(&location(&response)).contains_key("code"));
}

#[tokio::test]
async fn authz_04_missing_response_type_redirects_with_invalid_request() {
    let idp = start().await;
    let params: Vec<_> = web_params("openid", "s")
        .into_iter()
        .filter(|(k, _)| *k != "response_type")
        .collect();
    let response = get(&authorize_url(&idp, &params)).await;
    let url = location(&response);
    assert!(url.as_str().starts_with(WEB_REDIRECT));
    let q = query(&url);
    assert_eq!(q["error"], "invalid_request");
    assert_eq!(q["state"], "s");
}

#[tokio::test]
async fn authz_05_response_type_not_registered_is_unsupported_response_type() {
    let idp = start().await;
    let mut params = web_params("openid", "s");
    params[1] = ("response_type", "token");
    params.push(("nonce", "n"));
    params.push(("response_mode", "fragment"));
    let response = get(&authorize_url(&idp, &params)).await;
    let f = fragment(&location(&response));
    assert_eq!(f["error"], "unsupported_response_type");
    assert!(f["error_description"].contains("Configured response types: [code]"));
    let mut params = web_params("openid", "s");
    params[1] = ("response_type", "magic");
    let q = query(&location(&get(&authorize_url(&idp, &params)).await));
    assert_eq!(q["error"], "unsupported_response_type");
}

async fn assert_error_page(response: reqwest::Response, needle: &str) {
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let body = response.text().await.unwrap();
    assert!(body.contains(needle), "{body}");
    assert!(!body.contains("<meta http-equiv=\"refresh\""));
    assert!(
        !body.contains("http://evil"),
        "the untrusted URI is not echoed into a link"
    );
}

#[tokio::test]
async fn authz_06_unregistered_redirect_uri_shows_an_error_page_and_never_redirects() {
    let idp = start().await;
    let mut params = web_params("openid", "s");
    params[3] = ("redirect_uri", "http://evil.example/cb");
    let response = authorize_with_session_token(&idp, &params).await;
    assert_error_page(response, "Login redirect URI").await;
}

#[tokio::test]
async fn authz_07_redirect_uris_match_exactly() {
    let idp = start().await;
    for variant in [
        format!("{WEB_REDIRECT}x"),
        format!("{WEB_REDIRECT}/"),
        WEB_REDIRECT.replace("callback", "Callback"),
        format!("{WEB_REDIRECT}?a=b"),
        WEB_REDIRECT.replace("8080", "8081"),
        WEB_REDIRECT.replace("http:", "https:"),
    ] {
        let mut params = web_params("openid", "s");
        params[3] = ("redirect_uri", &variant);
        let response = get(&authorize_url(&idp, &params)).await;
        assert_eq!(response.status(), 400, "{variant}");
        assert!(response.headers().get("location").is_none(), "{variant}");
    }
}

#[tokio::test]
async fn authz_09_missing_redirect_uri_is_an_error_page() {
    let idp = start().await;
    let params: Vec<_> = web_params("openid", "s")
        .into_iter()
        .filter(|(k, _)| *k != "redirect_uri")
        .collect();
    assert_error_page(get(&authorize_url(&idp, &params)).await, "redirect_uri").await;
}

#[tokio::test]
async fn authz_10_missing_or_unknown_client_id_is_an_error_page() {
    let idp = start().await;
    let mut params = web_params("openid", "s");
    params[0] = ("client_id", "0oaUNKNOWN");
    assert_error_page(get(&authorize_url(&idp, &params)).await, "client_id").await;
    params.remove(0);
    assert_error_page(get(&authorize_url(&idp, &params)).await, "client_id").await;
}

#[tokio::test]
async fn authz_11_state_is_echoed_byte_for_byte_in_success_and_error() {
    let idp = start().await;
    let state = "a b+c/d?e=f&g%h-é";
    let response = authorize_with_session_token(&idp, &web_params("openid", state)).await;
    assert_eq!(query(&location(&response))["state"], state);
    let response = get(&authorize_url(&idp, &web_params("nope.scope", state))).await;
    let q = query(&location(&response));
    assert_eq!(q["state"], state);
    assert_eq!(q["error"], "invalid_scope");
}

#[tokio::test]
async fn authz_12_14_error_redirects_carry_no_code_and_unknown_scopes_are_invalid_scope() {
    let idp = start().await;
    let response =
        authorize_with_session_token(&idp, &web_params("openid unknown.scope", "s")).await;
    let q = query(&location(&response));
    assert_eq!(q["error"], "invalid_scope");
    assert!(!q.contains_key("code"));
    assert!(
        q["error_description"]
            .chars()
            .all(|c| (' '..='~').contains(&c))
    );
}

#[tokio::test]
async fn authz_15_a_repeated_parameter_is_invalid_request() {
    let idp = start().await;
    let url = format!(
        "{}&state=again",
        authorize_url(&idp, &web_params("openid", "s"))
    );
    let q = query(&location(&get(&url).await));
    assert_eq!(q["error"], "invalid_request");
    // A repeated client_id or redirect_uri cannot be trusted: an error page.
    let url = format!(
        "{}&client_id={WEB_CLIENT_ID}",
        authorize_url(&idp, &web_params("openid", "s"))
    );
    assert_eq!(get(&url).await.status(), 400);
}

#[tokio::test]
async fn authz_okta_requires_state() {
    let idp = start().await;
    let params: Vec<_> = web_params("openid", "s")
        .into_iter()
        .filter(|(k, _)| *k != "state")
        .collect();
    let q = query(&location(&get(&authorize_url(&idp, &params)).await));
    assert_eq!(q["error"], "invalid_request");
    assert!(!q.contains_key("state"));
}

#[tokio::test]
async fn authz_19_form_post_is_an_auto_submitting_form_without_the_code_in_the_url() {
    let idp = start().await;
    let mut params = web_params("openid", "st<\"x\">");
    params.push(("response_mode", "form_post"));
    let response = authorize_with_session_token(&idp, &params).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("location").is_none());
    let body = response.text().await.unwrap();
    assert!(
        body.contains(&format!("action=\"{WEB_REDIRECT}\"")),
        "{body}"
    );
    assert!(body.contains("method=\"post\""));
    assert!(body.contains("name=\"code\""));
    assert!(body.contains("document.forms[0].submit()"));
    assert!(
        body.contains("value=\"st&lt;&quot;x&quot;&gt;\""),
        "state is escaped: {body}"
    );
}

#[tokio::test]
async fn authz_fragment_mode_puts_the_response_in_the_fragment() {
    let idp = start().await;
    let mut params = web_params("openid", "s");
    params.push(("response_mode", "fragment"));
    let url = location(&authorize_with_session_token(&idp, &params).await);
    assert!(url.query().is_none());
    let f = fragment(&url);
    assert!(f.contains_key("code"));
    assert_eq!(f["state"], "s");
}

#[tokio::test]
async fn authz_21_22_pages_resist_framing_and_authorize_has_no_cors() {
    let idp = start().await;
    let response = http()
        .get(authorize_url(&idp, &web_params("openid", "s")))
        .header("origin", "https://attacker.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the login page");
    assert_eq!(response.headers()["x-frame-options"], "DENY");
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn oidc_03_implicit_without_nonce_is_invalid_request() {
    let idp = start().await;
    let params = [
        ("client_id", SPA_CLIENT_ID),
        ("response_type", "id_token"),
        ("scope", "openid"),
        ("redirect_uri", SPA_REDIRECT),
        ("state", "s"),
    ];
    let f = fragment(&location(&get(&authorize_url(&idp, &params)).await));
    assert_eq!(f["error"], "invalid_request");
    assert!(f["error_description"].contains("nonce"));
}

#[tokio::test]
async fn oidc_04_prompt_none_without_a_session_is_login_required() {
    let idp = start().await;
    let mut params = web_params("openid", "s");
    params.push(("prompt", "none"));
    let q = query(&location(&get(&authorize_url(&idp, &params)).await));
    assert_eq!(q["error"], "login_required");
    assert_eq!(q["state"], "s");
}

#[tokio::test]
async fn oidc_10_prompt_none_combined_with_login_is_invalid_request() {
    let idp = start().await;
    let mut params = web_params("openid", "s");
    params.push(("prompt", "none login"));
    let q = query(&location(&get(&authorize_url(&idp, &params)).await));
    assert_eq!(q["error"], "invalid_request");
}

#[tokio::test]
async fn oidc_11_display_login_hint_and_acr_values_are_accepted() {
    let idp = start().await;
    let mut params = web_params("openid", "s");
    params.extend([
        ("display", "popup"),
        ("login_hint", USER_LOGIN),
        ("ui_locales", "en"),
        ("acr_values", "urn:okta:loa:1fa:pwd"),
        ("max_age", "3600"),
    ]);
    let q = query(&location(
        &authorize_with_session_token(&idp, &params).await,
    ));
    assert!(q.contains_key("code"), "{q:?}");
}

#[tokio::test]
async fn implicit_id_token_token_returns_both_in_the_fragment_with_at_hash_and_nonce() {
    let idp = start().await;
    let params = [
        ("client_id", SPA_CLIENT_ID),
        ("response_type", "id_token token"),
        ("scope", "openid profile"),
        ("redirect_uri", SPA_REDIRECT),
        ("state", "s"),
        ("nonce", "n-0S6_WzA2Mj"),
    ];
    let url = location(&authorize_with_session_token(&idp, &params).await);
    let f = fragment(&url);
    assert_eq!(f["token_type"], "Bearer");
    assert_eq!(f["expires_in"], "3600");
    assert_eq!(f["scope"], "openid profile");
    assert_eq!(f["state"], "s");
    let claims = verify_id_token(&idp, &f["id_token"], SPA_CLIENT_ID).await;
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(claims["at_hash"], half_hash(&f["access_token"]));
    assert!(claims.get("c_hash").is_none());
    let (_, at) = decode_parts(&f["access_token"]);
    assert_eq!(at["uid"], USER_ID);
    assert_eq!(at["sub"], USER_LOGIN);
}

#[tokio::test]
async fn idt_12_hybrid_code_id_token_carries_c_hash() {
    let idp = start().await;
    let (verifier, challenge) = pkce();
    let params = [
        ("client_id", SPA_CLIENT_ID),
        ("response_type", "code id_token"),
        ("scope", "openid"),
        ("redirect_uri", SPA_REDIRECT),
        ("state", "s"),
        ("nonce", "n1"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ];
    let f = fragment(&location(
        &authorize_with_session_token(&idp, &params).await,
    ));
    let front = verify_id_token(&idp, &f["id_token"], SPA_CLIENT_ID).await;
    assert_eq!(front["c_hash"], half_hash(&f["code"]));
    assert!(front.get("at_hash").is_none());
    // IDT-17: the token endpoint's ID token has the same iss and sub.
    let response = redeem_spa(&idp, &f["code"], Some(&verifier)).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let back = verify_id_token(&idp, body["id_token"].as_str().unwrap(), SPA_CLIENT_ID).await;
    assert_eq!(back["sub"], front["sub"]);
    assert_eq!(back["iss"], front["iss"]);
}

#[tokio::test]
async fn implicit_query_mode_with_tokens_is_refused() {
    let idp = start().await;
    let params = [
        ("client_id", SPA_CLIENT_ID),
        ("response_type", "token"),
        ("scope", "openid"),
        ("redirect_uri", SPA_REDIRECT),
        ("state", "s"),
        ("nonce", "n"),
        ("response_mode", "query"),
    ];
    let url = location(&get(&authorize_url(&idp, &params)).await);
    assert_eq!(query(&url)["error"], "invalid_request");
}

#[tokio::test]
async fn the_org_server_serves_the_code_flow_too() {
    let idp = start().await;
    let token = session_token(&idp).await;
    let mut params = web_params("openid", "s");
    params.push(("sessionToken", &token));
    let mut url = url::Url::parse(&format!("{}/oauth2/v1/authorize", idp.base_url())).unwrap();
    url.query_pairs_mut().extend_pairs(&params);
    let code = query(&location(&get(url.as_str()).await))["code"].clone();
    let response = http()
        .post(format!("{}/oauth2/v1/token", idp.base_url()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", WEB_REDIRECT),
            ("client_id", WEB_CLIENT_ID),
            ("client_secret", crate::support::WEB_CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let (_, claims) = decode_parts(body["id_token"].as_str().unwrap());
    assert_eq!(claims["iss"], idp.base_url());
    // A code from the org server is not redeemable at a custom server.
    let again = redeem_web(&idp, &code, &[]).await;
    assert_eq!(again.status(), 400);
}

#[tokio::test]
async fn oidc_09_prompt_none_with_id_token_hint_of_another_user_is_login_required() {
    let idp = crate::support::start_with(
        r#"
[[users]]
login = "pat.doctor@example.com"
password = "Stethoscope!2026"
[users.profile]
firstName = "Pat"
lastName = "Doctor"
"#,
    )
    .await;
    // Pat's ID token for the web client (a cookieless login).
    let response = http()
        .post(format!("{}/api/v1/authn", idp.base_url()))
        .json(&serde_json::json!({"username": "pat.doctor@example.com", "password": "Stethoscope!2026"}))
        .send()
        .await
        .unwrap();
    let pat_token: Value = response.json().await.unwrap();
    let mut params = web_params("openid", "s");
    params.push(("sessionToken", pat_token["sessionToken"].as_str().unwrap()));
    let code = query(&location(&get(&authorize_url(&idp, &params)).await))["code"].clone();
    let tokens: Value = redeem_web(&idp, &code, &[]).await.json().await.unwrap();
    let pat_hint = tokens["id_token"].as_str().unwrap().to_owned();

    // Alex has a browser session.
    let browser = browser_like();
    let token = session_token(&idp).await;
    let mut params = web_params("openid", "s");
    params.push(("sessionToken", &token));
    let response = browser
        .get(authorize_url(&idp, &params))
        .send()
        .await
        .unwrap();
    let code = query(&location(&response))["code"].clone();
    let tokens: Value = redeem_web(&idp, &code, &[]).await.json().await.unwrap();
    let alex_hint = tokens["id_token"].as_str().unwrap().to_owned();

    let mut params = web_params("openid", "s");
    params.push(("prompt", "none"));
    params.push(("id_token_hint", &pat_hint));
    let response = browser
        .get(authorize_url(&idp, &params))
        .send()
        .await
        .unwrap();
    assert_eq!(query(&location(&response))["error"], "login_required");
    params.pop();
    params.push(("id_token_hint", &alex_hint));
    let response = browser
        .get(authorize_url(&idp, &params))
        .send()
        .await
        .unwrap();
    assert!(query(&location(&response)).contains_key("code"));
}

#[tokio::test]
async fn authz_08_a_registered_redirect_uri_with_a_query_keeps_it() {
    let idp = crate::support::start_with(
        r#"
[[clients]]
client_id = "0oa7ms2query000x7d7"
client_secret = "mock-idp-query-secret-Wq8Ez3Rt5Yu7Io9Pa1Sd"
grant_types = ["authorization_code"]
redirect_uris = ["http://localhost:8080/cb?tenant=wards"]
token_endpoint_auth_method = "client_secret_basic"
"#,
    )
    .await;
    let params = [
        ("client_id", "0oa7ms2query000x7d7"),
        ("response_type", "code"),
        ("scope", "openid"),
        ("redirect_uri", "http://localhost:8080/cb?tenant=wards"),
        ("state", "s"),
    ];
    let url = location(&authorize_with_session_token(&idp, &params).await);
    assert!(
        url.as_str()
            .starts_with("http://localhost:8080/cb?tenant=wards&"),
        "{url}"
    );
    let q = query(&url);
    assert_eq!(q["tenant"], "wards");
    assert!(q.contains_key("code"));
}

#[tokio::test]
async fn authz_16_codes_are_long_random_and_unique() {
    let idp = start().await;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..20 {
        let code = web_code(&idp, "openid").await;
        assert!(code.len() >= 43, "{code}: at least 256 bits, base64url");
        assert!(
            code.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert!(seen.insert(code));
    }
}

#[tokio::test]
async fn disc_user_flow_endpoints_are_advertised_and_served() {
    let idp = start().await;
    for issuer in [idp.issuer(), idp.base_url().to_owned()] {
        let doc: Value = http()
            .get(format!("{issuer}/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            doc["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        assert_eq!(
            doc["id_token_signing_alg_values_supported"],
            serde_json::json!(["RS256"])
        );
        for scope in ["openid", "profile", "email", "offline_access"] {
            assert!(
                doc["scopes_supported"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|s| s == scope)
            );
        }
        for field in [
            "authorization_endpoint",
            "userinfo_endpoint",
            "end_session_endpoint",
        ] {
            let url = doc[field].as_str().unwrap();
            assert!(url.starts_with(&issuer), "{field}");
            let status = http().get(url).send().await.unwrap().status();
            assert_ne!(status, 404, "{field} {url}");
            assert!(status.as_u16() < 500, "{field} {url}");
        }
    }
}

#[tokio::test]
async fn oidc_12_request_objects_are_refused_not_ignored() {
    let idp = crate::support::start().await;
    let mut params = crate::user_support::web_params("openid", "s1");
    params.push(("request", "eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9."));
    let response =
        crate::user_support::get(&crate::user_support::authorize_url(&idp, &params)).await;
    assert_eq!(response.status(), 302);
    let location = crate::user_support::location(&response);
    let query = crate::user_support::query(&location);
    assert_eq!(query["error"], "request_not_supported");
    assert_eq!(query["state"], "s1");
    // A request_uri that /v1/par did not issue: an error page, never the
    // parameters beside it (RFC 9126 §4).
    let mut params = crate::user_support::web_params("openid", "s1");
    params.push(("request_uri", "https://attacker.example/request.jwt"));
    let response =
        crate::user_support::get(&crate::user_support::authorize_url(&idp, &params)).await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("request_uri"));
}

/// The `data-*` attribute `name` of the post-message page, HTML-unescaped.
fn page_attribute(body: &str, name: &str) -> String {
    let start = body.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
    let end = start + body[start..].find('"').unwrap();
    body[start..end]
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[tokio::test]
async fn authz_okta_post_message_hands_the_response_to_the_opening_window() {
    // okta-auth-js's silent renew (`getWithoutPrompt`, an iframe with prompt=none) and popup
    // login read the response from a `postMessage` addressed to the redirect URI's origin.
    let idp = start().await;
    let (verifier, challenge) = pkce();
    let params = [
        ("client_id", SPA_CLIENT_ID),
        ("response_type", "code"),
        ("response_mode", "okta_post_message"),
        ("prompt", "none"),
        ("scope", "openid"),
        ("redirect_uri", SPA_REDIRECT),
        ("state", "st-pm"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let response = authorize_with_session_token(&idp, &params).await;
    assert_eq!(response.status(), 200);
    let policy = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(response.headers().get("x-frame-options").is_none());
    assert!(
        policy.contains("frame-ancestors http://localhost:8080;"),
        "{policy}"
    );
    let body = response.text().await.unwrap();
    // The page's one script is the one the policy allows.
    let script = &body[body.find("<script>").unwrap() + 8..body.find("</script>").unwrap()];
    let hash = {
        use base64::Engine as _;
        use sha2::Digest as _;
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(script))
    };
    assert!(
        policy.contains(&format!("script-src 'sha256-{hash}'")),
        "{policy}"
    );
    assert!(script.contains("postMessage"));
    assert_eq!(
        page_attribute(&body, "data-origin"),
        "http://localhost:8080"
    );
    let message: Value = serde_json::from_str(&page_attribute(&body, "data-message")).unwrap();
    assert_eq!(message["state"], "st-pm");
    let code = message["code"].as_str().unwrap();
    let redeemed = redeem_spa(&idp, code, Some(&verifier)).await;
    assert_eq!(redeemed.status(), 200);

    // Without a session the error travels the same way.
    let response = get(&authorize_url(&idp, &params)).await;
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    let message: Value = serde_json::from_str(&page_attribute(&body, "data-message")).unwrap();
    assert_eq!(message["error"], "login_required");
    assert_eq!(message["state"], "st-pm");
}
