//! The binary as a shared service: configuration from the environment,
//! `--print-config`, `/__mock/health`, and a clean exit on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// The mock-idp binary with a clean environment for its own variables.
fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mock-idp"));
    for name in [
        "MOCK_IDP_CONFIG",
        "MOCK_IDP_CONFIG_TOML",
        "MOCK_IDP_CONFIG_JSON",
        "MOCK_IDP_LISTEN",
        "MOCK_IDP_PUBLIC_URL",
        "MOCK_IDP_TLS",
        "MOCK_IDP_TLS_CERT",
        "MOCK_IDP_TLS_KEY",
        "MOCK_IDP_CA_OUT",
    ] {
        command.env_remove(name);
    }
    command.env("MOCK_IDP_KEY_CACHE", "off");
    command
}

/// A running server process, killed on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const EXTRA_SERVER: &str = r#"
[[authorization_servers]]
id = "wards"
audience = "api://wards"
"#;

#[test]
fn print_config_shows_the_environments_configuration_with_secrets_redacted_unless_asked() {
    let toml = format!("{}\n{EXTRA_SERVER}", mock_idp::config::DEFAULT_CONFIG_TOML);
    let config = mock_idp::Config::from_toml(&toml).unwrap();
    let json =
        serde_json::to_string(&toml::from_str::<Value>(&config.to_toml(true).unwrap()).unwrap())
            .unwrap();
    let password = config.users[0].password.expose().to_owned();
    for (name, text) in [
        ("MOCK_IDP_CONFIG_TOML", toml.as_str()),
        ("MOCK_IDP_CONFIG_JSON", json.as_str()),
    ] {
        let out = binary()
            .env(name, text)
            .env("MOCK_IDP_LISTEN", "127.0.0.1:9555")
            .arg("--print-config")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let printed = String::from_utf8(out.stdout).unwrap();
        assert!(printed.contains("id = \"wards\""), "{name}: {printed}");
        assert!(printed.contains("# listen = 127.0.0.1:9555"), "{printed}");
        assert!(printed.contains("[redacted]"));
        assert!(!printed.contains(&password), "{name}: a password printed");
        let shown = binary()
            .env(name, text)
            .args(["--print-config", "--show-secrets"])
            .output()
            .unwrap();
        assert!(String::from_utf8(shown.stdout).unwrap().contains(&password));
    }
}

#[test]
fn two_configuration_sources_are_refused_by_name() {
    let out = binary()
        .env(
            "MOCK_IDP_CONFIG_TOML",
            mock_idp::config::DEFAULT_CONFIG_TOML,
        )
        .env("MOCK_IDP_CONFIG_JSON", "{}")
        .arg("--print-config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("MOCK_IDP_CONFIG_TOML") && stderr.contains("MOCK_IDP_CONFIG_JSON"),
        "{stderr}"
    );
    let bad = binary()
        .env("MOCK_IDP_CONFIG_JSON", r#"{"clients": [{"client_id": 3}]}"#)
        .arg("--print-config")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8(bad.stderr)
            .unwrap()
            .contains("MOCK_IDP_CONFIG_JSON")
    );
}

#[tokio::test]
async fn the_binary_serves_its_environments_config_reports_health_and_exits_cleanly_on_sigterm() {
    let toml = format!("{}\n{EXTRA_SERVER}", mock_idp::config::DEFAULT_CONFIG_TOML);
    let child = binary()
        .env("MOCK_IDP_CONFIG_TOML", &toml)
        .env("MOCK_IDP_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut running = Running(child);
    let stdout = running.0.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let banner = lines.next().unwrap().unwrap();
    let base = banner
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {banner}"))
        .to_owned();
    // Keep reading the banner so the process never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));

    let health = reqwest::get(format!("{base}/__mock/health")).await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.json::<Value>().await.unwrap()["status"], "pass");
    let discovery: Value = reqwest::get(format!(
        "{base}/oauth2/wards/.well-known/openid-configuration"
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(discovery["issuer"], format!("{base}/oauth2/wards"));

    let pid = running.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = running.0.wait().unwrap();
    assert!(
        status.success(),
        "SIGTERM ends the server cleanly: {status}"
    );
    assert!(
        reqwest::get(format!("{base}/__mock/health")).await.is_err(),
        "the port is closed"
    );
}
