//! A mock Okta authorization server.
//!
//! Library first: tests start it on port 0 and talk to it over real HTTP,
//! the way they would talk to an Okta tenant.
//!
//! ```no_run
//! # async fn example() -> Result<(), mock_idp::StartError> {
//! let idp = mock_idp::MockIdp::start().await?;
//! let issuer = idp.issuer(); // http://127.0.0.1:PORT/oauth2/default
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub mod client_auth;
pub(crate) mod clock;
pub mod config;
pub mod control;
pub(crate) mod device;
pub mod directory;
pub(crate) mod error;
mod faults;
pub mod filter_expr;
pub(crate) mod form;
#[doc(hidden)]
pub mod fuzz;
pub(crate) mod grants;
pub(crate) mod html;
mod http_date;
pub mod ids;
pub(crate) mod jwe;
pub(crate) mod keys;
pub(crate) mod management;
pub(crate) mod registration;
pub(crate) mod routes;
pub(crate) mod secret;
mod spare_keys;
pub(crate) mod state;
pub(crate) mod store;
pub mod test_tokens;
pub mod tls;
pub(crate) mod tokens;

pub use clock::Clock;
pub use config::{Config, ConfigError};
pub use keys::SigningKey;
pub use secret::Secret;

use keys::{KeyError, KeyRing};
use state::{AppState, AuthServer};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(
        "invalid public URL {0:?}: it must be an absolute http(s) URL without query or fragment"
    )]
    PublicUrl(String),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
}

/// Configures a [`MockIdp`] before it starts.
#[derive(Debug)]
pub struct MockIdpBuilder {
    config: Config,
    listen: SocketAddr,
    public_url: Option<String>,
    clock: Clock,
    tls: Option<tls::TlsMode>,
}

impl Default for MockIdpBuilder {
    fn default() -> Self {
        Self {
            config: Config::default_config(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            public_url: None,
            clock: Clock::system(),
            tls: None,
        }
    }
}

impl MockIdpBuilder {
    /// Replaces the configuration (the embedded default otherwise).
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Parses and uses a TOML configuration.
    pub fn config_toml(self, text: &str) -> Result<Self, ConfigError> {
        Ok(self.config(Config::from_toml(text)?))
    }

    /// Where to listen (127.0.0.1 on a free port otherwise).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// The externally visible base URL, when it differs from the listening
    /// address (behind a proxy, in a container). Issuers derive from it.
    pub fn public_url(mut self, url: impl Into<String>) -> Self {
        self.public_url = Some(url.into());
        self
    }

    /// The clock the server reads (the system clock otherwise).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Serves HTTPS (issuers become `https://…`): with a certificate from a CA
    /// the mock makes (see [`MockIdp::ca_pem`]) or from PEM files.
    pub fn tls(mut self, mode: tls::TlsMode) -> Self {
        self.tls = Some(mode);
        self
    }

    /// Binds, loads key files and starts serving. Keys to generate are made
    /// in the background: a request that needs one waits for it, so the
    /// server is usable at once (discovery answers without waiting).
    pub async fn start(self) -> Result<MockIdp, StartError> {
        self.config.validate()?;
        let listener = TcpListener::bind(self.listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: self.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: self.listen,
            source,
        })?;
        // First, so that generating keys overlaps the rest of the start.
        let keys = load_or_generate_keys(&self.config).await?;
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let base_url = match &self.public_url {
            Some(url) => validate_public_url(url)?,
            None if addr.ip().is_loopback() && self.tls.is_some() => {
                format!("https://localhost:{}", addr.port())
            }
            None => format!("{scheme}://{addr}"),
        };
        let tls = match &self.tls {
            Some(mode) => {
                let mut hosts = vec![addr.ip().to_string()];
                if let Some(host) = url::Url::parse(&base_url)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_owned))
                {
                    hosts.push(
                        host.trim_start_matches('[')
                            .trim_end_matches(']')
                            .to_owned(),
                    );
                }
                let mode = mode.clone();
                Some(
                    tokio::task::spawn_blocking(move || tls::TlsMaterial::load(&mode, &hosts))
                        .await
                        .map_err(|_| KeyError::Generate)??,
                )
            }
            None => None,
        };
        let state = AppState::new(&self.config, &base_url, self.clock, keys);
        let router = routes::router(state.clone());
        let (shutdown, shutdown_rx) = oneshot::channel::<()>();
        let ca_pem = tls.as_ref().and_then(|t| t.ca_pem.clone());
        let task = match tls {
            None => tokio::spawn(async move {
                // Small answers go out at once, not after the client's delayed ACK.
                let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
                    let _ = tcp.set_nodelay(true);
                });
                let serve = axum::serve(listener, router).with_graceful_shutdown(async {
                    let _ = shutdown_rx.await;
                });
                if let Err(error) = serve.await {
                    tracing::error!(%error, "mock-idp server stopped");
                }
            }),
            Some(material) => {
                let config = axum_server::tls_rustls::RustlsConfig::from_pem(
                    material.cert_chain_pem.into_bytes(),
                    material.key_pem.expose().as_bytes().to_vec(),
                )
                .await
                .map_err(|e| tls::TlsError::Generate(e.to_string()))?;
                let std_listener = listener.into_std().map_err(|source| StartError::Bind {
                    addr: self.listen,
                    source,
                })?;
                let server =
                    axum_server::from_tcp_rustls(std_listener, config).map_err(|source| {
                        StartError::Bind {
                            addr: self.listen,
                            source,
                        }
                    })?;
                let handle = axum_server::Handle::new();
                let stopper = handle.clone();
                tokio::spawn(async move {
                    let _ = shutdown_rx.await;
                    stopper.graceful_shutdown(Some(Duration::from_secs(5)));
                });
                tokio::spawn(async move {
                    if let Err(error) = server
                        .handle(handle)
                        .serve(router.into_make_service())
                        .await
                    {
                        tracing::error!(%error, "mock-idp server stopped");
                    }
                })
            }
        };
        tracing::info!(%base_url, "mock-idp ready");
        Ok(MockIdp {
            state,
            addr,
            ca_pem,
            shutdown: Some(shutdown),
            task: Some(task),
        })
    }
}

fn validate_public_url(url: &str) -> Result<String, StartError> {
    let parsed = url::Url::parse(url).map_err(|_| StartError::PublicUrl(url.to_owned()))?;
    if !matches!(parsed.scheme(), "http" | "https")
        || parsed.query().is_some()
        || parsed.fragment().is_some()
        || parsed.host().is_none()
    {
        return Err(StartError::PublicUrl(url.to_owned()));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// One key ring per server (org first). Key files are loaded now, so a bad
/// file fails the start. Keys to generate (tens of milliseconds of RSA each,
/// the bulk of a cold start) are made on threads of their own, all at once,
/// while the server already answers: a request that needs a key waits for
/// it (see `routes::await_keys`), and the first key made goes to the server
/// somebody waits for (else to the custom servers before the org's).
async fn load_or_generate_keys(config: &Config) -> Result<Vec<KeyRing>, StartError> {
    let files: Vec<Option<PathBuf>> = std::iter::once(config.org.signing_key_file.clone())
        .chain(
            config
                .authorization_servers
                .iter()
                .map(|s| s.signing_key_file.clone()),
        )
        .collect();
    let to_generate = files.iter().filter(|f| f.is_none()).count();
    let mut generated = KeyRing::generating_together(to_generate, SigningKey::fresh);
    // The org's ring (index 0) is served last: custom servers are what most callers use first.
    let mut org_generated = files[0].is_none().then(|| generated.pop()).flatten();
    let mut generated = generated.into_iter();
    let mut rings = Vec::with_capacity(files.len());
    for (index, file) in files.into_iter().enumerate() {
        rings.push(match file {
            None if index == 0 => org_generated.take().ok_or(KeyError::Generate)?,
            None => generated.next().ok_or(KeyError::Generate)?,
            Some(path) => KeyRing::new(
                tokio::task::spawn_blocking(move || SigningKey::from_pem_file(&path))
                    .await
                    .map_err(|_| KeyError::Generate)??,
            ),
        });
    }
    Ok(rings)
}

/// A running mock Okta server. Dropping it stops the server.
#[derive(Debug)]
pub struct MockIdp {
    state: AppState,
    addr: SocketAddr,
    ca_pem: Option<String>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl MockIdp {
    pub fn builder() -> MockIdpBuilder {
        MockIdpBuilder::default()
    }

    /// Starts the default configuration on 127.0.0.1, port 0.
    pub async fn start() -> Result<Self, StartError> {
        Self::builder().start().await
    }

    /// The PEM of the CA that signed the server's certificate (HTTPS with a
    /// generated certificate): hand it to clients so they trust the mock.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL (`http://127.0.0.1:PORT`, or the public URL): the org issuer.
    pub fn base_url(&self) -> &str {
        self.state.base_url()
    }

    /// The issuer of the `default` custom server (or the first custom server,
    /// or the org server when there is none).
    pub fn issuer(&self) -> String {
        self.default_server().issuer.clone()
    }

    /// The issuer of the custom server `id`.
    pub fn issuer_of(&self, id: &str) -> Option<String> {
        self.state.custom_server(id).map(|s| s.issuer.clone())
    }

    /// The org server's issuer (the base URL).
    pub fn org_issuer(&self) -> String {
        self.state.org().issuer.clone()
    }

    /// `{issuer}/.well-known/openid-configuration` of the default server.
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer())
    }

    /// `{issuer}/v1/keys` of the default server.
    pub fn jwks_uri(&self) -> String {
        self.default_server().endpoint("keys")
    }

    /// `{issuer}/v1/token` of the default server.
    pub fn token_endpoint(&self) -> String {
        self.default_server().endpoint("token")
    }

    /// The server's clock: advance or set it to test expiry without sleeping.
    pub fn clock(&self) -> &Clock {
        &self.state.clock
    }

    /// The key that signs the default server's tokens now (right after start,
    /// this waits for it to be generated; so do the `mint_*` helpers).
    pub fn signing_key(&self) -> Arc<SigningKey> {
        self.default_server().keys.active()
    }

    /// Rotates the default server's signing key: a new key signs from now on;
    /// the old one stays published until the tokens it signed have expired.
    pub async fn rotate_keys(&self) -> Result<Arc<SigningKey>, StartError> {
        let server = self.default_server().clone();
        rotate(&self.state, &server).await
    }

    /// Rotates the signing key of the custom server `id`.
    pub async fn rotate_keys_of(&self, id: &str) -> Option<Result<Arc<SigningKey>, StartError>> {
        let server = self.state.custom_server(id)?.clone();
        Some(rotate(&self.state, &server).await)
    }

    /// Mints an access token for a client without a flow (a test helper):
    /// the same claims the token endpoint would issue for client_credentials. Fails only if the
    /// claims cannot be serialised.
    pub fn mint_access_token(
        &self,
        client_id: &str,
        scopes: &[&str],
    ) -> Result<String, serde_json::Error> {
        let server = self.default_server();
        let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        let request = tokens::AccessTokenRequest {
            client_id,
            scopes: &scopes,
            user: None,
            lifetime: server.access_token_lifetime,
            extra: serde_json::Map::new(),
        };
        tokens::mint_access_token(server, request, self.state.clock.now()).map(|t| t.token)
    }

    /// Injects a fault; it is removed when the guard drops (or after `times`).
    #[must_use = "the fault is removed when the guard drops"]
    pub fn fault(&self, spec: control::FaultSpec) -> FaultGuard {
        let id = self.state.control.add_fault(spec);
        FaultGuard {
            state: self.state.clone(),
            id,
        }
    }

    /// Adds custom claims to the tokens of a client and/or user (or only the
    /// next one, with `once`); removed when the guard drops.
    #[must_use = "the claims are removed when the guard drops"]
    pub fn claims(&self, rule: control::ClaimRule) -> ClaimsGuard {
        let id = self.state.control.add_claim_rule(rule);
        ClaimsGuard {
            state: self.state.clone(),
            id,
        }
    }

    /// Mints a token without a flow: valid with any claims, or deliberately bad.
    pub fn mint_test_token(
        &self,
        request: &test_tokens::TestTokenRequest,
    ) -> Result<String, String> {
        test_tokens::mint(&self.state, request)
    }

    /// The requests received so far (newest last), secrets left out.
    pub fn requests(&self) -> Vec<control::RequestRecord> {
        self.state.control.requests()
    }

    /// Stops the server and waits for in-flight requests to finish.
    pub async fn shutdown(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }

    /// Serves until the process receives Ctrl-C or SIGTERM (for the binary).
    pub async fn run_until_signal(self) {
        shutdown_signal().await;
        self.shutdown().await;
    }

    fn default_server(&self) -> &Arc<AuthServer> {
        self.state
            .custom_server("default")
            .or_else(|| self.state.servers().nth(1))
            .unwrap_or_else(|| self.state.org())
    }
}

async fn rotate(state: &AppState, server: &Arc<AuthServer>) -> Result<Arc<SigningKey>, StartError> {
    // The first key retires like any other: wait for it rather than block.
    server.keys.ready().await?;
    let next = tokio::task::spawn_blocking(SigningKey::fresh)
        .await
        .map_err(|_| KeyError::Generate)??;
    Ok(rotate_with(state, server, next))
}

/// Makes `next` the server's signing key. Old keys stay published for the
/// longest token lifetime a policy allows, so the tokens they signed verify.
pub(crate) fn rotate_with(
    state: &AppState,
    server: &AuthServer,
    next: SigningKey,
) -> Arc<SigningKey> {
    let now = state.clock.now();
    let longest = server
        .policies
        .iter()
        .filter_map(|p| p.access_token_lifetime)
        .chain([server.access_token_lifetime, 3600])
        .max()
        .unwrap_or(3600);
    server
        .keys
        .rotate(next, now, now.saturating_add_unsigned(longest))
}

/// An injected fault, removed on drop.
#[derive(Debug)]
pub struct FaultGuard {
    state: AppState,
    id: u64,
}

impl Drop for FaultGuard {
    fn drop(&mut self) {
        self.state.control.remove_fault(self.id);
    }
}

/// Custom claims, removed on drop.
#[derive(Debug)]
pub struct ClaimsGuard {
    state: AppState,
    id: u64,
}

impl Drop for ClaimsGuard {
    fn drop(&mut self) {
        self.state.control.remove_claim_rule(self.id);
    }
}

impl Drop for MockIdp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
