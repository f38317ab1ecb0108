//! Tracing set-up and the Prometheus metrics, kept as plain atomics so the hot path never
//! allocates or locks to count.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

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
}

impl Outcome {
    const ALL: [Outcome; 7] = [
        Self::Forwarded,
        Self::BadRequest,
        Self::Unauthorized,
        Self::Forbidden,
        Self::NotFound,
        Self::AuthServerUnavailable,
        Self::UpstreamError,
    ];

    fn index(self) -> usize {
        self as usize
    }

    fn label(self) -> &'static str {
        match self {
            Self::Forwarded => "forwarded",
            Self::BadRequest => "bad_request",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::AuthServerUnavailable => "auth_server_unavailable",
            Self::UpstreamError => "upstream_error",
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
#[derive(Debug)]
pub struct Metrics {
    api_names: Vec<String>,
    as_names: Vec<String>,
    /// Per-application request counters; replaced when the applications change at run time.
    table: arc_swap::ArcSwap<RequestTable>,
    unrouted: [AtomicU64; 7],
    latency_buckets: [AtomicU64; LATENCY_BUCKETS_US.len()],
    latency_count: AtomicU64,
    latency_sum_us: AtomicU64,
    jwks_hits: AtomicU64,
    jwks_misses: AtomicU64,
    introspection_hits: AtomicU64,
    introspection_misses: AtomicU64,
    /// [as][kind][ok=0 / error=1]
    as_calls: Vec<AtomicU64>,
}

/// Request counters for one set of applications.
#[derive(Debug)]
struct RequestTable {
    app_names: Vec<String>,
    /// [api][app + 1 (0 = none)][outcome]
    requests: Vec<AtomicU64>,
}

fn zeros(n: usize) -> Vec<AtomicU64> {
    (0..n).map(|_| AtomicU64::new(0)).collect()
}

impl Metrics {
    /// Counters sized for these names.
    pub fn new(api_names: Vec<String>, app_names: Vec<String>, as_names: Vec<String>) -> Self {
        let requests = zeros(api_names.len() * (app_names.len() + 1) * Outcome::ALL.len());
        let as_calls = zeros(as_names.len() * 3 * 2);
        Self {
            api_names,
            as_names,
            table: arc_swap::ArcSwap::from_pointee(RequestTable {
                app_names,
                requests,
            }),
            unrouted: Default::default(),
            latency_buckets: Default::default(),
            latency_count: AtomicU64::new(0),
            latency_sum_us: AtomicU64::new(0),
            jwks_hits: AtomicU64::new(0),
            jwks_misses: AtomicU64::new(0),
            introspection_hits: AtomicU64::new(0),
            introspection_misses: AtomicU64::new(0),
            as_calls,
        }
    }

    /// Counts one request.
    pub fn request(&self, api: Option<usize>, app: Option<usize>, outcome: Outcome) {
        match api {
            None => {
                self.unrouted[outcome.index()].fetch_add(1, Relaxed);
            }
            Some(api) => {
                let t = self.table.load();
                let apps = t.app_names.len() + 1;
                let app = app.filter(|a| *a < t.app_names.len()).map_or(0, |a| a + 1);
                let i = (api * apps + app) * Outcome::ALL.len() + outcome.index();
                if let Some(c) = t.requests.get(i) {
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
        let requests = zeros(self.api_names.len() * (names.len() + 1) * n);
        let (old_apps, new_apps) = (old.app_names.len() + 1, names.len() + 1);
        for api in 0..self.api_names.len() {
            for (new_i, name) in std::iter::once(None)
                .chain(names.iter().map(Some))
                .enumerate()
            {
                let old_i = match name {
                    None => Some(0),
                    Some(nm) => old.app_names.iter().position(|x| x == nm).map(|p| p + 1),
                };
                let Some(old_i) = old_i else { continue };
                for o in 0..n {
                    let v = old.requests[(api * old_apps + old_i) * n + o].load(Relaxed);
                    requests[(api * new_apps + new_i) * n + o].store(v, Relaxed);
                }
            }
        }
        self.table.store(std::sync::Arc::new(RequestTable {
            app_names: names,
            requests,
        }));
    }

    /// Records how long token validation took.
    pub fn validation_latency(&self, elapsed: std::time::Duration) {
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.latency_count.fetch_add(1, Relaxed);
        self.latency_sum_us.fetch_add(us, Relaxed);
        for (i, b) in LATENCY_BUCKETS_US.iter().enumerate() {
            if us <= *b {
                self.latency_buckets[i].fetch_add(1, Relaxed);
            }
        }
    }

    /// A key lookup in the JWKS cache.
    pub fn jwks_lookup(&self, hit: bool) {
        if hit {
            &self.jwks_hits
        } else {
            &self.jwks_misses
        }
        .fetch_add(1, Relaxed);
    }

    /// An introspection cache lookup.
    pub fn introspection_lookup(&self, hit: bool) {
        if hit {
            &self.introspection_hits
        } else {
            &self.introspection_misses
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
                    let v = t.requests[(ai * apps + app) * Outcome::ALL.len() + o.index()]
                        .load(Relaxed);
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
            let v = self.unrouted[o.index()].load(Relaxed);
            if v > 0 {
                let _ = writeln!(
                    out,
                    "gateway_requests_total{{api=\"none\",application=\"none\",outcome=\"{}\"}} {v}",
                    o.label()
                );
            }
        }
        out.push_str("# HELP gateway_validation_duration_seconds Time spent validating tokens.\n# TYPE gateway_validation_duration_seconds histogram\n");
        for (i, b) in LATENCY_BUCKETS_US.iter().enumerate() {
            let _ = writeln!(
                out,
                "gateway_validation_duration_seconds_bucket{{le=\"{}\"}} {}",
                *b as f64 / 1e6,
                self.latency_buckets[i].load(Relaxed)
            );
        }
        let count = self.latency_count.load(Relaxed);
        let _ = writeln!(
            out,
            "gateway_validation_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "gateway_validation_duration_seconds_sum {}",
            self.latency_sum_us.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "gateway_validation_duration_seconds_count {count}");
        out.push_str("# HELP gateway_cache_lookups_total Key and introspection cache lookups.\n# TYPE gateway_cache_lookups_total counter\n");
        for (cache, result, c) in [
            ("jwks", "hit", &self.jwks_hits),
            ("jwks", "miss", &self.jwks_misses),
            ("introspection", "hit", &self.introspection_hits),
            ("introspection", "miss", &self.introspection_misses),
        ] {
            let _ = writeln!(
                out,
                "gateway_cache_lookups_total{{cache=\"{cache}\",result=\"{result}\"}} {}",
                c.load(Relaxed)
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
        out
    }
}
