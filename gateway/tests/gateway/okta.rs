//! End to end with the real mock Okta server (`mock-idp`), the demo backend and the gateway, all
//! on port 0. The gateway reads the mock's clock, so expiry and cache lifetimes move together.

use std::time::Duration;

use gateway::beds::{self, BedsHandle};
use gateway::config::Config;
use gateway::{Gateway, GatewayHandle};
use mock_idp::MockIdp;
use serde_json::Value;

use crate::harness::{challenge, metrics, sign_hs256};

const SERVICE: &str = "0oa7ms2bedsvc000x7d1";
const SERVICE_SECRET: &str = "mock-idp-service-secret-Bx7dY2qLw9ZtR4vNc8Hs";
const WEB: &str = "0oa7ms2bedweb000x7d2";
const WEB_SECRET: &str = "mock-idp-web-secret-Kp3sT8vXq2Lm6Wn9Rc4Jz7Fd";
const TESTER: &str = "0oa7ms2bedtst000x7d4";
const TESTER_SECRET: &str = "mock-idp-test-secret-Hq5wZ2nLp8Xc4Tv7Mb3Rk9Gs";

/// `local`: `oauth2_local` (JWKS); `remote`: `oauth2_remote`; `pem`: a pinned key.
fn config(idp: &MockIdp, upstream: &str, mode: &str) -> String {
    let (identification, keys) = match mode {
        "remote" => ("\"oauth2_remote\"", String::new()),
        "pem" => (
            "\"oauth2_local\"",
            format!(
                "public_key_pem = '''\n{}'''",
                idp.signing_key().public_key_pem().replace("\r\n", "\n")
            ),
        ),
        _ => ("\"oauth2_local\"", String::new()),
    };
    format!(
        r#"
[[authorization_servers]]
name = "ExternalOktaServer"
discovery_url = "{discovery}"
[authorization_servers.local]
audiences = ["api://default"]
{keys}
[authorization_servers.remote]
client_id = "{SERVICE}"
client_secret = "{SERVICE_SECRET}"
cache_ttl_seconds = 60

[[apis]]
name = "CheckBedAvailability"
base_path = "/beds"
upstream = "{upstream}"
identification = [{identification}]
resources = [
  {{ path = "/hospitals", methods = ["GET"] }},
  {{ path = "/hospitals/{{h}}/wards/{{w}}/reservations", methods = ["POST"] }},
]
scopes = [
  {{ name = "CheckBedAvailibiltyScopeV3", resources = [{{ path = "/hospitals", methods = ["GET"] }}] }},
  {{ name = "ReserveBedScopeV3", resources = [{{ path = "/hospitals/{{h}}/wards/{{w}}/reservations", methods = ["POST"] }}] }},
]

[[apis]]
name = "Profile"
base_path = "/profile"
upstream = "{upstream}"
identification = ["openid_connect"]
resources = [{{ path = "/hospitals", methods = ["GET"] }}]

[[apis]]
name = "Reports"
base_path = "/reports"
upstream = "{upstream}"
identification = ["openid_connect", "oauth2_local"]
resources = [{{ path = "/hospitals", methods = ["GET"] }}]

[[scope_mappings]]
authorization_server = "ExternalOktaServer"
scope = "beds.read"
api_scopes = ["CheckBedAvailibiltyScopeV3"]

[[scope_mappings]]
authorization_server = "ExternalOktaServer"
scope = "beds.write"
api_scopes = ["ReserveBedScopeV3"]

[[applications]]
name = "OpenIDApp"
apis = ["CheckBedAvailability", "Profile"]
strategies = [
  {{ name = "OktaStrategy", scheme = "openid", authorization_server = "ExternalOktaServer", client_id = "{SERVICE}", client_secret = "{SERVICE_SECRET}" }},
  {{ name = "OktaWebStrategy", scheme = "openid", authorization_server = "ExternalOktaServer", client_id = "{WEB}", client_secret = "{WEB_SECRET}", hmac = true }},
]

[[applications]]
name = "ReportingApp"
apis = ["Reports"]
strategies = [{{ name = "ReportingStrategy", scheme = "openid", authorization_server = "ExternalOktaServer", client_id = "{TESTER}" }}]
"#,
        discovery = idp.discovery_url(),
    )
}

struct Okta {
    idp: MockIdp,
    _beds: BedsHandle,
    gateway: GatewayHandle,
    http: reqwest::Client,
}

impl Okta {
    async fn start(mode: &str) -> Self {
        Self::start_on(MockIdp::builder().start().await.unwrap(), mode, |t| t).await
    }

    /// [`Okta::start`] on `idp`, with the gateway's configuration edited by `edit`.
    async fn start_on(idp: MockIdp, mode: &str, edit: impl FnOnce(String) -> String) -> Self {
        let beds =
            beds::start(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()).unwrap();
        let config =
            Config::from_toml(&edit(config(&idp, &beds.url(), mode)), &|_: &str| None).unwrap();
        let clock = idp.clock().clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gateway = Gateway::builder(config)
            .clock(move || u64::try_from(clock.now()).unwrap())
            .build(listener)
            .await
            .unwrap();
        Self {
            idp,
            _beds: beds,
            gateway,
            http: reqwest::Client::new(),
        }
    }

    /// A token from the mock's token endpoint (client_credentials), over HTTP.
    async fn client_credentials(&self, scope: &str) -> String {
        let r = self
            .http
            .post(self.idp.token_endpoint())
            .basic_auth(SERVICE, Some(SERVICE_SECRET))
            .form(&[("grant_type", "client_credentials"), ("scope", scope)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    async fn revoke(&self, token: &str) {
        let r = self
            .http
            .post(format!("{}/v1/revoke", self.idp.issuer()))
            .basic_auth(SERVICE, Some(SERVICE_SECRET))
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.gateway.url()))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    async fn post(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.gateway.url()))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    fn advance(&self, seconds: u64) {
        self.idp.clock().advance(Duration::from_secs(seconds));
    }
}

#[tokio::test]
async fn okta_client_credentials_token_is_validated_locally_against_the_jwks() {
    let o = Okta::start("local").await;
    let token = o.client_credentials("beds.read").await;
    let r = o.get("/beds/hospitals", &token).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["caller"]["application"], "OpenIDApp");
    assert_eq!(body["caller"]["client_id"], SERVICE);
    assert_eq!(body["caller"]["scopes"], "beds.read");
    assert_eq!(body["hospitals"][0]["id"], "st-marys");
    let m = metrics(&o.gateway).await;
    assert!(
        m.contains("kind=\"introspection\",result=\"ok\"} 0"),
        "local validation calls nobody: {m}"
    );
}

#[tokio::test]
async fn okta_scope_mapping_allows_reading_and_refuses_reserving() {
    let o = Okta::start("local").await;
    let read = o.client_credentials("beds.read").await;
    assert_eq!(o.get("/beds/hospitals", &read).await.status(), 200);
    let r = o
        .post("/beds/hospitals/st-marys/wards/icu/reservations", &read)
        .await;
    assert_eq!(r.status(), 403);
    assert!(challenge(&r).contains("scope=\"beds.write\""));
    let write = o.client_credentials("beds.read beds.write").await;
    assert_eq!(
        o.post("/beds/hospitals/st-marys/wards/icu/reservations", &write)
            .await
            .status(),
        201
    );
}

#[tokio::test]
async fn okta_expired_token_is_refused_after_the_mock_clock_moves() {
    let o = Okta::start("local").await;
    let token = o.client_credentials("beds.read").await;
    assert_eq!(o.get("/beds/hospitals", &token).await.status(), 200);
    o.advance(3600 + 31);
    let r = o.get("/beds/hospitals", &token).await;
    assert_eq!(r.status(), 401);
    assert!(challenge(&r).contains("error=\"invalid_token\""));
}

#[tokio::test]
async fn okta_key_rotation_is_picked_up_on_the_first_unknown_kid() {
    let o = Okta::start("local").await;
    let before = o.idp.mint_access_token(SERVICE, &["beds.read"]).unwrap();
    assert_eq!(o.get("/beds/hospitals", &before).await.status(), 200);
    o.idp.rotate_keys().await.unwrap();
    let after = o.client_credentials("beds.read").await;
    assert_eq!(
        o.get("/beds/hospitals", &after).await.status(),
        200,
        "first request with the new kid"
    );
    assert_eq!(
        o.get("/beds/hospitals", &before).await.status(),
        200,
        "the old key is still published"
    );
    let m = metrics(&o.gateway).await;
    assert!(m.contains("kind=\"jwks\",result=\"ok\"} 2"), "{m}");
}

#[tokio::test]
async fn okta_pinned_pem_key_validates_without_the_jwks() {
    let o = Okta::start("pem").await;
    let token = o.client_credentials("beds.read").await;
    assert_eq!(o.get("/beds/hospitals", &token).await.status(), 200);
    let m = metrics(&o.gateway).await;
    assert!(m.contains("kind=\"jwks\",result=\"ok\"} 0"), "{m}");
    // After rotation the pinned key no longer matches: refused, not refetched.
    o.idp.rotate_keys().await.unwrap();
    let rotated = o.client_credentials("beds.read").await;
    assert_eq!(o.get("/beds/hospitals", &rotated).await.status(), 401);
}

#[tokio::test]
async fn okta_hmac_id_token_is_accepted_for_the_hmac_strategy() {
    let o = Okta::start("local").await;
    let now = u64::try_from(o.idp.clock().now()).unwrap();
    let claims = serde_json::json!({
        "iss": o.idp.issuer(), "aud": WEB, "azp": WEB, "sub": "00u7ms2nurse0000x7d1",
        "iat": now, "exp": now + 3600, "jti": "ID.hmac",
    });
    let token = sign_hs256(WEB_SECRET.as_bytes(), None, &claims);
    let r = o.get("/profile/hospitals", &token).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["caller"]["application"], "OpenIDApp");
    assert_eq!(body["caller"]["subject"], "00u7ms2nurse0000x7d1");
    // The service client's strategy has HMAC off.
    let mut other = claims.clone();
    other["aud"] = SERVICE.into();
    other["azp"] = SERVICE.into();
    let token = sign_hs256(SERVICE_SECRET.as_bytes(), None, &other);
    assert_eq!(o.get("/profile/hospitals", &token).await.status(), 401);
}

#[tokio::test]
async fn okta_remote_introspection_caches_answers() {
    let o = Okta::start("remote").await;
    let token = o.client_credentials("beds.read").await;
    for _ in 0..3 {
        assert_eq!(o.get("/beds/hospitals", &token).await.status(), 200);
    }
    // Same token, another route: the cached answer is re-authorized (no beds.write).
    assert_eq!(
        o.post("/beds/hospitals/st-marys/wards/icu/reservations", &token)
            .await
            .status(),
        403
    );
    let m = metrics(&o.gateway).await;
    assert!(
        m.contains("kind=\"introspection\",result=\"ok\"} 1"),
        "one call (miss), then hits: {m}"
    );
    assert!(
        m.contains("cache=\"introspection\",result=\"hit\"} 3"),
        "{m}"
    );
    let other = o.client_credentials("beds.read").await;
    assert_eq!(o.get("/beds/hospitals", &other).await.status(), 200);
    let m = metrics(&o.gateway).await;
    assert!(
        m.contains("kind=\"introspection\",result=\"ok\"} 2"),
        "a new token is a miss: {m}"
    );
}

#[tokio::test]
async fn okta_revoked_token_is_refused_once_the_cache_cap_passes() {
    let o = Okta::start("remote").await;
    let token = o.client_credentials("beds.read").await;
    assert_eq!(o.get("/beds/hospitals", &token).await.status(), 200);
    o.revoke(&token).await;
    o.advance(61);
    let r = o.get("/beds/hospitals", &token).await;
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error_description"], "the token is not active");
}

#[tokio::test]
async fn okta_down_fails_closed_with_503() {
    let o = Okta::start("remote").await;
    let token = o.client_credentials("beds.read").await;
    let Okta {
        idp,
        _beds,
        gateway,
        http,
    } = o;
    idp.shutdown().await;
    let r = http
        .get(format!("{}/beds/hospitals", gateway.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    assert!(!body.to_string().contains(SERVICE_SECRET));
}

#[tokio::test]
async fn okta_application_not_subscribed_is_refused_and_unknown_client_is_invalid() {
    let o = Okta::start("local").await;
    let tester = o.idp.mint_access_token(TESTER, &["beds.read"]).unwrap();
    assert_eq!(o.get("/beds/hospitals", &tester).await.status(), 403);
    assert_eq!(o.get("/reports/hospitals", &tester).await.status(), 200);
    let service = o.client_credentials("beds.read").await;
    assert_eq!(o.get("/reports/hospitals", &service).await.status(), 403);
    let stranger = o
        .idp
        .mint_access_token("0oaUnknownClient", &["beds.read"])
        .unwrap();
    let r = o.get("/beds/hospitals", &stranger).await;
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn okta_spoofed_identity_headers_are_replaced() {
    let o = Okta::start("local").await;
    let token = o.client_credentials("beds.read").await;
    let r = o
        .http
        .get(format!("{}/beds/hospitals", o.gateway.url()))
        .bearer_auth(&token)
        .header("X-Gateway-Application", "ReportingApp")
        .header("x_gateway_subject", "admin")
        .header("X-GATEWAY-SCOPES", "beds.admin")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["caller"]["application"], "OpenIDApp");
    assert_eq!(body["caller"]["subject"], SERVICE);
    assert_eq!(body["caller"]["scopes"], "beds.read");
}

#[tokio::test]
async fn okta_rfc6750_errors() {
    let o = Okta::start("local").await;
    let url = format!("{}/beds/hospitals", o.gateway.url());
    let r = o.http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(challenge(&r), "Bearer realm=\"gateway\"");
    let r = o
        .http
        .get(&url)
        .header("authorization", "Bearer")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(challenge(&r).contains("error=\"invalid_request\""));
    let r = o.get("/beds/hospitals", "not-a-jwt").await;
    assert_eq!(r.status(), 401);
    assert!(challenge(&r).contains("error=\"invalid_token\""));
    let token = o.client_credentials("beds.read").await;
    let r = o
        .post("/beds/hospitals/x/wards/y/reservations", &token)
        .await;
    assert_eq!(r.status(), 403);
    assert!(challenge(&r).contains("error=\"insufficient_scope\""));
}

#[cfg(feature = "demo")]
#[tokio::test]
async fn the_demo_runs_the_articles_configuration_end_to_end() {
    let demo = gateway::demo::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let text = demo.instructions();
    assert!(text.contains("grant_type=client_credentials&scope=beds.read"));
    assert!(text.contains("state="));
    let http = reqwest::Client::new();
    let r = http
        .post(demo.idp.token_endpoint())
        .basic_auth(&demo.service.id, Some(demo.service.secret.expose()))
        .form(&[("grant_type", "client_credentials"), ("scope", "beds.read")])
        .send()
        .await
        .unwrap();
    let token = r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = http
        .get(format!("{}/hospitals/st-marys/wards", demo.api_url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["caller"]["application"], "OpenIDApp");
    assert_eq!(body["wards"][0]["ward"], "icu");
    demo.shutdown().await.unwrap();
}

#[tokio::test]
async fn discover_prints_a_config_snippet_that_names_the_mocks_endpoints() {
    let idp = MockIdp::builder().start().await.unwrap();
    let url = url::Url::parse(&idp.discovery_url()).unwrap();
    let metadata = gateway::discovery::fetch(&gateway::discovery::as_client(), &url)
        .await
        .unwrap();
    let snippet = gateway::discovery::snippet(&url, &metadata);
    let parsed: toml::Value = toml::from_str(&snippet).unwrap();
    let server = &parsed["authorization_servers"][0];
    assert_eq!(server["issuer"].as_str(), Some(idp.issuer().as_str()));
    assert_eq!(server["jwks_uri"].as_str(), Some(idp.jwks_uri().as_str()));
    assert!(snippet.contains("introspection_endpoint"), "{snippet}");
}

#[tokio::test]
async fn okta_authorization_code_flow_id_and_access_tokens_pass_the_gateway() {
    let o = Okta::start("local").await;
    let redirect = "http://localhost:8080/authorization-code/callback";
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // The headless test client signs the demo user in automatically.
    let r = browser
        .get(format!("{}/v1/authorize", o.idp.issuer()))
        .query(&[
            ("client_id", TESTER),
            ("response_type", "code"),
            ("scope", "openid profile beds.read"),
            ("redirect_uri", redirect),
            ("state", "state-123"),
            ("nonce", "nonce-123"),
        ])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    let location = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let param = |name: &str| {
        location
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("state").as_deref(), Some("state-123"));
    let code = param("code").expect("a code");
    let tokens: Value = o
        .http
        .post(o.idp.token_endpoint())
        .basic_auth(TESTER, Some(TESTER_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id_token = tokens["id_token"].as_str().expect("an ID token");
    let access_token = tokens["access_token"].as_str().expect("an access token");

    // The mock's RS256 ID token identifies the application through `openid_connect`.
    let r = o.get("/reports/hospitals", id_token).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["caller"]["application"], "ReportingApp");
    assert_eq!(body["caller"]["client_id"], TESTER);

    // The user's access token identifies the same application; `sub` is the user's login.
    let r = o.get("/reports/hospitals", access_token).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["caller"]["application"], "ReportingApp");
    assert_eq!(body["caller"]["subject"], "alex.nurse@example.com");

    // Neither opens an API the application is not subscribed to.
    assert_eq!(o.get("/beds/hospitals", access_token).await.status(), 403);
}

/// `pipeline::service` (what the gateway serves, the one pipeline) answers each step's outcome:
/// admitted, no token, a forged token, a scope the token lacks, no route.
#[tokio::test]
async fn the_served_pipeline_answers_each_steps_outcome() {
    use tower::ServiceExt as _;
    let idp = MockIdp::builder().start().await.unwrap();
    let beds = beds::start(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()).unwrap();
    let config = Config::from_toml(&config(&idp, &beds.url(), "local"), &|_: &str| None).unwrap();
    let clock = gateway::clock::SharedClock(std::sync::Arc::new(gateway::clock::ManualClock::new(
        u64::try_from(idp.clock().now()).unwrap(),
    )));
    let pipeline = std::sync::Arc::new(gateway::prepare(config, clock).await.unwrap());
    let good = {
        let r = reqwest::Client::new()
            .post(idp.token_endpoint())
            .basic_auth(SERVICE, Some(SERVICE_SECRET))
            .form(&[("grant_type", "client_credentials"), ("scope", "beds.read")])
            .send()
            .await
            .unwrap();
        r.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let forged = format!("{}.AAAA", good.rsplit_once('.').unwrap().0);
    let cases: Vec<(&str, &str, Option<String>, u16)> = vec![
        ("GET", "/beds/hospitals", Some(good.clone()), 200),
        ("GET", "/beds/hospitals", None, 401),
        ("GET", "/beds/hospitals", Some(forged), 401),
        (
            "POST",
            "/beds/hospitals/st-marys/wards/icu/reservations",
            Some(good.clone()),
            403,
        ),
        ("GET", "/nowhere", Some(good), 404),
    ];
    for (method, path, token, expected) in cases {
        let request = {
            let mut builder = http::Request::builder()
                .method(method)
                .uri(path)
                .header("host", "gateway.test");
            if let Some(token) = &token {
                builder = builder.header("authorization", format!("Bearer {token}"));
            }
            builder.body(axum::body::Body::empty()).unwrap()
        };
        let served = gateway::pipeline::service(pipeline.clone())
            .oneshot(request)
            .await
            .unwrap();
        assert_eq!(served.status().as_u16(), expected, "{method} {path}");
        // Each refusal carries its RFC 6750 challenge; a 404 none.
        assert_eq!(
            served.headers().contains_key("www-authenticate"),
            matches!(expected, 401 | 403),
            "{method} {path}"
        );
    }
}

/// The gateway reads Okta's `X-Rate-Limit-Limit/Remaining/Reset` from each introspection answer:
/// with a tenth of the quota left it stops calling for the client that sends unknown tokens, so
/// the authorization server never answers 429 and a fresh valid token from another client is
/// still introspected and passes.
#[tokio::test]
async fn okta_introspection_paces_before_the_rate_limit_and_a_fresh_token_still_passes() {
    let mut c = mock_idp::config::Config::default_config();
    c.server.rate_limit_per_minute = Some(40);
    let idp = MockIdp::builder().config(c).start().await.unwrap();
    let o = Okta::start_on(idp, "remote", |t| {
        t.replace(
            "cache_ttl_seconds = 60",
            "cache_ttl_seconds = 60\nclient_miss_budget = 1000",
        )
    })
    .await;
    for i in 0..100 {
        let r = o
            .get("/beds/hospitals", &format!("junk-opaque-token-{i:04}"))
            .await;
        assert_eq!(r.status(), 401, "{i}");
    }
    let fresh = o.client_credentials("beds.read").await;
    let other = crate::harness::client_from("127.0.0.2");
    let r = other
        .get(format!("{}/beds/hospitals", o.gateway.url()))
        .bearer_auth(&fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "a fresh token from another client");
    let m = metrics(&o.gateway).await;
    assert!(
        m.contains("kind=\"introspection\",result=\"error\"} 0\n"),
        "the AS never had to refuse a call: {m}"
    );
    let ok: u64 = m
        .lines()
        .find(|l| l.contains("kind=\"introspection\",result=\"ok\""))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(ok < 40, "{ok} calls");
    assert!(
        !m.contains("gateway_introspection_skipped_total{reason=\"rate_limit\"} 0\n"),
        "{m}"
    );
}
