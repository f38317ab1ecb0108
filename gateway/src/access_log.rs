//! The access log (`[access_log]`): one line per proxy-port request, JSON or the combined log
//! format, to stdout or a file reopened on SIGUSR1 (logrotate's `postrotate`).
//!
//! What a line says comes from the request head (method, path, client address, user agent),
//! the pipeline's [`Note`] on the response (API, application, client id, subject, outcome,
//! upstream status and time) and the response body's end (bytes, total time). No header but
//! `User-Agent` is read, so a token, cookie or secret cannot reach it, and query values are
//! left out unless `query_values` is on (a client may put a token there; the pipeline refuses
//! it, but the log would keep it).
//!
//! Lines are formatted straight into a buffer per worker (`crate::per_worker`: no lock is
//! shared between cores, no allocation per line once the buffer has grown) and written in
//! batches by one thread, every [`BATCH_INTERVAL`], so no request waits for the disk.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, Method, Request, Uri, Version};

use crate::config::{AccessLogConfig, AccessLogFormat};
use crate::per_worker::PerWorker;
use crate::pipeline::Pipeline;
use crate::telemetry::Outcome;

/// How often buffered lines are written.
pub const BATCH_INTERVAL: Duration = Duration::from_millis(200);

/// What the pipeline learnt about a request, put on its response when the log is on.
#[derive(Debug, Clone)]
pub struct Note {
    /// The API's index.
    pub api: Option<usize>,
    /// The application's index.
    pub application: Option<usize>,
    /// The outcome, as `/metrics` counts it.
    pub outcome: Outcome,
    /// The token's client id.
    pub client_id: Option<String>,
    /// The token's subject.
    pub subject: Option<String>,
    /// The upstream's status and the time to its response head.
    pub upstream: Option<(u16, Duration)>,
}

impl Note {
    /// Puts the note of an admitted request on `res` when `p` logs requests.
    pub fn admitted(
        p: &Pipeline,
        admitted: &crate::pipeline::Admitted,
        outcome: Outcome,
        upstream: Option<(u16, Duration)>,
        res: &mut Response,
    ) {
        if p.resolved.access_log.is_none() {
            return;
        }
        let id = admitted.identity.as_ref();
        Self {
            api: Some(admitted.matched.api),
            application: admitted.application,
            outcome,
            client_id: id.and_then(|i| i.client_id.clone()),
            subject: id.and_then(|i| i.subject.clone()),
            upstream,
        }
        .attach(p, res);
    }

    /// Puts the note on `res` when `p` logs requests (nothing is allocated otherwise).
    pub fn attach(self, p: &Pipeline, res: &mut Response) {
        if p.resolved.access_log.is_some() {
            res.extensions_mut().insert(self);
        }
    }
}

/// The log: per-worker buffers and the thread writing them.
#[derive(Debug)]
pub struct AccessLog {
    config: AccessLogConfig,
    buffers: PerWorker<Mutex<Vec<u8>>>,
    reopen: AtomicBool,
    stop: AtomicBool,
    writer: OnceLock<std::thread::Thread>,
    done: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Distinguishes this process's request ids from another's.
    tag: u32,
}

enum Output {
    Stdout(std::io::Stdout),
    File(std::fs::File),
}

impl Output {
    fn open(config: &AccessLogConfig) -> std::io::Result<Self> {
        Ok(match &config.path {
            None => Self::Stdout(std::io::stdout()),
            Some(p) => Self::File(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?,
            ),
        })
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Self::Stdout(s) => {
                let mut s = s.lock();
                s.write_all(bytes)?;
                s.flush()
            }
            Self::File(f) => f.write_all(bytes),
        }
    }
}

impl AccessLog {
    /// Opens the output (a file is created if need be, and must be writable now) and starts
    /// the writer thread.
    #[allow(
        clippy::disallowed_methods,
        reason = "a request-id tag from the wall clock, not a token time"
    )]
    pub fn start(config: &AccessLogConfig) -> std::io::Result<Arc<Self>> {
        let mut output = Output::open(config)?;
        let tag = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() ^ (d.as_secs() as u32))
            ^ std::process::id().rotate_left(16);
        let log = Arc::new(Self {
            config: config.clone(),
            buffers: PerWorker::default(),
            reopen: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            writer: OnceLock::new(),
            done: Mutex::new(None),
            tag,
        });
        let me = log.clone();
        let handle = std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || me.write_loop(&mut output))?;
        let _ = log.writer.set(handle.thread().clone());
        *log.done.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
        Ok(log)
    }

    fn write_loop(&self, output: &mut Output) {
        let mut batch = Vec::new();
        loop {
            let stopping = self.stop.load(Ordering::Acquire);
            for buffer in self.buffers.iter() {
                let mut b = buffer.lock().unwrap_or_else(|e| e.into_inner());
                if !b.is_empty() {
                    batch.extend_from_slice(&b);
                    b.clear();
                }
            }
            if !batch.is_empty() {
                if let Err(e) = output.write(&batch) {
                    tracing::error!(error = %e, "the access log could not be written");
                }
                batch.clear();
            }
            if self.reopen.swap(false, Ordering::AcqRel) {
                match Output::open(&self.config) {
                    Ok(o) => *output = o,
                    Err(e) => {
                        tracing::error!(error = %e, "the access log could not be reopened; writing to the old file");
                    }
                }
            }
            if stopping {
                return;
            }
            std::thread::park_timeout(BATCH_INTERVAL);
        }
    }

    /// Reopens the file (SIGUSR1) before the next batch, so lines go to a file of that name
    /// again after logrotate renamed it.
    pub fn reopen(&self) {
        self.reopen.store(true, Ordering::Release);
        if let Some(t) = self.writer.get() {
            t.unpark();
        }
    }

    /// Writes what is buffered and stops the writer (at shutdown).
    pub fn finish(&self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.writer.get() {
            t.unpark();
        }
        let handle = self.done.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }

    /// What a line needs of the request, taken before the pipeline consumes it.
    #[allow(
        clippy::disallowed_methods,
        reason = "a log line's wall time and duration, not a token time"
    )]
    pub fn begin(&self, req: &Request<Body>, pipeline: Arc<Pipeline>) -> Pending {
        Pending {
            started: Instant::now(),
            wall: SystemTime::now(),
            client: req
                .extensions()
                .get::<crate::forward_auth::PeerAddr>()
                .map(|p| p.0),
            method: req.method().clone(),
            uri: req.uri().clone(),
            version: req.version(),
            user_agent: req.headers().get(http::header::USER_AGENT).cloned(),
            pipeline,
        }
    }

    /// `res` with a body that writes the line once it has been sent (or dropped).
    pub fn complete(self: &Arc<Self>, pending: Pending, mut res: Response) -> Response {
        let note = res.extensions_mut().remove::<Note>();
        let status = res.status().as_u16();
        res.map(|body| {
            Body::new(Logged {
                body,
                bytes: 0,
                line: Some(Line {
                    log: self.clone(),
                    pending,
                    status,
                    note,
                }),
            })
        })
    }

    fn write(&self, line: &Line, bytes: u64) {
        let id = next_request_id(self.tag);
        let mut buffer = self.buffers.get().lock().unwrap_or_else(|e| e.into_inner());
        // `String` formatting needs a `fmt::Write`; the buffer is bytes, so format into a
        // wrapper that appends them.
        let mut out = Utf8Append(&mut buffer);
        let _ = match self.config.format {
            AccessLogFormat::Json => self.json(&mut out, line, bytes, id),
            AccessLogFormat::Combined => self.combined(&mut out, line, bytes, id),
        };
        buffer.push(b'\n');
    }

    fn names<'a>(&self, line: &'a Line) -> (Option<&'a str>, Option<&'a str>) {
        let p = &line.pending.pipeline;
        let n = line.note.as_ref();
        (
            n.and_then(|n| n.api).map(|a| p.apis[a].name.as_str()),
            n.and_then(|n| n.application).map(|a| p.directory.name(a)),
        )
    }

    fn json(
        &self,
        out: &mut impl std::fmt::Write,
        line: &Line,
        bytes: u64,
        id: (u32, usize, u64),
    ) -> std::fmt::Result {
        let pending = &line.pending;
        let note = line.note.as_ref();
        let (api, application) = self.names(line);
        out.write_str("{\"time\":\"")?;
        rfc3339(out, pending.wall)?;
        write!(
            out,
            "\",\"request_id\":\"{:08x}-{:x}-{:x}\"",
            id.0, id.1, id.2
        )?;
        out.write_str(",\"client\":")?;
        match pending.client {
            Some(c) => write!(out, "\"{}\"", c.to_canonical())?,
            None => out.write_str("null")?,
        }
        out.write_str(",\"method\":")?;
        json_str(out, pending.method.as_str())?;
        out.write_str(",\"path\":")?;
        out.write_char('"')?;
        self.target(&mut JsonEscaped(out), &pending.uri)?;
        out.write_char('"')?;
        write!(out, ",\"status\":{}", line.status)?;
        out.write_str(",\"outcome\":")?;
        match note {
            Some(n) => write!(out, "\"{}\"", n.outcome.label())?,
            None => out.write_str("\"gateway\"")?,
        }
        for (key, value) in [
            ("api", api),
            ("application", application),
            ("client_id", note.and_then(|n| n.client_id.as_deref())),
            (
                "subject",
                note.and_then(|n| n.subject.as_deref())
                    .filter(|_| self.config.subject),
            ),
        ] {
            write!(out, ",\"{key}\":")?;
            match value {
                Some(v) => json_str(out, v)?,
                None => out.write_str("null")?,
            }
        }
        match note.and_then(|n| n.upstream) {
            Some((status, time)) => write!(
                out,
                ",\"upstream_status\":{status},\"upstream_ms\":{:.3}",
                time.as_secs_f64() * 1000.0
            )?,
            None => out.write_str(",\"upstream_status\":null,\"upstream_ms\":null")?,
        }
        write!(
            out,
            ",\"bytes\":{bytes},\"duration_ms\":{:.3}}}",
            pending.started.elapsed().as_secs_f64() * 1000.0
        )
    }

    /// `client - subject [time] "METHOD path HTTP/x" status bytes "-" "user agent"`, then the
    /// gateway's fields as `key=value` (values quoted where they may hold spaces).
    fn combined(
        &self,
        out: &mut impl std::fmt::Write,
        line: &Line,
        bytes: u64,
        id: (u32, usize, u64),
    ) -> std::fmt::Result {
        let pending = &line.pending;
        let note = line.note.as_ref();
        let (api, application) = self.names(line);
        match pending.client {
            Some(c) => write!(out, "{} - ", c.to_canonical())?,
            None => out.write_str("- - ")?,
        }
        match note
            .and_then(|n| n.subject.as_deref())
            .filter(|_| self.config.subject)
        {
            Some(s) => quoted_free(out, s)?,
            None => out.write_char('-')?,
        }
        out.write_str(" [")?;
        clf_time(out, pending.wall)?;
        write!(out, "] \"{} ", pending.method)?;
        self.target(&mut Quoted(out), &pending.uri)?;
        write!(
            out,
            " {:?}\" {} {bytes} \"-\" \"",
            pending.version, line.status
        )?;
        match pending.user_agent.as_ref().and_then(|v| v.to_str().ok()) {
            Some(ua) => Quoted(out).write_str(ua)?,
            None => out.write_char('-')?,
        }
        write!(out, "\" request_id={:08x}-{:x}-{:x}", id.0, id.1, id.2)?;
        match note {
            Some(n) => write!(out, " outcome={}", n.outcome.label())?,
            None => out.write_str(" outcome=gateway")?,
        }
        for (key, value) in [
            ("api", api),
            ("application", application),
            ("client_id", note.and_then(|n| n.client_id.as_deref())),
        ] {
            write!(out, " {key}=\"")?;
            Quoted(out).write_str(value.unwrap_or("-"))?;
            out.write_char('"')?;
        }
        match note.and_then(|n| n.upstream) {
            Some((status, time)) => write!(
                out,
                " upstream_status={status} upstream_ms={:.3}",
                time.as_secs_f64() * 1000.0
            )?,
            None => out.write_str(" upstream_status=- upstream_ms=-")?,
        }
        write!(
            out,
            " duration_ms={:.3}",
            pending.started.elapsed().as_secs_f64() * 1000.0
        )
    }

    /// The path, and the query with its values (`query_values`) or its names only.
    fn target(&self, out: &mut impl std::fmt::Write, uri: &Uri) -> std::fmt::Result {
        out.write_str(uri.path())?;
        let Some(q) = uri.query() else { return Ok(()) };
        out.write_char('?')?;
        if self.config.query_values {
            return out.write_str(q);
        }
        for (i, pair) in q.split('&').enumerate() {
            if i > 0 {
                out.write_char('&')?;
            }
            match pair.split_once('=') {
                Some((name, _)) => write!(out, "{name}=")?,
                None => out.write_str(pair)?,
            }
        }
        Ok(())
    }
}

/// The request head's part of a line.
#[derive(Debug)]
pub struct Pending {
    started: Instant,
    wall: SystemTime,
    client: Option<IpAddr>,
    method: Method,
    uri: Uri,
    version: Version,
    user_agent: Option<HeaderValue>,
    pipeline: Arc<Pipeline>,
}

struct Line {
    log: Arc<AccessLog>,
    pending: Pending,
    status: u16,
    note: Option<Note>,
}

/// A response body that counts what is sent and writes the line at its end.
struct Logged {
    body: Body,
    bytes: u64,
    line: Option<Line>,
}

impl hyper::body::Body for Logged {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.bytes += data.len() as u64;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        if let Some(line) = self.line.take() {
            line.log.write(&line, self.bytes);
        }
    }
}

thread_local! {
    static REQUESTS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// (process tag, worker, that worker's count): unique within the process without a shared
/// counter.
fn next_request_id(tag: u32) -> (u32, usize, u64) {
    let n = REQUESTS.with(|c| {
        c.set(c.get() + 1);
        c.get()
    });
    (tag, crate::server::worker_slot(), n)
}

struct Utf8Append<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Utf8Append<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Writes what it is given JSON-escaped (inside a string literal).
struct JsonEscaped<'a, W>(&'a mut W);

impl<W: std::fmt::Write> std::fmt::Write for JsonEscaped<'_, W> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        for c in s.chars() {
            match c {
                '"' => self.0.write_str("\\\"")?,
                '\\' => self.0.write_str("\\\\")?,
                c if (c as u32) < 0x20 || c == '\u{7f}' => write!(self.0, "\\u{:04x}", c as u32)?,
                c => self.0.write_char(c)?,
            }
        }
        Ok(())
    }
}

fn json_str(out: &mut impl std::fmt::Write, s: &str) -> std::fmt::Result {
    out.write_char('"')?;
    JsonEscaped(out).write_str(s)?;
    out.write_char('"')
}

/// Writes what it is given for a quoted combined-log field: `"` and `\` escaped, control
/// characters as `\xHH` (nginx's escaping), so a line stays one line.
struct Quoted<'a, W>(&'a mut W);

impl<W: std::fmt::Write> std::fmt::Write for Quoted<'_, W> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        for c in s.chars() {
            match c {
                '"' | '\\' => write!(self.0, "\\x{:02X}", c as u32)?,
                c if (c as u32) < 0x20 || c == '\u{7f}' => write!(self.0, "\\x{:02X}", c as u32)?,
                c => self.0.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// An unquoted combined-log field (the user): spaces too are escaped.
fn quoted_free(out: &mut impl std::fmt::Write, s: &str) -> std::fmt::Result {
    for c in s.chars() {
        if c == ' ' {
            out.write_str("\\x20")?;
        } else {
            Quoted(out).write_char(c)?;
        }
    }
    Ok(())
}

/// (year, month, day, hour, minute, second, millisecond) in UTC.
fn civil(t: SystemTime) -> (i64, u32, u32, u64, u64, u64, u32) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_millis(),
    )
}

fn rfc3339(out: &mut impl std::fmt::Write, t: SystemTime) -> std::fmt::Result {
    let (y, mo, d, h, mi, s, ms) = civil(t);
    write!(out, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
}

fn clf_time(out: &mut impl std::fmt::Write, t: SystemTime) -> std::fmt::Result {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, mo, d, h, mi, s, _) = civil(t);
    write!(
        out,
        "{d:02}/{}/{y:04}:{h:02}:{mi:02}:{s:02} +0000",
        MONTHS[(mo - 1) as usize]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_calendar_dates() {
        let t = UNIX_EPOCH + Duration::from_millis(1_800_000_000_123);
        let mut s = String::new();
        rfc3339(&mut s, t).unwrap();
        assert_eq!(s, "2027-01-15T08:00:00.123Z");
        s.clear();
        clf_time(&mut s, UNIX_EPOCH + Duration::from_secs(951_782_400)).unwrap();
        assert_eq!(s, "29/Feb/2000:00:00:00 +0000");
    }

    #[test]
    fn strings_stay_on_one_line() {
        let mut s = String::new();
        json_str(&mut s, "a\"b\\c\nd").unwrap();
        assert_eq!(s, r#""a\"b\\c\u000ad""#);
        s.clear();
        Quoted(&mut s).write_str("x\"y\r\n").unwrap();
        assert_eq!(s, r"x\x22y\x0D\x0A");
    }
}
