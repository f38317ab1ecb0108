//! The binary: `check-config` accepts the demo fixture and names the key of a broken file.

use std::process::Command;

fn gateway() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gateway"))
}

fn fixture() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/gateway/demo.toml")
}

#[test]
fn check_config_accepts_the_demo_fixture_with_its_environment() {
    let out = gateway()
        .arg("check-config")
        .arg(fixture())
        .env("OKTA_ISSUER", "https://example.okta.com/oauth2/default")
        .env("BEDS_URL", "http://127.0.0.1:9000")
        .env("OKTA_CLIENT_ID", "0oa-service")
        .env("OKTA_CLIENT_SECRET", "service-secret-not-real")
        .env("OKTA_WEB_CLIENT_ID", "0oa-web")
        .env("OKTA_WEB_CLIENT_SECRET", "web-secret-not-real")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("ok (1 authorization servers, 1 APIs, 1 applications)")
    );
}

#[test]
fn check_config_names_the_broken_key_and_exits_78() {
    let dir = std::env::temp_dir().join(format!("gateway-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("broken.toml");
    let text = std::fs::read_to_string(fixture())
        .unwrap()
        .replace(r#"methods = ["POST"]"#, r#"methods = ["POTS"]"#);
    std::fs::write(&file, text).unwrap();
    let out = gateway()
        .arg("check-config")
        .arg(&file)
        .env("OKTA_ISSUER", "https://example.okta.com/oauth2/default")
        .env("BEDS_URL", "http://127.0.0.1:9000")
        .env("OKTA_CLIENT_ID", "a")
        .env("OKTA_CLIENT_SECRET", "b")
        .env("OKTA_WEB_CLIENT_ID", "c")
        .env("OKTA_WEB_CLIENT_SECRET", "d")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("apis[0].resources[3].methods[0]"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}
