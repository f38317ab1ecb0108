//! DPoP (RFC 9449) end to end: a DPoP-bound token from the real mock (client_credentials with
//! the nonce round trip), proofs made by PyJWT + cryptography (`peers/dpop_client.py`), calls
//! through the gateway; the clock is the mock's, moved by the test.

use std::time::Duration;

use gateway::GatewayHandle;
use gateway::beds::{self, BedsHandle};
use mock_idp::MockIdp;
use serde_json::{Value, json};

const SERVICE: &str = "0oa7ms2bedsvc000x7d1";
const SERVICE_SECRET: &str = "mock-idp-service-secret-Bx7dY2qLw9ZtR4vNc8Hs";

async fn start(identification: &str) -> (MockIdp, BedsHandle, GatewayHandle) {
    let idp = MockIdp::builder().start().await.unwrap();
    let beds = beds::start(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()).unwrap();
    let api = format!(
        r#"base_path = "/beds"
upstream = "{}"
identification = ["{identification}"]
dpop = "required"
resources = [{{ path = "/hospitals", methods = ["GET"] }}]
scopes = [{{ name = "Read", resources = [{{ path = "/hospitals", methods = ["GET"] }}] }}]"#,
        beds.url()
    );
    let toml = crate::faults::config_with_api(&idp.discovery_url(), &api);
    let gateway = crate::faults::build_from(&idp, &toml).await.unwrap();
    (idp, beds, gateway)
}

/// Runs `peers/dpop_client.py` against the mock and the gateway; its JSON summary.
async fn pyjwt_client(python: &str, idp: &MockIdp, gateway: &GatewayHandle) -> Value {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/gateway/peers/dpop_client.py");
    let mut cmd = std::process::Command::new(python);
    cmd.arg(script)
        .args([&idp.issuer(), SERVICE, SERVICE_SECRET, &gateway.url()]);
    let out = crate::tls::output(cmd).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "dpop_client.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap()
}

fn python_for(test: &str) -> Option<String> {
    let python = std::env::var("TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = std::process::Command::new(&python)
        .args(["-c", "import jwt, cryptography, requests"])
        .output()
        .is_ok_and(|o| o.status.success());
    if crate::tls::missing(
        test,
        (!ok).then_some("no Python with PyJWT, cryptography and requests (TEST_PYTHON)"),
    ) {
        return None;
    }
    Some(python)
}

/// What every refusal case answers, for local JWTs and for introspected tokens alike.
fn expected_cases() -> Value {
    let proof = json!([401, "DPoP", "invalid_dpop_proof"]);
    json!({
        "passes": [200, "", ""],
        "replayed_jti": proof,
        "wrong_htm": proof,
        "wrong_htu": proof,
        // RFC 9449 §4.3: htu is compared without its query.
        "query_not_in_htu": [200, "", ""],
        "wrong_ath": proof,
        "key_not_cnf_jkt": [401, "DPoP", "invalid_token"],
        "bearer_use_of_bound_token": [401, "Bearer", "invalid_token"],
        "no_proof": proof,
        "alg_none": proof,
        "hs256": proof,
    })
}

#[tokio::test]
async fn dpop_proofs_from_pyjwt_pass_and_bad_ones_are_refused_with_rfc_9449_errors() {
    let Some(python) = python_for("dpop_proofs_from_pyjwt_pass") else {
        return;
    };
    let (idp, _beds, gateway) = start("oauth2_local").await;
    let summary = pyjwt_client(&python, &idp, &gateway).await;
    assert_eq!(summary["seen"], expected_cases());

    // A stale iat: a proof made now, sent once the clock moved past the window.
    idp.clock().advance(Duration::from_secs(
        u64::try_from(::dpop::IAT_WINDOW).unwrap() + 1,
    ));
    let r = reqwest::Client::new()
        .get(summary["url"].as_str().unwrap())
        .header(
            "authorization",
            format!("DPoP {}", summary["token"].as_str().unwrap()),
        )
        .header("dpop", summary["held_proof"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let challenge = crate::harness::challenge(&r);
    assert!(
        challenge.starts_with("DPoP ") && challenge.contains("error=\"invalid_dpop_proof\""),
        "{challenge}"
    );
    assert!(
        challenge.contains("algs=\"ES256 ES384 RS256 PS256 EdDSA\""),
        "{challenge}"
    );
}

#[tokio::test]
async fn dpop_binding_is_read_from_the_introspection_answer_for_remote_tokens() {
    let Some(python) = python_for("dpop_binding_from_introspection") else {
        return;
    };
    let (idp, _beds, gateway) = start("oauth2_remote").await;
    let summary = pyjwt_client(&python, &idp, &gateway).await;
    assert_eq!(summary["seen"], expected_cases());
}

#[tokio::test]
async fn dpop_required_api_refuses_an_unbound_bearer_token_with_a_dpop_challenge() {
    let (idp, _beds, gateway) = start("oauth2_local").await;
    let r = reqwest::Client::new()
        .post(idp.token_endpoint())
        .basic_auth(SERVICE, Some(SERVICE_SECRET))
        .form(&[("grant_type", "client_credentials"), ("scope", "beds.read")])
        .send()
        .await
        .unwrap();
    let token: Value = r.json().await.unwrap();
    let r = reqwest::Client::new()
        .get(format!("{}/beds/hospitals", gateway.url()))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let challenge = crate::harness::challenge(&r);
    assert!(
        challenge.starts_with("DPoP ") && challenge.contains("error=\"invalid_token\""),
        "{challenge}"
    );
}
