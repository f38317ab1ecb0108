//! Claims rules (`[[claims_rules]]`) against the real mock Okta: groups from a user's Okta
//! groups (the mock's `value_from = "groups"` claim), custom claims per client, the
//! introspection answer's claims; rules per resource, method and API scope; the RFC 9470 step-up
//! answer.

use std::sync::Arc;
use std::time::Duration;

use gateway::GatewayHandle;
use gateway::admin::RuntimeOptions;
use gateway::config::Config;
use gateway::secret::Secret;
use gateway::store::{Sealer, Store};
use mock_idp::MockIdp;
use mock_idp::control::{ClaimRule, ClaimTarget, TokenKind};
use serde_json::{Map, Value, json};

use crate::harness::{Echo, challenge};

const SERVICE: &str = "0oa7ms2bedsvc000x7d1";
const SERVICE_SECRET: &str = "mock-idp-service-secret-Bx7dY2qLw9ZtR4vNc8Hs";
const TESTER: &str = "0oa7ms2bedtst000x7d4";
const WEB: &str = "0oa7ms2bedweb000x7d2";
const WEB_SECRET: &str = "mock-idp-web-secret-Kp3sT8vXq2Lm6Wn9Rc4Jz7Fd";
const TESTER_SECRET: &str = "mock-idp-test-secret-Hq5wZ2nLp8Xc4Tv7Mb3Rk9Gs";
const NURSE: (&str, &str) = ("alex.nurse@example.com", "CorrectHorse!2026");
const PORTER: (&str, &str) = ("sam.porter@example.com", "PorterHorse!2026");

/// The mock's default tenant, its `groups` claim filled from the user's Okta groups (as an
/// Okta groups claim does), and a porter who is not a nurse.
fn mock_config() -> String {
    format!(
        r#"{}
[[authorization_servers.claims]]
name = "groups"
value_from = "groups"
token = "both"

[[users]]
id = "00u7ms2porter000x7d2"
login = "{}"
password = "{}"
groups = ["Everyone", "Porters"]
[users.profile]
firstName = "Sam"
lastName = "Porter"
email = "sam.porter@example.com"
"#,
        mock_idp::config::DEFAULT_CONFIG_TOML,
        PORTER.0,
        PORTER.1
    )
}

fn gateway_config(idp: &MockIdp, upstream: &str) -> String {
    format!(
        r#"
[[authorization_servers]]
name = "ExternalOktaServer"
discovery_url = "{discovery}"
[authorization_servers.local]
audiences = ["api://default"]
[authorization_servers.remote]
client_id = "{SERVICE}"
client_secret = "{SERVICE_SECRET}"

[[apis]]
name = "Beds"
base_path = "/beds"
upstream = "{upstream}"
identification = ["oauth2_local"]
resources = [
  {{ path = "/hospitals", methods = ["GET"] }},
  {{ path = "/hospitals/{{h}}/reservations", methods = ["GET", "POST"] }},
  {{ path = "/records", methods = ["GET"] }},
]
scopes = [
  {{ name = "ReadBeds", resources = [{{ path = "/hospitals", methods = ["GET"] }}, {{ path = "/hospitals/{{h}}/reservations", methods = ["GET", "POST"] }}, {{ path = "/records", methods = ["GET"] }}] }},
]

[[apis]]
name = "Remote"
base_path = "/remote"
upstream = "{upstream}"
identification = ["oauth2_remote"]
resources = [{{ path = "/hospitals", methods = ["GET"] }}]

[[scope_mappings]]
authorization_server = "ExternalOktaServer"
scope = "beds.read"
api_scopes = ["Beds/ReadBeds"]

[[apis]]
name = "Profile"
base_path = "/profile"
upstream = "{upstream}"
identification = ["openid_connect"]
resources = [{{ path = "/me", methods = ["GET"] }}]

[[apis]]
name = "Chart"
base_path = "/chart"
upstream = "{upstream}"
identification = ["openid_connect"]
resources = [{{ path = "/notes", methods = ["GET"] }}]

[[claims_rules]]
name = "chart-recent-password"
api = "Chart"
require = {{ all = [{{ claim = "acr", one_of = ["urn:okta:loa:1fa:pwd"] }}, {{ max_age = 60 }}] }}

[[applications]]
name = "WebApp"
apis = ["Profile"]
strategies = [{{ name = "Web", scheme = "openid", authorization_server = "ExternalOktaServer", client_id = "{WEB}", client_secret = "{WEB_SECRET}", hmac = true }}]

[[claims_rules]]
name = "profile-nurses"
api = "Profile"
require = {{ claim = "groups", contains_any = ["Nurses"] }}

[[applications]]
name = "BedBoard"
apis = ["Beds", "Remote", "Chart"]
strategies = [
  {{ name = "Users", scheme = "openid", authorization_server = "ExternalOktaServer", client_id = "{TESTER}" }},
  {{ name = "Service", scheme = "oauth2", authorization_server = "ExternalOktaServer", client_id = "{SERVICE}" }},
]

# Partners' tokens come from clients the gateway does not list: their claims name them.
[[applications]]
name = "StMarys"
apis = ["Beds"]
identify_by_claims = {{ authorization_server = "ExternalOktaServer", require = [{{ claim = "tenant", equals = "st-marys" }}] }}

[[applications]]
name = "StMarysBeds"
apis = ["Beds"]
identify_by_claims = {{ authorization_server = "ExternalOktaServer", require = [{{ claim = "tenant", equals = "st-marys" }}, {{ claim = "groups", contains_any = ["Beds"] }}] }}

[[applications]]
name = "Ward7"
apis = ["Beds"]
identify_by_claims = {{ authorization_server = "ExternalOktaServer", require = [{{ claim = "ward", one_of = ["7"] }}] }}

[[claims_rules]]
name = "nurses-reserve"
api = "Beds"
resources = [{{ path = "/hospitals/{{h}}/reservations", methods = ["POST"] }}]
require = {{ claim = "groups", contains_any = ["Nurses"] }}

[[claims_rules]]
name = "st-marys-only"
api = "Beds"
api_scope = "ReadBeds"
require = {{ any = [{{ claim = "tenant", equals = "st-marys" }}, {{ claim = "groups", contains_all = ["Everyone"] }}] }}

[[claims_rules]]
name = "records-need-mfa"
api = "Beds"
resources = [{{ path = "/records" }}]
require = {{ all = [{{ claim = "groups", contains_any = ["Nurses"] }}, {{ claim = "acr", one_of = ["urn:okta:loa:2fa:any"] }}, {{ max_age = 300 }}] }}

[[claims_rules]]
name = "remote-nurses"
api = "Remote"
require = {{ claim = "groups", contains_any = ["Nurses"] }}
"#,
        discovery = idp.discovery_url(),
    )
}

struct Setup {
    idp: MockIdp,
    _echo: Echo,
    gateway: GatewayHandle,
    http: reqwest::Client,
}

const ADMIN: &str = "claims-admin-token-0123456789";

impl Setup {
    async fn start() -> Self {
        Self::start_with(None).await
    }

    /// With `store`: the admin API on port 0, and the store's rules laid over the file's.
    async fn start_with(store: Option<Arc<Store>>) -> Self {
        let idp = MockIdp::builder()
            .config_toml(&mock_config())
            .unwrap()
            .start()
            .await
            .unwrap();
        let echo = Echo::start().await;
        let gateway = Self::gateway(&idp, &echo, store).await;
        Self {
            idp,
            _echo: echo,
            gateway,
            http: reqwest::Client::new(),
        }
    }

    async fn gateway(idp: &MockIdp, echo: &Echo, store: Option<Arc<Store>>) -> GatewayHandle {
        let config = Config::from_toml(&gateway_config(idp, &echo.url()), &|_: &str| None).unwrap();
        let clock = idp.clock().clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut b =
            gateway::Gateway::builder(config).clock(move || u64::try_from(clock.now()).unwrap());
        if let Some(store) = store {
            let mut opts = RuntimeOptions::new(store);
            opts.admin = Some((
                tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
                Secret::new(ADMIN),
            ));
            opts.poll_interval = Duration::from_secs(3600);
            b = b.runtime(opts);
        }
        b.build(listener).await.unwrap()
    }

    async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self
            .http
            .request(
                method.parse().unwrap(),
                format!("{}{path}", self.gateway.admin_url().unwrap()),
            )
            .bearer_auth(ADMIN);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// A user's access token from the mock's token endpoint (password grant).
    async fn user_token(&self, (user, password): (&str, &str)) -> String {
        let r = self
            .http
            .post(self.idp.token_endpoint())
            .basic_auth(TESTER, Some(TESTER_SECRET))
            .form(&[
                ("grant_type", "password"),
                ("username", user),
                ("password", password),
                ("scope", "openid beds.read"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    async fn service_token(&self) -> String {
        let r = self
            .http
            .post(self.idp.token_endpoint())
            .basic_auth(SERVICE, Some(SERVICE_SECRET))
            .form(&[("grant_type", "client_credentials"), ("scope", "beds.read")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    async fn call(&self, method: &str, path: &str, token: &str) -> reqwest::Response {
        self.http
            .request(
                method.parse().unwrap(),
                format!("{}{path}", self.gateway.url()),
            )
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }
}

fn claims(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

async fn refusal(r: reqwest::Response) -> (u16, String, Value) {
    let status = r.status().as_u16();
    let c = challenge(&r);
    (status, c, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn claims_rule_okta_groups_pass_and_fail_per_resource_and_method() {
    let s = Setup::start().await;
    let nurse = s.user_token(NURSE).await;
    let porter = s.user_token(PORTER).await;
    let reserve = "/beds/hospitals/h1/reservations";
    assert_eq!(s.call("POST", reserve, &nurse).await.status(), 200);
    // The same resource's GET is not guarded by the nurses rule.
    assert_eq!(s.call("GET", reserve, &porter).await.status(), 200);
    let (status, c, body) = refusal(s.call("POST", reserve, &porter).await).await;
    assert_eq!(status, 403);
    assert!(c.starts_with("Bearer "), "{c}");
    assert!(c.contains("error=\"insufficient_scope\""), "{c}");
    assert!(c.contains("claims rule `nurses-reserve`"), "{c}");
    assert_eq!(body["error"], "insufficient_scope");
    let d = body["error_description"].as_str().unwrap();
    assert!(d.starts_with("claims_rule_failed:"), "{d}");
    // The claim's values are never echoed.
    for text in [c.as_str(), d] {
        assert!(
            !text.contains("Porters") && !text.contains("Everyone"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn claims_rule_custom_claims_per_client_open_an_api_scope() {
    let s = Setup::start().await;
    // A service token has no groups: only the client's custom `tenant` claim lets it read.
    let token = s.service_token().await;
    let (status, c, _) = refusal(s.call("GET", "/beds/hospitals", &token).await).await;
    assert_eq!(status, 403);
    assert!(c.contains("claims rule `st-marys-only`"), "{c}");
    let _tenant = s.idp.claims(ClaimRule {
        target: ClaimTarget {
            client_id: Some(SERVICE.into()),
            user: None,
        },
        token: TokenKind::Access,
        claims: claims(json!({ "tenant": "st-marys" })),
        once: false,
    });
    let token = s.service_token().await;
    assert_eq!(s.call("GET", "/beds/hospitals", &token).await.status(), 200);
    // Ill-typed: a tenant given as a list is not equal to the string.
    let _typed = s.idp.claims(ClaimRule {
        target: ClaimTarget {
            client_id: Some(SERVICE.into()),
            user: None,
        },
        token: TokenKind::Access,
        claims: claims(json!({ "tenant": ["st-marys"] })),
        once: false,
    });
    let token = s.service_token().await;
    assert_eq!(s.call("GET", "/beds/hospitals", &token).await.status(), 403);
}

#[tokio::test]
async fn claims_rule_reads_the_introspection_answer_for_remote_tokens() {
    let s = Setup::start().await;
    let nurse = s.user_token(NURSE).await;
    let porter = s.user_token(PORTER).await;
    assert_eq!(
        s.call("GET", "/remote/hospitals", &nurse).await.status(),
        200
    );
    let (status, c, _) = refusal(s.call("GET", "/remote/hospitals", &porter).await).await;
    assert_eq!(status, 403);
    assert!(c.contains("claims rule `remote-nurses`"), "{c}");
}

#[tokio::test]
async fn claims_rule_asking_for_a_stronger_login_answers_rfc9470_step_up() {
    let s = Setup::start().await;
    let nurse = s.user_token(NURSE).await;
    let (status, c, body) = refusal(s.call("GET", "/beds/records", &nurse).await).await;
    assert_eq!(status, 401);
    assert!(
        c.contains("error=\"insufficient_user_authentication\""),
        "{c}"
    );
    assert!(c.contains("acr_values=\"urn:okta:loa:2fa:any\""), "{c}");
    assert!(c.contains("max_age=300"), "{c}");
    assert_eq!(body["error"], "insufficient_user_authentication");
    assert_eq!(body["acr_values"], "urn:okta:loa:2fa:any");
    assert_eq!(body["max_age"], 300);
    // A porter would not pass with any login: a plain 403, no step-up invitation.
    let porter = s.user_token(PORTER).await;
    let (status, c, _) = refusal(s.call("GET", "/beds/records", &porter).await).await;
    assert_eq!(status, 403);
    assert!(c.contains("claims rule `records-need-mfa`"), "{c}");
    // A fresh multi-factor login (acr and auth_time as Okta writes them) passes.
    let now = s.idp.clock().now();
    let _mfa = s.idp.claims(ClaimRule {
        target: ClaimTarget {
            client_id: None,
            user: Some(NURSE.0.into()),
        },
        token: TokenKind::Access,
        claims: claims(json!({ "acr": "urn:okta:loa:2fa:any", "auth_time": now })),
        once: false,
    });
    let mfa = s.user_token(NURSE).await;
    assert_eq!(s.call("GET", "/beds/records", &mfa).await.status(), 200);
    s.idp.clock().advance(std::time::Duration::from_secs(301));
    let (status, c, _) = refusal(s.call("GET", "/beds/records", &mfa).await).await;
    assert_eq!(status, 401, "{c}");
    assert!(c.contains("max_age=300"), "{c}");
}

#[tokio::test]
async fn claims_rule_and_claims_identification_changed_through_the_admin_api_apply_at_once_and_persist()
 {
    let dir = std::env::temp_dir().join(format!("gateway-claims-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("rules.db");
    let _ = std::fs::remove_file(&db);
    let sqlite = || async {
        Arc::new(
            Store::open(&format!("sqlite:{}", db.display()), Sealer::none())
                .await
                .unwrap(),
        )
    };
    let s = Setup::start_with(Some(sqlite().await)).await;
    let nurse = s.user_token(NURSE).await;
    let porter = s.user_token(PORTER).await;
    let reserve = "/beds/hospitals/h1/reservations";

    // The file's rules seeded the store and are shown.
    let (status, list) = s.admin("GET", "/admin/v1/claims-rules", None).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "chart-recent-password",
            "nurses-reserve",
            "profile-nurses",
            "records-need-mfa",
            "remote-nurses",
            "st-marys-only"
        ]
    );
    let (status, shown) = s
        .admin("GET", "/admin/v1/claims-rules/nurses-reserve", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        shown["require"],
        json!({ "claim": "groups", "contains_any": ["Nurses"] })
    );

    // The same validator as the file's: a bad rule is a 400 naming the key, nothing changes.
    let mut bad = shown.clone();
    bad["require"] = json!({ "all": [{ "claim": "groups", "contains_any": "Porters" }] });
    let (status, e) = s
        .admin("PUT", "/admin/v1/claims-rules/nurses-reserve", Some(bad))
        .await;
    assert_eq!(status, 400, "{e}");
    assert_eq!(
        e["key"],
        "claims_rules[nurses-reserve].require.all[0].contains_any"
    );
    assert_eq!(s.call("POST", reserve, &nurse).await.status(), 200);

    // Porters instead of nurses, from the next request on.
    let mut porters = shown.clone();
    porters["require"] = json!({ "claim": "groups", "contains_any": ["Porters"] });
    let (status, _) = s
        .admin(
            "PUT",
            "/admin/v1/claims-rules/nurses-reserve",
            Some(porters.clone()),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(s.call("POST", reserve, &porter).await.status(), 200);
    assert_eq!(s.call("POST", reserve, &nurse).await.status(), 403);

    // A new rule, by POST, then deleted.
    let (status, _) = s
        .admin(
            "POST",
            "/admin/v1/claims-rules",
            Some(
                json!({ "name": "no-reads", "api": "Beds", "resources": [{ "path": "/hospitals" }],
                         "require": { "claim": "never-issued", "exists": true } }),
            ),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(s.call("GET", "/beds/hospitals", &nurse).await.status(), 403);
    let (status, _) = s
        .admin("DELETE", "/admin/v1/claims-rules/no-reads", None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(s.call("GET", "/beds/hospitals", &nurse).await.status(), 200);
    let (status, _) = s
        .admin("DELETE", "/admin/v1/claims-rules/no-reads", None)
        .await;
    assert_eq!(status, 404);

    // Applications identified by claims are created the same way, with the same checks.
    let partner = json!({ "name": "Partner", "apis": ["Beds"], "identify_by_claims": {
        "authorization_server": "ExternalOktaServer",
        "require": [{ "claim": "tenant", "equals": "partner-trust" }] } });
    let (status, created) = s
        .admin("POST", "/admin/v1/applications", Some(partner))
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        created["identify_by_claims"]["require"][0]["equals"],
        "partner-trust"
    );
    let token = partner_token(
        &s.idp,
        "0oapartner00000000x9",
        json!({ "tenant": "partner-trust", "groups": ["Everyone"] }),
    );
    assert_eq!(
        application_seen_upstream(&s, &token).await.unwrap(),
        "Partner"
    );
    let twin = json!({ "name": "Twin", "apis": ["Beds"], "identify_by_claims": {
        "authorization_server": "ExternalOktaServer",
        "require": [{ "claim": "tenant", "equals": "partner-trust" }] } });
    let (status, e) = s.admin("POST", "/admin/v1/applications", Some(twin)).await;
    assert_eq!(status, 400, "{e}");
    assert_eq!(e["key"], "applications[Twin].identify_by_claims");

    // A restart on the same store serves the changed rule, not the file's.
    let again = Setup::gateway(&s.idp, &s._echo, Some(sqlite().await)).await;
    let r = s
        .http
        .post(format!("{}{reserve}", again.url()))
        .bearer_auth(&nurse)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn claims_rule_reads_hs256_id_token_claims() {
    let s = Setup::start().await;
    let now = u64::try_from(s.idp.clock().now()).unwrap();
    let id_token = |groups: Value| {
        crate::harness::sign_hs256(
            WEB_SECRET.as_bytes(),
            None,
            &json!({ "iss": s.idp.issuer(), "aud": WEB, "azp": WEB, "sub": "00u7ms2nurse0000x7d1",
                     "iat": now, "exp": now + 3600, "groups": groups }),
        )
    };
    let nurse = id_token(json!(["Everyone", "Nurses"]));
    assert_eq!(s.call("GET", "/profile/me", &nurse).await.status(), 200);
    let porter = id_token(json!(["Everyone", "Porters"]));
    let (status, c, _) = refusal(s.call("GET", "/profile/me", &porter).await).await;
    assert_eq!(status, 403);
    assert!(c.contains("claims rule `profile-nurses`"), "{c}");
}

/// The ID token of a browser login at the mock (the headless client signs its user in by
/// itself), with `extra` authorize parameters.
async fn browser_id_token(s: &Setup, extra: &[(&str, &str)]) -> String {
    let redirect = "http://localhost:8080/authorization-code/callback";
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut query = vec![
        ("client_id", TESTER),
        ("response_type", "code"),
        ("scope", "openid"),
        ("redirect_uri", redirect),
        ("state", "st-1"),
        ("nonce", "n-1"),
    ];
    query.extend_from_slice(extra);
    let r = browser
        .get(format!("{}/v1/authorize", s.idp.issuer()))
        .query(&query)
        .send()
        .await
        .unwrap();
    let location = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code");
    let tokens: Value = s
        .http
        .post(s.idp.token_endpoint())
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
    tokens["id_token"].as_str().unwrap().to_owned()
}

/// `name="value"` or `name=value` from a challenge.
fn challenge_param(c: &str, name: &str) -> String {
    let rest = &c[c.find(&format!("{name}=")).expect(name) + name.len() + 1..];
    match rest.strip_prefix('"') {
        Some(q) => q[..q.find('"').unwrap()].to_owned(),
        None => rest.split([',', ' ']).next().unwrap().to_owned(),
    }
}

#[tokio::test]
async fn claims_rule_step_up_loop_with_the_mock_honouring_acr_values_and_max_age() {
    let s = Setup::start().await;
    s.idp.clock().freeze_at(1_900_000_000);
    let plain = browser_id_token(&s, &[]).await;
    let (status, c, _) = refusal(s.call("GET", "/chart/notes", &plain).await).await;
    assert_eq!(status, 401, "{c}");
    let acr = challenge_param(&c, "acr_values");
    let max_age = challenge_param(&c, "max_age");
    assert_eq!(
        (acr.as_str(), max_age.as_str()),
        ("urn:okta:loa:1fa:pwd", "60")
    );
    // The client asks Okta for what the challenge named, and passes.
    let stepped = browser_id_token(&s, &[("acr_values", &acr), ("max_age", &max_age)]).await;
    assert_eq!(s.call("GET", "/chart/notes", &stepped).await.status(), 200);
    // A minute later the login is too old again.
    s.idp.clock().advance(std::time::Duration::from_secs(61));
    let (status, c, _) = refusal(s.call("GET", "/chart/notes", &stepped).await).await;
    assert_eq!(status, 401);
    assert!(c.contains("max_age=60"), "{c}");
}

/// A token from a client no strategy names, with these claims.
fn partner_token(idp: &MockIdp, client_id: &str, extra: Value) -> String {
    let request: mock_idp::test_tokens::TestTokenRequest = serde_json::from_value(json!({
        "client_id": client_id, "scopes": ["beds.read"], "claims": extra,
    }))
    .unwrap();
    idp.mint_test_token(&request).unwrap()
}

async fn application_seen_upstream(s: &Setup, token: &str) -> Result<String, (u16, String)> {
    let r = s.call("GET", "/beds/hospitals", token).await;
    if r.status() != 200 {
        return Err((r.status().as_u16(), challenge(&r)));
    }
    let echoed: Value = r.json().await.unwrap();
    Ok(echoed["headers"]["x-gateway-application"][0]
        .as_str()
        .unwrap()
        .to_owned())
}

#[tokio::test]
async fn claims_identification_picks_the_most_specific_claim_set() {
    let s = Setup::start().await;
    let partner = "0oapartner00000000x9";
    let both = partner_token(
        &s.idp,
        partner,
        json!({ "tenant": "st-marys", "groups": ["Beds", "Everyone"] }),
    );
    assert_eq!(
        application_seen_upstream(&s, &both).await.unwrap(),
        "StMarysBeds"
    );
    let tenant = partner_token(&s.idp, partner, json!({ "tenant": "st-marys" }));
    assert_eq!(
        application_seen_upstream(&s, &tenant).await.unwrap(),
        "StMarys"
    );
    // A registered client id comes first, whatever claims its token carries.
    let _tenant = s.idp.claims(ClaimRule {
        target: ClaimTarget {
            client_id: Some(SERVICE.into()),
            user: None,
        },
        token: TokenKind::Access,
        claims: claims(json!({ "tenant": "st-marys", "groups": ["Beds"] })),
        once: false,
    });
    let service = s.service_token().await;
    assert_eq!(
        application_seen_upstream(&s, &service).await.unwrap(),
        "BedBoard"
    );
    // Ill-typed claims identify no one: an unknown client.
    let typed = partner_token(
        &s.idp,
        partner,
        json!({ "tenant": ["st-marys"], "ward": 7 }),
    );
    let (status, c) = application_seen_upstream(&s, &typed).await.unwrap_err();
    assert_eq!(status, 401);
    assert!(c.contains("not a registered application"), "{c}");
}

#[tokio::test]
async fn claims_identification_ambiguous_at_run_time_is_401() {
    let s = Setup::start().await;
    // Two one-condition sets (StMarys, Ward7) both satisfied, none more specific.
    let token = partner_token(
        &s.idp,
        "0oapartner00000000x9",
        json!({ "tenant": "st-marys", "ward": "7" }),
    );
    let (status, c) = application_seen_upstream(&s, &token).await.unwrap_err();
    assert_eq!(status, 401);
    assert!(c.contains("error=\"invalid_token\""), "{c}");
    assert!(c.contains("more than one application"), "{c}");
}

#[test]
fn claims_identification_ambiguous_at_load_is_a_config_error() {
    let base = gateway_config_for_errors();
    let app = |name: &str, require: &str| {
        format!(
            "[[applications]]\nname = \"{name}\"\napis = [\"Beds\"]\nidentify_by_claims = {{ authorization_server = \"AS\", require = {require} }}\n"
        )
    };
    let text = format!(
        "{base}\n{}{}",
        app(
            "A",
            r#"[{ claim = "tenant", equals = "x" }, { claim = "groups", contains_any = ["B"] }]"#
        ),
        app(
            "B",
            r#"[{ claim = "groups", contains_any = ["B"] }, { claim = "tenant", equals = "x" }]"#
        ),
    );
    let e = Config::from_toml(&text, &|_: &str| None).unwrap_err();
    assert_eq!(e.key, "applications[1].identify_by_claims", "{}", e.message);
    assert!(e.message.contains("`A`"), "{}", e.message);
    for (require, key) in [
        (
            r#"[{ any = [{ claim = "t", exists = true }] }]"#,
            "applications[0].identify_by_claims.require[0]",
        ),
        ("[]", "applications[0].identify_by_claims.require"),
        (
            r#"[{ claim = "t", equals = 1.5 }]"#,
            "applications[0].identify_by_claims.require[0].equals",
        ),
    ] {
        let text = format!("{base}\n{}", app("A", require));
        let e = Config::from_toml(&text, &|_: &str| None).unwrap_err();
        assert_eq!(e.key, key, "{require}: {}", e.message);
    }
}

#[test]
fn claims_rule_config_errors_name_the_key() {
    let base = gateway_config_for_errors();
    for (rule, key) in [
        (
            r#"name = "x"
api = "Nope"
require = { claim = "g", exists = true }"#,
            "claims_rules[0].api",
        ),
        (
            r#"name = "bad name"
api = "Beds"
require = { claim = "g", exists = true }"#,
            "claims_rules[0].name",
        ),
        (
            r#"name = "x"
api = "Beds"
api_scope = "Missing"
require = { claim = "g", exists = true }"#,
            "claims_rules[0].api_scope",
        ),
        (
            r#"name = "x"
api = "Beds"
resources = [{ path = "/hospitals", methods = ["DELETE"] }]
require = { claim = "g", exists = true }"#,
            "claims_rules[0].resources[0].methods[0]",
        ),
        (
            r#"name = "x"
api = "Beds"
require = { claim = "g", contains_any = ["a", 1.5] }"#,
            "claims_rules[0].require.contains_any[1]",
        ),
    ] {
        let text = format!("{base}\n[[claims_rules]]\n{rule}\n");
        let e = Config::from_toml(&text, &|_: &str| None).unwrap_err();
        assert_eq!(e.key, key, "{rule}: {}", e.message);
    }
}

fn gateway_config_for_errors() -> String {
    r#"
[[authorization_servers]]
name = "AS"
issuer = "https://example.okta.com/oauth2/default"
jwks_uri = "https://example.okta.com/oauth2/default/v1/keys"
[authorization_servers.local]
audiences = ["api://default"]

[[apis]]
name = "Beds"
base_path = "/beds"
upstream = "http://127.0.0.1:9"
identification = ["oauth2_local"]
resources = [{ path = "/hospitals", methods = ["GET"] }]
"#
    .to_owned()
}
