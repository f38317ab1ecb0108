//! Okta's own client libraries against the mock, unchanged: `@okta/jwt-verifier`
//! verifies access and ID tokens from an https issuer with default settings,
//! and `@okta/okta-auth-js` logs in through `/api/v1/authn` + sessionToken and
//! runs authorization code + PKCE, userinfo and refresh; `@okta/okta-sdk-nodejs`
//! provisions users, groups and apps through the management API.
//!
//! Needs node and `npm ci --prefix mock-idp/tests/node` (the npm registry).
//! Without the packages the test says so and stops; with
//! `OKTA_SDK_TESTS=required` (as `.ci/run` sets) their absence is a failure.

use std::path::PathBuf;
use std::process::Command;

fn node_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/node")
}

#[tokio::test]
async fn oktas_node_sdks_work_against_the_mock_over_https() {
    let test = "oktas_node_sdks_work_against_the_mock_over_https";
    if !installed(test, &["@okta/okta-auth-js", "@okta/jwt-verifier"]) {
        return;
    }
    let (idp, ca) = tls_mock().await;
    assert!(idp.issuer().starts_with("https://localhost:"));

    let issuer = idp.issuer();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("okta-sdks.mjs")
            .current_dir(node_dir())
            .env("NODE_EXTRA_CA_CERTS", &ca)
            .env("ISSUER", issuer)
            .env("SERVICE_CLIENT_ID", crate::support::SERVICE_CLIENT_ID)
            .env(
                "SERVICE_CLIENT_SECRET",
                crate::support::SERVICE_CLIENT_SECRET,
            )
            .env("SPA_CLIENT_ID", "0oa7ms2bedspa000x7d3")
            .env("SPA_REDIRECT_URI", "http://localhost:8080/login/callback")
            .env("USERNAME", "alex.nurse@example.com")
            .env("PASSWORD", "CorrectHorse!2026")
            .output()
            .expect("node runs (install nodejs)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "node checks failed:\n{stdout}\n{stderr}"
    );
    for check in [
        "ok jwt-verifier verifyAccessToken (client_credentials)",
        "ok okta-auth-js exchangeCodeForTokens (validates the ID token)",
        "ok okta-auth-js getUserInfo (sub matches the ID token)",
        "ok jwt-verifier verifyIdToken with nonce",
        "ok okta-auth-js session.get and closeSession (/api/v1/sessions/me)",
        "all checks passed",
    ] {
        assert!(stdout.contains(check), "missing {check:?} in:\n{stdout}");
    }
}

#[tokio::test]
async fn oktas_management_sdk_provisions_users_groups_and_apps() {
    let test = "oktas_management_sdk_provisions_users_groups_and_apps";
    if !installed(test, &["@okta/okta-sdk-nodejs"]) {
        return;
    }
    // The SDK insists on an https org URL.
    let (idp, ca) = tls_mock().await;
    let org_url = idp.base_url().to_owned();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("management-sdk.mjs")
            .current_dir(node_dir())
            .env("NODE_EXTRA_CA_CERTS", &ca)
            .env("ORG_URL", org_url)
            .env("SSWS_TOKEN", "00mockIdpSswsApiToken7ms2Bx7dY2qLw9ZtR4vNc")
            .output()
            .expect("node runs (install nodejs)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "node checks failed:\n{stdout}\n{stderr}"
    );
    for check in [
        "ok userApi.createUser (activate, password)",
        "ok userApi.listUsers with search",
        "ok userApi.listUsers pages through Link",
        "ok groupApi.createGroup and assignUserToGroup",
        "ok applicationApi.assignUserToApplication and listApplicationUsers",
        "ok a wrong token is an OktaApiError E0000011",
        "all checks passed",
    ] {
        assert!(stdout.contains(check), "missing {check:?} in:\n{stdout}");
    }
}

/// Whether the npm packages are installed; without them the test says so and
/// stops, unless `OKTA_SDK_TESTS=required` makes their absence a failure.
#[allow(clippy::print_stderr)] // the SKIPPED line is the test's report
fn installed(test: &str, packages: &[&str]) -> bool {
    let dir = node_dir();
    if packages
        .iter()
        .all(|p| dir.join("node_modules").join(p).exists())
    {
        return true;
    }
    let message = format!(
        "{} not installed: run `npm ci --prefix {}` (needs the npm registry)",
        packages.join(", "),
        dir.display()
    );
    assert!(
        std::env::var("OKTA_SDK_TESTS").as_deref() != Ok("required"),
        "{message}"
    );
    eprintln!("SKIPPED {test}: {message}");
    false
}

/// A mock over https with a generated CA, and the CA's PEM file for NODE_EXTRA_CA_CERTS.
async fn tls_mock() -> (mock_idp::MockIdp, PathBuf) {
    let idp = mock_idp::MockIdp::builder()
        .tls(mock_idp::tls::TlsMode::Generated)
        .start()
        .await
        .expect("mock starts with TLS");
    let ca = tempfile_path("mock-idp-ca.pem");
    std::fs::write(&ca, idp.ca_pem().expect("generated CA")).unwrap();
    (idp, ca)
}

fn tempfile_path(name: &str) -> PathBuf {
    let unique = format!(
        "{}-{}-{name}",
        std::process::id(),
        mock_idp::ids::random_alphanumeric(8)
    );
    std::env::temp_dir().join(unique)
}
