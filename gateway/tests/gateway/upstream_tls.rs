//! `https://` upstreams against Debian's nginx serving TLS with certificates each test makes:
//! the certificate and host name are verified (against the API's CA bundle, or the system roots
//! when none is given), a wrong one is a 502 and never reaches the upstream, and a client
//! certificate is presented to an upstream that requires one (`ssl_verify_client on`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use gateway::GatewayHandle;
use mock_idp::MockIdp;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

use super::faults::{build_from, config};
use super::peers::peer_present;

const SERVICE: &str = "0oa7ms2bedsvc000x7d1";

pub(crate) fn nginx_binary() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// A CA that signs certificates for the tests.
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Self { issuer }
    }

    /// A certificate for `names` with CN `cn`: (certificate PEM, key PEM).
    fn issue(&self, cn: &str, names: &[&str]) -> (String, String) {
        let mut params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// nginx in the foreground with its own prefix directory; killed on drop.
pub(crate) struct Nginx {
    child: Child,
    dir: PathBuf,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Nginx {
    /// Starts nginx with these `server` blocks (paths relative to its directory, where
    /// `files` are written first) and waits for `ports` to accept.
    pub(crate) fn start(files: &[(&str, &str)], servers: &str, ports: &[u16]) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "gateway-nginx-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(dir.join("logs")).unwrap();
        for (name, content) in files {
            std::fs::write(dir.join(name), content).unwrap();
        }
        let d = dir.display();
        let conf = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/logs/error.log warn;\nevents {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n  \
             fastcgi_temp_path {d}/fcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n  \
             default_type text/plain;\n{servers}\n}}\n"
        );
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        let child = Command::new(nginx_binary().unwrap())
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-e")
            .arg(dir.join("logs/error.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let nginx = Self { child, dir };
        for port in ports {
            let mut up = false;
            for _ in 0..200 {
                if std::net::TcpStream::connect(("127.0.0.1", *port)).is_ok() {
                    up = true;
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(25));
            }
            assert!(up, "nginx did not listen on {port}: {}", nginx.log());
        }
        nginx
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("logs/error.log")).unwrap_or_default()
    }
}

/// A TLS `server` block on `port` with `cert`/`key` (file names) answering `body`.
fn tls_server(port: u16, cert: &str, key: &str, extra: &str, body: &str) -> String {
    format!(
        "  server {{\n    listen 127.0.0.1:{port} ssl;\n    ssl_certificate {cert};\n    \
         ssl_certificate_key {key};\n    {extra}\n    location / {{ return 200 \"{body}\"; }}\n  }}\n"
    )
}

/// The gateway in front of `upstream` (an `https://` URL), with `tls` as the API's
/// `upstream_tls` inline table (or none).
async fn gateway_for(idp: &MockIdp, upstream: &str, tls: Option<&str>) -> GatewayHandle {
    let mut toml = config(&idp.discovery_url(), upstream, "\"oauth2_local\"");
    if let Some(tls) = tls {
        toml = toml.replace(
            &format!("upstream = \"{upstream}\""),
            &format!("upstream = \"{upstream}\"\nupstream_tls = {tls}"),
        );
    }
    build_from(idp, &toml).await.unwrap()
}

async fn get(gateway: &GatewayHandle, token: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .get(format!("{}/beds/hospitals", gateway.url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// One nginx with three TLS servers: `good` (a certificate for localhost from `ca`), `misnamed`
/// (from `ca`, for another host) and `mtls` (`good`'s certificate, requiring a client
/// certificate from `client_ca`).
struct Bed {
    nginx: Nginx,
    good: u16,
    misnamed: u16,
    mtls: u16,
    ca: Ca,
    client_ca: Ca,
}

fn bed() -> Bed {
    let ca = Ca::new("upstream test CA");
    let client_ca = Ca::new("gateway client CA");
    let (cert, key) = ca.issue("localhost", &["localhost", "127.0.0.1"]);
    let (other_cert, other_key) = ca.issue("beds.other.example", &["beds.other.example"]);
    let (good, misnamed, mtls) = (free_port(), free_port(), free_port());
    let servers = [
        tls_server(
            good,
            "server.pem",
            "server.key",
            "",
            "verified over $ssl_protocol for $http_x_gateway_client_id",
        ),
        tls_server(misnamed, "other.pem", "other.key", "", "misnamed"),
        tls_server(
            mtls,
            "server.pem",
            "server.key",
            "ssl_verify_client on; ssl_client_certificate client-ca.pem;",
            "client $ssl_client_s_dn",
        ),
    ]
    .concat();
    let client_ca_pem = client_ca.pem();
    let nginx = Nginx::start(
        &[
            ("server.pem", &cert),
            ("server.key", &key),
            ("other.pem", &other_cert),
            ("other.key", &other_key),
            ("client-ca.pem", &client_ca_pem),
        ],
        &servers,
        &[good, misnamed, mtls],
    );
    Bed {
        nginx,
        good,
        misnamed,
        mtls,
        ca,
        client_ca,
    }
}

fn write(dir: &Path, name: &str, content: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p.display().to_string()
}

macro_rules! need_nginx {
    ($test:literal) => {
        if !peer_present($test, "nginx (/usr/sbin/nginx)", nginx_binary().is_some()) {
            return;
        }
    };
}

#[tokio::test]
async fn an_https_upstream_with_a_certificate_from_the_configured_ca_is_verified_and_reached() {
    need_nginx!(
        "an_https_upstream_with_a_certificate_from_the_configured_ca_is_verified_and_reached"
    );
    let bed = bed();
    let ca = write(&bed.nginx.dir, "ca.pem", &bed.ca.pem());
    let idp = MockIdp::builder().start().await.unwrap();
    let upstream = format!("https://localhost:{}", bed.good);
    let gateway = gateway_for(&idp, &upstream, Some(&format!("{{ ca_file = \"{ca}\" }}"))).await;
    let token = idp.mint_access_token(SERVICE, &["beds.read"]).unwrap();
    for _ in 0..3 {
        let (status, body) = get(&gateway, &token).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.starts_with("verified over TLSv1."), "{body}");
        assert!(
            body.ends_with(SERVICE),
            "identity headers pass over TLS: {body}"
        );
    }
    // Without a token nothing is forwarded, TLS or not.
    assert_eq!(get(&gateway, "x").await.0, 401);
}

#[tokio::test]
async fn an_https_upstream_signed_by_another_ca_is_a_502() {
    need_nginx!("an_https_upstream_signed_by_another_ca_is_a_502");
    let bed = bed();
    let stranger = write(&bed.nginx.dir, "stranger.pem", &Ca::new("another CA").pem());
    let idp = MockIdp::builder().start().await.unwrap();
    let token = idp.mint_access_token(SERVICE, &["beds.read"]).unwrap();
    let upstream = format!("https://localhost:{}", bed.good);
    let gateway = gateway_for(
        &idp,
        &upstream,
        Some(&format!("{{ ca_file = \"{stranger}\" }}")),
    )
    .await;
    let (status, body) = get(&gateway, &token).await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("bad_gateway"), "{body}");
    // Nor do the system roots trust a private CA: verification is the default.
    let gateway = gateway_for(&idp, &upstream, None).await;
    assert_eq!(get(&gateway, &token).await.0, 502);
    // Only `insecure_skip_verify`, spelled out, takes any certificate.
    let insecure = Some("{ insecure_skip_verify = true }");
    let gateway = gateway_for(&idp, &upstream, insecure).await;
    assert_eq!(get(&gateway, &token).await.0, 200);
}

#[tokio::test]
async fn an_https_upstream_whose_certificate_names_another_host_is_a_502() {
    need_nginx!("an_https_upstream_whose_certificate_names_another_host_is_a_502");
    let bed = bed();
    let ca = write(&bed.nginx.dir, "ca.pem", &bed.ca.pem());
    let idp = MockIdp::builder().start().await.unwrap();
    let token = idp.mint_access_token(SERVICE, &["beds.read"]).unwrap();
    let upstream = format!("https://localhost:{}", bed.misnamed);
    let tls = format!("{{ ca_file = \"{ca}\" }}");
    let gateway = gateway_for(&idp, &upstream, Some(&tls)).await;
    assert_eq!(get(&gateway, &token).await.0, 502);
    // The name the certificate does carry, given as the TLS server name, passes.
    let tls = format!("{{ ca_file = \"{ca}\", server_name = \"beds.other.example\" }}");
    let gateway = gateway_for(&idp, &upstream, Some(&tls)).await;
    let (status, body) = get(&gateway, &token).await;
    assert_eq!((status, body.as_str()), (200, "misnamed"));
}

#[tokio::test]
async fn a_client_certificate_is_presented_to_an_upstream_that_requires_one() {
    need_nginx!("a_client_certificate_is_presented_to_an_upstream_that_requires_one");
    let bed = bed();
    let dir = &bed.nginx.dir;
    let ca = write(dir, "ca.pem", &bed.ca.pem());
    let (cert, key) = bed.client_ca.issue("gateway-client", &["gateway.internal"]);
    let cert = write(dir, "client.pem", &cert);
    let key = write(dir, "client.key", &key);
    let idp = MockIdp::builder().start().await.unwrap();
    let token = idp.mint_access_token(SERVICE, &["beds.read"]).unwrap();
    let upstream = format!("https://localhost:{}", bed.mtls);
    let tls = format!(
        "{{ ca_file = \"{ca}\", client_certificate_file = \"{cert}\", client_key_file = \"{key}\" }}"
    );
    let gateway = gateway_for(&idp, &upstream, Some(&tls)).await;
    let (status, body) = get(&gateway, &token).await;
    assert_eq!((status, body.as_str()), (200, "client CN=gateway-client"));
    // Without it nginx refuses the request (its own 400), so the certificate is what passed.
    let gateway = gateway_for(&idp, &upstream, Some(&format!("{{ ca_file = \"{ca}\" }}"))).await;
    let (status, body) = get(&gateway, &token).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("No required SSL certificate"), "{body}");
}

/// An HTTP/2 request from the client (h2c with prior knowledge): status, body, trailers.
pub async fn h2_get(
    gateway: &GatewayHandle,
    path: &str,
    token: &str,
) -> (u16, String, http::HeaderMap) {
    use http_body_util::BodyExt as _;
    let tcp = tokio::net::TcpStream::connect(gateway.local_addr())
        .await
        .unwrap();
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    let req = http::Request::get(format!("http://{}{path}", gateway.local_addr()))
        .header("authorization", format!("Bearer {token}"))
        .header("te", "trailers")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let response = sender.send_request(req).await.unwrap();
    let status = response.status().as_u16();
    let collected = response.into_body().collect().await.unwrap();
    let trailers = collected.trailers().cloned().unwrap_or_default();
    let body = String::from_utf8(collected.to_bytes().to_vec()).unwrap();
    (status, body, trailers)
}

#[tokio::test]
async fn an_https_upstream_offering_http2_by_alpn_is_spoken_to_in_http2_with_trailers_relayed() {
    need_nginx!(
        "an_https_upstream_offering_http2_by_alpn_is_spoken_to_in_http2_with_trailers_relayed"
    );
    let ca = Ca::new("upstream test CA");
    let (cert, key) = ca.issue("localhost", &["localhost"]);
    let port = free_port();
    let server = format!(
        "  server {{\n    listen 127.0.0.1:{port} ssl http2;\n    ssl_certificate server.pem;\n    \
         ssl_certificate_key server.key;\n    location / {{\n      \
         add_trailer x-upstream-checksum \"c0ffee\" always;\n      \
         return 200 \"$server_protocol for $http_x_gateway_client_id\";\n    }}\n  }}\n"
    );
    let nginx = Nginx::start(
        &[("server.pem", &cert), ("server.key", &key)],
        &server,
        &[port],
    );
    let ca = write(&nginx.dir, "ca.pem", &ca.pem());
    let idp = MockIdp::builder().start().await.unwrap();
    let token = idp.mint_access_token(SERVICE, &["beds.read"]).unwrap();
    let upstream = format!("https://localhost:{port}");
    let gateway = gateway_for(&idp, &upstream, Some(&format!("{{ ca_file = \"{ca}\" }}"))).await;
    for _ in 0..2 {
        let (status, body, trailers) = h2_get(&gateway, "/beds/hospitals", &token).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, format!("HTTP/2.0 for {SERVICE}"));
        assert_eq!(trailers.get("x-upstream-checksum").unwrap(), "c0ffee");
    }
    // HTTP/1.1 clients get the same answer (trailers are HTTP/2's here).
    assert_eq!(
        get(&gateway, &token).await.1,
        format!("HTTP/2.0 for {SERVICE}")
    );
    // `upstream_protocol = "http1"` offers HTTP/1.1 only.
    let toml = config(&idp.discovery_url(), &upstream, "\"oauth2_local\"").replace(
        &format!("upstream = \"{upstream}\""),
        &format!("upstream = \"{upstream}\"\nupstream_protocol = \"http1\"\nupstream_tls = {{ ca_file = \"{ca}\" }}"),
    );
    let http1 = build_from(&idp, &toml).await.unwrap();
    let (status, body) = get(&http1, &token).await;
    assert_eq!((status, body), (200, format!("HTTP/1.1 for {SERVICE}")));
}
