//! Configuration reload and graceful shutdown under sustained load, on loopback: no request is
//! lost (every response is 2xx) and the new configuration takes effect.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use gateway::config::Config;

use crate::harness::*;

#[derive(Default)]
struct Counts {
    ok: AtomicUsize,
    non_2xx: AtomicUsize,
    /// Transport errors on requests sent before shutdown began.
    lost: AtomicUsize,
    /// Connection refused/closed after shutdown began (not accepted, so not lost).
    refused_after_shutdown: AtomicUsize,
}

fn load(
    http: &reqwest::Client,
    url: String,
    token: String,
    workers: usize,
    stop: Arc<AtomicBool>,
    shutting_down: Arc<AtomicBool>,
    counts: Arc<Counts>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..workers)
        .map(|_| {
            let (http, url, token, stop, shutting_down, counts) = (
                http.clone(),
                url.clone(),
                token.clone(),
                stop.clone(),
                shutting_down.clone(),
                counts.clone(),
            );
            tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let before_shutdown = !shutting_down.load(Ordering::SeqCst);
                    match http.get(&url).bearer_auth(&token).send().await {
                        Ok(r) if r.status().is_success() => {
                            counts.ok.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(_) => {
                            counts.non_2xx.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(_) if before_shutdown => {
                            counts.lost.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(_) => {
                            counts.refused_after_shutdown.fetch_add(1, Ordering::SeqCst);
                            return; // the listener is gone
                        }
                    }
                }
            })
        })
        .collect()
}

async fn until(counts: &Counts, n: usize) {
    let target = counts.ok.load(Ordering::SeqCst) + n;
    while counts.ok.load(Ordering::SeqCst) < target
        && counts.non_2xx.load(Ordering::SeqCst) == 0
        && counts.lost.load(Ordering::SeqCst) == 0
    {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_and_graceful_shutdown_under_load_lose_no_request() {
    reloads_and_graceful_shutdown_under_load_lose_no_request_over(Transport::Http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_and_graceful_shutdown_under_load_lose_no_request_over_tls() {
    reloads_and_graceful_shutdown_under_load_lose_no_request_over(Transport::Tls).await;
}

#[allow(clippy::print_stderr)]
async fn reloads_and_graceful_shutdown_under_load_lose_no_request_over(transport: Transport) {
    let idp = WireIdp::start().await;
    let echo = Echo::start().await;
    let clock = gateway::clock::ManualClock::new(T0);
    let (tls, http, _pki) = over(transport);
    let base = config_toml(&idp.discovery_url(), &echo.url()) + &tls;
    let gateway = start_gateway(&base, clock).await;
    let token = idp.token(&idp.access_claims(OPENID_APP, &["beds.read"], T0));
    let url = format!("{}/beds/hospitals", gateway.url());
    let (stop, shutting_down, counts) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
        Arc::new(Counts::default()),
    );
    let workers = load(
        &http,
        url.clone(),
        token,
        8,
        stop.clone(),
        shutting_down.clone(),
        counts.clone(),
    );

    // Five reloads under load, alternating the realm so each one is observable.
    let reloader = gateway.reloader();
    for i in 0..5 {
        until(&counts, 100).await;
        let realm = format!("reloaded-{i}");
        let toml = base.replace("realm = \"test\"", &format!("realm = \"{realm}\""));
        reloader
            .reload(Config::from_toml(&toml, &test_env).unwrap())
            .await
            .unwrap();
        let r = http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 401);
        assert!(challenge(&r).contains(&realm), "{}", challenge(&r));
    }
    // A reload that cannot be resolved keeps the current configuration.
    let broken = base.replace(
        &idp.discovery_url(),
        "http://127.0.0.1:9/.well-known/openid-configuration",
    );
    assert!(
        reloader
            .reload(Config::from_toml(&broken, &test_env).unwrap())
            .await
            .is_err()
    );
    until(&counts, 100).await;

    // Graceful shutdown while the load continues.
    shutting_down.store(true, Ordering::SeqCst);
    gateway.shutdown().await.unwrap();
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.await.unwrap();
    }
    let ok = counts.ok.load(Ordering::SeqCst);
    let non_2xx = counts.non_2xx.load(Ordering::SeqCst);
    let lost = counts.lost.load(Ordering::SeqCst);
    let refused = counts.refused_after_shutdown.load(Ordering::SeqCst);
    eprintln!("load: {ok} ok, {non_2xx} non-2xx, {lost} lost, {refused} refused after shutdown");
    assert!(ok >= 600, "{ok}");
    assert_eq!(non_2xx, 0, "non-2xx responses under reload/shutdown");
    assert_eq!(
        lost, 0,
        "requests sent before shutdown that got no response"
    );
    assert_eq!(
        echo.received.load(Ordering::SeqCst),
        ok,
        "every admitted request reached the upstream once"
    );
}

async fn realm_of(http: &reqwest::Client, url: &str) -> Option<String> {
    let r = http.get(url).send().await.ok()?;
    let c = challenge(&r);
    c.split("realm=\"")
        .nth(1)?
        .split('"')
        .next()
        .map(str::to_owned)
}

/// Polls (real time: a separate process) until `realm` is served, for at most 15 s.
async fn wait_for_realm(http: &reqwest::Client, url: &str, realm: &str) -> bool {
    for _ in 0..150 {
        if realm_of(http, url).await.as_deref() == Some(realm) {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

#[cfg(unix)]
#[tokio::test]
async fn sighup_reloads_the_configuration_file_and_a_broken_file_keeps_the_current_one() {
    let idp = WireIdp::start().await;
    let echo = Echo::start().await;
    let dir = std::env::temp_dir().join(format!("gateway-hup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("gateway.toml");
    let base = config_toml(&idp.discovery_url(), &echo.url());
    std::fs::write(
        &file,
        base.replace("realm = \"test\"", "realm = \"before\""),
    )
    .unwrap();
    let port = free_port();
    let mut child = spawn_gateway_run(&file, port, std::process::Stdio::null());
    let hup = |pid: u32| {
        std::process::Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .unwrap()
    };
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/beds/hospitals");
    let started = wait_for_realm(&http, &url, "before").await;
    if started {
        std::fs::write(&file, base.replace("realm = \"test\"", "realm = \"after\"")).unwrap();
        assert!(hup(child.id()).success());
    }
    let reloaded = started && wait_for_realm(&http, &url, "after").await;
    if reloaded {
        std::fs::write(&file, "this is = not [ toml").unwrap();
        assert!(hup(child.id()).success());
        // Give the process a moment to have read the file, then check it still serves "after".
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    let kept = reloaded && realm_of(&http, &url).await.as_deref() == Some("after");
    let alive = child.try_wait().unwrap().is_none();
    let _ = std::process::Command::new("kill")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(started, "the gateway did not start");
    assert!(reloaded, "SIGHUP did not reload the file");
    assert!(
        kept && alive,
        "a broken file replaced the configuration or stopped the gateway"
    );
}
