//! The gateway's HTTP/1.1 client toward upstreams, against a scripted upstream that writes raw
//! bytes: every body framing of RFC 9112 §6.3 reaches the client whole, connections are reused
//! only when the response was framed and finished, a mis-framed response never reaches the next
//! caller, and a request is sent again only when that cannot act twice.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use gateway::config::Config;
use gateway::{Gateway, GatewayHandle};
use mock_idp::MockIdp;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::faults::config;

const SERVICE: &str = "0oa7ms2bedsvc000x7d1";

/// One request as the upstream read it.
#[derive(Debug, Clone)]
struct Seen {
    connection: usize,
    /// The request's position on its connection, from 0.
    on_connection: usize,
    head: String,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }

    fn request_line(&self) -> &str {
        self.head.lines().next().unwrap_or("")
    }
}

/// What the scripted upstream does with a request.
enum Act {
    /// Writes these bytes and reads the next request.
    Reply(Vec<u8>),
    /// Writes these bytes and closes.
    ReplyAndClose(Vec<u8>),
    /// Closes without answering.
    Close,
    /// Writes these bytes, then resets the connection (closes it with the next request
    /// unread) as soon as that request arrives.
    ReplyThenReset(Vec<u8>),
}

type Script = dyn Fn(&Seen) -> Act + Send + Sync;

struct Scripted {
    url: String,
    connections: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Scripted {
    async fn start(script: impl Fn(&Seen) -> Act + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Script> = Arc::new(script);
        let (c, s) = (connections.clone(), seen.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let connection = c.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(stream, connection, script.clone(), s.clone()));
            }
        });
        Self {
            url,
            connections,
            seen,
        }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn serve(
    mut stream: TcpStream,
    connection: usize,
    script: Arc<Script>,
    seen: Arc<Mutex<Vec<Seen>>>,
) {
    let mut buf = Vec::new();
    for on_connection in 0.. {
        let Some((head, body)) = read_request(&mut stream, &mut buf).await else {
            return;
        };
        let request = Seen {
            connection,
            on_connection,
            head,
            body,
        };
        seen.lock().unwrap().push(request.clone());
        match script(&request) {
            Act::Reply(bytes) => {
                if stream.write_all(&bytes).await.is_err() {
                    return;
                }
            }
            Act::ReplyAndClose(bytes) => {
                let _ = stream.write_all(&bytes).await;
                return;
            }
            Act::Close => return,
            Act::ReplyThenReset(bytes) => {
                if stream.write_all(&bytes).await.is_ok() {
                    let _ = stream.readable().await;
                }
                return; // dropped with unread bytes: the kernel answers RST
            }
        }
    }
}

/// Reads one request: its head, and its body by Content-Length or chunked coding (decoded).
async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<(String, Vec<u8>)> {
    let end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        fill(stream, buf).await?;
    };
    let head = String::from_utf8(buf.drain(..end).collect()).ok()?;
    let lower = head.to_ascii_lowercase();
    let mut body = Vec::new();
    if lower.contains("transfer-encoding: chunked") {
        loop {
            let line_end = loop {
                if let Some(at) = buf.windows(2).position(|w| w == b"\r\n") {
                    break at;
                }
                fill(stream, buf).await?;
            };
            let size =
                usize::from_str_radix(std::str::from_utf8(&buf[..line_end]).ok()?, 16).ok()?;
            buf.drain(..line_end + 2);
            while buf.len() < size + 2 {
                fill(stream, buf).await?;
            }
            body.extend(buf.drain(..size));
            buf.drain(..2);
            if size == 0 {
                break;
            }
        }
    } else if let Some(line) = lower.lines().find(|l| l.starts_with("content-length:")) {
        let n: usize = line["content-length:".len()..].trim().parse().ok()?;
        while buf.len() < n {
            fill(stream, buf).await?;
        }
        body = buf.drain(..n).collect();
    }
    Some((head, body))
}

async fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<()> {
    buf.reserve(16 * 1024);
    match stream.read_buf(buf).await {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(()),
    }
}

fn ok(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

struct Proxy {
    _idp: MockIdp,
    gateway: GatewayHandle,
    token: String,
    http: reqwest::Client,
}

impl Proxy {
    async fn start(upstream_url: &str) -> Self {
        let idp = MockIdp::builder().start().await.unwrap();
        // The fault suite's API, with HEAD and POST allowed too.
        let toml = config(&idp.discovery_url(), upstream_url, "\"oauth2_local\"").replace(
            r#"methods = ["GET"]"#,
            r#"methods = ["GET", "HEAD", "POST"]"#,
        );
        let config = Config::from_toml(&toml, &|_: &str| None).unwrap();
        let clock = idp.clock().clone();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gateway = Gateway::builder(config)
            .clock(move || u64::try_from(clock.now()).unwrap())
            .build(listener)
            .await
            .unwrap();
        let token = idp.mint_access_token(SERVICE, &["beds.read"]).unwrap();
        Self {
            _idp: idp,
            gateway,
            token,
            http: reqwest::Client::new(),
        }
    }

    fn request(&self, method: reqwest::Method) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}/beds/hospitals", self.gateway.url()))
            .bearer_auth(&self.token)
    }

    async fn get(&self) -> (u16, Vec<u8>) {
        let r = self.request(reqwest::Method::GET).send().await.unwrap();
        (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
    }
}

#[tokio::test]
async fn a_chunked_body_with_extensions_and_trailers_arrives_whole_on_one_connection() {
    let upstream = Scripted::start(|_| {
        Act::Reply(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-type: text/plain\r\n\r\n\
              5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nx-checksum: abc\r\n\r\n"
                .to_vec(),
        )
    })
    .await;
    let proxy = Proxy::start(&upstream.url).await;
    for _ in 0..3 {
        let (status, body) = proxy.get().await;
        assert_eq!((status, body.as_slice()), (200, &b"hello world"[..]));
    }
    assert_eq!(
        upstream.connections(),
        1,
        "a finished chunked response keeps its connection"
    );
}

#[tokio::test]
async fn a_body_delimited_by_close_arrives_whole_and_its_connection_is_not_reused() {
    let upstream = Scripted::start(|s| {
        Act::ReplyAndClose(
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nbody #{}",
                s.connection
            )
            .into_bytes(),
        )
    })
    .await;
    let proxy = Proxy::start(&upstream.url).await;
    assert_eq!(proxy.get().await, (200, b"body #0".to_vec()));
    assert_eq!(proxy.get().await, (200, b"body #1".to_vec()));
    assert_eq!(upstream.connections(), 2);
}

#[tokio::test]
async fn head_204_and_304_answers_have_no_body_and_keep_the_connection() {
    let upstream = Scripted::start(|s| match s.on_connection {
        // A HEAD answer states the length a GET would have.
        0 => Act::Reply(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n".to_vec()),
        1 => Act::Reply(b"HTTP/1.1 204 No Content\r\ncontent-length: 9\r\n\r\n".to_vec()),
        2 => Act::Reply(b"HTTP/1.1 304 Not Modified\r\netag: \"a\"\r\n\r\n".to_vec()),
        _ => Act::Reply(ok("after")),
    })
    .await;
    let proxy = Proxy::start(&upstream.url).await;
    let head = proxy.request(reqwest::Method::HEAD).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], "9");
    for want in [204, 304] {
        let r = proxy.request(reqwest::Method::GET).send().await.unwrap();
        assert_eq!(r.status(), want);
        assert!(r.bytes().await.unwrap().is_empty());
    }
    assert_eq!(proxy.get().await, (200, b"after".to_vec()));
    assert_eq!(upstream.connections(), 1);
    let seen = upstream.seen();
    assert!(
        seen[0].request_line().starts_with("HEAD /hospitals "),
        "{seen:?}"
    );
}

#[tokio::test]
async fn interim_1xx_answers_are_skipped() {
    let upstream = Scripted::start(|_| {
        Act::Reply(
            [
                &b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </s.css>\r\n\r\n"
                    [..],
                &ok("final"),
            ]
            .concat(),
        )
    })
    .await;
    let proxy = Proxy::start(&upstream.url).await;
    assert_eq!(proxy.get().await, (200, b"final".to_vec()));
    assert_eq!(proxy.get().await, (200, b"final".to_vec()));
    assert_eq!(upstream.connections(), 1);
}

#[tokio::test]
async fn conflicting_lengths_are_a_502_and_that_connection_is_dropped() {
    let upstream = Scripted::start(|s| match s.connection {
        0 => Act::Reply(
            b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 50\r\n\r\nhello".to_vec(),
        ),
        _ => Act::Reply(ok("clean")),
    })
    .await;
    let proxy = Proxy::start(&upstream.url).await;
    let r = proxy.request(reqwest::Method::GET).send().await.unwrap();
    assert_eq!(r.status(), 502);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "bad_gateway");
    assert_eq!(proxy.get().await, (200, b"clean".to_vec()));
    assert_eq!(upstream.connections(), 2);
}

#[tokio::test]
async fn transfer_encoding_wins_over_content_length_and_the_connection_is_closed_after() {
    // The shape of a response-splitting attempt: Content-Length claims 3 bytes, the chunks
    // carry more. Framed by the chunks (RFC 9112 §6.3), then the connection is not trusted.
    let upstream = Scripted::start(|s| match s.connection {
        0 => Act::Reply(
            b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n\
              8\r\nchunked!\r\n0\r\n\r\n"
                .to_vec(),
        ),
        _ => Act::Reply(ok("next")),
    })
    .await;
    let proxy = Proxy::start(&upstream.url).await;
    let r = proxy.request(reqwest::Method::GET).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("content-length").is_none());
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"chunked!");
    assert_eq!(proxy.get().await, (200, b"next".to_vec()));
    assert_eq!(upstream.connections(), 2);
}

#[tokio::test]
async fn bytes_after_a_response_never_reach_the_next_caller() {
    // An upstream out of step sends a second, unasked-for response after the first. Were the
    // connection reused, the next caller would be handed it.
    let upstream = Scripted::start(|s| match s.connection {
        0 => Act::Reply([ok("first"), ok("someone else's")].concat()),
        n => Act::Reply(ok(&format!("fresh #{n}"))),
    })
    .await;
    let proxy = Proxy::start(&upstream.url).await;
    assert_eq!(proxy.get().await, (200, b"first".to_vec()));
    assert_eq!(proxy.get().await, (200, b"fresh #1".to_vec()));
}

#[tokio::test]
async fn an_idle_connection_the_upstream_closed_is_not_used() {
    // Answers, then closes the connection while it idles in the gateway's pool.
    let upstream = Scripted::start(|s| Act::ReplyAndClose(ok(&format!("#{}", s.connection)))).await;
    let proxy = Proxy::start(&upstream.url).await;
    for n in 0..5 {
        assert_eq!(proxy.get().await, (200, format!("#{n}").into_bytes()));
    }
    assert_eq!(upstream.connections(), 5);
}

#[tokio::test]
async fn a_reused_connection_dropped_unanswered_is_retried_only_when_that_cannot_act_twice() {
    // Every connection answers its first request and drops the second unanswered: the
    // keep-alive race, where the upstream closes just as a request is sent.
    let upstream = Scripted::start(|s| match s.on_connection {
        0 => Act::Reply(ok(&format!("#{}", s.connection))),
        _ => Act::Close,
    })
    .await;
    let proxy = Proxy::start(&upstream.url).await;
    assert_eq!(proxy.get().await, (200, b"#0".to_vec()));
    // A GET is sent again on a new connection.
    assert_eq!(proxy.get().await, (200, b"#1".to_vec()));
    // A POST may have been acted on: it is not sent twice.
    let r = proxy.request(reqwest::Method::POST).send().await.unwrap();
    assert_eq!(r.status(), 502);
    let posts = upstream
        .seen()
        .iter()
        .filter(|s| s.request_line().starts_with("POST "))
        .count();
    assert_eq!(posts, 1);
}

#[tokio::test]
async fn request_bodies_are_relayed_with_their_framing() {
    let upstream = Scripted::start(|s| {
        let framing = match (s.header("content-length"), s.header("transfer-encoding")) {
            (Some(n), None) => format!("length {n}"),
            (None, Some(te)) => te,
            other => format!("{other:?}"),
        };
        Act::Reply(ok(&format!(
            "{framing}: {}",
            String::from_utf8_lossy(&s.body)
        )))
    })
    .await;
    let proxy = Proxy::start(&upstream.url).await;
    let r = proxy
        .request(reqwest::Method::POST)
        .body("a=1&b=2")
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "length 7: a=1&b=2");

    // A body of unknown length (chunked from the client) goes on chunked.
    let raw = format!(
        "POST /beds/hospitals HTTP/1.1\r\nhost: gateway\r\nauthorization: Bearer {}\r\n\
         transfer-encoding: chunked\r\nconnection: close\r\n\r\n\
         6\r\nstream\r\n3\r\ned \r\n4\r\nbody\r\n0\r\n\r\n",
        proxy.token
    );
    let mut client = TcpStream::connect(proxy.gateway.local_addr())
        .await
        .unwrap();
    client.write_all(raw.as_bytes()).await.unwrap();
    let mut answer = String::new();
    client.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("chunked: streamed body"), "{answer}");

    let r = proxy.request(reqwest::Method::POST).send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "length 0: ");
    assert!(
        upstream.seen().iter().all(|s| s.header("expect").is_none()),
        "Expect is answered by the gateway, not passed on"
    );
}

#[tokio::test]
async fn a_large_body_streams_through_and_keeps_its_connection() {
    const SIZE: usize = 3 * 1024 * 1024 + 7;
    let upstream = Scripted::start(|_| {
        let mut reply = format!("HTTP/1.1 200 OK\r\ncontent-length: {SIZE}\r\n\r\n").into_bytes();
        reply.extend((0..SIZE).map(|i| (i % 251) as u8));
        Act::Reply(reply)
    })
    .await;
    let proxy = Proxy::start(&upstream.url).await;
    for _ in 0..2 {
        let (status, body) = proxy.get().await;
        assert_eq!(status, 200);
        assert_eq!(body.len(), SIZE);
        assert!(body.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8));
    }
    assert_eq!(upstream.connections(), 1);
}

#[tokio::test]
async fn a_body_cut_short_fails_the_client_response_instead_of_ending_it_cleanly() {
    let upstream = Scripted::start(|_| {
        Act::ReplyAndClose(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly ten..".to_vec())
    })
    .await;
    let proxy = Proxy::start(&upstream.url).await;
    // The gateway may fail the connection before or after its head went out; either way the
    // client must not get a response that looks complete.
    for _ in 0..5 {
        if let Ok(r) = proxy.request(reqwest::Method::GET).send().await {
            assert_eq!(r.status(), 200);
            assert!(
                r.bytes().await.is_err(),
                "a truncated body must not look complete"
            );
        }
    }
    assert_eq!(upstream.connections(), 5);
}

#[tokio::test]
async fn malformed_or_oversized_heads_are_a_502() {
    let huge = format!(
        "HTTP/1.1 200 OK\r\nx-big: {}\r\ncontent-length: 0\r\n\r\n",
        "a".repeat(70_000)
    );
    let replies: Vec<Vec<u8>> = vec![
        huge.into_bytes(),
        b"HTTP/1.1 200 OK\r\nbroken header line\r\n\r\n".to_vec(),
        b"HTTP/1.1 101 Switching Protocols\r\nupgrade: h2c\r\n\r\n".to_vec(),
        b"not http at all\r\n\r\n".to_vec(),
    ];
    let count = replies.len();
    let replies = Arc::new(replies);
    let upstream = Scripted::start({
        let replies = replies.clone();
        move |s| Act::ReplyAndClose(replies[s.connection % count].clone())
    })
    .await;
    let proxy = Proxy::start(&upstream.url).await;
    for n in 0..count {
        let r = proxy.request(reqwest::Method::GET).send().await.unwrap();
        assert_eq!(r.status(), 502, "reply #{n}");
    }
}

#[tokio::test]
async fn the_upstream_sees_the_rewritten_target_and_its_own_host() {
    let upstream = Scripted::start(|_| Act::Reply(ok("seen"))).await;
    let proxy = Proxy::start(&upstream.url).await;
    let r = proxy
        .http
        .get(format!(
            "{}/beds/hospitals?ward=icu&x=%20",
            proxy.gateway.url()
        ))
        .bearer_auth(&proxy.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let seen = &upstream.seen()[0];
    assert_eq!(
        seen.request_line(),
        "GET /hospitals?ward=icu&x=%20 HTTP/1.1"
    );
    let authority = upstream.url.trim_start_matches("http://");
    assert_eq!(seen.header("host").as_deref(), Some(authority));
    assert!(seen.header("authorization").is_none());
}

#[tokio::test]
async fn a_reset_idle_connection_is_retried_for_a_get() {
    // The upstream resets each connection when a second request arrives on it.
    let upstream =
        Scripted::start(|s| Act::ReplyThenReset(ok(&format!("#{}", s.connection)))).await;
    let proxy = Proxy::start(&upstream.url).await;
    for n in 0..4 {
        assert_eq!(proxy.get().await, (200, format!("#{n}").into_bytes()));
    }
}

#[tokio::test]
async fn an_early_answer_to_a_large_body_is_relayed_instead_of_stalling() {
    // The upstream reads the head, refuses the body at once and reads no more of it, keeping
    // the connection open (as servers with a body limit do).
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    buf.reserve(4096);
                    if !matches!(s.read_buf(&mut buf).await, Ok(n) if n > 0) {
                        return;
                    }
                }
                let refusal =
                    b"HTTP/1.1 413 Content Too Large\r\ncontent-length: 8\r\n\r\ntoo big!";
                let _ = s.write_all(refusal).await;
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
            });
        }
    });
    let proxy = Proxy::start(&url).await;
    const BODY: usize = 64 * 1024 * 1024;
    let mut client = TcpStream::connect(proxy.gateway.local_addr())
        .await
        .unwrap();
    let head = format!(
        "POST /beds/hospitals HTTP/1.1\r\nhost: gateway\r\nauthorization: Bearer {}\r\n\
         content-length: {BODY}\r\n\r\n",
        proxy.token
    );
    client.write_all(head.as_bytes()).await.unwrap();
    let (mut reader, mut writer) = client.into_split();
    // The client keeps sending while it waits; the gateway must answer without the whole body.
    let sending = tokio::spawn(async move {
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..BODY / chunk.len() {
            if writer.write_all(&chunk).await.is_err() {
                return;
            }
        }
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while !answer.ends_with(b"too big!") {
            answer.reserve(4096);
            if !matches!(reader.read_buf(&mut answer).await, Ok(n) if n > 0) {
                break;
            }
        }
    })
    .await;
    sending.abort();
    assert!(read.is_ok(), "no answer within 10 s");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.ends_with("too big!"), "{answer}");
}
