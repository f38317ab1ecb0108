//! The `mock-idp` binary as a user runs it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::support::http;

/// The binary, killed on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary on port 0 with `env`; returns it and its base URL (from the banner).
fn run(env: &[(&str, &str)]) -> (Running, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mock-idp"));
    command
        .args(["--listen", "127.0.0.1:0"])
        .env_remove("MOCK_IDP_CONTROL_TOKEN")
        .env("MOCK_IDP_KEY_CACHE", "off")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("mock-idp starts");
    let stdout = child.stdout.take().expect("stdout");
    let running = Running(child);
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().expect("a banner line").expect("utf-8");
    // Keep reading: a closed pipe would fail the banner's later lines.
    std::thread::spawn(move || lines.for_each(drop));
    let base = first
        .strip_prefix("mock-idp listening on ")
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("banner: {first}"))
        .to_owned();
    (running, base)
}

#[tokio::test]
async fn mock_idp_control_token_env_var_protects_the_control_api() {
    let token = "env-control-token-0123456789";
    let (_mock, base) = run(&[("MOCK_IDP_CONTROL_TOKEN", token)]);
    let url = format!("{base}/__mock/clock");
    assert_eq!(http().get(&url).send().await.unwrap().status(), 401);
    let allowed = http()
        .get(&url)
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
}

#[test]
fn mock_idp_control_token_env_var_too_short_stops_the_binary_naming_the_key() {
    let output = Command::new(env!("CARGO_BIN_EXE_mock-idp"))
        .args(["--listen", "127.0.0.1:0"])
        .env("MOCK_IDP_CONTROL_TOKEN", "short")
        .env("MOCK_IDP_KEY_CACHE", "off")
        .output()
        .expect("mock-idp runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("server.control_token"), "{stderr}");
    assert!(stderr.contains("MOCK_IDP_CONTROL_TOKEN"), "{stderr}");
}
