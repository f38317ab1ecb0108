//! The accepting side: the admin port held to the proxy port's limits, a descriptor budget,
//! caps per client address, and idle connections closed to make room for new ones.

use std::net::SocketAddr;
use std::time::Duration;

use gateway::beds::{self, BedsHandle};
use mock_idp::MockIdp;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};

const SERVICE: &str = "0oa7ms2bedsvc000x7d1";
const ADMIN_TOKEN: &str = "listener-test-admin-token-0123456789";

/// A `gateway run` process, killed on drop.
pub struct Proc {
    child: std::process::Child,
    pub proxy: SocketAddr,
    pub admin: SocketAddr,
    _dir: TempDir,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "gateway-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// `gateway run` with `settings` on top of the faults tests' configuration and an admin API,
/// its open-file limit set to `nofile` (as `ulimit -n` in a unit file would).
async fn run_gateway(idp: &MockIdp, beds: &BedsHandle, settings: &str, nofile: u32) -> Proc {
    let (proxy, admin) = (free_addr(), free_addr());
    let dir = TempDir::new("listener");
    let toml = format!(
        "listen = \"{proxy}\"\n{settings}\n{}\n[admin]\nlisten = \"{admin}\"\ntoken = \"{ADMIN_TOKEN}\"\n\n[store]\nurl = \"memory:\"\n",
        crate::faults::config(&idp.discovery_url(), &beds.url(), "\"oauth2_local\"")
    );
    let file = dir.0.join("gateway.toml");
    std::fs::write(&file, toml).unwrap();
    let child = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n {nofile} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_gateway"))
        .args(["run", "--config"])
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let p = Proc {
        child,
        proxy,
        admin,
        _dir: dir,
    };
    let http = reqwest::Client::new();
    let started = std::time::Instant::now();
    loop {
        let ok = http
            .get(format!("http://{admin}/admin/v1/apis"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        if ok {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the gateway did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    p
}

/// A connection to `to` from the loopback address `from` (127.0.0.0/8: "another client").
pub async fn connect_from(from: [u8; 4], to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((from, 0)))?;
    socket.connect(to).await
}

/// Whether the gateway closes `stream` (EOF or reset) before `within`, having sent nothing.
async fn closed_silently(mut stream: TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 256];
    matches!(
        tokio::time::timeout(within, stream.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

pub async fn beds_server() -> BedsHandle {
    beds::start(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()).unwrap()
}

/// Issue #16: 300 idle connections to the admin port used to take the descriptors the proxy
/// port needed. Now the admin port has a small cap of its own (older idle connections make
/// room for newer ones) and the same head timeout, so proxy requests go on being served and
/// every idle admin connection is closed.
#[tokio::test]
async fn idle_admin_connections_do_not_stop_proxy_requests_and_are_closed_after_the_head_timeout() {
    let idp = MockIdp::builder().start().await.unwrap();
    let beds = beds_server().await;
    let gw = run_gateway(&idp, &beds, "client_header_timeout_seconds = 1", 256).await;
    let mut idle = Vec::new();
    for _ in 0..300 {
        match TcpStream::connect(gw.admin).await {
            Ok(c) => idle.push(c),
            Err(e) => panic!("connecting to the admin port: {e}"),
        }
    }
    let http = reqwest::Client::new();
    let token = idp.mint_access_token(SERVICE, &["beds.read"]).unwrap();
    for _ in 0..5 {
        let r = http
            .get(format!("http://{}/beds/hospitals", gw.proxy))
            .bearer_auth(&token)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .expect("the proxy port serves while the admin port is flooded");
        assert_eq!(r.status(), 200);
    }
    // Each is closed: made room for a newer one, or after the 1 s head timeout.
    let closed = futures_closed(idle, Duration::from_secs(15)).await;
    assert_eq!(closed, 300, "idle admin connections closed");
    // And the admin API still answers.
    let r = http
        .get(format!("http://{}/admin/v1/apis", gw.admin))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// How many of `streams` are closed by the gateway within `within`.
async fn futures_closed(streams: Vec<TcpStream>, within: Duration) -> usize {
    let tasks: Vec<_> = streams
        .into_iter()
        .map(|s| tokio::spawn(closed_silently(s, within)))
        .collect();
    let mut n = 0;
    for t in tasks {
        n += usize::from(t.await.unwrap());
    }
    n
}

/// Issue #16: a descriptor budget checked at load. A `max_connections` whose connections (each
/// with an upstream one) and the admin API's cannot fit the open-file limit is refused, naming
/// the key, rather than failing with `Too many open files` under load.
#[test]
fn a_max_connections_beyond_the_open_file_limit_is_refused_at_load() {
    let dir = TempDir::new("budget");
    let file = dir.0.join("gateway.toml");
    std::fs::write(
        &file,
        format!(
            "max_connections = 200\n{}\n[admin]\ntoken = \"{ADMIN_TOKEN}\"\n",
            crate::faults::config(
                "http://127.0.0.1:9/d",
                "http://127.0.0.1:9",
                "\"oauth2_local\""
            )
        ),
    )
    .unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 256 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_gateway"))
        .arg("check-config")
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(stderr.contains("max_connections"), "{stderr}");
    assert!(stderr.contains("open-file limit is 256"), "{stderr}");
}

/// An in-process gateway with `settings` over the faults tests' configuration.
async fn gateway_with(idp: &MockIdp, beds: &BedsHandle, settings: &str) -> gateway::GatewayHandle {
    crate::faults::build_with(idp, &beds.url(), "\"oauth2_local\"", settings, "")
        .await
        .unwrap()
}

/// A request on a connection of its own from `from`: the status, or why there was none.
async fn fresh_request(from: [u8; 4], to: SocketAddr, token: &str) -> Result<u16, String> {
    let mut c = connect_from(from, to).await.map_err(|e| e.to_string())?;
    c.write_all(
        format!(
            "GET /beds/hospitals HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    match tokio::time::timeout(Duration::from_secs(10), c.read_to_end(&mut answer)).await {
        Err(_) => Err("no answer in 10 s".into()),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(_)) => std::str::from_utf8(answer.get(9..12).unwrap_or_default())
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("closed without an answer ({} bytes)", answer.len())),
    }
}

/// Issue #16: 260 connections that send nothing used to fill `max_connections` (256) for
/// everybody until the head timeout. From one address they now stop at its cap
/// (`max_connections_per_client`, its own oldest making room), and spread over several
/// addresses the oldest silent ones are closed to make room, so a legitimate client is served.
#[tokio::test]
async fn silent_connections_do_not_lock_out_a_legitimate_client() {
    let idp = MockIdp::builder().start().await.unwrap();
    let beds = beds_server().await;
    let gw = gateway_with(&idp, &beds, "max_connections = 256").await;
    let token = idp.mint_access_token(SERVICE, &["beds.read"]).unwrap();
    // One address.
    let mut silent = Vec::new();
    for _ in 0..260 {
        silent.push(connect_from([127, 0, 0, 2], gw.local_addr()).await.unwrap());
    }
    assert_eq!(
        fresh_request([127, 0, 0, 1], gw.local_addr(), &token).await,
        Ok(200)
    );
    // The same address's connections beyond its cap of 128 were closed, oldest first.
    let first_closed = futures_closed(silent.drain(..132).collect(), Duration::from_secs(10)).await;
    assert_eq!(first_closed, 132);
    drop(silent);
    let m = reqwest::get(format!("{}/metrics", gw.url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let made_room = "gateway_connections_closed_total{listener=\"proxy\",reason=\"made_room\"}";
    assert!(crate::tls::counter(&m, made_room) >= 132, "{m}");
    // Several addresses, 260 in all.
    let mut silent = Vec::new();
    for i in 0..260u16 {
        let from = [127, 0, 1, (i % 4) as u8];
        silent.push(connect_from(from, gw.local_addr()).await.unwrap());
    }
    assert_eq!(
        fresh_request([127, 0, 0, 1], gw.local_addr(), &token).await,
        Ok(200)
    );
}

/// Issue #16: an attacker who reconnects whenever a silent connection is closed does not keep
/// the listener full: each new connection closes the attacker's own oldest, and a legitimate
/// client's new connections are served throughout.
#[tokio::test]
async fn an_attacker_who_reconnects_does_not_keep_the_listener_full() {
    let idp = MockIdp::builder().start().await.unwrap();
    let beds = beds_server().await;
    let gw = gateway_with(&idp, &beds, "max_connections = 256").await;
    let to = gw.local_addr();
    let token = idp.mint_access_token(SERVICE, &["beds.read"]).unwrap();
    let stop = std::sync::Arc::new(tokio::sync::Notify::new());
    // 260 connections over four addresses, each replaced as soon as the gateway closes it.
    let connected = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut attackers = Vec::new();
    for i in 0..260u32 {
        let stop = stop.clone();
        let connected = connected.clone();
        attackers.push(tokio::spawn(async move {
            let from = [127, 0, 2, (i % 4) as u8];
            let mut reconnects = 0u32;
            // Bounded: stops when told, or after 10,000 reconnections.
            while reconnects < 10_000 {
                let Ok(mut c) = connect_from(from, to).await else {
                    return;
                };
                if reconnects == 0 {
                    connected.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                let mut buf = [0u8; 16];
                tokio::select! {
                    () = stop.notified() => return,
                    _ = c.read(&mut buf) => reconnects += 1,
                }
            }
        }));
    }
    while connected.load(std::sync::atomic::Ordering::SeqCst) < 260 {
        tokio::task::yield_now().await;
    }
    for n in 0..20 {
        assert_eq!(
            fresh_request([127, 0, 0, 1], to, &token).await,
            Ok(200),
            "request {n} while the attacker reconnects"
        );
    }
    stop.notify_waiters();
    for a in attackers {
        a.abort();
    }
}
