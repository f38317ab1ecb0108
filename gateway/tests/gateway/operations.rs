//! Health, metrics and graceful shutdown.

use crate::harness::*;

#[tokio::test]
async fn health_and_metrics_are_served() {
    let s = Stack::start().await;
    let r = s.http.get(s.url("/health")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let token = s
        .idp
        .token(&s.idp.access_claims(OPENID_APP, &["beds.read"], T0));
    assert_eq!(s.get("/beds/hospitals", &token).await.status(), 200);
    assert_eq!(
        s.http
            .get(s.url("/beds/hospitals"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let m = metrics(&s.gateway).await;
    assert!(m.contains("gateway_requests_total{api=\"CheckBedAvailability\",application=\"OpenIDApp\",outcome=\"forwarded\"} 1"), "{m}");
    assert!(m.contains("gateway_requests_total{api=\"CheckBedAvailability\",application=\"none\",outcome=\"unauthorized\"} 1"), "{m}");
    assert!(
        m.contains("gateway_validation_duration_seconds_count 1"),
        "{m}"
    );
    assert!(
        m.contains("authorization_server=\"ExternalOktaServer\",kind=\"jwks\",result=\"ok\"} 1"),
        "{m}"
    );
    assert!(!m.contains(&token[..30]));
}

#[tokio::test]
async fn http2_with_prior_knowledge_is_served_like_http1() {
    // The first-bytes check tells the HTTP/2 preface from an HTTP/1 request line.
    let s = Stack::start().await;
    let token = s
        .idp
        .token(&s.idp.access_claims(OPENID_APP, &["beds.read"], T0));
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let r = h2
        .get(s.url("/beds/hospitals"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), http::Version::HTTP_2);
    assert_eq!(r.status(), 200);
    let r = h2.get(s.url("/beds/hospitals")).send().await.unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn the_gateways_own_paths_answer_get_only() {
    let s = Stack::start().await;
    let r = s.http.head(s.url("/health")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    for path in ["/health", "/metrics"] {
        let r = s.http.post(s.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 405, "{path}");
        assert_eq!(r.headers()["allow"], "GET,HEAD", "{path}");
    }
    let r = s.http.get(s.url("/health")).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.text().await.unwrap(), r#"{"status":"ok"}"#);
}

#[tokio::test]
async fn shutdown_drains_in_flight_requests() {
    shutdown_drains_in_flight_requests_over(Transport::Http).await;
}

#[tokio::test]
async fn shutdown_drains_in_flight_requests_over_tls() {
    shutdown_drains_in_flight_requests_over(Transport::Tls).await;
}

async fn shutdown_drains_in_flight_requests_over(transport: Transport) {
    let s = Stack::start_over(transport).await;
    let token = s
        .idp
        .token(&s.idp.access_claims(OPENID_APP, &["beds.read"], T0));
    let url = s.url("/beds/slow?ms=500");
    let http = s.http.clone();
    let in_flight = tokio::spawn(async move {
        http.get(url)
            .bearer_auth(token)
            .send()
            .await
            .map(|r| r.status())
    });
    // Wait (by event, not by time) until the request is at the upstream.
    while s.echo.received.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    let addr = s.gateway.local_addr();
    s.gateway.shutdown().await.unwrap();
    assert_eq!(in_flight.await.unwrap().unwrap(), 200);
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
}

/// A buffer of captured log output.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

/// Where the process's logs go while a test captures them. Process-wide, because the gateway
/// serves on its own worker threads; other tests' lines may land here too, which only widens
/// what the negative assertions below search.
static CAPTURE: std::sync::Mutex<Option<Captured>> = std::sync::Mutex::new(None);

struct CaptureWriter;

impl std::io::Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(c) = &*CAPTURE.lock().unwrap() {
            c.0.lock().unwrap().extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One global DEBUG subscriber for the test binary (a thread-local default races with other
/// tests over tracing's callsite cache, and would miss the gateway's worker threads).
fn capture_logs() -> Captured {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(|| CaptureWriter)
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
    let captured = Captured::default();
    *CAPTURE.lock().unwrap() = Some(captured.clone());
    captured
}

#[tokio::test]
async fn logs_name_kid_sub_and_jti_but_never_the_token_or_a_secret() {
    let captured = capture_logs();
    let mut s = Stack::start().await;
    let good = s
        .idp
        .token(&s.idp.access_claims(OPENID_APP, &["beds.read"], T0));
    assert_eq!(s.get("/beds/hospitals", &good).await.status(), 200);
    let mut claims = s.idp.access_claims(OPENID_APP, &["beds.read"], T0);
    claims["aud"] = "api://other".into();
    let bad = s.idp.token(&claims);
    assert_eq!(s.get("/beds/hospitals", &bad).await.status(), 401);
    s.idp.rotate("key-2");
    let rotated = s
        .idp
        .token(&s.idp.access_claims(OPENID_APP, &["beds.read"], T0));
    assert_eq!(s.get("/beds/hospitals", &rotated).await.status(), 200);
    s.idp.activate(
        "opaque-secret-token-value",
        serde_json::json!({ "active": false }),
    );
    assert_eq!(
        s.get("/beds/hospitals", "opaque-secret-token-value")
            .await
            .status(),
        401
    );

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("token accepted"), "{logs}");
    assert!(logs.contains("key-2"), "the kid is logged: {logs}");
    assert!(
        logs.contains("nurse@example.org"),
        "the sub is logged: {logs}"
    );
    for token in [&good, &bad, &rotated] {
        let signature = token.rsplit('.').next().unwrap();
        assert!(!logs.contains(signature), "a token signature was logged");
        assert!(
            !logs.contains(token.split('.').nth(1).unwrap()),
            "token claims were logged"
        );
    }
    assert!(!logs.contains("opaque-secret-token-value"));
    assert!(!logs.contains(INTROSPECT_SECRET) && !logs.contains(OPENID_APP_SECRET));
}

/// Slowloris: a client that sends nothing, stops part-way through a request head or the HTTP/2
/// preface, or keeps a connection idle after a response, is disconnected after `client_header_timeout_seconds`,
/// on every worker (connections are dealt out round-robin), while prompt clients are served.
#[tokio::test]
async fn silent_slow_and_idle_clients_are_disconnected() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let idp = WireIdp::start().await;
    let echo = Echo::start().await;
    let gateway = gateway_with(
        "client_header_timeout_seconds = 1\nworkers = 2",
        &idp,
        &echo.url(),
    )
    .await;
    let addr = gateway.local_addr();
    let mut clients = Vec::new();
    for i in 0..10 {
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        match i % 5 {
            0 => {}
            1 => c
                .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
                .await
                .unwrap(),
            // Part of the HTTP/2 preface: the protocol is never known.
            2 => c.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap(),
            // The whole preface and an empty SETTINGS frame, then silence (no ping answered).
            3 => c
                .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
                .await
                .unwrap(),
            _ => {
                c.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                    .await
                    .unwrap();
                let mut head = [0u8; 12];
                c.read_exact(&mut head).await.unwrap();
                assert_eq!(&head, b"HTTP/1.1 200");
            }
        }
        clients.push(c);
    }
    // A prompt client is still served meanwhile.
    let r = reqwest::get(format!("{}/health", gateway.url()))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for (i, mut c) in clients.into_iter().enumerate() {
        let mut rest = Vec::new();
        let closed =
            tokio::time::timeout(std::time::Duration::from_secs(20), c.read_to_end(&mut rest))
                .await;
        assert!(closed.is_ok(), "client {i} is still connected");
    }
}

/// An HTTP/2 client that answers every ping but never sends a request is told GOAWAY and
/// disconnected once `client_header_timeout_seconds` pass without a request.
#[tokio::test]
async fn an_http2_client_that_answers_pings_but_sends_nothing_is_disconnected() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let idp = WireIdp::start().await;
    let echo = Echo::start().await;
    let gateway = gateway_with("client_header_timeout_seconds = 1", &idp, &echo.url()).await;
    let mut c = tokio::net::TcpStream::connect(gateway.local_addr())
        .await
        .unwrap();
    // The preface and an empty SETTINGS frame.
    c.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap();
    let (mut pings, mut goaway) = (0, false);
    let ended = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            let mut header = [0u8; 9];
            if c.read_exact(&mut header).await.is_err() {
                return; // closed
            }
            let length = usize::from(header[1]) << 8 | usize::from(header[2]);
            let mut payload = vec![0u8; (usize::from(header[0]) << 16) | length];
            if c.read_exact(&mut payload).await.is_err() {
                return;
            }
            let (kind, flags) = (header[3], header[4]);
            let answer: Option<Vec<u8>> = match (kind, flags & 1) {
                // SETTINGS: acknowledged.
                (0x4, 0) => Some(b"\0\0\0\x04\x01\0\0\0\0".to_vec()),
                // PING: answered with its payload, as a live client does.
                (0x6, 0) => {
                    pings += 1;
                    let mut ack = b"\0\0\x08\x06\x01\0\0\0\0".to_vec();
                    ack.extend_from_slice(&payload);
                    Some(ack)
                }
                (0x7, _) => {
                    goaway = true;
                    None
                }
                _ => None,
            };
            if let Some(answer) = answer
                && c.write_all(&answer).await.is_err()
            {
                return;
            }
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "still connected after 20 s ({pings} pings answered)"
    );
    assert!(goaway, "closed without GOAWAY");
}

/// The test gateway in front of `upstream`, with top-level `settings` (TOML lines) added.
async fn gateway_with(settings: &str, idp: &WireIdp, upstream: &str) -> gateway::GatewayHandle {
    let toml = format!(
        "{settings}\n{}",
        config_toml(&idp.discovery_url(), upstream)
    );
    start_gateway(&toml, gateway::clock::ManualClock::new(T0)).await
}

/// An upstream on a raw socket: `each` runs for every connection accepted.
async fn raw_upstream<F, Fut>(each: F) -> String
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(each(stream));
        }
    });
    url
}

/// Reads until the end of a request head.
async fn read_head(stream: &mut tokio::net::TcpStream) -> Option<Vec<u8>> {
    use tokio::io::AsyncReadExt as _;
    let mut head = Vec::new();
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        head.reserve(4096);
        if !matches!(stream.read_buf(&mut head).await, Ok(n) if n > 0) {
            return None;
        }
    }
    Some(head)
}

/// An upstream that answers every request with 1 GiB, streamed for as long as anybody reads
/// it; then it reports how much it sent.
async fn gigabyte_upstream(released: tokio::sync::mpsc::UnboundedSender<u64>) -> String {
    use tokio::io::AsyncWriteExt as _;
    raw_upstream(move |mut s| {
        let released = released.clone();
        async move {
            if read_head(&mut s).await.is_none() {
                return;
            }
            let head = b"HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n\
                         content-length: 1073741824\r\n\r\n";
            if s.write_all(head).await.is_err() {
                return;
            }
            let chunk = vec![b'b'; 64 * 1024];
            let mut sent = 0u64;
            while s.write_all(&chunk).await.is_ok() {
                sent += chunk.len() as u64;
            }
            let _ = released.send(sent);
        }
    })
    .await
}

/// A client that stops sending its body half-way gets a 408 that closes the connection once
/// the upstream timeout runs out, not a 504: the upstream was waiting for the client.
#[tokio::test]
async fn a_client_that_stalls_in_its_body_gets_a_408_and_the_connection_is_closed() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let idp = WireIdp::start().await;
    // The upstream reads the whole body before it answers (it never gets it here).
    let upstream = raw_upstream(|mut s| async move {
        let _ = read_head(&mut s).await;
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest).await;
    })
    .await;
    // upstream_timeout_seconds = 1
    let gateway = gateway_with("", &idp, &upstream).await;
    let token = idp.token(&idp.access_claims(OPENID_APP, &["beds.reserve"], T0));
    let mut client = tokio::net::TcpStream::connect(gateway.local_addr())
        .await
        .unwrap();
    let head = format!(
        "POST /beds/hospitals/7/wards/icu/reservations HTTP/1.1\r\nhost: gw\r\n\
         authorization: Bearer {token}\r\ncontent-type: application/json\r\n\
         content-length: 100\r\n\r\n{{\"beds\": 1,"
    );
    client.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let closed = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        client.read_to_end(&mut answer),
    )
    .await;
    assert!(closed.is_ok(), "the connection is still open");
    let answer = String::from_utf8_lossy(&answer).to_ascii_lowercase();
    assert!(answer.starts_with("http/1.1 408"), "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
    assert!(answer.contains(r#""error":"request_timeout""#), "{answer}");
}

/// A client that stops reading its response is disconnected after `client_send_timeout_seconds`
/// without progress, and the upstream connection streaming into it is released.
#[tokio::test]
async fn a_client_that_stops_reading_is_disconnected_and_frees_the_upstream() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let idp = WireIdp::start().await;
    let (released, mut upstream_released) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let upstream = gigabyte_upstream(released).await;
    let gateway = gateway_with("client_send_timeout_seconds = 1", &idp, &upstream).await;
    let token = idp.token(&idp.access_claims(OPENID_APP, &["beds.read"], T0));
    let mut client = tokio::net::TcpStream::connect(gateway.local_addr())
        .await
        .unwrap();
    let request = format!(
        "GET /beds/hospitals HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer {token}\r\n\r\n"
    );
    client.write_all(request.as_bytes()).await.unwrap();
    // The client reads nothing; the buffers on the way fill up and the gateway's writes stall.
    let sent = tokio::time::timeout(std::time::Duration::from_secs(30), upstream_released.recv())
        .await
        .expect("the upstream connection was never released")
        .unwrap();
    assert!(sent < 1 << 30, "the whole answer went out: {sent}");
    // What reached the client's buffers is there; then the connection ends, short of the body.
    let mut got = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        client.read_to_end(&mut got),
    )
    .await
    .expect("the client connection is still open");
    assert!(got.starts_with(b"HTTP/1.1 200"));
    assert!((got.len() as u64) < (1 << 30));
}

/// An HTTP/2 client that takes the response head and then grants no flow-control window makes
/// no write wait, so no send timeout sees it; shutdown still ends, closing its connection after
/// `upstream_timeout_seconds` + `client_send_timeout_seconds`.
#[tokio::test]
async fn shutdown_ends_while_an_http2_client_withholds_its_window() {
    let idp = WireIdp::start().await;
    let (released, _) = tokio::sync::mpsc::unbounded_channel();
    let upstream = gigabyte_upstream(released).await;
    // upstream_timeout_seconds = 1: a grace of 2 s.
    let gateway = gateway_with("client_send_timeout_seconds = 1", &idp, &upstream).await;
    let token = idp.token(&idp.access_claims(OPENID_APP, &["beds.read"], T0));
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    // The head arrives; the body is never read, so the client's window is never renewed.
    let response = h2
        .get(format!("{}/beds/hospitals", gateway.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let stopped =
        tokio::time::timeout(std::time::Duration::from_secs(30), gateway.shutdown()).await;
    assert!(stopped.is_ok(), "shutdown waited on the stalled stream");
    drop(response);
}

/// `max_connections`: when every connection has a request in flight, a new one is closed at
/// once (an idle one would be closed for it instead: see `listener.rs`), and a place that frees
/// up is usable again.
#[tokio::test]
async fn connections_beyond_max_connections_all_busy_are_closed_at_once() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let idp = WireIdp::start().await;
    let (released, _) = tokio::sync::mpsc::unbounded_channel();
    let upstream = gigabyte_upstream(released).await;
    let gateway = gateway_with("max_connections = 2\nworkers = 2", &idp, &upstream).await;
    let addr = gateway.local_addr();
    let token = idp.token(&idp.access_claims(OPENID_APP, &["beds.read"], T0));
    // Two clients hold their places, each with a response streaming (read no further).
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(
            format!(
                "GET /beds/hospitals HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        let mut first = [0u8; 12];
        c.read_exact(&mut first).await.unwrap();
        assert_eq!(&first, b"HTTP/1.1 200");
        held.push(c);
    }
    // The third is closed without an answer (long before the 30 s head timeout).
    let mut third = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = third
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let mut answer = Vec::new();
    let closed = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        third.read_to_end(&mut answer),
    )
    .await;
    assert!(closed.is_ok(), "the third connection is closed");
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    // One client leaves: its place is free again (once the gateway has seen it go).
    drop(held.pop());
    let http = reqwest::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let served = http
            .get(format!("{}/health", gateway.url()))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        if served {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a freed place is reused"
        );
        tokio::task::yield_now().await;
    }
}

/// `gateway run` at the default log level: refused tokens are counted by reason in
/// `gateway_tokens_refused_total` and logged at debug; info gets one summary line per minute,
/// so a client sending forged tokens cannot grow the log by a line per request.
#[cfg(unix)]
#[tokio::test]
async fn refused_tokens_are_counted_and_summarised_not_logged_one_by_one() {
    use std::io::Read as _;
    let idp = WireIdp::start().await;
    let echo = Echo::start().await;
    let dir = std::env::temp_dir().join(format!("gateway-refusals-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("gateway.toml");
    std::fs::write(&file, config_toml(&idp.discovery_url(), &echo.url())).unwrap();
    let port = free_port();
    let mut child = spawn_gateway_run(&file, port, std::process::Stdio::piped());
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..150 {
        if http.get(format!("{base}/health")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    const FORGED: usize = 200;
    let mut statuses = Vec::new();
    if up {
        for i in 0..FORGED {
            // A JWT from an issuer nobody configured: refused without any call to the AS.
            use base64::Engine as _;
            let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(format!(r#"{{"iss":"https://evil.example/{i}"}}"#));
            let token = format!("eyJhbGciOiJSUzI1NiJ9.{claims}.c2ln");
            let r = http
                .get(format!("{base}/beds/hospitals"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            statuses.push(r.status().as_u16());
        }
    }
    let metrics = if up {
        http.get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    } else {
        String::new()
    };
    let _ = std::process::Command::new("kill")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(up, "the gateway did not start: {log}");
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    assert!(
        metrics.contains(&format!(
            "gateway_tokens_refused_total{{reason=\"the token's issuer is not accepted\"}} {FORGED}"
        )),
        "{metrics}"
    );
    let summaries = log.lines().filter(|l| l.contains("tokens refused")).count();
    assert_eq!(summaries, 1, "{log}");
    assert!(!log.contains("token refused"), "a line per refusal: {log}");
    assert!(
        log.len() < 4096,
        "{} bytes of log for {FORGED} refusals",
        log.len()
    );
}
