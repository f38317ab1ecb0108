//! Tracing set-up and the Prometheus metrics, kept as plain atomics so the hot path never
//! allocates or locks to count.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::per_worker::PerWorker;

/// Installs a tracing subscriber reading `RUST_LOG` (default `info`), as JSON when `json`.
pub fn init_tracing(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// How a request ended, for the `outcome` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Forwarded and answered by the upstream.
    Forwarded,
    /// 400.
    BadRequest,
    /// 401.
    Unauthorized,
    /// 403.
    Forbidden,
    /// 404/405.
    NotFound,
    /// 503: the AS could not be reached.
    AuthServerUnavailable,
    /// 502/504.
    UpstreamError,
    /// Allowed by the forward-auth decision endpoint (the calling proxy forwards it).
    Allowed,
}

impl Outcome {
    const ALL: [Outcome; 8] = [
        Self::Forwarded,
        Self::BadRequest,
        Self::Unauthorized,
        Self::Forbidden,
        Self::NotFound,
        Self::AuthServerUnavailable,
        Self::UpstreamError,
        Self::Allowed,
    ];

    fn index(self) -> usize {
        self as usize
    }

    /// The `outcome` label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Forwarded => "forwarded",
            Self::BadRequest => "bad_request",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::AuthServerUnavailable => "auth_server_unavailable",
            Self::UpstreamError => "upstream_error",
            Self::Allowed => "allowed",
        }
    }
}

/// Kinds of calls to an authorization server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsCall {
    /// The metadata document.
    Discovery = 0,
    /// The key set.
    Jwks = 1,
    /// RFC 7662.
    Introspection = 2,
}

const AS_CALL_LABELS: [&str; 3] = ["discovery", "jwks", "introspection"];
const LATENCY_BUCKETS_US: [u64; 10] = [10, 25, 50, 100, 250, 500, 1_000, 5_000, 25_000, 100_000];

/// The gateway's counters.
///
/// The counters every request touches are kept per worker thread (`crate::server::worker_slot`),
/// each worker's on cache lines of its own, and summed when rendered: counting then never moves
/// a cache line between cores.
#[derive(Debug)]
pub struct Metrics {
    api_names: Vec<String>,
    as_names: Vec<String>,
    /// Per-application request counters; replaced when the applications change at run time.
    table: arc_swap::ArcSwap<RequestTable>,
    shards: PerWorker<Shard>,
    /// [as][kind][ok=0 / error=1]
    as_calls: Vec<AtomicU64>,
    refusals: Refusals,
    /// Introspection calls not made, by [`IntrospectionSkip`].
    introspection_skips: [AtomicU64; 3],
}

/// Why an introspection call was not made.
#[derive(Debug, Clone, Copy)]
pub enum IntrospectionSkip {
    /// The token has no shape the authorization server issues.
    Shape = 0,
    /// Its client address used up its budget of not-active answers.
    ClientBudget = 1,
    /// The authorization server's rate limit is (nearly) used up.
    Quota = 2,
}

const INTROSPECTION_SKIP_LABELS: [&str; 3] = ["shape", "client_budget", "rate_limit"];

/// How often refused tokens are summarised at info; each refusal itself is logged at debug
/// (a log line per forged token would let any client fill the disk).
pub const REFUSAL_SUMMARY_SECONDS: u64 = 60;

/// Refused tokens by reason (the static descriptions, a small fixed set), and the summary
/// window.
#[derive(Debug, Default)]
struct Refusals {
    by_reason: std::sync::Mutex<Vec<(&'static str, u64)>>,
    since_summary: AtomicU64,
    /// When the last summary was logged (injected clock, seconds); 0: never.
    last_summary: AtomicU64,
}

/// One worker's share of the per-request counters.
#[derive(Debug, Default)]
struct Shard {
    unrouted: [AtomicU64; Outcome::ALL.len()],
    /// Validations that took at most bucket `i`'s bound and more than the bound before
    /// (made cumulative when rendered).
    latency_buckets: [AtomicU64; LATENCY_BUCKETS_US.len()],
    latency_count: AtomicU64,
    latency_sum_us: AtomicU64,
    jwks_hits: AtomicU64,
    jwks_misses: AtomicU64,
    introspection_hits: AtomicU64,
    introspection_misses: AtomicU64,
}

/// Request counters for one set of applications: `shards` runs of counters, `stride` apart.
#[derive(Debug)]
struct RequestTable {
    app_names: Vec<String>,
    /// [shard][api][app + 1 (0 = none)][outcome]
    requests: Vec<AtomicU64>,
    stride: usize,
}

impl RequestTable {
    fn new(app_names: Vec<String>, apis: usize, shards: usize) -> Self {
        let counters = apis * (app_names.len() + 1) * Outcome::ALL.len();
        // 16 counters (128 bytes) between runs: no two shards share a cache line.
        let stride = counters + 16;
        Self {
            app_names,
            requests: zeros(stride * shards),
            stride,
        }
    }

    /// A counter summed over the shards.
    fn total(&self, i: usize) -> u64 {
        self.requests
            .iter()
            .skip(i)
            .step_by(self.stride)
            .map(|c| c.load(Relaxed))
            .sum()
    }
}

fn zeros(n: usize) -> Vec<AtomicU64> {
    (0..n).map(|_| AtomicU64::new(0)).collect()
}

impl Metrics {
    /// Counters sized for these names.
    pub fn new(api_names: Vec<String>, app_names: Vec<String>, as_names: Vec<String>) -> Self {
        let shards = PerWorker::<Shard>::default();
        let table = RequestTable::new(app_names, api_names.len(), shards.len());
        let as_calls = zeros(as_names.len() * 3 * 2);
        Self {
            api_names,
            as_names,
            table: arc_swap::ArcSwap::from_pointee(table),
            shards,
            as_calls,
            refusals: Refusals::default(),
            introspection_skips: Default::default(),
        }
    }

    /// An introspection call not made.
    pub fn introspection_skipped(&self, why: IntrospectionSkip) {
        self.introspection_skips[why as usize].fetch_add(1, Relaxed);
    }

    /// Introspection calls not made so far for `why`.
    pub fn introspections_skipped(&self, why: IntrospectionSkip) -> u64 {
        self.introspection_skips[why as usize].load(Relaxed)
    }

    /// Counts a refused token by `reason`; at most once per [`REFUSAL_SUMMARY_SECONDS`] of the
    /// clock (`now`), logs at info how many were refused since the last summary.
    pub fn token_refused(&self, reason: &'static str, now: u64) {
        let r = &self.refusals;
        {
            let mut by = r.by_reason.lock().unwrap_or_else(|p| p.into_inner());
            match by.iter_mut().find(|(k, _)| *k == reason) {
                Some((_, n)) => *n += 1,
                None => by.push((reason, 1)),
            }
        }
        r.since_summary.fetch_add(1, Relaxed);
        let last = r.last_summary.load(Relaxed);
        if (last == 0 || now >= last.saturating_add(REFUSAL_SUMMARY_SECONDS))
            && r.last_summary
                .compare_exchange(last, now.max(1), Relaxed, Relaxed)
                .is_ok()
        {
            let refused = r.since_summary.swap(0, Relaxed);
            tracing::info!(
                refused,
                window_seconds = if last == 0 { 0 } else { now - last },
                "tokens refused (each at debug; by reason in gateway_tokens_refused_total)"
            );
        }
    }

    /// Tokens refused so far for `reason`.
    pub fn tokens_refused(&self, reason: &str) -> u64 {
        let by = self
            .refusals
            .by_reason
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        by.iter().find(|(k, _)| *k == reason).map_or(0, |(_, n)| *n)
    }

    fn shard(&self) -> &Shard {
        self.shards.get()
    }

    fn sum(&self, counter: impl Fn(&Shard) -> &AtomicU64) -> u64 {
        self.shards.iter().map(|s| counter(s).load(Relaxed)).sum()
    }

    /// Counts one request.
    pub fn request(&self, api: Option<usize>, app: Option<usize>, outcome: Outcome) {
        match api {
            None => {
                self.shard().unrouted[outcome.index()].fetch_add(1, Relaxed);
            }
            Some(api) => {
                let t = self.table.load();
                let apps = t.app_names.len() + 1;
                let app = app.filter(|a| *a < t.app_names.len()).map_or(0, |a| a + 1);
                let i = (api * apps + app) * Outcome::ALL.len() + outcome.index();
                if let Some(c) = t.requests.get(self.shards.index() * t.stride + i) {
                    c.fetch_add(1, Relaxed);
                }
            }
        }
    }

    /// The applications changed at run time (indexes follow `names`): counters move with
    /// their application's name; those of removed applications are dropped.
    pub fn set_applications(&self, names: Vec<String>) {
        let old = self.table.load_full();
        let n = Outcome::ALL.len();
        let table = RequestTable::new(names, self.api_names.len(), self.shards.len());
        let (old_apps, new_apps) = (old.app_names.len() + 1, table.app_names.len() + 1);
        for shard in 0..self.shards.len() {
            for api in 0..self.api_names.len() {
                for (new_i, name) in std::iter::once(None)
                    .chain(table.app_names.iter().map(Some))
                    .enumerate()
                {
                    let old_i = match name {
                        None => Some(0),
                        Some(nm) => old.app_names.iter().position(|x| x == nm).map(|p| p + 1),
                    };
                    let Some(old_i) = old_i else { continue };
                    for o in 0..n {
                        let v = old.requests[shard * old.stride + (api * old_apps + old_i) * n + o]
                            .load(Relaxed);
                        table.requests[shard * table.stride + (api * new_apps + new_i) * n + o]
                            .store(v, Relaxed);
                    }
                }
            }
        }
        self.table.store(std::sync::Arc::new(table));
    }

    /// Records how long token validation took.
    pub fn validation_latency(&self, elapsed: std::time::Duration) {
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let shard = self.shard();
        shard.latency_count.fetch_add(1, Relaxed);
        shard.latency_sum_us.fetch_add(us, Relaxed);
        if let Some(i) = LATENCY_BUCKETS_US.iter().position(|b| us <= *b) {
            shard.latency_buckets[i].fetch_add(1, Relaxed);
        }
    }

    /// A key lookup in the JWKS cache.
    pub fn jwks_lookup(&self, hit: bool) {
        let shard = self.shard();
        if hit {
            &shard.jwks_hits
        } else {
            &shard.jwks_misses
        }
        .fetch_add(1, Relaxed);
    }

    /// An introspection cache lookup.
    pub fn introspection_lookup(&self, hit: bool) {
        let shard = self.shard();
        if hit {
            &shard.introspection_hits
        } else {
            &shard.introspection_misses
        }
        .fetch_add(1, Relaxed);
    }

    /// A call to an authorization server.
    pub fn as_call(&self, as_idx: usize, kind: AsCall, ok: bool) {
        let i = (as_idx * 3 + kind as usize) * 2 + usize::from(!ok);
        if let Some(c) = self.as_calls.get(i) {
            c.fetch_add(1, Relaxed);
        }
    }

    /// Number of calls of `kind` made to an AS so far (both outcomes).
    pub fn as_calls(&self, as_idx: usize, kind: AsCall) -> u64 {
        let i = (as_idx * 3 + kind as usize) * 2;
        self.as_calls.get(i).map_or(0, |c| c.load(Relaxed))
            + self.as_calls.get(i + 1).map_or(0, |c| c.load(Relaxed))
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP gateway_requests_total Requests by API, application and outcome.\n# TYPE gateway_requests_total counter\n");
        let t = self.table.load();
        let apps = t.app_names.len() + 1;
        for (ai, api) in self.api_names.iter().enumerate() {
            for app in 0..apps {
                let app_name = if app == 0 {
                    "none"
                } else {
                    &t.app_names[app - 1]
                };
                for o in Outcome::ALL {
                    let v = t.total((ai * apps + app) * Outcome::ALL.len() + o.index());
                    if v > 0 {
                        let _ = writeln!(
                            out,
                            "gateway_requests_total{{api=\"{api}\",application=\"{app_name}\",outcome=\"{}\"}} {v}",
                            o.label()
                        );
                    }
                }
            }
        }
        for o in Outcome::ALL {
            let v = self.sum(|s| &s.unrouted[o.index()]);
            if v > 0 {
                let _ = writeln!(
                    out,
                    "gateway_requests_total{{api=\"none\",application=\"none\",outcome=\"{}\"}} {v}",
                    o.label()
                );
            }
        }
        out.push_str("# HELP gateway_validation_duration_seconds Time spent validating tokens.\n# TYPE gateway_validation_duration_seconds histogram\n");
        let mut cumulative = 0;
        for (i, b) in LATENCY_BUCKETS_US.iter().enumerate() {
            cumulative += self.sum(|s| &s.latency_buckets[i]);
            let _ = writeln!(
                out,
                "gateway_validation_duration_seconds_bucket{{le=\"{}\"}} {cumulative}",
                *b as f64 / 1e6,
            );
        }
        let count = self.sum(|s| &s.latency_count);
        let _ = writeln!(
            out,
            "gateway_validation_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "gateway_validation_duration_seconds_sum {}",
            self.sum(|s| &s.latency_sum_us) as f64 / 1e6
        );
        let _ = writeln!(out, "gateway_validation_duration_seconds_count {count}");
        out.push_str("# HELP gateway_cache_lookups_total Key and introspection cache lookups.\n# TYPE gateway_cache_lookups_total counter\n");
        for (cache, result, total) in [
            ("jwks", "hit", self.sum(|s| &s.jwks_hits)),
            ("jwks", "miss", self.sum(|s| &s.jwks_misses)),
            ("introspection", "hit", self.sum(|s| &s.introspection_hits)),
            (
                "introspection",
                "miss",
                self.sum(|s| &s.introspection_misses),
            ),
        ] {
            let _ = writeln!(
                out,
                "gateway_cache_lookups_total{{cache=\"{cache}\",result=\"{result}\"}} {total}"
            );
        }
        out.push_str("# HELP gateway_auth_server_calls_total Calls to authorization servers.\n# TYPE gateway_auth_server_calls_total counter\n");
        for (si, name) in self.as_names.iter().enumerate() {
            for (k, kind) in AS_CALL_LABELS.iter().enumerate() {
                for (r, result) in ["ok", "error"].iter().enumerate() {
                    let v = self.as_calls[(si * 3 + k) * 2 + r].load(Relaxed);
                    let _ = writeln!(
                        out,
                        "gateway_auth_server_calls_total{{authorization_server=\"{name}\",kind=\"{kind}\",result=\"{result}\"}} {v}"
                    );
                }
            }
        }
        out.push_str("# HELP gateway_introspection_skipped_total Introspection calls not made, by reason.\n# TYPE gateway_introspection_skipped_total counter\n");
        for (i, reason) in INTROSPECTION_SKIP_LABELS.iter().enumerate() {
            let v = self.introspection_skips[i].load(Relaxed);
            let _ = writeln!(
                out,
                "gateway_introspection_skipped_total{{reason=\"{reason}\"}} {v}"
            );
        }
        out.push_str("# HELP gateway_tokens_refused_total Bearer tokens refused, by reason.\n# TYPE gateway_tokens_refused_total counter\n");
        let by = self
            .refusals
            .by_reason
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for (reason, n) in by.iter() {
            let reason = reason.replace('\\', "\\\\").replace('"', "\\\"");
            let _ = writeln!(
                out,
                "gateway_tokens_refused_total{{reason=\"{reason}\"}} {n}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn line<'a>(text: &'a str, prefix: &str) -> &'a str {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
    }

    #[test]
    fn counts_from_every_thread_are_summed_and_the_histogram_is_cumulative() {
        let metrics = std::sync::Arc::new(Metrics::new(
            vec!["Beds".into()],
            vec!["App".into()],
            vec![],
        ));
        // From several worker threads, each counting in its own copy.
        let threads: Vec<_> = [5u64, 30, 2_000, 200_000]
            .into_iter()
            .enumerate()
            .map(|(worker, us)| {
                let m = metrics.clone();
                std::thread::spawn(move || {
                    crate::server::pretend_worker(worker + 1);
                    m.validation_latency(Duration::from_micros(us));
                    m.request(Some(0), Some(0), Outcome::Forwarded);
                    m.jwks_lookup(true);
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        metrics.request(None, None, Outcome::NotFound);
        let text = metrics.render();
        for (le, want) in [
            ("0.00001", 1),
            ("0.000025", 1),
            ("0.00005", 2),
            ("0.005", 3),
            ("0.1", 3),
        ] {
            assert_eq!(
                line(
                    &text,
                    &format!("gateway_validation_duration_seconds_bucket{{le=\"{le}\"}}")
                ),
                format!("gateway_validation_duration_seconds_bucket{{le=\"{le}\"}} {want}")
            );
        }
        assert!(text.contains("gateway_validation_duration_seconds_bucket{le=\"+Inf\"} 4\n"));
        assert!(text.contains("gateway_validation_duration_seconds_count 4\n"));
        assert!(text.contains(
            "gateway_requests_total{api=\"Beds\",application=\"App\",outcome=\"forwarded\"} 4\n"
        ));
        assert!(text.contains(
            "gateway_requests_total{api=\"none\",application=\"none\",outcome=\"not_found\"} 1\n"
        ));
        assert!(text.contains("gateway_cache_lookups_total{cache=\"jwks\",result=\"hit\"} 4\n"));

        metrics.set_applications(vec!["New".into(), "App".into()]);
        assert!(metrics.render().contains(
            "gateway_requests_total{api=\"Beds\",application=\"App\",outcome=\"forwarded\"} 4\n"
        ));
    }
}
