//! The listeners: accept connections and serve them with hyper (HTTP/1.1, and HTTP/2 with prior
//! knowledge or by ALPN over TLS, upgrades allowed on both) on worker threads, one
//! single-threaded runtime each. The admin API is served by the same code as one task on the
//! main runtime ([`Server::start_here`]). Connections are admitted by [`crate::admission`], and
//! with `[tls]` shaken hands with by [`crate::server_tls`] before any byte reaches hyper.
//!
//! Why not one work-stealing runtime: a proxied request is one task (read, check, forward,
//! answer; see `pipeline::forward`), but on a work-stealing runtime every socket event may wake
//! another parked worker, so a request hops threads (futex wake-ups, cold caches) several times.
//! Here a connection belongs to one worker from accept to close, and so do the upstream
//! connections its requests use (`forward`'s pool has a slot per worker, see [`worker_slot`]).
//! The accept loop, on the first worker, hands connections out round-robin.
//!
//! Shutdown drains first: for [`crate::DRAIN`] every response says `Connection: close`, so
//! HTTP/1 clients stop reusing connections; then accepting stops, idle connections are closed
//! (HTTP/2 ones after a GOAWAY), and the requests in flight finish, for at most the shutdown
//! grace. If the controlling task disappears (its runtime ended), the workers stop the same way.

use std::cell::Cell;
use std::convert::Infallible;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, Method, Request, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};

use crate::admin::Live;
use crate::admission::{Admission, Admitted, InFlight};
use crate::send_timeout::SendTimeout;
use crate::server_tls::{ClientCertificate, ServerTls};

thread_local! {
    static WORKER_SLOT: Cell<usize> = const { Cell::new(0) };
}

/// The per-worker slot of the thread running this: `1..=workers` on a worker thread, `0`
/// anywhere else (a caller's runtime, e.g. a test driving the pipeline directly).
pub fn worker_slot() -> usize {
    WORKER_SLOT.with(Cell::get)
}

/// Makes this thread count as worker `slot` (tests of per-worker state).
#[cfg(test)]
pub(crate) fn pretend_worker(slot: usize) {
    WORKER_SLOT.with(|s| s.set(slot));
}

/// The largest request head read, the bound the upstream client also puts on response heads
/// (tokens are at most 16 KiB).
const MAX_REQUEST_HEAD: usize = 64 * 1024;

/// What a listener answers: the proxy port's [`Front`], or the admin API.
pub(crate) trait Handler: Send + Sync + 'static {
    /// The response to `req`.
    fn call(
        self: Arc<Self>,
        req: Request<Incoming>,
    ) -> impl Future<Output = Response> + Send + 'static;
}

/// What the proxy port answers: the gateway's own `/health` and `/metrics`, and every other
/// path through the live pipeline.
struct Front {
    live: Live,
    access_log: Option<Arc<crate::access_log::AccessLog>>,
    draining: Arc<AtomicBool>,
    tls: Option<Arc<ServerTls>>,
    admission: Arc<Admission>,
}

impl Handler for Front {
    fn call(
        self: Arc<Self>,
        req: Request<Incoming>,
    ) -> impl Future<Output = Response> + Send + 'static {
        self.answer(req)
    }
}

/// An axum router (the admin API) served like the proxy port.
impl Handler for axum::Router {
    fn call(
        self: Arc<Self>,
        req: Request<Incoming>,
    ) -> impl Future<Output = Response> + Send + 'static {
        use tower::ServiceExt as _;
        let router = (*self).clone();
        async move {
            match router.oneshot(req.map(Body::new)).await {
                Ok(res) => res,
                Err(never) => match never {},
            }
        }
    }
}

impl Front {
    async fn answer(self: Arc<Self>, req: Request<Incoming>) -> Response {
        let mut req = req.map(Body::new);
        let version = req.version();
        // Credentials are redacted wherever a header map is printed.
        for name in [header::AUTHORIZATION, header::COOKIE] {
            if let header::Entry::Occupied(mut e) = req.headers_mut().entry(name) {
                e.iter_mut().for_each(|v| v.set_sensitive(true));
            }
        }
        // One pipeline for the request and its log line (a reload may swap it meanwhile).
        let live = self.live.current();
        let logged = self
            .access_log
            .as_ref()
            .map(|log| (log, log.begin(&req, live.clone())));
        let mut res = match req.uri().path() {
            "/health" => own(req.method(), "application/json", || {
                r#"{"status":"ok"}"#.to_owned()
            }),
            "/metrics" => {
                let (live, tls, admission) = (&self.live, &self.tls, &self.admission);
                own(req.method(), "text/plain; version=0.0.4", || {
                    let mut out = live.current().metrics.render();
                    admission.render("proxy", &mut out);
                    if let Some(tls) = tls {
                        tls.render(&mut out);
                    }
                    out
                })
            }
            _ => match &live.resolved.forward_auth {
                Some(fa) if crate::forward_auth::is_decision_request(fa, &req) => {
                    // Boxed, so the decision endpoint's state is not part of every request's future.
                    Box::pin(crate::forward_auth::answer(&live, fa, req)).await
                }
                // Boxed: hyper moves each request's future into place, and the pipeline's
                // state (several KiB) would be copied with it.
                _ => Box::pin(live.handle(req)).await,
            },
        };
        if let header::Entry::Occupied(mut e) = res.headers_mut().entry(header::SET_COOKIE) {
            e.iter_mut().for_each(|v| v.set_sensitive(true));
        }
        // After a 408 the rest of the body may still be on its way, so the connection cannot
        // carry another request (RFC 9110 §15.5.9). HTTP/2 ends just the stream.
        let close =
            self.draining.load(Ordering::Relaxed) || res.status() == StatusCode::REQUEST_TIMEOUT;
        if close && version < http::Version::HTTP_2 {
            res.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        match logged {
            Some((log, pending)) => log.complete(pending, res),
            None => res,
        }
    }
}

/// A response body that keeps its request counted in flight until it is sent (or dropped), so
/// a connection streaming a response is never taken for an idle one.
struct Tracked {
    body: Body,
    _in_flight: InFlight,
}

impl hyper::body::Body for Tracked {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// The HTTP/2 connection preface (RFC 9113 §3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What a client's first bytes say it speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Http1,
    Http2,
}

/// The protocol, if the client has sent enough within `timeout` to tell HTTP/1 from HTTP/2.
/// hyper's head timer starts only once it knows the protocol, so a client that sends nothing,
/// or only part of the HTTP/2 preface, is closed here (slowloris).
async fn protocol_known_in_time(stream: &TcpStream, timeout: Duration) -> Option<Protocol> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut seen = [0u8; H2_PREFACE.len()];
    loop {
        // A peek, because `readable()` may be a false positive (a freshly accepted socket can
        // start out marked readable).
        match tokio::time::timeout_at(deadline, stream.peek(&mut seen)).await {
            Ok(Ok(0) | Err(_)) | Err(_) => return None,
            Ok(Ok(n)) if n == seen.len() => return Some(Protocol::Http2),
            Ok(Ok(n)) if !H2_PREFACE.starts_with(&seen[..n]) => return Some(Protocol::Http1),
            // Part of the preface, which clients send in one piece: look again shortly (the
            // peek is ready at once while those bytes wait, so the deadline is checked here).
            Ok(Ok(_)) => {
                let now = tokio::time::Instant::now();
                if now >= deadline {
                    return None;
                }
                tokio::time::sleep_until((now + Duration::from_millis(10)).min(deadline)).await;
            }
        }
    }
}

/// A gateway-owned resource: GET (and HEAD) only.
fn own(method: &Method, content_type: &'static str, body: impl FnOnce() -> String) -> Response {
    let mut res = if method == Method::GET || method == Method::HEAD {
        Response::new(Body::from(body()))
    } else {
        let mut res = Response::new(Body::empty());
        *res.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        res.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET,HEAD"));
        return res;
    };
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    res
}

/// What a client gets before it is disconnected.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientLimits {
    /// To send a request head (or start the next one, or finish the HTTP/2 preface).
    pub header_timeout: Duration,
    /// For a write to a client to make progress (a client that stops reading).
    pub send_timeout: Duration,
    /// For the requests in flight to finish at shutdown (then their connections are dropped).
    pub shutdown_grace: Duration,
    /// Client connections open at once (see [`crate::admission`]).
    pub max_connections: usize,
    /// Client connections open at once from one address (an IPv6 client: its /64).
    pub max_connections_per_client: usize,
}

/// The address a client is counted under: IPv4 (also IPv4-mapped IPv6) as is, IPv6 by its
/// /64, the least a site is given, so one host cannot dodge its cap by changing addresses.
pub(crate) fn client_of(addr: IpAddr) -> IpAddr {
    match addr.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        v4 => v4,
    }
}

/// The running workers, stopped by [`Server::shutdown`].
pub(crate) struct Server {
    draining: Arc<AtomicBool>,
    stop: watch::Sender<bool>,
    done: Vec<oneshot::Receiver<()>>,
}

impl Server {
    /// Starts `workers` threads serving `listener` with `live`, clients held to `limits`.
    pub(crate) fn start(
        listener: TcpListener,
        live: Live,
        access_log: Option<Arc<crate::access_log::AccessLog>>,
        workers: usize,
        limits: ClientLimits,
        tls: Option<Arc<ServerTls>>,
    ) -> std::io::Result<Self> {
        let draining = Arc::new(AtomicBool::new(false));
        let front_tls = tls.clone();
        let admission = Admission::new(limits.max_connections, limits.max_connections_per_client);
        let counted = admission.clone();
        Self::start_workers(
            listener,
            workers,
            limits,
            tls,
            admission,
            draining.clone(),
            move || Front {
                live: live.clone(),
                access_log: access_log.clone(),
                draining: draining.clone(),
                tls: front_tls.clone(),
                admission: counted.clone(),
            },
        )
    }

    /// Serves `listener` with `handler` as a task of the current runtime (the admin API: the
    /// same limits, caps and shutdown as the proxy port, on no thread of its own).
    pub(crate) fn start_here<H: Handler>(
        listener: TcpListener,
        handler: H,
        limits: ClientLimits,
        tls: Option<Arc<ServerTls>>,
    ) -> Self {
        let (stop, stop_rx) = watch::channel(false);
        let (peer, inbox) = mpsc::unbounded_channel();
        let (done_tx, done_rx) = oneshot::channel();
        let acceptor = Acceptor {
            listener,
            peers: vec![peer],
            next: 0,
            admission: Admission::new(limits.max_connections, limits.max_connections_per_client),
        };
        tokio::spawn(async move {
            worker(
                Arc::new(handler),
                inbox,
                Some(acceptor),
                stop_rx,
                limits,
                tls,
            )
            .await;
            let _ = done_tx.send(());
        });
        Self {
            draining: Arc::new(AtomicBool::new(false)),
            stop,
            done: vec![done_rx],
        }
    }

    fn start_workers<H: Handler>(
        listener: TcpListener,
        workers: usize,
        limits: ClientLimits,
        tls: Option<Arc<ServerTls>>,
        admission: Arc<Admission>,
        draining: Arc<AtomicBool>,
        handler: impl Fn() -> H,
    ) -> std::io::Result<Self> {
        let workers = workers.max(1);
        let listener = listener.into_std()?;
        let (stop, stop_rx) = watch::channel(false);
        let mut inboxes = Vec::with_capacity(workers);
        let mut receivers = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (tx, rx) = mpsc::unbounded_channel::<(std::net::TcpStream, Admitted)>();
            inboxes.push(tx);
            receivers.push(rx);
        }
        let mut listener = Some(listener);
        let mut done = Vec::with_capacity(workers);
        for (index, inbox) in receivers.into_iter().enumerate() {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let (done_tx, done_rx) = oneshot::channel();
            done.push(done_rx);
            // One per worker: the `Arc` a request clones is counted on this worker's core only.
            let front = Arc::new(handler());
            let stop = stop_rx.clone();
            let tls = tls.clone();
            // The first worker also accepts, and deals connections out to all. The listener is
            // registered with that worker's runtime here, so a failure fails the start.
            let accept = match listener.take() {
                Some(l) => {
                    let _registering = runtime.enter();
                    Some(Acceptor {
                        listener: TcpListener::from_std(l)?,
                        peers: inboxes.clone(),
                        next: 0,
                        admission: admission.clone(),
                    })
                }
                None => None,
            };
            std::thread::Builder::new()
                .name(format!("gateway-worker-{index}"))
                .spawn(move || {
                    WORKER_SLOT.with(|s| s.set(index + 1));
                    runtime.block_on(worker(front, inbox, accept, stop, limits, tls));
                    // Tasks still holding connections are dropped with the runtime.
                    drop(runtime);
                    let _ = done_tx.send(());
                })?;
        }
        Ok(Self {
            draining,
            stop,
            done,
        })
    }

    /// Drains for `drain`, then stops accepting and waits for the requests in flight.
    pub(crate) async fn shutdown(self, drain: std::time::Duration) {
        self.draining.store(true, Ordering::Relaxed);
        tokio::time::sleep(drain).await;
        let _ = self.stop.send(true);
        for d in self.done {
            let _ = d.await;
        }
    }
}

/// The first worker's listener, and where it deals connections out.
struct Acceptor {
    listener: TcpListener,
    peers: Vec<mpsc::UnboundedSender<(std::net::TcpStream, Admitted)>>,
    next: usize,
    /// Client connections open now, over all workers.
    admission: Arc<Admission>,
}

async fn worker<H: Handler>(
    front: Arc<H>,
    mut inbox: mpsc::UnboundedReceiver<(std::net::TcpStream, Admitted)>,
    mut acceptor: Option<Acceptor>,
    mut stop: watch::Receiver<bool>,
    limits: ClientLimits,
    tls: Option<Arc<ServerTls>>,
) {
    let ClientLimits {
        header_timeout,
        send_timeout,
        ..
    } = limits;
    // Shutdown: `closing` asks every connection to finish; `alive` ends when all have.
    let (closing, _) = watch::channel(false);
    let (alive, mut all_closed) = mpsc::channel::<()>(1);
    // Every proxied request arms an upstream timeout. Arming a timer earlier than the driver's
    // next planned wake-up makes tokio wake its driver (an eventfd write and an extra epoll
    // round per request); a short tick keeps a nearer timer pending, so arming one is free.
    let tick = tokio::spawn(async {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // Slowloris: hyper closes a connection whose request head is not complete in time. The
    // timer is armed per head, also while a kept-alive connection waits for its next request.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        // A request head over this is 431: oversized heads never reach an upstream.
        .max_buf_size(MAX_REQUEST_HEAD);
    // HTTP/2 has no head timer: a peer that stops answering pings (a raw-socket slowloris) is
    // closed instead. Heads may be as large as over HTTP/1 (tokens are up to 16 KiB).
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(header_timeout))
        .keep_alive_timeout(header_timeout)
        .max_header_list_size(u32::try_from(MAX_REQUEST_HEAD).unwrap_or(u32::MAX));
    let serve = |stream: TcpStream, admitted: Admitted| {
        let _ = stream.set_nodelay(true);
        // The client's address, for per-client budgets in the pipeline.
        let client_addr = stream.peer_addr().ok().map(|a| {
            (
                crate::pipeline::ClientAddr(client_of(a.ip())),
                crate::forward_auth::PeerAddr(a.ip()),
            )
        });
        let conn = Conn {
            front: front.clone(),
            builder: builder.clone(),
            client_addr,
            state: admitted.state.clone(),
            closing: closing.subscribe(),
            alive: alive.downgrade(),
            header_timeout,
        };
        let tls = tls.clone();
        tokio::spawn(async move {
            let _counted = admitted;
            let stream = SendTimeout::new(stream, send_timeout);
            // A connection chosen to make room is closed here at once: it has sent no request.
            match tls {
                None => {
                    let protocol = tokio::select! {
                        p = protocol_known_in_time(stream.get_ref(), header_timeout) => p,
                        () = conn.state.evicted() => None,
                    };
                    if let Some(protocol) = protocol {
                        conn.serve(stream, protocol, None).await;
                    }
                }
                // The handshake counts against the caps like a head does, with its own timeout;
                // a failed one never reaches the pipeline (it is counted in `/metrics`).
                Some(tls) => {
                    let established = tokio::select! {
                        e = tls.accept(stream) => e,
                        () = conn.state.evicted() => None,
                    };
                    if let Some(e) = established {
                        let protocol = if e.h2 {
                            Protocol::Http2
                        } else {
                            Protocol::Http1
                        };
                        conn.serve(e.stream, protocol, e.client).await;
                    }
                }
            }
        });
    };
    loop {
        tokio::select! {
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break;
                }
            }
            Some((std, admitted)) = inbox.recv() => match TcpStream::from_std(std) {
                Ok(stream) => serve(stream, admitted),
                Err(e) => tracing::warn!(error = %e, "an accepted connection could not be registered"),
            },
            accepted = async {
                match &acceptor {
                    Some(a) => a.listener.accept().await,
                    None => std::future::pending().await,
                }
            } => match accepted {
                Ok((stream, peer)) => {
                    let Some(a) = &mut acceptor else { continue };
                    // Full of busy connections: closed at once, so descriptors stay for
                    // upstream connections.
                    let admitted = match a.admission.admit(client_of(peer.ip())) {
                        Ok(admitted) => admitted,
                        Err(refused) => {
                            tracing::debug!(?refused, "a connection was closed at once: its cap is reached");
                            continue;
                        }
                    };
                    let target = a.next % a.peers.len();
                    a.next = a.next.wrapping_add(1);
                    if target == 0 {
                        serve(stream, admitted);
                    } else {
                        match stream.into_std() {
                            Ok(std) => { let _ = a.peers[target].send((std, admitted)); }
                            Err(e) => tracing::warn!(error = %e, "an accepted connection could not be handed over"),
                        }
                    }
                }
                // Out of file descriptors and the like: back off briefly, as hyper's servers do.
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(acceptor);
    let _ = closing.send(true);
    drop(alive);
    // A response that cannot finish (an HTTP/2 client that grants no flow-control window
    // makes no write wait, so the send timeout never fires) must not hold the process: the
    // connections left after the grace are dropped with the runtime.
    if tokio::time::timeout(limits.shutdown_grace, all_closed.recv())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace were closed");
    }
    tick.abort();
}

/// One connection's serving, once its protocol is known (after the first bytes, or ALPN).
struct Conn<H> {
    front: Arc<H>,
    builder: auto::Builder<TokioExecutor>,
    client_addr: Option<(crate::pipeline::ClientAddr, crate::forward_auth::PeerAddr)>,
    state: Arc<crate::admission::ConnState>,
    closing: watch::Receiver<bool>,
    alive: mpsc::WeakSender<()>,
    header_timeout: Duration,
}

impl<H: Handler> Conn<H> {
    async fn serve<I>(self, io: I, protocol: Protocol, client: Option<ClientCertificate>)
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let Self {
            front,
            builder,
            client_addr,
            state,
            mut closing,
            alive,
            header_timeout,
        } = self;
        // Counted among the connections shutdown waits for once its protocol is known (a
        // silent client is not waited for); none is counted after the last one closed.
        let Some(_alive) = alive.upgrade() else {
            return;
        };
        let begun = Arc::new(AtomicU64::new(0));
        let service = hyper::service::service_fn({
            let begun = begun.clone();
            let state = state.clone();
            move |mut req: Request<Incoming>| {
                begun.fetch_add(1, Ordering::Relaxed);
                let in_flight = state.begin();
                if let Some((client, peer)) = client_addr {
                    req.extensions_mut().insert(client);
                    req.extensions_mut().insert(peer);
                }
                if let Some(c) = &client {
                    req.extensions_mut().insert(c.clone());
                }
                let answer = front.clone().call(req);
                async move {
                    let res = answer.await.map(|body| {
                        Body::new(Tracked {
                            body,
                            _in_flight: in_flight,
                        })
                    });
                    Ok::<_, Infallible>(res)
                }
            }
        });
        let mut conn =
            std::pin::pin!(builder.serve_connection_with_upgrades(TokioIo::new(io), service));
        // The watchdog is a task of its own, so that the connection's many wake-ups poll one
        // cheap `Notified` beside it rather than timers and watch channels. Idle HTTP/1
        // connections are hyper's head timer's; idle HTTP/2 ones are the watchdog's.
        let finish = Arc::new(tokio::sync::Notify::new());
        let evicted = Arc::new(AtomicBool::new(false));
        let watchdog = tokio::spawn({
            let finish = finish.clone();
            let evicted = evicted.clone();
            let state = state.clone();
            async move {
                let idle = async {
                    match protocol {
                        Protocol::Http2 => idle(&begun, header_timeout).await,
                        Protocol::Http1 => std::future::pending().await,
                    }
                };
                tokio::select! {
                    _ = closing.wait_for(|closing| *closing) => {}
                    () = idle => {}
                    () = state.evicted() => evicted.store(true, Ordering::Relaxed),
                }
                finish.notify_one();
            }
        });
        let _watchdog = AbortOnDrop(watchdog);
        // Finishing: the requests begun are answered (HTTP/2: GOAWAY first), then it closes.
        tokio::select! {
            biased;
            // A client that goes away mid-request is not the gateway's error.
            _ = conn.as_mut() => return,
            () = finish.notified() => {}
        }
        // Made room for another: without a request in flight it goes at once (hyper would
        // otherwise still wait for a head begun, for as long as the head timeout).
        if evicted.load(Ordering::Relaxed) && state.idle() {
            return;
        }
        conn.as_mut().graceful_shutdown();
        let _ = conn.await;
    }
}

/// Stops a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Ends once a whole `period` passes in which no request began on an HTTP/2 connection: a
/// client that answers pings but sends nothing would otherwise keep it forever. (Streams still
/// open then are finished after the GOAWAY.)
async fn idle(begun: &AtomicU64, period: Duration) {
    let mut seen = begun.load(Ordering::Relaxed);
    loop {
        tokio::time::sleep(period).await;
        let now = begun.load(Ordering::Relaxed);
        if now == seen {
            return;
        }
        seen = now;
    }
}
