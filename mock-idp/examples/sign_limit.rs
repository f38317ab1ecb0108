//! The raw RS256 signing limit of this machine: how many access tokens per
//! second the mock's own signing path (a pre-parsed aws-lc RSA-2048 key,
//! [`mock_idp::SigningKey::sign_jwt`]) can produce with every core signing and
//! nothing else to do: the ceiling for client_credentials issuance over HTTP.
//! `bench/peers.sh` runs it next to the token endpoints (`raw-rs256-sign-limit`).
//!
//! `cargo run --release -p mock-idp --example sign_limit -- [DURATION] [THREADS]`
//!
//! DURATION as wrk takes it (`10s`, `500ms`, `1m`; 10s by default); THREADS
//! defaults to the number of cores. Prints a summary, then one machine-readable
//! line: `tokens_per_s=… p50_ms=… p99_ms=… total=… errors=… threads=…`.

// A throughput measurement: elapsed wall time is what it reports.
#![allow(clippy::disallowed_methods)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let duration = match args.first().map(|a| parse_duration(a)) {
        None => Duration::from_secs(10),
        Some(Some(duration)) => duration,
        Some(None) => {
            eprintln!("sign_limit: DURATION like 10s, 500ms or 1m");
            return ExitCode::from(2);
        }
    };
    let threads = args
        .get(1)
        .and_then(|t| t.parse().ok())
        .or_else(|| std::thread::available_parallelism().ok().map(usize::from))
        .unwrap_or(1)
        .max(1);
    let key = match mock_idp::SigningKey::generate() {
        Ok(key) => key,
        Err(error) => {
            eprintln!("sign_limit: {error}");
            return ExitCode::FAILURE;
        }
    };
    // The claims the mock issues for the default configuration's service client.
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = serde_json::json!({
        "ver": 1, "jti": "AT.0123456789abcdefghijklmnopqrstuvwxyzABCDEFG",
        "iss": "http://127.0.0.1:18100/oauth2/default", "aud": "api://default",
        "iat": now, "exp": now + 3600, "cid": "0oa7ms2bedsvc000x7d1",
        "scp": ["beds.read"], "sub": "0oa7ms2bedsvc000x7d1",
    });
    let begin = Instant::now();
    let deadline = begin + duration;
    let (latencies, errors) = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut latencies = Vec::with_capacity(4096);
                    let mut errors = 0u64;
                    loop {
                        let started = Instant::now();
                        if started >= deadline {
                            break;
                        }
                        match key.sign_jwt(&claims) {
                            Ok(token) => {
                                std::hint::black_box(token);
                            }
                            Err(_) => errors += 1,
                        }
                        latencies.push(started.elapsed());
                    }
                    (latencies, errors)
                })
            })
            .collect();
        let mut all = Vec::new();
        let mut errors = 0;
        for worker in workers {
            if let Ok((latencies, failed)) = worker.join() {
                all.extend(latencies);
                errors += failed;
            }
        }
        (all, errors)
    });
    let elapsed = begin.elapsed().as_secs_f64();
    let mut latencies = latencies;
    latencies.sort_unstable();
    let total = latencies.len();
    let quantile = |q: f64| {
        latencies
            .get(((total.saturating_sub(1)) as f64 * q).round() as usize)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let rate = total as f64 / elapsed;
    println!(
        "RS256 (RSA-2048, aws-lc, pre-parsed key) access tokens signed: {rate:.0}/s on {threads} threads \
         over {elapsed:.1}s; per token p50 {:.3} ms, p99 {:.3} ms",
        quantile(0.5),
        quantile(0.99)
    );
    println!(
        "tokens_per_s={rate:.1} p50_ms={:.3} p99_ms={:.3} total={total} errors={errors} threads={threads}",
        quantile(0.5),
        quantile(0.99)
    );
    if errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `10s`, `500ms`, `2m`, or plain seconds.
fn parse_duration(text: &str) -> Option<Duration> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(seconds).ok()
}
