//! An API gateway enforcing webMethods-style "Identify & Authorize" OpenID Connect / OAuth2
//! policy, declared in one TOML file, in front of HTTP upstreams.
//!
//! [`Gateway::build`] takes a validated [`config::Config`] and a bound listener and returns a
//! [`GatewayHandle`] (address, metrics, graceful shutdown). `main.rs` is a thin CLI over it.

pub mod access_log;
pub mod admin;
mod admission;
pub mod beds;
pub mod clock;
pub mod config;
#[cfg(feature = "demo")]
pub mod demo;
pub mod discovery;
pub mod error;
pub mod forward_auth;
#[doc(hidden)]
pub mod fuzz;
mod per_worker;
pub mod pipeline;
pub mod policy;
pub mod registration;
pub mod secret;
mod send_timeout;
pub mod server;
pub mod server_tls;
pub mod store;
pub mod telemetry;
pub mod upstream;
pub mod validation;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::clock::{Clock, SharedClock};
use crate::config::{Config, ConfigError};
use crate::discovery::DiscoveryError;
use crate::pipeline::Pipeline;
use crate::pipeline::validate::ServerRuntime;
use crate::telemetry::{AsCall, Metrics};
use crate::validation::introspection::{Introspector, IntrospectorConfig};
use crate::validation::key_cache::{KeyCache, VerifyKey};
use crate::validation::local::{KeySource, LocalValidator};

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The configuration is incomplete once discovery has run.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Discovery failed.
    #[error("{key}: {source}")]
    Discovery {
        /// The key of the discovery URL.
        key: String,
        /// The failure.
        source: DiscoveryError,
    },
    /// The store's applications and mappings do not fit the new configuration (a reload keeps
    /// the current one).
    #[error(
        "the new configuration does not fit the stored applications; keeping the current one: {0}"
    )]
    StoredPolicy(ConfigError),
    /// The listener failed.
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
}

/// How long a shutting-down gateway keeps answering (with `Connection: close`) before it closes
/// idle connections.
pub const DRAIN: std::time::Duration = std::time::Duration::from_millis(300);

/// The gateway.
#[derive(Debug)]
pub struct Gateway;

impl Gateway {
    /// Builds and starts the gateway on `listener` with the system clock.
    pub async fn build(config: Config, listener: TcpListener) -> Result<GatewayHandle, BuildError> {
        GatewayBuilder::new(config).build(listener).await
    }

    /// A builder, to choose the clock.
    pub fn builder(config: Config) -> GatewayBuilder {
        GatewayBuilder::new(config)
    }
}

/// Builds a gateway.
#[derive(Debug)]
pub struct GatewayBuilder {
    config: Config,
    clock: SharedClock,
    runtime: Option<admin::RuntimeOptions>,
}

impl GatewayBuilder {
    /// A builder with the system clock.
    pub fn new(config: Config) -> Self {
        Self {
            config,
            clock: SharedClock::default(),
            runtime: None,
        }
    }

    /// Keeps applications and scope mappings in a store (seeded from the file, reloaded when
    /// it changes) and, with `admin`, serves the admin API. See [`admin`].
    pub fn runtime(mut self, options: admin::RuntimeOptions) -> Self {
        self.runtime = Some(options);
        self
    }

    /// Uses `clock` for token times, cache lifetimes and key refresh limits.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = SharedClock(Arc::new(clock));
        self
    }

    /// Runs discovery, fetches keys, and starts serving on `listener`.
    pub async fn build(self, listener: TcpListener) -> Result<GatewayHandle, BuildError> {
        let pipeline = Arc::new(prepare(self.config, self.clock).await?);
        let addr = listener.local_addr()?;
        let tls = match &pipeline.resolved.tls {
            Some(t) => Some(server_tls::ServerTls::new(t, "proxy")?),
            None => None,
        };
        let live = admin::Live::new(pipeline.clone());
        let admin = match self.runtime {
            Some(opts) => Some(admin::start(opts, pipeline.resolved.clone(), live.clone()).await?),
            None => None,
        };
        let access_log = match &pipeline.resolved.access_log {
            Some(c) => Some(access_log::AccessLog::start(c)?),
            None => None,
        };
        let server = server::Server::start(
            listener,
            live.clone(),
            access_log.clone(),
            pipeline.resolved.workers,
            server::ClientLimits {
                header_timeout: pipeline.resolved.client_header_timeout,
                send_timeout: pipeline.resolved.client_send_timeout,
                // Time for an answer to arrive and then to be sent.
                shutdown_grace: pipeline.resolved.upstream_timeout
                    + pipeline.resolved.client_send_timeout,
                max_connections: pipeline.resolved.max_connections,
                max_connections_per_client: pipeline.resolved.max_connections_per_client,
            },
            tls.clone(),
        )?;
        // Renewed certificate files are picked up within seconds, with no SIGHUP needed.
        let watch = tls.as_ref().map(server_tls::ServerTls::watch);
        let (tx, rx) = oneshot::channel::<()>();
        let log_at_exit = access_log.clone();
        let task = tokio::spawn(async move {
            // The handle dropped counts as a shutdown request too.
            let _ = rx.await;
            if let Some(w) = watch {
                w.abort();
            }
            server.shutdown(DRAIN).await;
            if let Some(log) = log_at_exit {
                // Its last lines written before the process may exit.
                let _ = tokio::task::spawn_blocking(move || log.finish()).await;
            }
            Ok(())
        });
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(%addr, scheme, "gateway listening");
        Ok(GatewayHandle {
            addr,
            shutdown: Some(tx),
            task,
            pipeline,
            live,
            admin,
            tls,
            access_log,
        })
    }
}

/// The resolved configuration and the compiled request path, without a listener; used by the
/// server and by benchmarks.
pub async fn prepare(mut config: Config, clock: SharedClock) -> Result<Pipeline, BuildError> {
    let client = discovery::as_client();
    let metrics = Arc::new(Metrics::new(
        config.apis.iter().map(|a| a.name.clone()).collect(),
        config.applications.iter().map(|a| a.name.clone()).collect(),
        config
            .authorization_servers
            .iter()
            .map(|a| a.name.clone())
            .collect(),
    ));
    for (i, server) in config.authorization_servers.iter_mut().enumerate() {
        if let Some(url) = server.discovery_url.clone() {
            let result = discovery::fetch(&client, &url).await;
            metrics.as_call(i, AsCall::Discovery, result.is_ok());
            let metadata = result.map_err(|source| BuildError::Discovery {
                key: format!("authorization_servers[{i}].discovery_url"),
                source,
            })?;
            discovery::apply(server, metadata);
        }
    }

    let mut servers = Vec::with_capacity(config.authorization_servers.len());
    for (i, s) in config.authorization_servers.iter().enumerate() {
        let k = format!("authorization_servers[{i}]");
        let issuer = s.issuer.clone().ok_or_else(|| ConfigError {
            key: format!("{k}.issuer"),
            message: "not configured and not discovered".into(),
        })?;
        let local = match &s.local {
            None => None,
            Some(l) => {
                let keys = if let Some(pem) = &l.public_key_pem {
                    let key = VerifyKey::from_pem(pem).map_err(|m| ConfigError {
                        key: format!("{k}.local.public_key_pem"),
                        message: m,
                    })?;
                    KeySource::Static(Arc::new(key))
                } else {
                    let uri = s.jwks_uri.clone().ok_or_else(|| ConfigError {
                        key: format!("{k}.jwks_uri"),
                        message: "local validation needs a JWKS URI (or local.public_key_pem)"
                            .into(),
                    })?;
                    let cache = Arc::new(KeyCache::new(
                        i,
                        uri,
                        client.clone(),
                        clock.clone(),
                        metrics.clone(),
                        l.jwks_min_refresh,
                        l.jwks_max_stale,
                    ));
                    cache.prefetch().await;
                    KeySource::Jwks(cache)
                };
                Some(LocalValidator {
                    issuer: issuer.clone(),
                    audiences: l.audiences.clone(),
                    clock_skew: l.clock_skew,
                    keys,
                })
            }
        };
        let introspector = match &s.remote {
            None => None,
            Some(r) => {
                let endpoint = r
                    .introspection_endpoint
                    .clone()
                    .or_else(|| s.introspection_endpoint.clone())
                    .ok_or_else(|| ConfigError {
                        key: format!("{k}.remote.introspection_endpoint"),
                        message: "not configured and not discovered".into(),
                    })?;
                Some(Arc::new(Introspector::new(
                    IntrospectorConfig {
                        as_idx: i,
                        endpoint,
                        client_id: r.client_id.clone(),
                        client_secret: r.client_secret.clone(),
                        cache_ttl_cap: r.cache_ttl_cap,
                        client_miss_budget: r.client_miss_budget,
                        issuer: issuer.clone(),
                        audiences: s
                            .local
                            .as_ref()
                            .map(|l| l.audiences.clone())
                            .unwrap_or_default(),
                        clock_skew: s.clock_skew(),
                    },
                    client.clone(),
                    clock.clone(),
                    metrics.clone(),
                )))
            }
        };
        servers.push(ServerRuntime::new(&config, i, issuer, local, introspector));
    }

    Ok(Pipeline::new(config, servers, metrics, clock))
}

/// A running gateway.
#[derive(Debug)]
pub struct GatewayHandle {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    pipeline: Arc<Pipeline>,
    live: admin::Live,
    admin: Option<admin::AdminHandle>,
    tls: Option<Arc<server_tls::ServerTls>>,
    access_log: Option<Arc<access_log::AccessLog>>,
}

impl GatewayHandle {
    /// The access log (`[access_log]`), for SIGUSR1's reopen.
    pub fn access_log(&self) -> Option<Arc<access_log::AccessLog>> {
        self.access_log.clone()
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, or `https://ADDR` with `[tls]`.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The counters.
    pub fn metrics(&self) -> &Metrics {
        &self.pipeline.metrics
    }

    /// The configuration after discovery.
    pub fn config(&self) -> &Config {
        &self.pipeline.resolved
    }

    /// The policy serving requests now (applications and mappings change at run time).
    pub fn current(&self) -> Arc<Pipeline> {
        self.live.current()
    }

    /// `http://ADDR` (`https://` with `[admin.tls]`) of the admin API, when it is on.
    pub fn admin_url(&self) -> Option<String> {
        self.admin.as_ref().and_then(|a| {
            let scheme = if a.tls().is_some() { "https" } else { "http" };
            Some(format!("{scheme}://{}", a.local_addr()?))
        })
    }

    /// Reloads from the store now instead of at the next poll.
    pub async fn sync(&self) {
        if let Some(a) = &self.admin {
            a.sync().await;
        }
    }

    /// Reloads the whole configuration (see [`Reloader`]).
    pub fn reloader(&self) -> Reloader {
        Reloader {
            live: self.live.clone(),
            tls: self
                .tls
                .iter()
                .cloned()
                .chain(self.admin.as_ref().and_then(admin::AdminHandle::tls))
                .collect(),
        }
    }

    /// Stops accepting connections and waits for in-flight requests to finish.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(a) = self.admin.take() {
            a.shutdown().await;
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        (&mut self.task).await.map_err(std::io::Error::other)?
    }

    /// Serves until `signal` completes, then shuts down gracefully.
    pub async fn run_until(
        self,
        signal: impl std::future::Future<Output = ()>,
    ) -> std::io::Result<()> {
        signal.await;
        self.shutdown().await
    }
}

/// Reloads a running gateway's configuration (SIGHUP in `gateway run`): the new configuration
/// is resolved (discovery, keys) while the current one keeps serving, then swapped in at once.
/// Requests in flight finish on the configuration they started with; none is dropped. On any
/// error the current configuration stays. The listen address is not changed by a reload.
#[derive(Debug, Clone)]
pub struct Reloader {
    live: admin::Live,
    /// The listeners' certificates, re-read on every reload.
    tls: Vec<Arc<server_tls::ServerTls>>,
}

impl Reloader {
    /// Resolves `config` and swaps it in; an error leaves the current configuration serving.
    pub async fn reload(&self, config: Config) -> Result<(), BuildError> {
        // First, so that a renewed certificate is served even if the configuration is refused.
        self.tls.iter().for_each(|t| t.reload());
        let current = self.live.current();
        let mut next = prepare(config, current.clock.clone()).await?;
        let same_apis = next.apis.len() == current.apis.len()
            && next
                .apis
                .iter()
                .zip(&current.apis)
                .all(|(a, b)| a.name == b.name);
        if same_apis {
            // Keep counting into the series `/metrics` serves (the swap names the applications).
            next.metrics = current.metrics.clone();
        }
        if let Err(e) = self.live.try_set(Arc::new(next)) {
            // Said once, by the caller; "configuration reloaded" would contradict it.
            return Err(BuildError::StoredPolicy(e));
        }
        tracing::info!("configuration reloaded");
        Ok(())
    }
}
