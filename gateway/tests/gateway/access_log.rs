//! The access log (`[access_log]`) of a real `gateway run`: its JSON lines parsed and checked,
//! credentials never written, and the file reopened on SIGUSR1 after a rename (logrotate).

#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::Child;

use serde_json::Value;

use super::harness::*;

/// A `gateway run` killed (SIGTERM, so it drains and writes its last lines) on drop.
struct Run {
    child: Child,
    base: String,
    dir: PathBuf,
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Run {
    async fn start(name: &str, idp: &WireIdp, echo: &Echo, access_log: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("gateway-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("gateway.toml");
        let toml = config_toml(&idp.discovery_url(), &echo.url())
            + &format!(
                "\n[access_log]\n{access_log}path = \"{}\"\n",
                dir.join("access.log").display()
            );
        std::fs::write(&file, toml).unwrap();
        let port = free_port();
        let child = spawn_gateway_run(&file, port, std::process::Stdio::null());
        let run = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            dir,
        };
        for _ in 0..150 {
            if reqwest::get(format!("{}/health", run.base)).await.is_ok() {
                return run;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("gateway run did not start");
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("access.log")
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The file's lines once it has `n` (the writer batches them; bounded wait).
async fn lines(path: &Path, n: usize) -> Vec<String> {
    for _ in 0..100 {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        if lines.len() >= n {
            return lines;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{} has fewer than {n} lines", path.display());
}

#[tokio::test]
async fn access_log_lines_are_json_with_the_request_and_never_a_credential() {
    let idp = WireIdp::start().await;
    let echo = Echo::start().await;
    let run = Run::start("access-json", &idp, &echo, "").await;
    let http = reqwest::Client::new();
    let token = idp.token(&idp.access_claims(OPENID_APP, &["beds.read"], now()));
    let r = http
        .get(format!(
            "{}/beds/hospitals?ward=secret-ward-value",
            run.base
        ))
        .bearer_auth(&token)
        .header("cookie", "session=cookie-secret-value")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body_len = r.bytes().await.unwrap().len();
    let forged =
        RsaKey::generate("key-1").sign(&idp.access_claims(OPENID_APP, &["beds.read"], now()));
    let r = http
        .get(format!("{}/beds/hospitals", run.base))
        .bearer_auth(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let lines = lines(&run.log_path(), 3).await;
    let text = lines.join("\n");
    for secret in [
        token.as_str(),
        forged.as_str(),
        "cookie-secret-value",
        "secret-ward-value",
    ] {
        assert!(!text.contains(secret), "the log holds {secret}: {text}");
    }
    // Every line is one JSON object; the first is the /health poll.
    let parsed: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ok = parsed
        .iter()
        .find(|l| l["status"] == 200 && l["api"] == "CheckBedAvailability")
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(ok["method"], "GET");
    assert_eq!(ok["path"], "/beds/hospitals?ward=");
    assert_eq!(ok["outcome"], "forwarded");
    assert_eq!(ok["application"], "OpenIDApp");
    assert_eq!(ok["client_id"], OPENID_APP);
    assert_eq!(ok["subject"], "nurse@example.org");
    assert_eq!(ok["client"], "127.0.0.1");
    assert_eq!(ok["upstream_status"], 200);
    assert!(ok["upstream_ms"].as_f64().unwrap() >= 0.0);
    assert!(ok["duration_ms"].as_f64().unwrap() >= ok["upstream_ms"].as_f64().unwrap());
    assert_eq!(ok["bytes"], body_len);
    assert!(ok["time"].as_str().unwrap().ends_with('Z'));
    let refused = parsed.iter().find(|l| l["status"] == 401).unwrap();
    assert_eq!(refused["outcome"], "unauthorized");
    assert_eq!(refused["api"], "CheckBedAvailability");
    assert_eq!(refused["application"], Value::Null);
    assert_eq!(refused["upstream_status"], Value::Null);
    assert_ne!(refused["request_id"], ok["request_id"]);
}

#[tokio::test]
async fn combined_format_and_subject_left_out_when_configured() {
    let idp = WireIdp::start().await;
    let echo = Echo::start().await;
    let run = Run::start(
        "access-combined",
        &idp,
        &echo,
        "format = \"combined\"\nsubject = false\n",
    )
    .await;
    let token = idp.token(&idp.access_claims(OPENID_APP, &["beds.read"], now()));
    let r = reqwest::Client::new()
        .get(format!("{}/beds/hospitals", run.base))
        .bearer_auth(&token)
        .header("user-agent", "test-agent/1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let lines = lines(&run.log_path(), 2).await;
    let line = lines
        .iter()
        .find(|l| l.contains("/beds/hospitals"))
        .unwrap();
    assert!(
        line.starts_with("127.0.0.1 - - ["),
        "no subject in the user field: {line}"
    );
    assert!(
        line.contains("] \"GET /beds/hospitals HTTP/1.1\" 200 "),
        "{line}"
    );
    assert!(line.contains("\"test-agent/1\""), "{line}");
    assert!(line.contains(" application=\"OpenIDApp\""), "{line}");
    assert!(!line.contains("nurse@example.org"), "{line}");
}

#[tokio::test]
async fn sigusr1_reopens_the_log_after_a_rename() {
    let idp = WireIdp::start().await;
    let echo = Echo::start().await;
    let run = Run::start("access-reopen", &idp, &echo, "").await;
    let get = |path: &'static str| {
        let url = format!("{}{path}", run.base);
        async move { reqwest::get(url).await.unwrap().status() }
    };
    assert_eq!(get("/beds/before").await, 404);
    lines(&run.log_path(), 2).await;
    let rotated = run.dir.join("access.log.1");
    std::fs::rename(run.log_path(), &rotated).unwrap();
    let status = std::process::Command::new("kill")
        .args(["-USR1", &run.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // The reopen creates the file under its old name.
    for _ in 0..100 {
        if run.log_path().exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(get("/beds/after").await, 404);
    let new = lines(&run.log_path(), 1).await;
    assert!(new.iter().any(|l| l.contains("/beds/after")), "{new:?}");
    let old = std::fs::read_to_string(&rotated).unwrap();
    assert!(
        old.contains("/beds/before") && !old.contains("/beds/after"),
        "{old}"
    );
}
