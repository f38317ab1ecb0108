//! Real peers the tests start on loopback: Python scripts in `peers/` (run with `TEST_PYTHON`,
//! else `python3`; each prints its port on stdout and is killed on drop). A peer that is absent
//! makes its test say `SKIPPED`, or fail under `PEER_TESTS=required`.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

/// Whether a test's peer is here; without it the test says `SKIPPED`, or fails under
/// `PEER_TESTS=required`.
#[allow(clippy::print_stderr)] // the SKIPPED line is for the person running the tests
pub fn peer_present(test: &str, what: &str, present: bool) -> bool {
    if present {
        return true;
    }
    assert!(
        std::env::var("PEER_TESTS").as_deref() != Ok("required"),
        "{test}: {what} is missing and PEER_TESTS=required"
    );
    eprintln!("SKIPPED {test}: {what} is missing");
    false
}

pub fn python() -> String {
    std::env::var("TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Whether `python()` can import `modules` (comma-separated).
pub fn python_has(modules: &str) -> bool {
    Command::new(python())
        .args(["-c", &format!("import {modules}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub fn script(name: &str) -> String {
    format!("{}/tests/gateway/peers/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A Python server from `peers/`, killed on drop.
pub struct PyServer {
    child: Child,
    pub port: u16,
}

impl PyServer {
    pub fn start(name: &str, args: &[&str]) -> Self {
        let mut child = Command::new(python())
            .arg(script(name))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} printed no port: {line:?}"));
        Self { child, port }
    }
}

impl Drop for PyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a Python client from `peers/` to its end and returns its stdout as JSON.
pub async fn py_json(name: &str, args: &[&str]) -> serde_json::Value {
    let mut command = Command::new(python());
    command.arg(script(name)).args(args);
    // Off the test's runtime, which may be serving the mock IdP meanwhile.
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "{name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{name}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}
