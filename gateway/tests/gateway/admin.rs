//! The admin API end to end against the mock Okta (`mock-idp`): dynamic registration, rotation,
//! deletion, each AS error with nothing half-created, bad input, restart persistence (SQLite)
//! and two gateways sharing one store.

use std::sync::Arc;
use std::time::Duration;

use gateway::admin::RuntimeOptions;
use gateway::beds::{self, BedsHandle};
use gateway::config::Config;
use gateway::secret::Secret;
use gateway::store::{Sealer, Store};
use gateway::{Gateway, GatewayHandle};
use mock_idp::MockIdp;
use mock_idp::control::{Endpoint, FaultKind, FaultSpec};
use serde_json::{Value, json};

const SSWS: &str = "00mockIdpSswsApiToken7ms2Bx7dY2qLw9ZtR4vNc";
const ADMIN: &str = "admin-token-for-tests-7d1c2e9f";
const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

fn config(idp: &MockIdp, upstream: &str) -> Config {
    let toml = format!(
        r#"
[[authorization_servers]]
name = "ExternalOktaServer"
discovery_url = "{discovery}"
api_token = "{SSWS}"
[authorization_servers.local]
audiences = ["api://default"]

[[apis]]
name = "CheckBedAvailability"
base_path = "/beds"
upstream = "{upstream}"
identification = ["oauth2_local"]
resources = [{{ path = "/hospitals", methods = ["GET"] }}]
scopes = [{{ name = "CheckBedAvailibiltyScopeV3", resources = [{{ path = "/hospitals", methods = ["GET"] }}] }}]

[[scope_mappings]]
authorization_server = "ExternalOktaServer"
scope = "beds.read"
api_scopes = ["CheckBedAvailibiltyScopeV3"]
"#,
        discovery = idp.discovery_url(),
    );
    Config::from_toml(&toml, &|_: &str| None).unwrap()
}

struct Env {
    idp: MockIdp,
    beds: BedsHandle,
    http: reqwest::Client,
}

impl Env {
    async fn start() -> Self {
        let idp = MockIdp::start().await.unwrap();
        let beds =
            beds::start(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()).unwrap();
        Self {
            idp,
            beds,
            http: reqwest::Client::new(),
        }
    }

    async fn gateway(&self, store: Arc<Store>) -> GatewayHandle {
        self.try_gateway(store).await.unwrap()
    }

    async fn try_gateway(&self, store: Arc<Store>) -> Result<GatewayHandle, gateway::BuildError> {
        let clock = self.idp.clock().clone();
        let mut opts = RuntimeOptions::new(store);
        opts.admin = Some((
            tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
            Secret::new(ADMIN),
        ));
        opts.poll_interval = Duration::from_secs(3600);
        // Well below the latency fault (3 s), well above a first registration on a loaded machine.
        opts.as_timeout = Duration::from_millis(2000);
        Gateway::builder(config(&self.idp, &self.beds.url()))
            .clock(move || u64::try_from(clock.now()).unwrap())
            .runtime(opts)
            .build(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
            .await
    }

    async fn admin(
        &self,
        g: &GatewayHandle,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut r = self
            .http
            .request(method, format!("{}{path}", g.admin_url().unwrap()))
            .bearer_auth(ADMIN);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn token(&self, id: &str, secret: &str) -> Result<String, u16> {
        let r = self
            .http
            .post(self.idp.token_endpoint())
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials"), ("scope", "beds.read")])
            .send()
            .await
            .unwrap();
        if r.status() != 200 {
            return Err(r.status().as_u16());
        }
        let b: Value = r.json().await.unwrap();
        Ok(b["access_token"].as_str().unwrap().to_owned())
    }

    async fn beds(&self, g: &GatewayHandle, token: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}/beds/hospitals", g.url()))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    /// The clients registered at the mock (through its management API).
    async fn clients_at_as(&self) -> Vec<String> {
        let r = self
            .http
            .get(format!(
                "{}/oauth2/v1/clients?limit=200",
                self.idp.base_url()
            ))
            .header("Authorization", format!("SSWS {SSWS}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|c| c["client_id"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn openid_app(name: &str) -> Value {
    json!({
        "name": name,
        "apis": ["CheckBedAvailability"],
        "strategies": [{
            "name": "OktaStrategy",
            "scheme": "openid",
            "authorization_server": "ExternalOktaServer",
            "registration": { "application_type": "service", "grant_types": ["client_credentials"] }
        }]
    })
}

fn credentials(created: &Value) -> (String, String) {
    let c = &created["registered_credentials"][0];
    (
        c["client_id"].as_str().unwrap().to_owned(),
        c["client_secret"].as_str().unwrap().to_owned(),
    )
}

use reqwest::Method;

#[tokio::test]
async fn admin_openid_app_with_registration_works_on_the_next_request_then_rotates_and_deletes() {
    let e = Env::start().await;
    let g = e.gateway(Arc::new(Store::memory())).await;
    let before = e.clients_at_as().await;

    let (s, created) = e
        .admin(
            &g,
            Method::POST,
            "/admin/v1/applications",
            Some(openid_app("OpenIDApp")),
        )
        .await;
    assert_eq!(s, 201, "{created}");
    let (id, secret) = credentials(&created);
    assert!(!before.contains(&id));
    assert!(
        e.clients_at_as().await.contains(&id),
        "registered at the AS"
    );

    // The very next request passes with a token of the new client.
    let token = e.token(&id, &secret).await.unwrap();
    let (s, body) = e.beds(&g, &token).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["caller"]["application"], "OpenIDApp");
    assert_eq!(body["caller"]["client_id"], id.as_str());
    let m = crate::harness::metrics(&g).await;
    assert!(
        m.contains(r#"gateway_requests_total{api="CheckBedAvailability",application="OpenIDApp",outcome="forwarded"} 1"#),
        "{m}"
    );

    // Shown without its secret.
    let (s, shown) = e
        .admin(&g, Method::GET, "/admin/v1/applications/OpenIDApp", None)
        .await;
    assert_eq!(s, 200);
    assert!(!shown.to_string().contains(&secret), "{shown}");
    assert_eq!(shown["strategies"][0]["client_secret_set"], true);

    // Rotation at the AS: the old secret stops working, the new one works.
    let (s, rotated) = e
        .admin(
            &g,
            Method::POST,
            "/admin/v1/applications/OpenIDApp/strategies/OktaStrategy/new-secret",
            None,
        )
        .await;
    assert_eq!(s, 200, "{rotated}");
    let new_secret = rotated["client_secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    assert!(e.token(&id, &secret).await.is_err());
    let token2 = e.token(&id, new_secret).await.unwrap();
    assert_eq!(e.beds(&g, &token2).await.0, 200);

    // Deletion at the AS and in the gateway.
    let (s, _) = e
        .admin(&g, Method::DELETE, "/admin/v1/applications/OpenIDApp", None)
        .await;
    assert_eq!(s, 204);
    assert!(!e.clients_at_as().await.contains(&id));
    assert_eq!(e.beds(&g, &token2).await.0, 401, "no longer an application");
    let (_, list) = e
        .admin(&g, Method::GET, "/admin/v1/applications", None)
        .await;
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn admin_each_as_error_is_clear_and_leaves_nothing_behind() {
    let e = Env::start().await;
    let g = e.gateway(Arc::new(Store::memory())).await;
    let before = e.clients_at_as().await;
    let okta = |code: &str, summary: &str| {
        Some(
            json!({"errorCode": code, "errorSummary": summary, "errorLink": code, "errorId": "oaeTest", "errorCauses": []}),
        )
    };
    let cases: Vec<(FaultKind, u16, &str)> = vec![
        (
            FaultKind::Status {
                status: 401,
                body: okta("E0000011", "Invalid token provided"),
            },
            502,
            "E0000011",
        ),
        (
            FaultKind::Status {
                status: 403,
                body: okta("E0000005", "Invalid session"),
            },
            502,
            "E0000005",
        ),
        (
            FaultKind::Status {
                status: 404,
                body: okta("E0000007", "Not found: Resource not found"),
            },
            502,
            "E0000007",
        ),
        (FaultKind::RateLimit, 503, "E0000047"),
        (
            FaultKind::Latency { ms: 3000 },
            504,
            "authorization_server_timeout",
        ),
        (FaultKind::Drop, 502, "authorization_server_unreachable"),
    ];
    for (kind, status, needle) in cases {
        let _f = e
            .idp
            .fault(FaultSpec::new(Endpoint::Clients, kind.clone()).times(1));
        let (s, body) = e
            .admin(
                &g,
                Method::POST,
                "/admin/v1/applications",
                Some(openid_app("OpenIDApp")),
            )
            .await;
        assert_eq!(s, status, "{kind:?}: {body}");
        assert!(body.to_string().contains(needle), "{kind:?}: {body}");
        assert!(!body.to_string().contains(SSWS), "no token in errors");
        let (_, list) = e
            .admin(&g, Method::GET, "/admin/v1/applications", None)
            .await;
        assert_eq!(list, json!([]), "{kind:?}: nothing half-created");
        drop(_f);
        assert_eq!(e.clients_at_as().await.len(), before.len(), "{kind:?}");
    }
}

#[tokio::test]
async fn admin_rate_limit_answer_carries_retry_after() {
    let e = Env::start().await;
    let g = e.gateway(Arc::new(Store::memory())).await;
    let _f = e
        .idp
        .fault(FaultSpec::new(Endpoint::Clients, FaultKind::RateLimit).times(1));
    let r = e
        .http
        .post(format!("{}/admin/v1/applications", g.admin_url().unwrap()))
        .bearer_auth(ADMIN)
        .json(&openid_app("OpenIDApp"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["authorization_server"]["errorCode"], "E0000047");
}

#[tokio::test]
async fn admin_failed_delete_at_the_as_marks_the_application_and_is_retried() {
    let e = Env::start().await;
    let g = e.gateway(Arc::new(Store::memory())).await;
    let (_, created) = e
        .admin(
            &g,
            Method::POST,
            "/admin/v1/applications",
            Some(openid_app("OpenIDApp")),
        )
        .await;
    let (id, secret) = credentials(&created);
    let token = e.token(&id, &secret).await.unwrap();
    {
        let _f = e.idp.fault(
            FaultSpec::new(
                Endpoint::Clients,
                FaultKind::Status {
                    status: 500,
                    body: None,
                },
            )
            .times(1),
        );
        let (s, body) = e
            .admin(&g, Method::DELETE, "/admin/v1/applications/OpenIDApp", None)
            .await;
        assert_eq!(s, 502, "{body}");
        assert!(
            body["message"].as_str().unwrap().contains("retried"),
            "{body}"
        );
    }
    let (_, shown) = e
        .admin(&g, Method::GET, "/admin/v1/applications/OpenIDApp", None)
        .await;
    assert_eq!(shown["state"], "deleting");
    assert_eq!(
        e.beds(&g, &token).await.0,
        401,
        "a deleting application is not served"
    );
    assert!(e.clients_at_as().await.contains(&id));

    // The poller retries (run now instead of waiting for the interval).
    g.sync().await;
    assert!(!e.clients_at_as().await.contains(&id));
    let (s, _) = e
        .admin(&g, Method::GET, "/admin/v1/applications/OpenIDApp", None)
        .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn admin_bad_input_is_a_clear_4xx_and_changes_nothing() {
    let e = Env::start().await;
    let g = e.gateway(Arc::new(Store::memory())).await;
    let (s, _) = e
        .admin(
            &g,
            Method::POST,
            "/admin/v1/applications",
            Some(openid_app("OpenIDApp")),
        )
        .await;
    assert_eq!(s, 201);
    let clients = e.clients_at_as().await;
    let (_, state) = e
        .admin(&g, Method::GET, "/admin/v1/applications", None)
        .await;

    // Wrong or missing admin token.
    let url = format!("{}/admin/v1/applications", g.admin_url().unwrap());
    for auth in [
        Some("Bearer wrong-token"),
        Some(&*format!("Basic {ADMIN}")),
        None,
    ] {
        let mut r = e.http.post(&url).json(&openid_app("Other"));
        if let Some(a) = auth {
            r = r.header("Authorization", a);
        }
        let r = r.send().await.unwrap();
        assert_eq!(r.status(), 401);
        assert!(r.headers().contains_key("www-authenticate"));
    }
    // The proxy port has no admin API.
    let r = e
        .http
        .get(format!("{}/admin/v1/applications", g.url()))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    let mut unknown = openid_app("Other");
    unknown["colour"] = json!("blue");
    let mut bad_url = openid_app("Other");
    bad_url["strategies"][0]["registration"] = json!({
        "application_type": "web", "grant_types": ["authorization_code"],
        "redirect_uris": ["not a url"]
    });
    let mut fragment = openid_app("Other");
    fragment["strategies"][0]["registration"] = json!({
        "application_type": "web", "grant_types": ["authorization_code"],
        "redirect_uris": ["https://app.example/cb#frag"]
    });
    let mut no_api = openid_app("Other");
    no_api["apis"] = json!(["NoSuchApi"]);
    let mut no_as = openid_app("Other");
    no_as["strategies"][0]["authorization_server"] = json!("Nowhere");
    let mut both = openid_app("Other");
    both["strategies"][0]["client_id"] = json!("0oa-given");
    let mut grant = openid_app("Other");
    grant["strategies"][0]["registration"]["grant_types"] = json!(["magic"]);
    let mut dup_client = openid_app("Other");
    dup_client["strategies"] = json!([{
        "name": "S", "scheme": "oauth2", "authorization_server": "ExternalOktaServer",
        "client_id": state[0]["strategies"][0]["client_id"]
    }]);
    let cases = [
        (unknown, 400, "colour"),
        (openid_app("OpenIDApp"), 409, "duplicate_name"),
        (bad_url, 400, "redirect_uris[0]"),
        (fragment, 400, "redirect_uris[0]"),
        (no_api, 400, "NoSuchApi"),
        (no_as, 400, "Nowhere"),
        (both, 400, "not both"),
        (grant, 400, "grant_types[0]"),
        (dup_client, 400, "already belongs"),
    ];
    for (body, status, needle) in cases {
        let (s, answer) = e
            .admin(
                &g,
                Method::POST,
                "/admin/v1/applications",
                Some(body.clone()),
            )
            .await;
        assert_eq!(s, status, "{body}: {answer}");
        assert!(answer.to_string().contains(needle), "{needle}: {answer}");
    }
    let r = e
        .http
        .post(&url)
        .bearer_auth(ADMIN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let (s, _) = e
        .admin(
            &g,
            Method::POST,
            "/admin/v1/scope-mappings",
            Some(json!({
                "authorization_server": "ExternalOktaServer", "scope": "x", "api_scopes": ["Nope"]
            })),
        )
        .await;
    assert_eq!(s, 400);

    let (_, after) = e
        .admin(&g, Method::GET, "/admin/v1/applications", None)
        .await;
    assert_eq!(after, state, "no change in state");
    assert_eq!(e.clients_at_as().await, clients, "no client registered");
}

#[tokio::test]
async fn admin_lists_apis_servers_and_mappings_and_serves_openapi() {
    let e = Env::start().await;
    let g = e.gateway(Arc::new(Store::memory())).await;
    let (s, apis) = e.admin(&g, Method::GET, "/admin/v1/apis", None).await;
    assert_eq!(s, 200);
    assert_eq!(apis[0]["name"], "CheckBedAvailability");
    let (_, servers) = e
        .admin(&g, Method::GET, "/admin/v1/authorization-servers", None)
        .await;
    assert_eq!(servers[0]["issuer"], e.idp.issuer());
    assert_eq!(servers[0]["dynamic_registration"], true);
    assert_eq!(servers[0]["validation"]["keys"], "jwks");
    assert!(!servers.to_string().contains(SSWS));
    let (_, maps) = e
        .admin(&g, Method::GET, "/admin/v1/scope-mappings", None)
        .await;
    assert_eq!(maps[0]["scope"], "beds.read", "seeded from the file");
    let (s, doc) = e
        .admin(&g, Method::GET, "/admin/v1/openapi.json", None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/admin/v1/applications",
        "/admin/v1/applications/{name}",
        "/admin/v1/applications/{name}/strategies/{strategy}/new-secret",
        "/admin/v1/scope-mappings",
        "/admin/v1/scope-mappings/{server}/{scope}",
        "/admin/v1/apis",
        "/admin/v1/authorization-servers",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} documented");
    }
}

#[tokio::test]
async fn admin_scope_mapping_changes_apply_to_live_traffic() {
    let e = Env::start().await;
    let g = e.gateway(Arc::new(Store::memory())).await;
    let (_, created) = e
        .admin(
            &g,
            Method::POST,
            "/admin/v1/applications",
            Some(openid_app("OpenIDApp")),
        )
        .await;
    let (id, secret) = credentials(&created);
    let token = e.token(&id, &secret).await.unwrap();
    assert_eq!(e.beds(&g, &token).await.0, 200);
    let (s, _) = e
        .admin(
            &g,
            Method::DELETE,
            "/admin/v1/scope-mappings/ExternalOktaServer/beds.read",
            None,
        )
        .await;
    assert_eq!(s, 204);
    assert_eq!(
        e.beds(&g, &token).await.0,
        403,
        "beds.read no longer opens the resource"
    );
}

fn temp_db(name: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!(
        "gateway-admin-{name}-{}-{}.db",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let _ = std::fs::remove_file(&p);
    p
}

async fn sqlite(path: &std::path::Path, key: Option<&str>) -> Arc<Store> {
    let sealer = key.map_or_else(Sealer::none, |k| Sealer::from_base64(k).unwrap());
    Arc::new(
        Store::open(&format!("sqlite:{}", path.display()), sealer)
            .await
            .unwrap(),
    )
}

#[tokio::test]
async fn admin_state_survives_a_restart_with_sqlite_and_secrets_are_sealed() {
    let e = Env::start().await;
    let path = temp_db("restart");
    let g = e.gateway(sqlite(&path, Some(KEY)).await).await;
    let (s, created) = e
        .admin(
            &g,
            Method::POST,
            "/admin/v1/applications",
            Some(openid_app("OpenIDApp")),
        )
        .await;
    assert_eq!(s, 201);
    let (id, secret) = credentials(&created);
    g.shutdown().await.unwrap();

    let store = sqlite(&path, Some(KEY)).await;
    let raw = store.raw_document("OpenIDApp").await.unwrap();
    assert!(raw.contains(&id));
    assert!(
        !raw.contains(&secret),
        "the secret is encrypted at rest: {raw}"
    );
    let g = e.gateway(store).await;
    let token = e.token(&id, &secret).await.unwrap();
    let (s, body) = e.beds(&g, &token).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["caller"]["application"], "OpenIDApp");
    g.shutdown().await.unwrap();

    // Without the key the store cannot be opened into a gateway.
    let err = e.try_gateway(sqlite(&path, None).await).await.unwrap_err();
    assert!(err.to_string().contains("GATEWAY_STORE_KEY"), "{err}");
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn admin_two_gateways_on_one_store_see_each_others_changes() {
    let e = Env::start().await;
    let path = temp_db("shared");
    let a = e.gateway(sqlite(&path, Some(KEY)).await).await;
    let b = e.gateway(sqlite(&path, Some(KEY)).await).await;
    let (_, created) = e
        .admin(
            &a,
            Method::POST,
            "/admin/v1/applications",
            Some(openid_app("OpenIDApp")),
        )
        .await;
    let (id, secret) = credentials(&created);
    let token = e.token(&id, &secret).await.unwrap();
    assert_eq!(e.beds(&a, &token).await.0, 200);
    // B picks the change up at its next poll (run now rather than wait for the interval).
    b.sync().await;
    assert_eq!(e.beds(&b, &token).await.0, 200);
    let (s, _) = e
        .admin(&b, Method::DELETE, "/admin/v1/applications/OpenIDApp", None)
        .await;
    assert_eq!(s, 204);
    a.sync().await;
    assert_eq!(e.beds(&a, &token).await.0, 401);
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn admin_apply_plans_a_dry_run_then_reconciles_create_update_delete() {
    use gateway::admin::client::{AdminClient, ApplyFile, Step, execute, plan};
    let e = Env::start().await;
    let g = e.gateway(Arc::new(Store::memory())).await;
    // Something to delete.
    let (s, _) = e
        .admin(
            &g,
            Method::POST,
            "/admin/v1/applications",
            Some(openid_app("Stale")),
        )
        .await;
    assert_eq!(s, 201);
    let client = AdminClient::new(&g.admin_url().unwrap(), Secret::new(ADMIN));
    let file = ApplyFile::from_toml(
        r#"
[[applications]]
name = "OpenIDApp"
apis = ["CheckBedAvailability"]
[[applications.strategies]]
name = "OktaStrategy"
scheme = "openid"
authorization_server = "ExternalOktaServer"
registration = { application_type = "service", grant_types = ["client_credentials"] }

[[applications]]
name = "Partner"
apis = []
[[applications.strategies]]
name = "Given"
scheme = "oauth2"
authorization_server = "ExternalOktaServer"
client_id = "0oa-partner-given"

[[scope_mappings]]
authorization_server = "ExternalOktaServer"
scope = "beds.read"
api_scopes = ["CheckBedAvailability/CheckBedAvailibiltyScopeV3"]

[[scope_mappings]]
authorization_server = "ExternalOktaServer"
scope = "beds.all"
api_scopes = ["CheckBedAvailibiltyScopeV3"]
"#,
    )
    .unwrap();
    let steps = plan(&client, &file).await.unwrap();
    let text: Vec<String> = steps.iter().map(ToString::to_string).collect();
    assert_eq!(
        text,
        [
            "delete application Stale",
            "create application OpenIDApp",
            "create application Partner",
            "map ExternalOktaServer/beds.all -> CheckBedAvailibiltyScopeV3",
        ],
        "{text:?}"
    );
    // A dry run changes nothing.
    let (_, list) = e
        .admin(&g, Method::GET, "/admin/v1/applications", None)
        .await;
    assert_eq!(list[0]["name"], "Stale");

    let created = execute(&client, &steps).await.unwrap();
    let (id, secret) = credentials(&created[0]);
    let token = e.token(&id, &secret).await.unwrap();
    assert_eq!(e.beds(&g, &token).await.0, 200);
    assert!(plan(&client, &file).await.unwrap().is_empty(), "idempotent");

    // A change in the file is an update; the registered client is kept.
    let mut file = file;
    file.applications[1]["apis"] = json!(["CheckBedAvailability"]);
    let steps = plan(&client, &file).await.unwrap();
    assert!(
        matches!(&steps[..], [Step::UpdateApp(n, _)] if n == "Partner"),
        "{steps:?}"
    );
    execute(&client, &steps).await.unwrap();
    assert_eq!(e.beds(&g, &token).await.0, 200);
}

#[tokio::test]
async fn admin_cli_lists_and_dry_runs_against_a_running_gateway() {
    async fn run(args: Vec<String>, token: &str) -> std::process::Output {
        let token = token.to_owned();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
                .args(args)
                .env("GATEWAY_ADMIN_TOKEN", token)
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    }
    let e = Env::start().await;
    let g = e.gateway(Arc::new(Store::memory())).await;
    let (s, _) = e
        .admin(
            &g,
            Method::POST,
            "/admin/v1/applications",
            Some(openid_app("OpenIDApp")),
        )
        .await;
    assert_eq!(s, 201);
    let url = g.admin_url().unwrap();
    let out = run(
        vec![
            "apps".into(),
            "list".into(),
            "--admin-url".into(),
            url.clone(),
        ],
        ADMIN,
    )
    .await;
    assert!(out.status.success(), "{out:?}");
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed[0]["name"], "OpenIDApp");

    let path = temp_db("apply").with_extension("toml");
    std::fs::write(&path, "applications = []\n").unwrap();
    let out = run(
        vec![
            "apply".into(),
            "--dry-run".into(),
            "--admin-url".into(),
            url.clone(),
            path.display().to_string(),
        ],
        ADMIN,
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout.contains("would delete application OpenIDApp"),
        "{stdout}"
    );
    assert!(
        stdout.contains("would delete mapping ExternalOktaServer/beds.read"),
        "{stdout}"
    );
    let (_, list) = e
        .admin(&g, Method::GET, "/admin/v1/applications", None)
        .await;
    assert_eq!(list[0]["name"], "OpenIDApp", "dry run changed nothing");

    // A wrong token is refused.
    let out = run(
        vec![
            "apps".into(),
            "list".into(),
            "--admin-url".into(),
            url.clone(),
        ],
        "wrong",
    )
    .await;
    assert!(!out.status.success());
    let _ = std::fs::remove_file(&path);
}

/// The README / `gateway demo` walkthrough, step 4: OpenIDApp recreated through the admin API
/// with registration on; a token of the newly registered client passes the gateway.
#[cfg(feature = "demo")]
#[tokio::test]
async fn admin_demo_walkthrough_recreates_openid_app_with_registration() {
    let demo = gateway::demo::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let text = demo.instructions();
    assert!(text.contains("gateway apps delete OpenIDApp"), "{text}");
    let admin = demo.gateway.admin_url().unwrap();
    let http = reqwest::Client::new();
    let r = http
        .delete(format!("{admin}/admin/v1/applications/OpenIDApp"))
        .bearer_auth(demo.admin_token.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = http
        .post(format!("{admin}/admin/v1/applications"))
        .bearer_auth(demo.admin_token.expose())
        .json(&openid_app("OpenIDApp"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let (id, secret) = credentials(&r.json().await.unwrap());
    let t: Value = http
        .post(demo.idp.token_endpoint())
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "beds.read")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = http
        .get(format!("{}/hospitals", demo.api_url()))
        .bearer_auth(t["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["caller"]["application"], "OpenIDApp");
    assert_eq!(b["caller"]["client_id"], id.as_str());
    demo.shutdown().await.unwrap();
}

/// A `gateway run` process, killed on drop.
struct Proc {
    child: std::process::Child,
    proxy: String,
    admin: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

use crate::harness::free_port;

async fn spawn_gateway(e: &Env, store_url: &str, dir: &std::path::Path, name: &str) -> Proc {
    let (port, admin_port) = (free_port(), free_port());
    let toml = format!(
        r#"
listen = "127.0.0.1:{port}"
[admin]
listen = "127.0.0.1:{admin_port}"
token = "${{GATEWAY_ADMIN_TOKEN}}"
[store]
url = "${{GATEWAY_STORE_URL}}"
poll_interval_seconds = 1

[[authorization_servers]]
name = "ExternalOktaServer"
discovery_url = "{discovery}"
api_token = "{SSWS}"
[authorization_servers.local]
audiences = ["api://default"]

[[apis]]
name = "CheckBedAvailability"
base_path = "/beds"
upstream = "{upstream}"
identification = ["oauth2_local"]
resources = [{{ path = "/hospitals", methods = ["GET"] }}]
scopes = [{{ name = "CheckBedAvailibiltyScopeV3", resources = [{{ path = "/hospitals", methods = ["GET"] }}] }}]

[[scope_mappings]]
authorization_server = "ExternalOktaServer"
scope = "beds.read"
api_scopes = ["CheckBedAvailibiltyScopeV3"]
"#,
        discovery = e.idp.discovery_url(),
        upstream = e.beds.url(),
    );
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, toml).unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
        .args(["run", "--config"])
        .arg(&file)
        .env("GATEWAY_ADMIN_TOKEN", ADMIN)
        .env("GATEWAY_STORE_URL", store_url)
        .env("GATEWAY_STORE_KEY", KEY)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let p = Proc {
        child,
        proxy: format!("http://127.0.0.1:{port}"),
        admin: format!("http://127.0.0.1:{admin_port}"),
    };
    // Ready when the admin API answers (discovery and keys are fetched before it listens).
    let started = std::time::Instant::now();
    loop {
        let ok = e
            .http
            .get(format!("{}/admin/v1/apis", p.admin))
            .bearer_auth(ADMIN)
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        if ok {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{name} did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    p
}

async fn status_via(e: &Env, proxy: &str, token: &str) -> u16 {
    e.http
        .get(format!("{proxy}/beds/hospitals"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Waits (real time: another process polls the database) until `proxy` answers `want`;
/// returns how long it took.
async fn converge(e: &Env, proxy: &str, token: &str, want: u16) -> Duration {
    let started = std::time::Instant::now();
    loop {
        if status_via(e, proxy, token).await == want {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{proxy} never answered {want}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Two `gateway run` processes on one PostgreSQL (`GATEWAY_TEST_POSTGRES_URL`, e.g.
/// `postgres://gateway@127.0.0.1:5432/gateway_test`): a change made through one is served by
/// the other within the poll interval (1 s here), and the state survives a process restart.
#[tokio::test]
async fn admin_two_gateway_processes_on_one_postgres_see_each_others_changes() {
    let Ok(base_url) = std::env::var("GATEWAY_TEST_POSTGRES_URL") else {
        eprintln!(
            "SKIPPED admin_two_gateway_processes_on_one_postgres_see_each_others_changes: \
             set GATEWAY_TEST_POSTGRES_URL (e.g. postgres://gateway@127.0.0.1:5432/gateway_test)"
        );
        return;
    };
    // A schema of its own, so runs never see each other's state.
    let schema = format!(
        "gw_test_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    );
    let (client, conn) = tokio_postgres::connect(&base_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap();
    let sep = if base_url.contains('?') { '&' } else { '?' };
    let url = format!("{base_url}{sep}options=-c%20search_path%3D{schema}");

    let e = Env::start().await;
    let dir = temp_db("pg").with_extension("d");
    std::fs::create_dir_all(&dir).unwrap();
    let a = spawn_gateway(&e, &url, &dir, "a").await;
    let b = spawn_gateway(&e, &url, &dir, "b").await;

    let r = e
        .http
        .post(format!("{}/admin/v1/applications", a.admin))
        .bearer_auth(ADMIN)
        .json(&openid_app("OpenIDApp"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let (id, secret) = credentials(&r.json().await.unwrap());
    let token = e.token(&id, &secret).await.unwrap();
    assert_eq!(
        status_via(&e, &a.proxy, &token).await,
        200,
        "at once where it was made"
    );
    let took = converge(&e, &b.proxy, &token, 200).await;
    assert!(took < Duration::from_secs(3), "B saw it after {took:?}");

    // The secret is sealed in the shared database.
    let doc: String = client
        .query_one(
            &format!("SELECT doc FROM {schema}.gateway_applications WHERE name = 'OpenIDApp'"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(doc.contains(&id) && !doc.contains(&secret));

    // A restarted process serves the stored state at once.
    drop(a);
    let a = spawn_gateway(&e, &url, &dir, "a2").await;
    assert_eq!(status_via(&e, &a.proxy, &token).await, 200);

    // A delete made through B reaches A.
    let r = e
        .http
        .delete(format!("{}/admin/v1/applications/OpenIDApp", b.admin))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let took = converge(&e, &a.proxy, &token, 401).await;
    assert!(
        took < Duration::from_secs(3),
        "A saw the delete after {took:?}"
    );

    drop((a, b));
    let _ = client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// A whole-configuration reload (SIGHUP) keeps the applications and mappings of the store: the
/// file only seeds it.
#[tokio::test]
async fn admin_configuration_reload_keeps_the_stored_applications() {
    let e = Env::start().await;
    let g = e.gateway(Arc::new(Store::memory())).await;
    let (_, created) = e
        .admin(
            &g,
            Method::POST,
            "/admin/v1/applications",
            Some(openid_app("OpenIDApp")),
        )
        .await;
    let (id, secret) = credentials(&created);
    let token = e.token(&id, &secret).await.unwrap();
    assert_eq!(e.beds(&g, &token).await.0, 200);
    g.reloader()
        .reload(config(&e.idp, &e.beds.url()))
        .await
        .unwrap();
    assert_eq!(
        e.beds(&g, &token).await.0,
        200,
        "still served after the reload"
    );
    // And later changes still apply on top of the reloaded configuration.
    let (s, _) = e
        .admin(&g, Method::DELETE, "/admin/v1/applications/OpenIDApp", None)
        .await;
    assert_eq!(s, 204);
    assert_eq!(e.beds(&g, &token).await.0, 401);
}

/// A registration that times out may still complete at the AS: the client it leaves is found by
/// its name at the next poll and deleted, so nothing stays half-created. (The mock drops the
/// work when the gateway hangs up, so the late client is created here by hand, as the AS would.)
#[tokio::test]
async fn admin_a_registration_that_timed_out_leaves_no_client_at_the_as() {
    let e = Env::start().await;
    let g = e.gateway(Arc::new(Store::memory())).await;
    let before = e.clients_at_as().await;
    {
        let _f = e
            .idp
            .fault(FaultSpec::new(Endpoint::Clients, FaultKind::Latency { ms: 3000 }).times(1));
        let (s, body) = e
            .admin(
                &g,
                Method::POST,
                "/admin/v1/applications",
                Some(openid_app("OpenIDApp")),
            )
            .await;
        assert_eq!(s, 504, "{body}");
    }
    let r = e
        .http
        .post(format!("{}/oauth2/v1/clients", e.idp.base_url()))
        .header("Authorization", format!("SSWS {SSWS}"))
        .json(&json!({
            "client_name": "OpenIDApp/OktaStrategy", "application_type": "service",
            "grant_types": ["client_credentials"], "response_types": ["token"]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let late: Value = r.json().await.unwrap();
    assert!(
        e.clients_at_as()
            .await
            .contains(&late["client_id"].as_str().unwrap().to_owned())
    );

    g.sync().await;
    assert_eq!(
        e.clients_at_as().await,
        before,
        "the orphaned client was deleted"
    );
    let (_, list) = e
        .admin(&g, Method::GET, "/admin/v1/applications", None)
        .await;
    assert_eq!(list, json!([]));
}

#[test]
fn admin_secrets_never_print_in_the_configuration() {
    let toml = r#"
[admin]
token = "admin-token-very-secret-123456"
[store]
url = "postgres://gateway:pg-password-secret@127.0.0.1/gw"
[[authorization_servers]]
name = "A"
issuer = "https://as.example"
api_token = "ssws-token-very-secret"
[authorization_servers.local]
audiences = ["api://default"]
public_key_pem = "unused"
"#;
    let c = Config::from_toml(toml, &|_: &str| None).unwrap();
    let printed = format!("{c:?}");
    for secret in [
        "admin-token-very-secret",
        "pg-password-secret",
        "ssws-token-very-secret",
    ] {
        assert!(!printed.contains(secret), "{secret} in {printed}");
    }
    assert_eq!(c.admin.unwrap().listen.to_string(), "127.0.0.1:8081");
    // The admin API never shares the proxy's port; a short token is refused.
    let same = "listen = \"127.0.0.1:9000\"\n[admin]\nlisten = \"127.0.0.1:9000\"\ntoken = \"admin-token-very-secret-123456\"\n";
    let e = Config::from_toml(same, &|_: &str| None).unwrap_err();
    assert_eq!(e.key, "admin.listen");
    let short = "[admin]\ntoken = \"short\"\n";
    assert_eq!(
        Config::from_toml(short, &|_: &str| None).unwrap_err().key,
        "admin.token"
    );
}

/// A changed registration is carried to the AS (`PUT /oauth2/v1/clients/{id}`) and keeps the
/// client; an AS error on update or rotation changes nothing.
#[tokio::test]
async fn admin_update_and_rotation_reach_the_as_and_as_errors_change_nothing() {
    let e = Env::start().await;
    let g = e.gateway(Arc::new(Store::memory())).await;
    let (_, created) = e
        .admin(
            &g,
            Method::POST,
            "/admin/v1/applications",
            Some(openid_app("OpenIDApp")),
        )
        .await;
    let (id, secret) = credentials(&created);
    let mut changed = openid_app("OpenIDApp");
    changed["strategies"][0]["registration"]["client_name"] = json!("Renamed client");

    // The AS refuses: nothing changes.
    {
        let _f = e.idp.fault(
            FaultSpec::new(
                Endpoint::Clients,
                FaultKind::Status {
                    status: 403,
                    body: Some(json!({"errorCode": "E0000006", "errorSummary": "You do not have permission to perform the requested action", "errorLink": "E0000006", "errorId": "oaeX", "errorCauses": []})),
                },
            )
            .times(1),
        );
        let (s, body) = e
            .admin(
                &g,
                Method::PUT,
                "/admin/v1/applications/OpenIDApp",
                Some(changed.clone()),
            )
            .await;
        assert_eq!(s, 502, "{body}");
        assert_eq!(body["authorization_server"]["errorCode"], "E0000006");
    }
    let (_, shown) = e
        .admin(&g, Method::GET, "/admin/v1/applications/OpenIDApp", None)
        .await;
    assert!(shown["strategies"][0]["registration"]["client_name"].is_null());

    let (s, body) = e
        .admin(
            &g,
            Method::PUT,
            "/admin/v1/applications/OpenIDApp",
            Some(changed),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        body["strategies"][0]["client_id"],
        id.as_str(),
        "same client"
    );
    let r: Value = e
        .http
        .get(format!("{}/oauth2/v1/clients/{id}", e.idp.base_url()))
        .header("Authorization", format!("SSWS {SSWS}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["client_name"], "Renamed client");

    // Rotation refused by the AS (rate limit): the stored secret still works.
    {
        let _f = e
            .idp
            .fault(FaultSpec::new(Endpoint::Clients, FaultKind::RateLimit).times(1));
        let (s, _) = e
            .admin(
                &g,
                Method::POST,
                "/admin/v1/applications/OpenIDApp/strategies/OktaStrategy/new-secret",
                None,
            )
            .await;
        assert_eq!(s, 503);
    }
    let token = e.token(&id, &secret).await.unwrap();
    assert_eq!(e.beds(&g, &token).await.0, 200);
}

/// Application names follow one grammar in the file and the admin API: a name that an upstream
/// would read as another application, a list, the anonymous sentinel, or that cannot be sent in
/// a header at all is refused at creation with its key named (nothing is registered at the AS);
/// every legal name, spaces, `/`, `%`, `?` and `#` included, is addressable by `gateway apps`.
#[tokio::test]
async fn admin_application_names_follow_one_grammar_and_the_cli_addresses_every_legal_name() {
    let e = Env::start().await;
    let g = e.gateway(Arc::new(Store::memory())).await;
    let clients = e.clients_at_as().await;
    for bad in [
        " SvcApp",
        "SvcApp\t",
        "anonymous",
        "Anonymous",
        "A, B",
        "Svc\r\nX-Gateway-Subject: admin",
        "Svc\0App",
        "Svc\u{7f}App",
        "Svc\u{e9}App",
    ] {
        let (s, answer) = e
            .admin(
                &g,
                Method::POST,
                "/admin/v1/applications",
                Some(openid_app(bad)),
            )
            .await;
        assert_eq!(s, 400, "{bad:?}: {answer}");
        assert!(
            answer["key"]
                .as_str()
                .unwrap_or_default()
                .ends_with(".name"),
            "{bad:?}: {answer}"
        );
        // The file refuses it alike, naming the key.
        let toml = format!(
            r#"
[[authorization_servers]]
name = "AS"
issuer = "https://as.example"
[authorization_servers.local]
audiences = ["api://default"]
public_key_pem = "unused"
[[apis]]
name = "Beds"
base_path = "/beds"
upstream = "http://127.0.0.1:1"
identification = ["oauth2_local"]
resources = [{{ path = "/x", methods = ["GET"] }}]
[[applications]]
name = {name}
apis = ["Beds"]
strategies = [{{ name = "S", scheme = "oauth2", authorization_server = "AS", client_id = "c" }}]
"#,
            name = toml_string(bad)
        );
        let err = Config::from_toml(&toml, &|_: &str| None).unwrap_err();
        assert_eq!(err.key, "applications[0].name", "{bad:?}: {err}");
    }
    assert_eq!(e.clients_at_as().await, clients, "nothing registered");

    let legal = "Ward 7/ICU %2F?#x";
    let (s, answer) = e
        .admin(
            &g,
            Method::POST,
            "/admin/v1/applications",
            Some(json!({
                "name": legal, "apis": ["CheckBedAvailability"],
                "strategies": [{ "name": "S", "scheme": "oauth2",
                    "authorization_server": "ExternalOktaServer", "client_id": "0oa-legal" }]
            })),
        )
        .await;
    assert_eq!(s, 201, "{answer}");
    let cli = |args: Vec<&str>| {
        let args: Vec<String> = args.into_iter().map(str::to_owned).collect();
        let url = g.admin_url().unwrap();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
                .args(args)
                .args(["--admin-url", &url])
                .env("GATEWAY_ADMIN_TOKEN", ADMIN)
                .output()
                .unwrap()
        })
    };
    let out = cli(vec!["apps", "show", legal]).await.unwrap();
    assert!(out.status.success(), "{out:?}");
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["name"], legal);
    let out = cli(vec!["apps", "delete", legal]).await.unwrap();
    assert!(out.status.success(), "{out:?}");
    let (_, list) = e
        .admin(&g, Method::GET, "/admin/v1/applications", None)
        .await;
    assert!(list.as_array().unwrap().iter().all(|a| a["name"] != legal));
}

/// `s` as a TOML basic string, control characters (DEL included) as `\uXXXX` escapes.
fn toml_string(s: &str) -> String {
    let body: String = s
        .chars()
        .map(|c| {
            if c.is_control() || c == '"' || c == '\\' {
                format!("\\u{:04X}", u32::from(c))
            } else {
                c.to_string()
            }
        })
        .collect();
    format!("\"{body}\"")
}

/// A reload whose file no longer fits the stored applications (the API they use is gone) is a
/// failed reload: it says so once and keeps serving, and does not also report success
/// (`gateway run` logs "configuration reloaded" only for a reload that happened).
#[tokio::test]
async fn admin_a_reload_that_does_not_fit_the_stored_applications_is_reported_as_failed() {
    let e = Env::start().await;
    let g = e.gateway(Arc::new(Store::memory())).await;
    let (_, created) = e
        .admin(
            &g,
            Method::POST,
            "/admin/v1/applications",
            Some(openid_app("OpenIDApp")),
        )
        .await;
    let (id, secret) = credentials(&created);
    let token = e.token(&id, &secret).await.unwrap();
    let mut renamed = config(&e.idp, &e.beds.url());
    renamed.apis[0].name = "Renamed".into();
    renamed.scope_mappings.clear();
    let err = g.reloader().reload(renamed).await.unwrap_err();
    assert!(err.to_string().contains("keeping the current one"), "{err}");
    assert_eq!(e.beds(&g, &token).await.0, 200, "the current one serves");
}
