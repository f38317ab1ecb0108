//! Benchmarks of the mock's hot paths: start to ready (library), signing a
//! token with the pre-parsed key, and client_credentials over loopback HTTP.
//! `cargo bench -p mock-idp` (or `just bench`).

// Custom timing loops: elapsed wall time is what they measure.
#![allow(clippy::disallowed_methods)]

use criterion::{Criterion, criterion_group, criterion_main};
use mock_idp::MockIdp;

/// Start, then one GET of `url_of(&idp)` answered 200: the mock serves while
/// its keys are generated, so "ready" means an answer, not `start` returning.
async fn start_and_get(client: &reqwest::Client, url_of: fn(&MockIdp) -> String) -> MockIdp {
    let idp = MockIdp::start().await.expect("starts");
    let response = client.get(url_of(&idp)).send().await.expect("sent");
    assert_eq!(response.status(), 200);
    response.bytes().await.expect("body");
    idp
}

fn start_to_ready(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let client = reqwest::Client::new();
    let mut group = c.benchmark_group("mock_idp");
    group.sample_size(20);
    // Ready = the default server's JWKS answered. Back to back: faster than
    // the key pool refills, so this is bound by generating two RSA-2048 keys
    // (in parallel), as the first start in a fresh process is; see also
    // `cargo run --release -p mock-idp --example cold_start`, which measures
    // fresh processes.
    group.bench_function("start_to_ready_keys_generated", |b| {
        b.iter(|| runtime.block_on(start_and_get(&client, MockIdp::jwks_uri)));
    });
    // Discovery needs no key: it answers while the keys are still being made.
    // Each sample then waits for its keys, untimed, so that samples do not
    // pile up key generations.
    group.bench_function("start_to_discovery_keys_generated", |b| {
        b.iter_custom(|iterations| {
            let mut total = std::time::Duration::ZERO;
            for _ in 0..iterations {
                let started = std::time::Instant::now();
                let idp = runtime.block_on(start_and_get(&client, MockIdp::discovery_url));
                total += started.elapsed();
                runtime.block_on(async {
                    let jwks = client.get(idp.jwks_uri()).send().await.expect("sent");
                    assert_eq!(jwks.status(), 200);
                });
            }
            total
        });
    });
    // As in a test suite, where mocks start a little apart: the background
    // pool has spare keys ready, so start is binding plus building the router.
    group.bench_function("start_to_ready_pool_warm", |b| {
        b.iter_custom(|iterations| {
            let mut total = std::time::Duration::ZERO;
            for _ in 0..iterations {
                std::thread::sleep(std::time::Duration::from_millis(600));
                let started = std::time::Instant::now();
                let idp = runtime.block_on(start_and_get(&client, MockIdp::jwks_uri));
                total += started.elapsed();
                drop(idp);
            }
            total
        });
    });
    group.finish();
}

fn sign_access_token(c: &mut Criterion) {
    let key = mock_idp::SigningKey::generate().expect("key");
    let claims = serde_json::json!({
        "ver": 1, "jti": "AT.0123456789abcdefghijklmnopqrstuvwxyzABCDEFG",
        "iss": "http://127.0.0.1:9400/oauth2/default", "aud": "api://default",
        "iat": 1_800_000_000, "exp": 1_800_003_600, "cid": "0oa7ms2bedsvc000x7d1",
        "scp": ["beds.read"], "sub": "0oa7ms2bedsvc000x7d1",
    });
    c.bench_function("mock_idp/sign_access_token_rs256", |b| {
        b.iter(|| key.sign_jwt(&claims).expect("signs"));
    });
    // The floor: the raw RS256 signature alone, with the same pre-parsed key type.
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("key");
    let message = [b'x'; 300];
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let mut signature = vec![0u8; pair.public_modulus_len()];
    c.bench_function("mock_idp/raw_rs256_sign", |b| {
        b.iter(|| {
            pair.sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &rng,
                &message,
                &mut signature,
            )
            .expect("signs")
        });
    });
}

fn client_credentials_over_http(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let idp = runtime.block_on(MockIdp::start()).expect("starts");
    let client = reqwest::Client::new();
    let url = idp.token_endpoint();
    c.bench_function("mock_idp/client_credentials_http", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let response = client
                    .post(&url)
                    .basic_auth(
                        "0oa7ms2bedsvc000x7d1",
                        Some("mock-idp-service-secret-Bx7dY2qLw9ZtR4vNc8Hs"),
                    )
                    .form(&[("grant_type", "client_credentials"), ("scope", "beds.read")])
                    .send()
                    .await
                    .expect("sent");
                assert_eq!(response.status(), 200);
                response.bytes().await.expect("body")
            })
        });
    });
    let jwks = idp.jwks_uri();
    c.bench_function("mock_idp/jwks_http", |b| {
        b.iter(|| {
            runtime.block_on(async {
                client
                    .get(&jwks)
                    .send()
                    .await
                    .expect("sent")
                    .bytes()
                    .await
                    .expect("body")
            })
        });
    });
}

criterion_group!(
    benches,
    start_to_ready,
    sign_access_token,
    client_credentials_over_http
);
criterion_main!(benches);
