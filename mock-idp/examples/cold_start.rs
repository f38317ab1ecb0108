//! Start to ready of the library mock in a fresh process, as every test
//! binary and standalone run sees it (no key pool warmed by an earlier start).
//!
//! `cargo run --release -p mock-idp --example cold_start -- [SAMPLES] [--binary PATH]`
//!
//! Runs itself SAMPLES times (20 by default) as a child process. Each child
//! calls `MockIdp::builder().start()`, then at once sends, each over its own
//! plain HTTP/1.1 connection (no client library start-up in the measurement),
//! a discovery request, a JWKS request and a client_credentials token request
//! for the `default` server, and reports when each first answered 200. The
//! parent prints the min, median, p90 and max of each, in milliseconds from
//! the call to `start()`.
//!
//! With `--binary PATH` (e.g. `target/release/mock-idp`) it starts that
//! standalone server instead and times from spawning it, polling every
//! millisecond until it accepts connections.
//!
//! Spare keys: by default each child finds the spare keys earlier processes
//! left on disk (`MOCK_IDP_KEY_CACHE`, see `spare_keys.rs`) and, after its
//! requests, lives on for a second as a short test binary would, so that the
//! key generator replaces the spares it used. `--no-spares` sets
//! `MOCK_IDP_KEY_CACHE=off`: every key is generated, as on a machine's very
//! first run.

// A start-up measurement: elapsed wall time is what it reports.
#![allow(clippy::disallowed_methods)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CHILD: &str = "--child";
/// The service client of the embedded default configuration (test credentials).
const SERVICE_CLIENT: &str = "0oa7ms2bedsvc000x7d1:mock-idp-service-secret-Bx7dY2qLw9ZtR4vNc8Hs";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(CHILD) {
        return child();
    }
    let samples: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20);
    let spares = !args.iter().any(|a| a == "--no-spares");
    let binary = args
        .iter()
        .position(|a| a == "--binary")
        .and_then(|at| args.get(at + 1));
    if let Some(binary) = binary {
        return standalone(samples, binary);
    }
    let Ok(me) = std::env::current_exe() else {
        eprintln!("cold_start: cannot find my own executable");
        return ExitCode::FAILURE;
    };
    let names = [
        "start() returned",
        "discovery 200",
        "jwks 200",
        "cc token 200",
    ];
    let mut columns: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for _ in 0..samples {
        // Apart, so a sample does not compete with the previous one's exit.
        std::thread::sleep(Duration::from_millis(100));
        let mut command = Command::new(&me);
        command.arg(CHILD);
        if !spares {
            command.env("MOCK_IDP_KEY_CACHE", "off");
        }
        let output = match command.output() {
            Ok(output) if output.status.success() => output,
            Ok(output) => {
                eprintln!(
                    "cold_start: child failed: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
                return ExitCode::FAILURE;
            }
            Err(error) => {
                eprintln!("cold_start: cannot run a child: {error}");
                return ExitCode::FAILURE;
            }
        };
        let line = String::from_utf8_lossy(&output.stdout);
        let values: Vec<f64> = line
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        if values.len() != names.len() {
            eprintln!("cold_start: unexpected child output {line:?}");
            return ExitCode::FAILURE;
        }
        for (column, value) in columns.iter_mut().zip(values) {
            column.push(value);
        }
    }
    let keys = if spares {
        "spare keys on disk"
    } else {
        "no spare keys (MOCK_IDP_KEY_CACHE=off)"
    };
    print_table(
        &format!("fresh process, ms from the call to start(), {samples} samples, {keys}"),
        &names,
        columns,
    );
    ExitCode::SUCCESS
}

fn print_table(title: &str, names: &[&str], columns: Vec<Vec<f64>>) {
    println!("{title}");
    println!(
        "{:<18} {:>8} {:>8} {:>8} {:>8}",
        "", "min", "median", "p90", "max"
    );
    for (name, mut column) in names.iter().zip(columns) {
        if column.is_empty() {
            continue;
        }
        column.sort_by(f64::total_cmp);
        let at = |q: f64| column[((column.len() - 1) as f64 * q).round() as usize];
        println!(
            "{name:<18} {:>8.1} {:>8.1} {:>8.1} {:>8.1}",
            at(0.0),
            at(0.5),
            at(0.9),
            at(1.0)
        );
    }
}

/// The standalone binary: spawn, then poll discovery and JWKS until both answer 200.
fn standalone(samples: usize, binary: &str) -> ExitCode {
    let names = ["discovery 200", "jwks 200"];
    let mut columns: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for _ in 0..samples {
        std::thread::sleep(Duration::from_millis(100));
        let port = match std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
            Ok(addr) => addr.port(),
            Err(error) => {
                eprintln!("cold_start: no free port: {error}");
                return ExitCode::FAILURE;
            }
        };
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let begin = Instant::now();
        let mut server = match Command::new(binary)
            .args(["--listen", &addr.to_string()])
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
        {
            Ok(server) => server,
            Err(error) => {
                eprintln!("cold_start: cannot run {binary}: {error}");
                return ExitCode::FAILURE;
            }
        };
        let paths = [
            "/oauth2/default/.well-known/openid-configuration",
            "/oauth2/default/v1/keys",
        ];
        let mut answered = [None; 2];
        while answered.iter().any(Option::is_none) && begin.elapsed() < Duration::from_secs(10) {
            for (path, at) in paths.iter().zip(answered.iter_mut()) {
                if at.is_none() && get_ok(addr, path) {
                    *at = Some(begin.elapsed().as_secs_f64() * 1000.0);
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let _ = server.kill();
        let _ = server.wait();
        for (column, at) in columns.iter_mut().zip(answered) {
            match at {
                Some(at) => column.push(at),
                None => {
                    eprintln!("cold_start: {binary} did not answer within 10 s");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    print_table(
        &format!("fresh {binary}, ms from spawning it, {samples} samples"),
        &names,
        columns,
    );
    ExitCode::SUCCESS
}

fn get_ok(addr: std::net::SocketAddr, path: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut answer = Vec::new();
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_to_end(&mut answer).is_ok()
        && answer.starts_with(b"HTTP/1.1 200")
}

fn child() -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let begin = Instant::now();
        let idp = match mock_idp::MockIdp::start().await {
            Ok(idp) => idp,
            Err(error) => {
                eprintln!("start: {error}");
                return ExitCode::FAILURE;
            }
        };
        let started = begin.elapsed();
        let addr = idp.addr();
        let form = "grant_type=client_credentials&scope=beds.read";
        let basic = base64::engine::general_purpose::STANDARD.encode(SERVICE_CLIENT);
        let requests = [
            "GET /oauth2/default/.well-known/openid-configuration HTTP/1.1\r\n\r\n".to_owned(),
            "GET /oauth2/default/v1/keys HTTP/1.1\r\n\r\n".to_owned(),
            format!(
                "POST /oauth2/default/v1/token HTTP/1.1\r\nAuthorization: Basic {basic}\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
                form.len()
            ),
        ];
        let tasks: Vec<_> = requests
            .into_iter()
            .map(|request| {
                // Host and Connection: close on every request; the rest as given.
                let request = request.replacen(
                    "\r\n",
                    &format!("\r\nHost: {addr}\r\nConnection: close\r\n"),
                    1,
                );
                tokio::spawn(async move {
                    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
                    stream.write_all(request.as_bytes()).await.ok()?;
                    let mut answer = Vec::new();
                    stream.read_to_end(&mut answer).await.ok()?;
                    answer
                        .starts_with(b"HTTP/1.1 200")
                        .then(|| begin.elapsed())
                })
            })
            .collect();
        let mut line = format!("{:.3}", started.as_secs_f64() * 1000.0);
        for task in tasks {
            match task.await {
                Ok(Some(at)) => line.push_str(&format!(" {:.3}", at.as_secs_f64() * 1000.0)),
                _ => {
                    eprintln!("a request did not answer 200");
                    return ExitCode::FAILURE;
                }
            }
        }
        println!("{line}");
        if std::env::var_os("MOCK_IDP_KEY_CACHE").is_none_or(|v| v != "off") {
            // A test binary's lifetime: the key generator replaces the spares used.
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        idp.shutdown().await;
        ExitCode::SUCCESS
    })
}
