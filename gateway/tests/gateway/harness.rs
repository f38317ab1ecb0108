//! Shared test harness: keys and token minting, a wiremock-backed authorization server (for
//! failure modes), an echo upstream, and a gateway on port 0 with a manual clock.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use axum::Json;
use axum::extract::Request;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gateway::clock::ManualClock;
use gateway::config::Config;
use gateway::{Gateway, GatewayHandle};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Respond, ResponseTemplate};

/// An RSA signing key.
pub struct RsaKey {
    pub kid: String,
    pub encoding: EncodingKey,
    pub jwk: Value,
    pub public_pem: String,
}

impl RsaKey {
    pub fn generate(kid: &str) -> Self {
        let kp = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&kp).unwrap();
        let private_pem = pem::encode(&pem::Pem::new("PRIVATE KEY", pkcs8.as_ref().to_vec()));
        let public = kp.public_key();
        let spki = AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(public).unwrap();
        let public_pem = pem::encode(&pem::Pem::new("PUBLIC KEY", spki.as_ref().to_vec()));
        let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
        let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
        Self {
            kid: kid.to_owned(),
            encoding: EncodingKey::from_rsa_pem(private_pem.as_bytes()).unwrap(),
            jwk: json!({ "kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": n, "e": e }),
            public_pem,
        }
    }

    pub fn sign(&self, claims: &Value) -> String {
        let mut h = Header::new(Algorithm::RS256);
        h.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&h, claims, &self.encoding).unwrap()
    }
}

/// Signs with HS256 and the given secret (and `kid`, if any).
pub fn sign_hs256(secret: &[u8], kid: Option<&str>, claims: &Value) -> String {
    let mut h = Header::new(Algorithm::HS256);
    h.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&h, claims, &EncodingKey::from_secret(secret)).unwrap()
}

/// Builds `header.claims.signature` by hand (for tokens no library would produce).
pub fn raw_token(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

pub const T0: u64 = 1_800_000_000;
pub const AUDIENCE: &str = "api://default";
pub const INTROSPECT_CLIENT: &str = "gateway-introspector";
pub const INTROSPECT_SECRET: &str = "introspector-secret-not-real";
pub const OPENID_APP: &str = "openid-app-client";
pub const OPENID_APP_SECRET: &str = "openid-app-hmac-secret-0123456789abcdef";
pub const PLAIN_APP: &str = "plain-app-client";
pub const PLAIN_APP_SECRET: &str = "plain-app-secret-0123456789abcdef-xyz";
pub const ADMIN_APP: &str = "admin-app-client";

#[derive(Clone)]
struct JwksResponder(Arc<Mutex<Vec<Value>>>);

impl Respond for JwksResponder {
    fn respond(&self, _: &wiremock::Request) -> ResponseTemplate {
        let keys = self.0.lock().unwrap().clone();
        ResponseTemplate::new(200)
            .insert_header("cache-control", "public, max-age=300")
            .set_body_json(json!({ "keys": keys }))
    }
}

#[derive(Clone)]
struct IntrospectResponder(Arc<Mutex<HashMap<String, Value>>>);

impl Respond for IntrospectResponder {
    fn respond(&self, req: &wiremock::Request) -> ResponseTemplate {
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{INTROSPECT_CLIENT}:{INTROSPECT_SECRET}"))
        );
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if auth != expected {
            return ResponseTemplate::new(401).set_body_json(json!({ "error": "invalid_client" }));
        }
        let form: HashMap<String, String> =
            serde_urlencoded::from_bytes(&req.body).unwrap_or_default();
        let token = form.get("token").cloned().unwrap_or_default();
        let answer = self
            .0
            .lock()
            .unwrap()
            .get(&token)
            .cloned()
            .unwrap_or(json!({ "active": false }));
        ResponseTemplate::new(200).set_body_json(answer)
    }
}

/// A wiremock authorization server with our own keys.
pub struct WireIdp {
    pub server: MockServer,
    pub keys: Vec<RsaKey>,
    published: Arc<Mutex<Vec<Value>>>,
    active: Arc<Mutex<HashMap<String, Value>>>,
}

impl WireIdp {
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let key = RsaKey::generate("key-1");
        let published = Arc::new(Mutex::new(vec![key.jwk.clone()]));
        let active = Arc::new(Mutex::new(HashMap::new()));
        let issuer = format!("{}/oauth2/default", server.uri());
        Mock::given(method("GET"))
            .and(path("/oauth2/default/.well-known/openid-configuration"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "issuer": issuer,
                "authorization_endpoint": format!("{issuer}/v1/authorize"),
                "token_endpoint": format!("{issuer}/v1/token"),
                "jwks_uri": format!("{issuer}/v1/keys"),
                "introspection_endpoint": format!("{issuer}/v1/introspect"),
                "registration_endpoint": format!("{}/oauth2/v1/clients", server.uri()),
                "scopes_supported": ["openid", "beds.read", "beds.reserve"],
            })))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/oauth2/default/v1/keys"))
            .respond_with(JwksResponder(published.clone()))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/oauth2/default/v1/introspect"))
            .respond_with(IntrospectResponder(active.clone()))
            .mount(&server)
            .await;
        Self {
            server,
            keys: vec![key],
            published,
            active,
        }
    }

    pub fn issuer(&self) -> String {
        format!("{}/oauth2/default", self.server.uri())
    }

    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer())
    }

    /// Okta-shaped access token claims.
    pub fn access_claims(&self, cid: &str, scopes: &[&str], now: u64) -> Value {
        json!({
            "ver": 1, "jti": format!("AT.{now}.{cid}"), "iss": self.issuer(), "aud": AUDIENCE,
            "iat": now, "exp": now + 3600, "cid": cid, "uid": "00u1", "scp": scopes, "sub": "nurse@example.org",
        })
    }

    /// Okta-shaped ID token claims.
    pub fn id_claims(&self, client: &str, now: u64) -> Value {
        json!({
            "ver": 1, "jti": format!("ID.{now}"), "iss": self.issuer(), "aud": client, "azp": client,
            "iat": now, "exp": now + 3600, "sub": "00u-doctor", "amr": ["pwd"], "auth_time": now,
        })
    }

    pub fn token(&self, claims: &Value) -> String {
        self.keys[0].sign(claims)
    }

    /// Adds a key, publishes it, and makes it the signing key.
    pub fn rotate(&mut self, kid: &str) {
        let key = RsaKey::generate(kid);
        self.published.lock().unwrap().push(key.jwk.clone());
        self.keys.insert(0, key);
    }

    /// Publishes a new P-256 key and returns its signing key.
    pub fn rotate_ec(&mut self, kid: &str) -> EncodingKey {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
        let kp = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let pkcs8 = kp.to_pkcs8v1().unwrap();
        let point = kp.public_key().as_ref().to_vec();
        let (x, y) = point[1..].split_at(32);
        self.published.lock().unwrap().push(json!({
            "kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
            "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y),
        }));
        EncodingKey::from_ec_der(pkcs8.as_ref())
    }

    /// Makes `token` active at introspection with these claims.
    pub fn activate(&self, token: &str, claims: Value) {
        self.active.lock().unwrap().insert(token.to_owned(), claims);
    }

    pub fn revoke(&self, token: &str) {
        self.active.lock().unwrap().remove(token);
    }

    pub async fn calls(&self, p: &str) -> usize {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path() == p)
            .count()
    }
}

/// An upstream that echoes the request; `/slow?ms=N` waits first.
pub struct Echo {
    pub addr: SocketAddr,
    /// Requests received so far.
    pub received: Arc<std::sync::atomic::AtomicUsize>,
    _task: tokio::task::JoinHandle<()>,
}

impl Echo {
    pub async fn start() -> Self {
        async fn echo(
            axum::extract::State(received): axum::extract::State<
                Arc<std::sync::atomic::AtomicUsize>,
            >,
            req: Request,
        ) -> Json<Value> {
            received.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if req.uri().path().ends_with("/slow") {
                let ms: u64 = req
                    .uri()
                    .query()
                    .and_then(|q| q.strip_prefix("ms="))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(500);
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            }
            let mut headers: HashMap<String, Vec<String>> = HashMap::new();
            for (k, v) in req.headers() {
                headers
                    .entry(k.as_str().to_owned())
                    .or_default()
                    .push(v.to_str().unwrap_or("?").to_owned());
            }
            Json(json!({
                "method": req.method().as_str(),
                "path": req.uri().path(),
                "query": req.uri().query(),
                "headers": headers,
            }))
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let router = axum::Router::new()
            .fallback(echo)
            .with_state(received.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self {
            addr,
            received,
            _task: task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// The test configuration: one AS, a scoped API, an admin API, an ID-token API.
pub fn config_toml(discovery_url: &str, upstream: &str) -> String {
    format!(
        r#"
realm = "test"
upstream_timeout_seconds = 1

[[authorization_servers]]
name = "ExternalOktaServer"
discovery_url = "{discovery_url}"
[authorization_servers.local]
audiences = ["{AUDIENCE}"]
clock_skew_seconds = 30
jwks_min_refresh_seconds = 10
jwks_max_stale_seconds = 600
[authorization_servers.remote]
client_id = "{INTROSPECT_CLIENT}"
client_secret = "${{INTROSPECT_SECRET}}"
cache_ttl_seconds = 60

[[apis]]
name = "CheckBedAvailability"
base_path = "/beds"
upstream = "{upstream}"
identification = ["oauth2_local", "oauth2_remote"]
[[apis.resources]]
path = "/hospitals"
methods = ["GET"]
[[apis.resources]]
path = "/hospitals/{{id}}/wards/{{ward}}/reservations"
methods = ["POST"]
[[apis.resources]]
path = "/slow"
methods = ["GET"]
[[apis.scopes]]
name = "CheckBedAvailibiltyScopeV3"
resources = [{{ path = "/hospitals", methods = ["GET"] }}, {{ path = "/slow", methods = ["GET"] }}]
[[apis.scopes]]
name = "ReserveBeds"
resources = [{{ path = "/hospitals/{{id}}/wards/{{ward}}/reservations", methods = ["POST"] }}]

[[apis]]
name = "Admin"
base_path = "/admin"
upstream = "{upstream}"
identification = ["oauth2_local"]
resources = [{{ path = "/*", methods = ["GET"] }}]

[[apis]]
name = "Profile"
base_path = "/profile"
upstream = "{upstream}"
identification = ["openid_connect"]
resources = [{{ path = "/*", methods = ["GET"] }}]

[[scope_mappings]]
authorization_server = "ExternalOktaServer"
scope = "beds.read"
api_scopes = ["CheckBedAvailibiltyScopeV3"]

[[scope_mappings]]
authorization_server = "ExternalOktaServer"
scope = "beds.reserve"
api_scopes = ["ReserveBeds"]

[[applications]]
name = "OpenIDApp"
apis = ["CheckBedAvailability", "Profile"]
[[applications.strategies]]
name = "OktaStrategy"
scheme = "openid"
authorization_server = "ExternalOktaServer"
client_id = "{OPENID_APP}"
client_secret = "${{OPENID_APP_SECRET}}"
hmac = true

[[applications]]
name = "PlainApp"
apis = ["CheckBedAvailability", "Profile"]
[[applications.strategies]]
name = "PlainStrategy"
scheme = "openid"
authorization_server = "ExternalOktaServer"
client_id = "{PLAIN_APP}"
client_secret = "${{PLAIN_APP_SECRET}}"

[[applications]]
name = "AdminApp"
apis = ["Admin"]
[[applications.strategies]]
name = "AdminStrategy"
scheme = "oauth2"
authorization_server = "ExternalOktaServer"
client_id = "{ADMIN_APP}"
"#
    )
}

pub fn test_env(name: &str) -> Option<String> {
    match name {
        "INTROSPECT_SECRET" => Some(INTROSPECT_SECRET.into()),
        "OPENID_APP_SECRET" => Some(OPENID_APP_SECRET.into()),
        "PLAIN_APP_SECRET" => Some(PLAIN_APP_SECRET.into()),
        _ => None,
    }
}

/// How clients reach the gateway under test: plain HTTP, or its TLS listener (`[tls]` with a
/// certificate for 127.0.0.1 from a test CA). Tests that must hold over both take one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Http,
    Tls,
}

/// What `transport` adds to a configuration (appended at its end), a client that reaches the
/// gateway over it, and the certificates to keep while the gateway runs.
pub fn over(transport: Transport) -> (String, reqwest::Client, Option<crate::tls::Pki>) {
    match transport {
        Transport::Http => (String::new(), reqwest::Client::new(), None),
        Transport::Tls => {
            let pki = crate::tls::Pki::new();
            pki.server("gateway", &["127.0.0.1"], &rcgen::PKCS_ECDSA_P256_SHA256);
            let ca = std::fs::read(&pki.ca_file).unwrap();
            let http = reqwest::Client::builder()
                .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
                .build()
                .unwrap();
            (format!("\n{}", pki.entry("gateway")), http, Some(pki))
        }
    }
}

pub async fn start_gateway(toml: &str, clock: ManualClock) -> GatewayHandle {
    let config = Config::from_toml(toml, &test_env).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    Gateway::builder(config)
        .clock(clock)
        .build(listener)
        .await
        .unwrap()
}

/// The wiremock IdP, an echo upstream and a gateway with a manual clock at `T0`.
pub struct Stack {
    pub idp: WireIdp,
    pub echo: Echo,
    pub gateway: GatewayHandle,
    pub clock: ManualClock,
    /// A client of the gateway over the stack's transport.
    pub http: reqwest::Client,
    /// The certificates of a TLS stack (kept while it runs).
    #[allow(dead_code)]
    pub pki: Option<crate::tls::Pki>,
}

impl Stack {
    pub async fn start() -> Self {
        Self::start_over(Transport::Http).await
    }

    pub async fn start_over(transport: Transport) -> Self {
        let idp = WireIdp::start().await;
        let echo = Echo::start().await;
        let clock = ManualClock::new(T0);
        let (tls, http, pki) = over(transport);
        let gateway = start_gateway(
            &(config_toml(&idp.discovery_url(), &echo.url()) + &tls),
            clock.clone(),
        )
        .await;
        Self {
            idp,
            echo,
            gateway,
            clock,
            http,
            pki,
        }
    }

    pub fn url(&self, p: &str) -> String {
        format!("{}{p}", self.gateway.url())
    }

    pub async fn get(&self, p: &str, token: &str) -> reqwest::Response {
        self.http
            .get(self.url(p))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }
}

/// The `WWW-Authenticate` header, or "".
pub fn challenge(r: &reqwest::Response) -> String {
    r.headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

pub async fn metrics(gateway: &GatewayHandle) -> String {
    reqwest::get(format!("{}/metrics", gateway.url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// A free loopback port (bound, then released) for a `gateway run` process.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `gateway run --config FILE --listen 127.0.0.1:PORT` with the test configuration's secrets in
/// its environment and `RUST_LOG` unset (the default level); stderr as `stderr` says.
pub fn spawn_gateway_run(
    file: &std::path::Path,
    port: u16,
    stderr: std::process::Stdio,
) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
        .args(["run", "--config"])
        .arg(file)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env_remove("RUST_LOG")
        .env("INTROSPECT_SECRET", INTROSPECT_SECRET)
        .env("OPENID_APP_SECRET", OPENID_APP_SECRET)
        .env("PLAIN_APP_SECRET", PLAIN_APP_SECRET)
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

/// An HTTP client whose connections come from `ip` (another loopback address: another client
/// as the gateway counts them).
pub fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap()
}
