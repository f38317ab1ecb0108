//! Authorization-server and upstream faults, driven by the mock's control API: local validation
//! keeps serving from cached keys (bounded staleness), remote validation fails closed (503),
//! nothing hangs past its timeout, and recovery needs no restart.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use gateway::beds::{self, BedsHandle};
use gateway::config::Config;
use gateway::{Gateway, GatewayHandle};
use mock_idp::MockIdp;
use mock_idp::control::{Endpoint, FaultKind, FaultSpec};
use serde_json::Value;

const SERVICE: &str = "0oa7ms2bedsvc000x7d1";
const SERVICE_SECRET: &str = "mock-idp-service-secret-Bx7dY2qLw9ZtR4vNc8Hs";
/// The gateway's timeout for calls to an authorization server (`discovery::as_client`).
const AS_TIMEOUT: Duration = Duration::from_secs(5);

pub fn config(discovery: &str, upstream: &str, identification: &str) -> String {
    config_with_api(
        discovery,
        &format!(
            r#"base_path = "/beds"
upstream = "{upstream}"
identification = [{identification}]
resources = [{{ path = "/hospitals", methods = ["GET"] }}]
scopes = [{{ name = "Read", resources = [{{ path = "/hospitals", methods = ["GET"] }}] }}]"#
        ),
    )
}

/// The suite's configuration with `api` as the body of its one API's table (base path,
/// upstream, resources, and the scope `Read` that `beds.read` maps to).
pub fn config_with_api(discovery: &str, api: &str) -> String {
    format!(
        r#"
upstream_timeout_seconds = 1

[[authorization_servers]]
name = "ExternalOktaServer"
discovery_url = "{discovery}"
[authorization_servers.local]
audiences = ["api://default"]
jwks_min_refresh_seconds = 10
jwks_max_stale_seconds = 600
[authorization_servers.remote]
client_id = "{SERVICE}"
client_secret = "{SERVICE_SECRET}"
cache_ttl_seconds = 60

[[apis]]
name = "CheckBedAvailability"
{api}

[[scope_mappings]]
authorization_server = "ExternalOktaServer"
scope = "beds.read"
api_scopes = ["Read"]

[[applications]]
name = "ServiceApp"
apis = ["CheckBedAvailability"]
strategies = [{{ name = "S", scheme = "oauth2", authorization_server = "ExternalOktaServer", client_id = "{SERVICE}" }}]
"#
    )
}

pub struct Faulty {
    pub idp: MockIdp,
    pub _beds: BedsHandle,
    pub gateway: GatewayHandle,
    pub http: reqwest::Client,
}

pub async fn build(
    idp: &MockIdp,
    upstream: &str,
    identification: &str,
) -> anyhow::Result<GatewayHandle> {
    build_with(idp, upstream, identification, "", "").await
}

/// [`build`] with top-level `settings` before the configuration and `tables` (e.g. `[tls]`)
/// after it.
pub async fn build_with(
    idp: &MockIdp,
    upstream: &str,
    identification: &str,
    settings: &str,
    tables: &str,
) -> anyhow::Result<GatewayHandle> {
    let toml = format!(
        "{settings}\n{}\n{tables}",
        config(&idp.discovery_url(), upstream, identification)
    );
    build_from(idp, &toml).await
}

/// A gateway for `toml` on port 0, on the mock's clock.
pub async fn build_from(idp: &MockIdp, toml: &str) -> anyhow::Result<GatewayHandle> {
    let config = Config::from_toml(toml, &|_: &str| None)?;
    let clock = idp.clock().clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    Ok(Gateway::builder(config)
        .clock(move || u64::try_from(clock.now()).unwrap())
        .build(listener)
        .await?)
}

impl Faulty {
    pub async fn start_with(idp: MockIdp, identification: &str) -> Self {
        let beds =
            beds::start(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()).unwrap();
        let gateway = build(&idp, &beds.url(), identification).await.unwrap();
        Self {
            idp,
            _beds: beds,
            gateway,
            http: reqwest::Client::new(),
        }
    }

    pub async fn start(identification: &str) -> Self {
        Self::start_with(MockIdp::builder().start().await.unwrap(), identification).await
    }

    pub fn token(&self) -> String {
        self.idp.mint_access_token(SERVICE, &["beds.read"]).unwrap()
    }

    pub async fn status(&self, token: &str) -> u16 {
        self.http
            .get(format!("{}/beds/hospitals", self.gateway.url()))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    pub fn advance(&self, s: u64) {
        self.idp.clock().advance(Duration::from_secs(s));
    }

    pub fn calls(&self, suffix: &str) -> usize {
        self.idp
            .requests()
            .iter()
            .filter(|r| r.path.ends_with(suffix))
            .count()
    }
}

fn fault(endpoint: Endpoint, kind: FaultKind) -> FaultSpec {
    FaultSpec::new(endpoint, kind)
}

#[tokio::test]
async fn jwks_down_at_start_fails_closed_then_recovers_without_a_restart() {
    let idp = MockIdp::builder().start().await.unwrap();
    let down = idp.fault(fault(
        Endpoint::Keys,
        FaultKind::Status {
            status: 503,
            body: None,
        },
    ));
    let f = Faulty::start_with(idp, "\"oauth2_local\"").await;
    let token = f.token();
    for _ in 0..20 {
        assert_eq!(f.status(&token).await, 503, "no keys yet: fail closed");
    }
    assert_eq!(
        f.calls("/keys"),
        1,
        "a down AS is not hammered: one fetch per backoff"
    );
    drop(down);
    // Within the failure backoff (jwks_min_refresh_seconds) the gateway does not ask again...
    assert_eq!(f.status(&token).await, 503);
    // ...and after it, recovery needs no restart.
    f.advance(11);
    assert_eq!(f.status(&token).await, 200);
}

#[tokio::test]
async fn discovery_down_at_start_is_a_clear_error_within_the_timeout() {
    let idp = MockIdp::builder().start().await.unwrap();
    let beds = beds::start(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()).unwrap();
    let _down = idp.fault(fault(Endpoint::Discovery, FaultKind::Drop));
    let started = Instant::now();
    let Err(e) = build(&idp, &beds.url(), "\"oauth2_local\"").await else {
        panic!("the gateway started without its authorization server");
    };
    assert!(
        started.elapsed() < AS_TIMEOUT * 3,
        "{:?}",
        started.elapsed()
    );
    let text = format!("{e:#}");
    assert!(
        text.contains("ExternalOktaServer") || text.contains("discovery"),
        "{text}"
    );
}

#[tokio::test]
async fn jwks_down_during_operation_keeps_serving_cached_keys_up_to_max_stale() {
    let f = Faulty::start("\"oauth2_local\"").await;
    assert_eq!(f.status(&f.token()).await, 200);
    let _down = f.idp.fault(fault(
        Endpoint::Keys,
        FaultKind::Status {
            status: 500,
            body: None,
        },
    ));
    // Past any key-set lifetime the mock sends, within max stale (600 s): still served.
    f.advance(590);
    assert_eq!(f.status(&f.token()).await, 200);
    // Beyond the bound: fail closed.
    f.advance(30_000);
    assert_eq!(f.status(&f.token()).await, 503);
}

#[tokio::test]
async fn garbage_jwks_keeps_the_cached_keys_and_recovers_automatically() {
    let f = Faulty::start("\"oauth2_local\"").await;
    let old = f.token();
    assert_eq!(f.status(&old).await, 200);
    let garbage = f.idp.fault(fault(Endpoint::Keys, FaultKind::BrokenJwks));
    f.idp.rotate_keys().await.unwrap();
    let new = f.token();
    // The new kid forces a refresh; the garbage answer is not taken as "no keys".
    let st = f.status(&new).await;
    assert!(st == 503 || st == 401, "{st}");
    assert_eq!(f.status(&old).await, 200, "the cached keys still serve");
    drop(garbage);
    f.advance(11); // the unknown-kid cooldown
    assert_eq!(f.status(&new).await, 200, "recovered");
}

#[tokio::test]
async fn a_stale_jwks_after_rotation_is_retried_after_the_cooldown() {
    let f = Faulty::start("\"oauth2_local\"").await;
    assert_eq!(f.status(&f.token()).await, 200);
    let stale = f.idp.fault(fault(Endpoint::Keys, FaultKind::StaleJwks));
    f.idp.rotate_keys().await.unwrap();
    let new = f.token();
    assert_eq!(f.status(&new).await, 401);
    let fetches = f.calls("/keys");
    for _ in 0..20 {
        assert_eq!(f.status(&new).await, 401);
    }
    assert_eq!(
        f.calls("/keys"),
        fetches,
        "unknown kids do not hammer the AS"
    );
    drop(stale);
    f.advance(11);
    assert_eq!(f.status(&new).await, 200);
}

#[tokio::test]
async fn a_slow_jwks_never_holds_requests_past_the_timeout() {
    let f = Faulty::start("\"oauth2_local\"").await;
    let old = f.token();
    assert_eq!(f.status(&old).await, 200);
    let _slow = f
        .idp
        .fault(fault(Endpoint::Keys, FaultKind::Latency { ms: 20_000 }).times(1));
    f.idp.rotate_keys().await.unwrap();
    let new = f.token();
    let started = Instant::now();
    let (st_new, st_old) = tokio::join!(f.status(&new), async {
        tokio::task::yield_now().await;
        f.status(&old).await
    });
    assert_eq!(st_new, 503);
    assert!(
        started.elapsed() < AS_TIMEOUT + Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(st_old, 200, "known keys do not wait for the refresh");
}

#[tokio::test]
async fn key_rotation_under_load_loses_no_request() {
    let f = Arc::new(Faulty::start("\"oauth2_local\"").await);
    let failures = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..8 {
        let (f, failures, done, stop) = (f.clone(), failures.clone(), done.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                // Each request carries a token minted with whichever key signs right now.
                if f.status(&f.token()).await != 200 {
                    failures.fetch_add(1, Ordering::SeqCst);
                }
                done.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    for _ in 0..3 {
        let before = done.load(Ordering::SeqCst);
        while done.load(Ordering::SeqCst) < before + 50 {
            tokio::task::yield_now().await;
        }
        f.idp.rotate_keys().await.unwrap();
        f.advance(11); // each rotation lands after the unknown-kid cooldown
    }
    let before = done.load(Ordering::SeqCst);
    while done.load(Ordering::SeqCst) < before + 50 {
        tokio::task::yield_now().await;
    }
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.await.unwrap();
    }
    let total = done.load(Ordering::SeqCst);
    assert!(total >= 200, "{total}");
    assert_eq!(failures.load(Ordering::SeqCst), 0, "of {total} requests");
}

#[tokio::test]
async fn introspection_faults_fail_closed_and_recover() {
    let f = Faulty::start("\"oauth2_remote\"").await;
    for kind in [
        FaultKind::Status {
            status: 500,
            body: None,
        },
        FaultKind::Status {
            status: 200,
            body: Some(serde_json::json!({ "active": "true" })),
        },
        FaultKind::Status {
            status: 200,
            body: Some(serde_json::json!({ "scope": "beds.read" })),
        },
        FaultKind::Drop,
        FaultKind::RateLimit,
    ] {
        let token = f.token(); // a fresh token: nothing cached
        let guard = f.idp.fault(fault(Endpoint::Introspect, kind.clone()));
        let st = f.status(&token).await;
        assert!(st == 503 || st == 401, "{kind:?}: {st}");
        drop(guard);
        assert_eq!(f.status(&token).await, 200, "{kind:?}: recovered");
    }
}

#[tokio::test]
async fn an_introspection_timeout_is_503_within_the_timeout_then_recovers() {
    let f = Faulty::start("\"oauth2_remote\"").await;
    let token = f.token();
    let _slow = f
        .idp
        .fault(fault(Endpoint::Introspect, FaultKind::Latency { ms: 30_000 }).times(1));
    let started = Instant::now();
    let r = f
        .http
        .get(format!("{}/beds/hospitals", f.gateway.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(
        started.elapsed() < AS_TIMEOUT + Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    assert_eq!(f.status(&token).await, 200, "the failure was not cached");
}

/// A TCP server that accepts and closes (or resets) every connection at once.
async fn resetting_upstream() -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            drop(s);
        }
    });
    format!("http://{addr}")
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

#[tokio::test]
async fn an_upstream_resetting_connections_is_502_with_a_clear_body_and_no_leak() {
    an_upstream_resetting_connections_is_502_over(crate::harness::Transport::Http).await;
}

#[tokio::test]
async fn an_upstream_resetting_connections_is_502_with_a_clear_body_and_no_leak_over_tls() {
    an_upstream_resetting_connections_is_502_over(crate::harness::Transport::Tls).await;
}

async fn an_upstream_resetting_connections_is_502_over(transport: crate::harness::Transport) {
    let idp = MockIdp::builder().start().await.unwrap();
    let upstream = resetting_upstream().await;
    let (tls, http, _pki) = crate::harness::over(transport);
    let gateway = build_with(&idp, &upstream, "\"oauth2_local\"", "", &tls)
        .await
        .unwrap();
    let token = idp.mint_access_token(SERVICE, &["beds.read"]).unwrap();
    let send = || {
        http.get(format!("{}/beds/hospitals", gateway.url()))
            .bearer_auth(&token)
            .send()
    };
    let r = send().await.unwrap();
    assert_eq!(r.status(), 502);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "bad_gateway");
    let before = open_fds();
    for _ in 0..100 {
        assert_eq!(send().await.unwrap().status(), 502);
    }
    let after = open_fds();
    assert!(
        after <= before + 8,
        "open descriptors grew from {before} to {after}"
    );
}

#[tokio::test]
async fn a_slow_upstream_is_504_and_its_connections_are_released() {
    // An upstream that accepts, reads, and never answers.
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let held = Arc::new(AtomicUsize::new(0));
    let h = held.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let h = h.clone();
            tokio::spawn(async move {
                use tokio::io::AsyncReadExt;
                h.fetch_add(1, Ordering::SeqCst);
                let mut buf = [0u8; 4096];
                while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
                h.fetch_sub(1, Ordering::SeqCst); // the gateway closed its side
            });
        }
    });
    let idp = MockIdp::builder().start().await.unwrap();
    let gateway = build(&idp, &format!("http://{addr}"), "\"oauth2_local\"")
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let token = idp.mint_access_token(SERVICE, &["beds.read"]).unwrap();
    let started = Instant::now();
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let req = http
                .get(format!("{}/beds/hospitals", gateway.url()))
                .bearer_auth(&token);
            tokio::spawn(req.send())
        })
        .collect();
    for c in calls {
        let r = c.await.unwrap().unwrap();
        assert_eq!(r.status(), 504);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "gateway_timeout");
    }
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    // Timed-out upstream connections are closed, not left open in the pool.
    let deadline = Instant::now() + Duration::from_secs(3);
    while held.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        held.load(Ordering::SeqCst),
        0,
        "upstream connections still open"
    );
}
