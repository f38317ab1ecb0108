//! proptest: arbitrary authorize query strings never give a 5xx and never
//! redirect (or form-post) to a URI that is not registered.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const NAMES: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "response_mode",
    "scope",
    "state",
    "nonce",
    "prompt",
    "max_age",
    "login_hint",
    "code_challenge",
    "code_challenge_method",
    "sessionToken",
    "idp",
    "id_token_hint",
    "display",
    "x",
];

const VALUES: &[&str] = &[
    "0oa7ms2bedweb000x7d2",
    "0oa7ms2bedspa000x7d3",
    "0oa7ms2bedtst000x7d4",
    "http://localhost:8080/authorization-code/callback",
    "http://localhost:8080/login/callback",
    "https://evil.example/cb",
    "http://localhost:8080/authorization-code/callback/",
    "code",
    "token",
    "id_token",
    "code id_token",
    "id_token token",
    "code id_token token",
    "none",
    "query",
    "fragment",
    "form_post",
    "okta_post_message",
    "openid",
    "openid profile email",
    "offline_access",
    "beds.read",
    "login",
    "consent",
    "none login",
    "0",
    "-1",
    "99999999999999999999",
    "S256",
    "plain",
    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    "",
    "%",
    "&",
    "=",
    "#frag",
];

fn param() -> impl Strategy<Value = (String, String)> {
    let name = prop_oneof![
        4 => proptest::sample::select(NAMES).prop_map(str::to_owned),
        1 => "[a-zA-Z_%&=#+ ]{0,12}",
    ];
    let value = prop_oneof![
        4 => proptest::sample::select(VALUES).prop_map(str::to_owned),
        1 => "\\PC{0,40}",
    ];
    (name, value)
}

fn registered(config: &mock_idp::Config) -> Vec<String> {
    config
        .clients
        .iter()
        .flat_map(|c| c.redirect_uris.iter().cloned())
        .collect()
}

/// Whether `target` is a registered URI followed only by response parameters.
fn is_registered_target(target: &str, registered: &[String]) -> bool {
    registered.iter().any(|uri| {
        target == uri
            || target
                .strip_prefix(uri.as_str())
                .is_some_and(|rest| rest.starts_with('?') || rest.starts_with('#'))
    })
}

#[test]
fn authorize_fuzz_never_5xx_and_never_redirects_to_an_unregistered_uri() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let idp = runtime.block_on(crate::support::start());
    let registered = registered(&mock_idp::Config::default_config());
    let client = crate::support::http();
    let endpoint = format!("{}/v1/authorize", idp.issuer());
    let mut runner = TestRunner::new(Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        proptest::collection::vec(param(), 0..10),
        prop_oneof![3 => Just(String::new()), 1 => "\\PC{0,30}"],
        any::<bool>(),
    );
    runner
        .run(&strategy, |(params, raw_tail, as_post)| {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            for (name, value) in &params {
                query.append_pair(name, value);
            }
            let mut query = query.finish();
            if !raw_tail.is_empty() {
                query.push('&');
                query.push_str(&raw_tail.replace('#', "%23").replace(' ', "+"));
            }
            let (status, location, body) = runtime.block_on(async {
                let request = if as_post {
                    client
                        .post(&endpoint)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(query.clone())
                } else {
                    client.get(format!("{endpoint}?{query}"))
                };
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                let location = response
                    .headers()
                    .get("location")
                    .map(|v| v.to_str().unwrap_or_default().to_owned());
                (status, location, response.text().await.unwrap_or_default())
            });
            prop_assert!(status < 500, "status {status} for {query}");
            if let Some(location) = location {
                prop_assert!(
                    is_registered_target(&location, &registered),
                    "redirect to {location} for {query}"
                );
            }
            if body.contains("<form method=\"post\" action=\"") && !body.contains("login.htm") {
                let action = body
                    .split("action=\"")
                    .nth(1)
                    .and_then(|s| s.split('"').next())
                    .unwrap_or_default()
                    .replace("&amp;", "&");
                prop_assert!(
                    registered.contains(&action),
                    "form_post to {action} for {query}"
                );
            }
            Ok(())
        })
        .unwrap();
}
