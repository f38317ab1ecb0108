//! Certificate-bound access tokens (RFC 8705 §3) over the real TLS listener with mTLS: a token
//! whose `cnf.x5t#S256` names a client certificate passes only on a connection that presented
//! that certificate.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mock_idp::MockIdp;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::harness::Echo;
use crate::tls::Pki;

const SERVICE: &str = "0oa7ms2bedsvc000x7d1";

/// RFC 8705's `x5t#S256` of the leaf in a PEM chain.
fn thumbprint(chain: &std::path::Path) -> String {
    let pems = pem::parse_many(std::fs::read(chain).unwrap()).unwrap();
    URL_SAFE_NO_PAD.encode(Sha256::digest(pems[0].contents()))
}

fn client_with(pki: &Pki, gw: &gateway::GatewayHandle, file: Option<&str>) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&pki.ca_file).unwrap()).unwrap();
    let mut builder = reqwest::Client::builder()
        .add_root_certificate(ca)
        .resolve("localhost", gw.local_addr());
    if let Some(file) = file {
        let (cert, key) = pki.paths(file);
        let pem = [std::fs::read(cert).unwrap(), std::fs::read(key).unwrap()].concat();
        builder = builder.identity(reqwest::Identity::from_pem(&pem).unwrap());
    }
    builder.build().unwrap()
}

#[tokio::test]
async fn certificate_bound_token_passes_only_with_its_client_certificate() {
    let idp = MockIdp::builder().start().await.unwrap();
    let echo = Echo::start().await;
    let pki = Pki::new();
    pki.server("main", &["localhost"], &rcgen::PKCS_ECDSA_P256_SHA256);
    let (bound_cert, _) = pki.client("bound", "beds-service");
    pki.client("other", "another-service");
    let toml = format!(
        "{}\n[tls]\nclient_auth = \"optional\"\nclient_ca_file = \"{}\"\n{}",
        crate::faults::config(&idp.discovery_url(), &echo.url(), "\"oauth2_local\""),
        pki.ca_file.display(),
        pki.entry("main")
    );
    let gw = crate::faults::build_from(&idp, &toml).await.unwrap();
    let request: mock_idp::test_tokens::TestTokenRequest = serde_json::from_value(json!({
        "client_id": SERVICE,
        "scopes": ["beds.read"],
        "claims": { "cnf": { "x5t#S256": thumbprint(&bound_cert) } },
    }))
    .unwrap();
    let bound = idp.mint_test_token(&request).unwrap();
    let url = format!(
        "https://localhost:{}/beds/hospitals",
        gw.local_addr().port()
    );
    let call = |client: reqwest::Client, token: String| {
        let url = url.clone();
        async move { client.get(url).bearer_auth(token).send().await.unwrap() }
    };

    let r = call(client_with(&pki, &gw, Some("bound")), bound.clone()).await;
    assert_eq!(r.status(), 200);
    for client in [
        client_with(&pki, &gw, Some("other")),
        client_with(&pki, &gw, None),
    ] {
        let r = call(client, bound.clone()).await;
        assert_eq!(r.status(), 401);
        let challenge = crate::harness::challenge(&r);
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
        assert!(challenge.contains("client certificate"), "{challenge}");
    }
    // An unbound token needs no certificate.
    let plain = idp.mint_access_token(SERVICE, &["beds.read"]).unwrap();
    assert_eq!(
        call(client_with(&pki, &gw, None), plain).await.status(),
        200
    );
    assert_eq!(echo.received.load(std::sync::atomic::Ordering::SeqCst), 2);
}
