//! HTTPS: a generated CA, issuers on https, clients that trust the CA.

use serde_json::Value;

#[tokio::test]
async fn https_with_a_generated_ca_serves_https_issuers() {
    let idp = mock_idp::MockIdp::builder()
        .tls(mock_idp::tls::TlsMode::Generated)
        .start()
        .await
        .unwrap();
    let ca = reqwest::Certificate::from_pem(idp.ca_pem().unwrap().as_bytes()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let doc: Value = client
        .get(idp.discovery_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        doc["issuer"]
            .as_str()
            .unwrap()
            .starts_with("https://localhost:")
    );
    assert!(doc["jwks_uri"].as_str().unwrap().starts_with("https://"));
    // Without the CA, the certificate is not trusted.
    let untrusted = reqwest::Client::new().get(idp.discovery_url()).send().await;
    assert!(untrusted.is_err());
    // And plain http to the TLS port fails.
    let plain = reqwest::Client::new()
        .get(format!("http://{}/oauth2/default/v1/keys", idp.addr()))
        .send()
        .await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
}

#[tokio::test]
async fn https_with_certificate_files_from_the_configuration() {
    let material = mock_idp::tls::generate(&["localhost".to_owned()]).unwrap();
    let dir = std::env::temp_dir().join(format!(
        "mock-idp-tls-{}",
        mock_idp::ids::random_alphanumeric(8)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("cert.pem"), &material.cert_chain_pem).unwrap();
    std::fs::write(dir.join("key.pem"), material.key_pem.expose()).unwrap();
    let idp = mock_idp::MockIdp::builder()
        .tls(mock_idp::tls::TlsMode::Files {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        })
        .start()
        .await
        .unwrap();
    assert!(idp.ca_pem().is_none(), "no CA of its own with given files");
    let ca = reqwest::Certificate::from_pem(material.ca_pem.unwrap().as_bytes()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    assert_eq!(
        client.get(idp.jwks_uri()).send().await.unwrap().status(),
        200
    );
}
