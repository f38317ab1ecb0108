//! The proxy port over TLS (`[tls]`), with real clients: curl, Python (`ssl`, and httpx with
//! HTTP/2) and rustls. Certificates are made here by a test CA.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use gateway::GatewayHandle;
use mock_idp::MockIdp;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SignatureAlgorithm,
};
use serde_json::Value;

use crate::harness::Echo;
use crate::listener::TempDir;

const SERVICE: &str = "0oa7ms2bedsvc000x7d1";

/// A test CA and the files it issues.
pub struct Pki {
    pub dir: TempDir,
    ca: CertifiedIssuer<'static, KeyPair>,
    pub ca_file: PathBuf,
}

impl Pki {
    pub fn new() -> Self {
        let dir = TempDir::new("tls");
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "gateway test CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let ca_file = dir.0.join("ca.pem");
        std::fs::write(&ca_file, ca.pem()).unwrap();
        Self { dir, ca, ca_file }
    }

    fn issue(
        &self,
        file: &str,
        names: &[&str],
        cn: &str,
        alg: &'static SignatureAlgorithm,
        usage: ExtendedKeyUsagePurpose,
    ) -> (PathBuf, PathBuf) {
        let mut params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Hospital");
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate_for(alg).unwrap();
        let cert = params.signed_by(&key, &self.ca).unwrap();
        let (cert_file, key_file) = self.paths(file);
        // Written whole and renamed over, as cert-manager and certbot do.
        write_atomically(&cert_file, &format!("{}{}", cert.pem(), self.ca.pem()));
        write_atomically(&key_file, &key.serialize_pem());
        (cert_file, key_file)
    }

    /// A server certificate for `names` (DNS names or IP addresses) with an `alg` key.
    pub fn server(
        &self,
        file: &str,
        names: &[&str],
        alg: &'static SignatureAlgorithm,
    ) -> (PathBuf, PathBuf) {
        self.issue(
            file,
            names,
            names[0],
            alg,
            ExtendedKeyUsagePurpose::ServerAuth,
        )
    }

    /// A client certificate with subject `CN=cn, O=Hospital`.
    pub fn client(&self, file: &str, cn: &str) -> (PathBuf, PathBuf) {
        self.issue(
            file,
            &[],
            cn,
            &rcgen::PKCS_ECDSA_P256_SHA256,
            ExtendedKeyUsagePurpose::ClientAuth,
        )
    }

    pub fn paths(&self, file: &str) -> (PathBuf, PathBuf) {
        (
            self.dir.0.join(format!("{file}.pem")),
            self.dir.0.join(format!("{file}.key")),
        )
    }

    /// `[[tls.certificates]]` for `file`.
    pub fn entry(&self, file: &str) -> String {
        let (c, k) = self.paths(file);
        format!(
            "[[tls.certificates]]\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
            c.display(),
            k.display()
        )
    }
}

fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// A gateway over the faults tests' configuration with `tls` (the `[tls]` table and its
/// certificates), in front of `upstream`.
pub async fn tls_gateway(
    idp: &MockIdp,
    upstream: &str,
    settings: &str,
    tls: &str,
) -> GatewayHandle {
    crate::faults::build_with(idp, upstream, "\"oauth2_local\"", settings, tls)
        .await
        .unwrap()
}

/// The mock, the backend, and a gateway with `tls` (the `[tls]` table's keys, or "") and a
/// certificate for `localhost`.
async fn localhost_stack(tls: &str) -> (MockIdp, gateway::beds::BedsHandle, Pki, GatewayHandle) {
    let idp = MockIdp::builder().start().await.unwrap();
    let beds = crate::listener::beds_server().await;
    let pki = Pki::new();
    pki.server("main", &["localhost"], &rcgen::PKCS_ECDSA_P256_SHA256);
    let gw = tls_gateway(
        &idp,
        &beds.url(),
        "",
        &format!("{tls}{}", pki.entry("main")),
    )
    .await;
    (idp, beds, pki, gw)
}

/// The Python interpreter with httpx (`TEST_PYTHON`, else `python3`), or why there is none.
fn python() -> Option<String> {
    let python = std::env::var("TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&python)
        .args(["-c", "import httpx, h2"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then_some(python)
}

/// The Python interpreter with httpx, or `None` after [`missing`] said why.
fn python_for(test: &str) -> Option<String> {
    let python = python();
    if missing(
        test,
        python
            .is_none()
            .then_some("no Python with httpx and h2 (TEST_PYTHON)"),
    ) {
        return None;
    }
    python
}

/// Whether a peer the test needs is missing: prints `SKIPPED`, or fails under
/// `PEER_TESTS=required`.
#[allow(clippy::print_stderr)]
pub(crate) fn missing(test: &str, what: Option<&str>) -> bool {
    let Some(what) = what else { return false };
    assert!(
        std::env::var("PEER_TESTS").as_deref() != Ok("required"),
        "{test}: {what} (PEER_TESTS=required)"
    );
    eprintln!("SKIPPED {test}: {what}");
    true
}

fn curl_missing() -> Option<&'static str> {
    (!Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success()))
    .then_some("curl is not installed")
}

/// Runs `cmd` off the runtime (the gateway under test runs on it).
pub(crate) async fn output(mut cmd: Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// Runs `tls_client.py` and returns its JSON answer.
async fn py(python: &str, args: &[&str]) -> Value {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/gateway/peers/tls_client.py"
    );
    let mut cmd = Command::new(python);
    cmd.arg(script).args(args);
    let out = output(cmd).await;
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "tls_client.py: {} {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// curl against `https://localhost:PORT{path}` with `args`: (exit code, stdout, stderr).
async fn curl(gw: &GatewayHandle, pki: &Pki, path: &str, args: &[&str]) -> (i32, String, String) {
    let port = gw.local_addr().port();
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "-v", "--max-time", "10", "--cacert"])
        .arg(&pki.ca_file)
        .arg("--resolve")
        .arg(format!("localhost:{port}:127.0.0.1"))
        .args(args)
        .arg(format!("https://localhost:{port}{path}"));
    let out = output(cmd).await;
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn tls_metrics(gw: &GatewayHandle, pki: &Pki) -> String {
    curl(gw, pki, "/metrics", &[]).await.1
}

/// The counter `name{labels}` in `metrics`, 0 when absent.
pub fn counter(metrics: &str, series: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0)
}

/// curl over TLS 1.3 and 1.2, offered h2 and http/1.1 by ALPN: every combination is served,
/// a proxied request with a token included.
#[tokio::test]
async fn curl_is_served_over_tls13_and_tls12_with_alpn_h2_and_http11() {
    if missing(
        "curl_is_served_over_tls13_and_tls12_with_alpn_h2_and_http11",
        curl_missing(),
    ) {
        return;
    }
    let (idp, _beds, pki, gw) = localhost_stack("").await;
    let token = idp.mint_access_token(SERVICE, &["beds.read"]).unwrap();
    let auth = format!("Authorization: Bearer {token}");
    for (version, max, alpn, want) in [
        ("--tlsv1.3", "1.3", "--http2", "2"),
        ("--tlsv1.3", "1.3", "--http1.1", "1.1"),
        ("--tlsv1.2", "1.2", "--http2", "2"),
        ("--tlsv1.2", "1.2", "--http1.1", "1.1"),
    ] {
        let (code, out, err) = curl(
            &gw,
            &pki,
            "/beds/hospitals",
            &[
                version,
                "--tls-max",
                max,
                alpn,
                "-H",
                &auth,
                "-o",
                "/dev/null",
                "-w",
                "%{http_code} %{http_version}",
            ],
        )
        .await;
        assert_eq!(code, 0, "{version} {alpn}: {err}");
        assert_eq!(out, format!("200 {want}"), "{version} {alpn}");
        assert!(err.contains(&format!("TLSv{max}")), "{version}: {err}");
    }
    // Plain HTTP on the TLS port is not served (no sniffing), and never reaches the upstream.
    let plain = reqwest::Client::new()
        .get(format!("http://{}/health", gw.local_addr()))
        .send()
        .await;
    assert!(plain.is_err(), "plain HTTP answered on the TLS port");
    let m = tls_metrics(&gw, &pki).await;
    assert!(
        counter(
            &m,
            "gateway_tls_handshakes_total{listener=\"proxy\",result=\"error\"}"
        ) >= 1,
        "{m}"
    );
}

/// SNI picks the certificate (RSA, ECDSA and Ed25519 keys; an exact name or a wildcard), the
/// first one for a client that sends no name; Python's `ssl` checks each against the CA and
/// resumes sessions, and httpx speaks HTTP/2 through it.
#[tokio::test]
async fn sni_picks_the_certificate_sessions_resume_and_httpx_speaks_http2() {
    let Some(python) =
        python_for("sni_picks_the_certificate_sessions_resume_and_httpx_speaks_http2")
    else {
        return;
    };
    let idp = MockIdp::builder().start().await.unwrap();
    let beds = crate::listener::beds_server().await;
    let pki = Pki::new();
    pki.server(
        "rsa",
        &["localhost", "127.0.0.1", "a.test"],
        &rcgen::PKCS_RSA_SHA256,
    );
    pki.server("ecdsa", &["b.test"], &rcgen::PKCS_ECDSA_P384_SHA384);
    pki.server("ed25519", &["*.c.test"], &rcgen::PKCS_ED25519);
    let tls = [pki.entry("rsa"), pki.entry("ecdsa"), pki.entry("ed25519")].concat();
    let gw = tls_gateway(&idp, &beds.url(), "", &tls).await;
    let port = gw.local_addr().port().to_string();
    let ca = pki.ca_file.to_str().unwrap();
    for (sni, san) in [
        ("a.test", "a.test"),
        ("b.test", "b.test"),
        ("x.c.test", "*.c.test"),
        // An IP address is sent as no SNI at all: the default (first) certificate.
        ("127.0.0.1", "localhost"),
    ] {
        let r = py(&python, &["handshake", "127.0.0.1", &port, sni, ca]).await;
        assert!(
            r["san"]
                .as_array()
                .is_some_and(|s| s.iter().any(|n| n == san)),
            "{sni}: {r}"
        );
        assert_eq!(r["version"], "TLSv1.3", "{sni}: {r}");
        assert_eq!(r["alpn"], "h2", "{sni}: {r}");
    }
    let r = py(
        &python,
        &["handshake", "127.0.0.1", &port, "b.test", ca, "1.2"],
    )
    .await;
    assert_eq!(r["version"], "TLSv1.2", "{r}");
    let token = idp.mint_access_token(SERVICE, &["beds.read"]).unwrap();
    let url = format!("https://localhost:{port}/beds/hospitals");
    let r = py(&python, &["get", &url, ca, &token]).await;
    assert_eq!(r["status"], 200, "{r}");
    assert_eq!(r["http_version"], "HTTP/2", "{r}");
    let r = py(&python, &["get", &url, ca, "not-a-token"]).await;
    assert_eq!(r["status"], 401, "{r}");
}

/// A renewed certificate (files replaced, as certbot or cert-manager do) is served within
/// seconds without a restart, while a connection opened before keeps working; a broken file
/// (on SIGHUP, i.e. a reload) keeps the current certificate, and the failure is counted.
#[tokio::test]
async fn a_renewed_certificate_is_served_without_restart_and_a_broken_one_keeps_the_old() {
    let Some(python) = python_for(
        "a_renewed_certificate_is_served_without_restart_and_a_broken_one_keeps_the_old",
    ) else {
        return;
    };
    let idp = MockIdp::builder().start().await.unwrap();
    let beds = crate::listener::beds_server().await;
    let pki = Pki::new();
    pki.server(
        "main",
        &["localhost", "first.test"],
        &rcgen::PKCS_ECDSA_P256_SHA256,
    );
    let toml = format!(
        "{}\n{}",
        crate::faults::config(&idp.discovery_url(), &beds.url(), "\"oauth2_local\""),
        pki.entry("main")
    );
    let gw = tls_gateway(&idp, &beds.url(), "", &pki.entry("main")).await;
    let port = gw.local_addr().port().to_string();
    let ca = pki.ca_file.to_str().unwrap().to_owned();
    let served = |python: String, port: String, ca: String| async move {
        py(
            &python,
            &["handshake", "127.0.0.1", &port, "localhost", &ca],
        )
        .await["san"]
            .clone()
    };
    assert_eq!(
        served(python.clone(), port.clone(), ca.clone()).await,
        serde_json::json!(["localhost", "first.test"])
    );
    // A kept-alive connection, opened before the renewal.
    let client = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(&pki.ca_file).unwrap()).unwrap(),
        )
        .resolve("localhost", gw.local_addr())
        .build()
        .unwrap();
    let url = format!("https://localhost:{port}/health");
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    pki.server("main", &["localhost", "renewed.test"], &rcgen::PKCS_ED25519);
    // Picked up by the file poll (every 2 s): no signal, no restart.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while served(python.clone(), port.clone(), ca.clone()).await
        != serde_json::json!(["localhost", "renewed.test"])
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the renewed certificate was not served"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    // A broken file: the reload (what SIGHUP does) keeps the renewed certificate.
    let (cert_file, _) = pki.paths("main");
    write_atomically(
        &cert_file,
        "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n",
    );
    let config = gateway::config::Config::from_toml(&toml, &|_: &str| None).unwrap();
    gw.reloader().reload(config).await.unwrap();
    assert_eq!(
        served(python.clone(), port.clone(), ca.clone()).await,
        serde_json::json!(["localhost", "renewed.test"])
    );
    let m = client
        .get(format!("https://localhost:{port}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        counter(
            &m,
            "gateway_tls_certificate_reloads_total{listener=\"proxy\",result=\"error\"}"
        ) >= 1,
        "{m}"
    );
}

/// `client_auth = "required"`: a client without a certificate from the CA fails the handshake
/// (curl and httpx alike); one with it is served.
#[tokio::test]
async fn mtls_required_refuses_clients_without_a_certificate_and_serves_those_with_one() {
    let python = python();
    let skip = curl_missing().or(python
        .is_none()
        .then_some("no Python with httpx and h2 (TEST_PYTHON)"));
    if missing(
        "mtls_required_refuses_clients_without_a_certificate_and_serves_those_with_one",
        skip,
    ) {
        return;
    }
    let python = python.unwrap();
    let idp = MockIdp::builder().start().await.unwrap();
    let echo = Echo::start().await;
    let pki = Pki::new();
    pki.server("main", &["localhost"], &rcgen::PKCS_ECDSA_P256_SHA256);
    let (cert, key) = pki.client("client", "beds-service");
    let other = Pki::new();
    let (stranger, stranger_key) = other.client("stranger", "stranger");
    let tls = format!(
        "[tls]\nclient_auth = \"required\"\nclient_ca_file = \"{}\"\n{}",
        pki.ca_file.display(),
        pki.entry("main")
    );
    let gw = tls_gateway(&idp, &echo.url(), "", &tls).await;
    let token = idp.mint_access_token(SERVICE, &["beds.read"]).unwrap();
    let auth = format!("Authorization: Bearer {token}");
    // None, another CA's, then the CA's own.
    for (identity, served) in [
        (None, false),
        (Some((&stranger, &stranger_key)), false),
        (Some((&cert, &key)), true),
    ] {
        let mut args = vec!["-H", &auth, "-o", "/dev/null", "-w", "%{http_code}"];
        if let Some((c, k)) = identity {
            args.extend(["--cert", c.to_str().unwrap(), "--key", k.to_str().unwrap()]);
        }
        let (code, out, err) = curl(&gw, &pki, "/beds/hospitals", &args).await;
        if served {
            assert_eq!((code, out.as_str()), (0, "200"), "{err}");
        } else {
            assert_ne!(code, 0, "served with {identity:?}: {err}");
        }
    }
    let port = gw.local_addr().port();
    let url = format!("https://localhost:{port}/beds/hospitals");
    let ca = pki.ca_file.to_str().unwrap();
    let r = py(&python, &["get", &url, ca, &token]).await;
    assert!(r.get("error").is_some(), "{r}");
    let r = py(
        &python,
        &[
            "get",
            &url,
            ca,
            &token,
            cert.to_str().unwrap(),
            key.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(r["status"], 200, "{r}");
    // Refused handshakes never reached the upstream.
    assert_eq!(echo.received.load(std::sync::atomic::Ordering::SeqCst), 2);
}

/// A client that opens a TLS connection and never finishes its handshake is closed after
/// `handshake_timeout_seconds` (counted in `/metrics`), like a slowloris head.
#[tokio::test]
async fn a_stalled_tls_handshake_is_closed_after_its_timeout() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    if missing(
        "a_stalled_tls_handshake_is_closed_after_its_timeout",
        curl_missing(),
    ) {
        return;
    }
    let (_idp, _beds, pki, gw) = localhost_stack("[tls]\nhandshake_timeout_seconds = 1\n").await;
    let mut c = tokio::net::TcpStream::connect(gw.local_addr())
        .await
        .unwrap();
    // The first bytes of a ClientHello record, then nothing.
    c.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00]).await.unwrap();
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(15), c.read_to_end(&mut buf)).await;
    assert!(closed.is_ok(), "the stalled handshake was not closed");
    let m = tls_metrics(&gw, &pki).await;
    assert_eq!(
        counter(
            &m,
            "gateway_tls_handshakes_total{listener=\"proxy\",result=\"timeout\"}"
        ),
        1,
        "{m}"
    );
}

/// A certificate file that cannot be loaded at start is a configuration error naming its key.
#[tokio::test]
async fn a_broken_certificate_at_start_is_refused_naming_its_key() {
    let idp = MockIdp::builder().start().await.unwrap();
    let pki = Pki::new();
    pki.server("good", &["localhost"], &rcgen::PKCS_ECDSA_P256_SHA256);
    pki.server("bad", &["b.test"], &rcgen::PKCS_ECDSA_P256_SHA256);
    let (_, bad_key) = pki.paths("bad");
    // Another certificate's key: it does not match.
    let (_, good_key) = pki.paths("good");
    std::fs::copy(&good_key, &bad_key).unwrap();
    let toml = format!(
        "{}\n{}{}",
        crate::faults::config(
            &idp.discovery_url(),
            "http://127.0.0.1:9",
            "\"oauth2_local\""
        ),
        pki.entry("good"),
        pki.entry("bad")
    );
    let config = gateway::config::Config::from_toml(&toml, &|_: &str| None).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let e = gateway::Gateway::build(config, listener).await.unwrap_err();
    assert!(e.to_string().contains("tls.certificates[1]"), "{e}");
}

/// `gateway demo --tls`: HTTPS with a CA made for the run, and the printed curl lines (with
/// `--cacert`) work as pasted.
#[cfg(feature = "demo")]
#[tokio::test]
async fn demo_tls_serves_https_and_prints_curl_lines_with_cacert() {
    if missing(
        "demo_tls_serves_https_and_prints_curl_lines_with_cacert",
        curl_missing(),
    ) {
        return;
    }
    let demo = gateway::demo::start_with("127.0.0.1:0".parse().unwrap(), true)
        .await
        .unwrap();
    assert!(
        demo.gateway.url().starts_with("https://"),
        "{}",
        demo.gateway.url()
    );
    let text = demo.instructions();
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("curl") && l.contains("/hospitals'") && !l.contains("POST"))
        .unwrap_or_else(|| panic!("no curl line: {text}"));
    let ca = demo.ca_file.clone().unwrap();
    assert!(
        line.contains(&format!("--cacert '{}'", ca.display())),
        "{line}"
    );
    let token = demo
        .idp
        .mint_access_token(&demo.service.id, &["beds.read"])
        .unwrap();
    let mut cmd = Command::new("sh");
    cmd.args(["-c", line]).env("TOKEN", &token);
    let out = output(cmd).await;
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{line}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(body.contains("st-marys"), "{body}");
    demo.shutdown().await.unwrap();
    assert!(
        !ca.exists(),
        "the demo's certificate files are removed when it stops"
    );
}

/// `client_auth = "optional"`: clients without a certificate are served, but an API with
/// `require_client_certificate` refuses them with RFC 8705's 401 `invalid_token`, and
/// serves a client whose certificate the CA issued.
#[tokio::test]
async fn mtls_optional_lets_an_api_require_a_client_certificate() {
    let idp = MockIdp::builder().start().await.unwrap();
    let echo = Echo::start().await;
    let pki = Pki::new();
    pki.server("main", &["localhost"], &rcgen::PKCS_ECDSA_P256_SHA256);
    let (cert, key) = pki.client("client", "beds-service");
    let toml = format!(
        "{}\n[tls]\nclient_auth = \"optional\"\nclient_ca_file = \"{}\"\n{}",
        crate::faults::config(&idp.discovery_url(), &echo.url(), "\"oauth2_local\"").replacen(
            "identification = [\"oauth2_local\"]",
            "identification = [\"oauth2_local\"]\nrequire_client_certificate = true",
            1
        ),
        pki.ca_file.display(),
        pki.entry("main")
    );
    let config = gateway::config::Config::from_toml(&toml, &|_: &str| None).unwrap();
    let clock = idp.clock().clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gw = gateway::Gateway::builder(config)
        .clock(move || u64::try_from(clock.now()).unwrap())
        .build(listener)
        .await
        .unwrap();
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&pki.ca_file).unwrap()).unwrap();
    let url = format!(
        "https://localhost:{}/beds/hospitals",
        gw.local_addr().port()
    );
    let token = idp.mint_access_token(SERVICE, &["beds.read"]).unwrap();
    let anonymous = reqwest::Client::builder()
        .add_root_certificate(ca.clone())
        .resolve("localhost", gw.local_addr())
        .build()
        .unwrap();
    let r = anonymous
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let challenge = crate::harness::challenge(&r);
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert!(challenge.contains("client certificate"), "{challenge}");
    // The gateway's own paths need none.
    let r = anonymous
        .get(format!(
            "https://localhost:{}/health",
            gw.local_addr().port()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let identity = reqwest::Identity::from_pem(
        &[std::fs::read(&cert).unwrap(), std::fs::read(&key).unwrap()].concat(),
    )
    .unwrap();
    let with_cert = reqwest::Client::builder()
        .add_root_certificate(ca)
        .identity(identity)
        .resolve("localhost", gw.local_addr())
        .build()
        .unwrap();
    let r = with_cert
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(echo.received.load(std::sync::atomic::Ordering::SeqCst), 1);
}

/// `[admin.tls]`: the admin port serves HTTPS with the same code (and plain HTTP is not
/// answered there), while the proxy port stays plain.
#[tokio::test]
async fn the_admin_port_serves_https_with_admin_tls() {
    const TOKEN: &str = "tls-test-admin-token-0123456789";
    let idp = MockIdp::builder().start().await.unwrap();
    let beds = crate::listener::beds_server().await;
    let pki = Pki::new();
    pki.server("admin", &["127.0.0.1"], &rcgen::PKCS_ECDSA_P256_SHA256);
    let toml = format!(
        "{}\n[admin]\ntoken = \"{TOKEN}\"\n{}",
        crate::faults::config(&idp.discovery_url(), &beds.url(), "\"oauth2_local\""),
        pki.entry("admin").replace("[[tls.", "[[admin.tls.")
    );
    let config = gateway::config::Config::from_toml(&toml, &|_: &str| None).unwrap();
    let mut opts = gateway::admin::RuntimeOptions::new(Arc::new(gateway::store::Store::memory()));
    opts.admin = Some((
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        gateway::secret::Secret::new(TOKEN),
    ));
    let clock = idp.clock().clone();
    let gw = gateway::Gateway::builder(config)
        .clock(move || u64::try_from(clock.now()).unwrap())
        .runtime(opts)
        .build(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
        .await
        .unwrap();
    let admin = gw.admin_url().unwrap();
    assert!(admin.starts_with("https://"), "{admin}");
    assert!(gw.url().starts_with("http://"), "{}", gw.url());
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&pki.ca_file).unwrap()).unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let r = http
        .get(format!("{admin}/admin/v1/apis"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let plain = reqwest::Client::new()
        .get(admin.replacen("https://", "http://", 1) + "/admin/v1/apis")
        .bearer_auth(TOKEN)
        .send()
        .await;
    assert!(plain.is_err(), "plain HTTP answered on the admin TLS port");
}

/// `gateway check-config` loads the certificate files as `run` would, so a key that does not
/// match its certificate is found before a deployment, named by its key.
#[test]
fn check_config_loads_the_certificates_and_names_a_broken_one() {
    let pki = Pki::new();
    pki.server("good", &["localhost"], &rcgen::PKCS_ECDSA_P256_SHA256);
    pki.server("bad", &["b.test"], &rcgen::PKCS_ECDSA_P256_SHA256);
    let file = pki.dir.0.join("gateway.toml");
    let write = |entries: &str| {
        std::fs::write(
            &file,
            format!(
                "{}\n{entries}",
                crate::faults::config(
                    "http://127.0.0.1:9/d",
                    "http://127.0.0.1:9",
                    "\"oauth2_local\""
                )
            ),
        )
        .unwrap();
    };
    let check = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
            .arg("check-config")
            .arg(&file)
            .output()
            .unwrap()
    };
    write(&[pki.entry("good"), pki.entry("bad")].concat());
    assert!(check().status.success());
    std::fs::copy(pki.paths("good").1, pki.paths("bad").1).unwrap();
    let out = check();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(stderr.contains("tls.certificates[1]"), "{stderr}");
}
