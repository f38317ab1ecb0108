//! `gateway demo`: the mock Okta server (library), the `CheckBedAvailability` backend and the
//! gateway in one process, configured from `fixtures/gateway/demo.toml` (embedded), plus the
//! commands to try it.

use std::net::SocketAddr;

use anyhow::Context as _;
use mock_idp::MockIdp;
use tokio::net::TcpListener;

use crate::beds::{self, BedsHandle};
use crate::config::Config;
use crate::{Gateway, GatewayHandle};

/// The demo's gateway configuration.
pub const DEMO_CONFIG: &str = include_str!("../../fixtures/gateway/demo.toml");

/// Where the browser is sent back after sign-in (a redirect URI of the mock's web client).
pub const REDIRECT_URI: &str = "http://localhost:8080/authorization-code/callback";

/// A client of the mock server.
#[derive(Debug, Clone)]
pub struct DemoClient {
    /// Client id.
    pub id: String,
    /// Client secret.
    pub secret: crate::secret::Secret,
}

/// The three running parts.
#[derive(Debug)]
pub struct Demo {
    /// The mock Okta server.
    pub idp: MockIdp,
    /// The backend.
    pub beds: BedsHandle,
    /// The gateway.
    pub gateway: GatewayHandle,
    /// The confidential service client (client_credentials).
    pub service: DemoClient,
    /// The web client (authorization code).
    pub web: DemoClient,
    /// The admin API's token (random per run); the admin API listens on the gateway's port + 1.
    pub admin_token: crate::secret::Secret,
    /// With `--tls`: the local CA's certificate (PEM file) that clients trust.
    pub ca_file: Option<std::path::PathBuf>,
    /// With `--tls`: where the CA and the gateway's certificate and key are (removed on drop).
    _tls_dir: Option<TlsDir>,
}

/// The demo's certificate files, removed when the demo stops.
#[derive(Debug)]
struct TlsDir(std::path::PathBuf);

impl Drop for TlsDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A local CA and a certificate for localhost, 127.0.0.1 and ::1 (made by the mock's CA code,
/// the one place rcgen is linked), written to a fresh owner-only directory.
fn demo_certificates() -> anyhow::Result<(TlsDir, crate::config::TlsConfig)> {
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
    let material = mock_idp::tls::generate(&[]).context("making the demo's certificates")?;
    let dir = std::env::temp_dir().join(format!("gateway-demo-tls-{}", random_state()));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let dir = TlsDir(dir);
    let write = |name: &str, text: &str| -> anyhow::Result<std::path::PathBuf> {
        use std::io::Write as _;
        let path = dir.0.join(name);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    };
    write("ca.pem", material.ca_pem.as_deref().unwrap_or_default())?;
    let cert_file = write("gateway.pem", &material.cert_chain_pem)?;
    let key_file = write("gateway.key", material.key_pem.expose())?;
    let tls = crate::config::TlsConfig {
        certificates: vec![crate::config::CertificateFiles {
            cert_file,
            key_file,
            server_names: Vec::new(),
            key: "tls.certificates[0]".into(),
        }],
        handshake_timeout: crate::config::DEFAULT_TLS_HANDSHAKE_TIMEOUT,
        client_auth: None,
    };
    Ok((dir, tls))
}

fn client(
    config: &mock_idp::Config,
    pick: impl Fn(&mock_idp::config::ClientConfig) -> bool,
    what: &str,
) -> anyhow::Result<DemoClient> {
    let c = config
        .clients
        .iter()
        .find(|c| pick(c) && c.client_secret.is_some())
        .with_context(|| format!("the mock's default configuration has no {what} client"))?;
    Ok(DemoClient {
        id: c.client_id.clone(),
        secret: crate::secret::Secret::new(
            c.client_secret
                .as_ref()
                .map(|s| s.expose().to_owned())
                .unwrap_or_default(),
        ),
    })
}

/// Starts the mock, the backend and the gateway (on `listen`, plain HTTP).
pub async fn start(listen: SocketAddr) -> anyhow::Result<Demo> {
    start_with(listen, false).await
}

/// Starts the mock, the backend and the gateway (on `listen`; HTTPS with a local CA when
/// `tls`).
pub async fn start_with(listen: SocketAddr, tls: bool) -> anyhow::Result<Demo> {
    let mock_config = mock_idp::Config::default_config();
    let service = client(
        &mock_config,
        |c| c.grant_types.iter().any(|g| g == "client_credentials"),
        "client_credentials",
    )?;
    let web = client(&mock_config, |c| c.application_type == "web", "web")?;
    let ssws = mock_config
        .api_tokens
        .first()
        .map(|t| crate::secret::Secret::new(t.token.expose()));
    let idp = MockIdp::builder()
        .config(mock_config)
        .start()
        .await
        .context("starting the mock Okta server")?;
    let beds = beds::start(TcpListener::bind("127.0.0.1:0").await?)?;

    let issuer = idp.issuer();
    let beds_url = beds.url();
    let env = |name: &str| -> Option<String> {
        match name {
            "OKTA_ISSUER" => Some(issuer.clone()),
            "BEDS_URL" => Some(beds_url.clone()),
            "OKTA_CLIENT_ID" => Some(service.id.clone()),
            "OKTA_CLIENT_SECRET" => Some(service.secret.expose().to_owned()),
            "OKTA_WEB_CLIENT_ID" => Some(web.id.clone()),
            "OKTA_WEB_CLIENT_SECRET" => Some(web.secret.expose().to_owned()),
            _ => None,
        }
    };
    let mut config = Config::from_toml(DEMO_CONFIG, &env).context("fixtures/gateway/demo.toml")?;
    config.listen = listen;
    let (tls_dir, ca_file) = if tls {
        let (dir, tls) = demo_certificates()?;
        config.tls = Some(tls);
        let ca = dir.0.join("ca.pem");
        (Some(dir), Some(ca))
    } else {
        (None, None)
    };
    // Dynamic registration at the mock with its SSWS token; the admin API on port + 1.
    for s in &mut config.authorization_servers {
        s.api_token = ssws.clone();
    }
    let admin_token = crate::secret::Secret::new(format!("demo-admin-{}", random_state()));
    let mut admin_addr = listen;
    if listen.port() != 0 {
        admin_addr.set_port(listen.port().wrapping_add(1));
    }
    let admin_listener = TcpListener::bind(admin_addr)
        .await
        .with_context(|| format!("listening on {admin_addr} (admin API)"))?;
    let mut runtime =
        crate::admin::RuntimeOptions::new(std::sync::Arc::new(crate::store::Store::memory()));
    runtime.admin = Some((admin_listener, admin_token.clone()));
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let clock = idp.clock().clone();
    let gateway = Gateway::builder(config)
        .clock(move || u64::try_from(clock.now()).unwrap_or(0))
        .runtime(runtime)
        .build(listener)
        .await?;
    Ok(Demo {
        idp,
        beds,
        gateway,
        service,
        web,
        admin_token,
        ca_file,
        _tls_dir: tls_dir,
    })
}

fn random_state() -> String {
    let mut bytes = [0u8; 16];
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Demo {
    /// The API's URL at the gateway.
    pub fn api_url(&self) -> String {
        format!("{}/gateway/CheckBedAvailability", self.gateway.url())
    }

    /// The ready-to-paste commands.
    pub fn instructions(&self) -> String {
        // With --tls, curl trusts the demo's CA (and nothing is sent in clear text).
        let cacert = self
            .ca_file
            .as_ref()
            .map(|f| format!("--cacert '{}' ", f.display()))
            .unwrap_or_default();
        let token_endpoint = self.idp.token_endpoint();
        let authorize = format!("{}/v1/authorize", self.idp.issuer());
        let mut url = url::Url::parse(&authorize).expect("the mock's issuer is a URL");
        url.query_pairs_mut()
            .append_pair("client_id", &self.web.id)
            .append_pair("response_type", "code")
            .append_pair("scope", "openid profile beds.read")
            .append_pair("redirect_uri", REDIRECT_URI)
            .append_pair("state", &random_state());
        format!(
            r#"
CheckBedAvailability demo is running
  mock Okta (ExternalOktaServer)  {issuer}
  bed-availability backend        {beds}
  gateway                         {gateway}
  metrics                         {gateway}/metrics

1. Get an access token (client_credentials, scope beds.read):

  TOKEN=$(curl -s -u '{sid}:{ssecret}' -d 'grant_type=client_credentials&scope=beds.read' '{token_endpoint}' | sed -E 's/.*"access_token":"([^"]+)".*/\1/')

2. Call the API through the gateway:

  curl -s {cacert}-H "Authorization: Bearer $TOKEN" '{api}/hospitals'
  curl -s {cacert}-H "Authorization: Bearer $TOKEN" '{api}/hospitals/st-marys/wards'

   Reserving needs beds.write, so this one is refused with 403 insufficient_scope:

  curl -si {cacert}-X POST -H "Authorization: Bearer $TOKEN" '{api}/hospitals/st-marys/wards/icu/reservations'

3. Authorization code flow: open this URL in a browser, sign in, and copy `code` from the
   address bar of the redirect ({redirect}):

  {url}

  curl -s -d 'grant_type=authorization_code&redirect_uri={redirect}&code=PASTE_CODE' -d 'client_id={wid}&client_secret={wsecret}' '{token_endpoint}'

4. Recreate OpenIDApp at run time through the admin API: the gateway registers its OAuth client
   at Okta (dynamic client registration) and the new client's tokens pass at once:

  export GATEWAY_ADMIN_URL={admin} GATEWAY_ADMIN_TOKEN={admin_token}
  gateway apps delete OpenIDApp
  echo '{{"name":"OpenIDApp","apis":["CheckBedAvailability"],"strategies":[{{"name":"OktaStrategy","scheme":"openid","authorization_server":"ExternalOktaServer","registration":{{"application_type":"service","grant_types":["client_credentials"]}}}}]}}' | gateway apps create -
  # copy registered_credentials[0].client_id / client_secret from the answer, then:
  NEW=$(curl -s -u 'CLIENT_ID:CLIENT_SECRET' -d 'grant_type=client_credentials&scope=beds.read' '{token_endpoint}' | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
  curl -s {cacert}-H "Authorization: Bearer $NEW" '{api}/hospitals'
  gateway apps rotate-secret OpenIDApp OktaStrategy   # new secret at Okta; the old one stops working
  gateway apps list

Press Ctrl-C to stop.
"#,
            admin = self.gateway.admin_url().unwrap_or_default(),
            admin_token = self.admin_token.expose(),
            issuer = self.idp.issuer(),
            beds = self.beds.url(),
            gateway = self.gateway.url(),
            sid = self.service.id,
            ssecret = self.service.secret.expose(),
            api = self.api_url(),
            redirect = REDIRECT_URI,
            wid = self.web.id,
            wsecret = self.web.secret.expose(),
        )
    }

    /// Stops the gateway (draining), then the mock.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.gateway.shutdown().await?;
        self.idp.shutdown().await;
        drop(self.beds);
        Ok(())
    }
}

/// Runs the demo until `signal` completes.
#[allow(clippy::print_stdout)]
pub async fn run(
    listen: SocketAddr,
    tls: bool,
    signal: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let demo = start_with(listen, tls).await?;
    println!("{}", demo.instructions());
    signal.await;
    demo.shutdown().await
}
