//! CORS as a browser running okta-auth-js meets it (catalogue BCP-04): every
//! endpoint it calls answers the preflight for the headers it sends, and the
//! answers themselves are readable from a trusted origin only.

use serde_json::{Value, json};

use crate::support::{http, start};
use crate::user_support::*;

/// The SPA's redirect origin, so a trusted origin.
const TRUSTED: &str = "http://localhost:8080";
const UNTRUSTED: &str = "https://attacker.example";
/// What okta-auth-js puts on every request, plus what some setups add.
const REQUESTED_HEADERS: &str =
    "accept,authorization,content-type,x-okta-user-agent-extended,x-requested-with";

async fn preflight(url: &str, method: &str) -> reqwest::Response {
    http()
        .request(reqwest::Method::OPTIONS, url)
        .header("origin", TRUSTED)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", REQUESTED_HEADERS)
        .send()
        .await
        .unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// The preflight passes as a browser judges it: 2xx, the origin allowed, the
/// method and every requested header listed.
fn assert_preflight_allows(response: &reqwest::Response, url: &str, method: &str, origin: &str) {
    assert_eq!(response.status(), 204, "{url}");
    assert_eq!(
        header(response, "access-control-allow-origin"),
        origin,
        "{url}"
    );
    let methods = header(response, "access-control-allow-methods");
    assert!(methods.split(", ").any(|m| m == method), "{url}: {methods}");
    let allowed = header(response, "access-control-allow-headers").to_ascii_lowercase();
    for requested in REQUESTED_HEADERS.split(',') {
        assert!(
            allowed.split(", ").any(|h| h == requested),
            "{url}: {requested} not in {allowed}"
        );
    }
}

#[tokio::test]
async fn bcp_04_discovery_and_keys_preflights_pass_and_answers_are_public() {
    let idp = start().await;
    let base = idp.base_url();
    let issuer = idp.issuer();
    for url in [
        format!("{base}/.well-known/openid-configuration"),
        format!("{issuer}/.well-known/openid-configuration"),
        format!("{issuer}/.well-known/oauth-authorization-server"),
        format!("{base}/oauth2/v1/keys"),
        format!("{issuer}/v1/keys"),
    ] {
        let response = preflight(&url, "GET").await;
        assert_preflight_allows(&response, &url, "GET", "*");
        let answer = http()
            .get(&url)
            .header("origin", TRUSTED)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{url}");
        assert_eq!(header(&answer, "access-control-allow-origin"), "*", "{url}");
    }
    let unknown = preflight(&format!("{base}/oauth2/nope/v1/keys"), "GET").await;
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn bcp_04_token_endpoints_and_authn_preflights_pass_with_credentials() {
    let idp = start().await;
    let base = idp.base_url();
    let issuer = idp.issuer();
    let mut urls = vec![
        format!("{base}/api/v1/authn"),
        format!("{base}/api/v1/authn/cancel"),
    ];
    for prefix in [format!("{base}/oauth2"), issuer.clone()] {
        for endpoint in ["token", "introspect", "revoke", "userinfo"] {
            urls.push(format!("{prefix}/v1/{endpoint}"));
        }
    }
    for url in urls {
        let response = preflight(&url, "POST").await;
        assert_preflight_allows(&response, &url, "POST", TRUSTED);
        // okta-auth-js sends authn requests with credentials.
        assert_eq!(
            header(&response, "access-control-allow-credentials"),
            "true",
            "{url}"
        );
    }
}

#[tokio::test]
async fn bcp_04_introspect_revoke_and_authn_answers_are_readable_from_trusted_origins_only() {
    let idp = start().await;
    let issuer = idp.issuer();
    let authn = format!("{}/api/v1/authn", idp.base_url());
    let login = json!({"username": USER_LOGIN, "password": USER_PASSWORD});
    for origin in [TRUSTED, UNTRUSTED] {
        let trusted = origin == TRUSTED;
        let expected_acao = if trusted { origin } else { "" };
        for endpoint in ["introspect", "revoke"] {
            let url = format!("{issuer}/v1/{endpoint}");
            let response = http()
                .post(&url)
                .header("origin", origin)
                .form(&[("token", "not-a-token"), ("client_id", SPA_CLIENT_ID)])
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{url}");
            assert_eq!(
                header(&response, "access-control-allow-origin"),
                expected_acao,
                "{url} from {origin}"
            );
            assert!(header(&response, "vary").contains("Origin"), "{url}");
        }
        // Errors too: okta-auth-js reads Okta's error body.
        let refused = http()
            .post(format!("{issuer}/v1/introspect"))
            .header("origin", origin)
            .form(&[("token", "not-a-token")])
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 401);
        assert_eq!(
            header(&refused, "access-control-allow-origin"),
            expected_acao
        );
        for (body, status) in [
            (login.clone(), 200),
            (json!({"username": USER_LOGIN, "password": "nope"}), 401),
        ] {
            let response = http()
                .post(&authn)
                .header("origin", origin)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), status);
            assert_eq!(
                header(&response, "access-control-allow-origin"),
                expected_acao,
                "authn from {origin}"
            );
            let credentials = if trusted { "true" } else { "" };
            assert_eq!(
                header(&response, "access-control-allow-credentials"),
                credentials
            );
            let body: Value = response.json().await.unwrap();
            assert!(body.get("status").is_some() || body.get("errorCode").is_some());
        }
    }
}

#[tokio::test]
async fn a_preflight_leaves_an_injected_fault_for_the_request_itself() {
    let idp = start().await;
    let created = http()
        .post(format!("{}/__mock/faults", idp.base_url()))
        .json(&json!({"endpoint": "keys", "kind": "status", "status": 503, "times": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let url = idp.jwks_uri();
    assert_preflight_allows(&preflight(&url, "GET").await, &url, "GET", "*");
    let answer = http().get(&url).send().await.unwrap();
    assert_eq!(answer.status(), 503);
}
