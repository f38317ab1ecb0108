//! The validation hot path: what the gateway does to a request before forwarding it
//! (route, extract, validate, identify, authorize), against the real mock Okta server.
//!
//! Run with `just bench` (or `cargo bench -p gateway`).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use gateway::clock::{ManualClock, SharedClock};
use gateway::config::Config;
use gateway::pipeline::Pipeline;
use http::{HeaderMap, HeaderValue, Method, Uri, header};
use jsonwebtoken::{Algorithm, EncodingKey, Header};

const SERVICE: &str = "0oa7ms2bedsvc000x7d1";
const SERVICE_SECRET: &str = "mock-idp-service-secret-Bx7dY2qLw9ZtR4vNc8Hs";
const WEB: &str = "0oa7ms2bedweb000x7d2";
const WEB_SECRET: &str = "mock-idp-web-secret-Kp3sT8vXq2Lm6Wn9Rc4Jz7Fd";

fn config(discovery: &str, upstream: &str) -> String {
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
cache_ttl_seconds = 3600

[[apis]]
name = "Local"
base_path = "/local"
upstream = "{upstream}"
identification = ["oauth2_local"]
resources = [{{ path = "/hospitals/{{h}}/wards", methods = ["GET"] }}]
scopes = [{{ name = "CheckBedAvailibiltyScopeV3", resources = [{{ path = "/hospitals/{{h}}/wards", methods = ["GET"] }}] }}]

[[apis]]
name = "Remote"
base_path = "/remote"
upstream = "http://127.0.0.1:9"
identification = ["oauth2_remote"]
resources = [{{ path = "/hospitals/{{h}}/wards", methods = ["GET"] }}]
scopes = [{{ name = "RemoteScope", resources = [{{ path = "/hospitals/{{h}}/wards", methods = ["GET"] }}] }}]

[[apis]]
name = "Profile"
base_path = "/profile"
upstream = "http://127.0.0.1:9"
identification = ["openid_connect"]
resources = [{{ path = "/me", methods = ["GET"] }}]

[[scope_mappings]]
authorization_server = "ExternalOktaServer"
scope = "beds.read"
api_scopes = ["CheckBedAvailibiltyScopeV3", "RemoteScope"]

[[applications]]
name = "OpenIDApp"
apis = ["Local", "Remote", "Profile"]
strategies = [
  {{ name = "OktaStrategy", scheme = "openid", authorization_server = "ExternalOktaServer", client_id = "{SERVICE}" }},
  {{ name = "OktaWebStrategy", scheme = "openid", authorization_server = "ExternalOktaServer", client_id = "{WEB}", client_secret = "{WEB_SECRET}", hmac = true }},
]
"#
    )
}

fn bearer(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    h
}

fn admit(rt: &tokio::runtime::Runtime, p: &Pipeline, uri: &Uri, headers: &HeaderMap) {
    let (mut api, mut app) = (None, None);
    let r = rt.block_on(p.admit(&Method::GET, uri, headers, &mut api, &mut app));
    assert!(r.is_ok(), "{r:?}");
    black_box(r.ok());
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (idp, pipeline, _beds) = rt.block_on(async {
        let idp = mock_idp::MockIdp::start().await.unwrap();
        let beds =
            gateway::beds::start(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
                .unwrap();
        let config =
            Config::from_toml(&config(&idp.discovery_url(), &beds.url()), &|_: &str| None).unwrap();
        let clock = SharedClock(Arc::new(ManualClock::new(
            u64::try_from(idp.clock().now()).unwrap(),
        )));
        let pipeline = gateway::prepare(config, clock).await.unwrap();
        (idp, pipeline, beds)
    });
    let access = idp.mint_access_token(SERVICE, &["beds.read"]).unwrap();
    let now = u64::try_from(idp.clock().now()).unwrap();
    let id_token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &serde_json::json!({ "iss": idp.issuer(), "aud": WEB, "azp": WEB, "sub": "00u1", "iat": now, "exp": now + 3600 }),
        &EncodingKey::from_secret(WEB_SECRET.as_bytes()),
    )
    .unwrap();

    let local = Uri::from_static("/local/hospitals/st-marys/wards");
    let remote = Uri::from_static("/remote/hospitals/st-marys/wards");
    let profile = Uri::from_static("/profile/me");
    let at = bearer(&access);
    let idt = bearer(&id_token);
    admit(&rt, &pipeline, &remote, &at); // warm the introspection cache

    let mut g = c.benchmark_group("admit");
    g.bench_function("local_rs256_jwks", |b| {
        b.iter(|| admit(&rt, &pipeline, &local, &at))
    });
    g.bench_function("hmac_hs256_id_token", |b| {
        b.iter(|| admit(&rt, &pipeline, &profile, &idt))
    });
    g.bench_function("introspection_cache_hit", |b| {
        b.iter(|| admit(&rt, &pipeline, &remote, &at))
    });
    g.finish();

    // The whole tower stack, forwarding to the beds backend over a pooled loopback connection.
    let pipeline = Arc::new(pipeline);
    let service = gateway::pipeline::service(pipeline.clone());
    let wards = "/local/hospitals/st-marys/wards";
    let mut g = c.benchmark_group("service");
    g.bench_function("local_rs256_forward_to_upstream", |b| {
        b.iter(|| {
            let mut req = http::Request::get(wards)
                .body(axum::body::Body::empty())
                .unwrap();
            *req.headers_mut() = at.clone();
            let svc = service.clone();
            let status = rt.block_on(async move {
                use tower::ServiceExt as _;
                let r = svc.oneshot(req).await.unwrap();
                let status = r.status();
                let _ = http_body_util::BodyExt::collect(r.into_body()).await;
                status
            });
            assert_eq!(status, 200);
        })
    });
    g.finish();

    let mut g = c.benchmark_group("steps");
    g.bench_function("route", |b| {
        b.iter(|| {
            black_box(
                gateway::pipeline::route::route(pipeline.routes(), &Method::GET, &local).unwrap(),
            )
        })
    });
    g.bench_function("decode_jwt", |b| {
        b.iter(|| {
            black_box(
                gateway::validation::jwt::decode(&access)
                    .unwrap()
                    .claims
                    .exp,
            )
        })
    });
    let key =
        gateway::validation::key_cache::VerifyKey::from_pem(&idp.signing_key().public_key_pem())
            .unwrap();
    let jwt = gateway::validation::jwt::decode(&access).unwrap();
    g.bench_function("rs256_verify_preparsed_key", |b| {
        b.iter(|| key.verify(&jwt, Algorithm::RS256).unwrap())
    });
    g.bench_function("rs256_verify_jsonwebtoken", |b| {
        b.iter(|| {
            gateway::validation::jwt::verify_signature(&jwt, &key.key, Algorithm::RS256).unwrap()
        })
    });
    g.bench_function("block_on_baseline", |b| {
        b.iter(|| rt.block_on(async { black_box(1) }))
    });
    g.finish();
    drop(idp);
}

criterion_group!(benches, bench);
criterion_main!(benches);
