//! The admin API: applications (strategies, API subscriptions, registered clients), scope
//! mappings, and read-only views of APIs and authorization servers. JSON over HTTP on its own
//! listener (default 127.0.0.1:8081), every route behind `Authorization: Bearer <admin token>`
//! (compared in constant time). The OpenAPI document is `gateway/admin-openapi.json`, served at
//! `/admin/v1/openapi.json`.
//!
//! Every change is validated against the whole prospective state first, carried to the
//! authorization server (dynamic registration), written to the store in one transaction, then
//! swapped into the live pipeline. A failure at any step leaves nothing behind: clients
//! registered for a failed create are deleted again. A delete the AS refuses leaves the
//! application marked `deleting` (no longer served) and retried on the next poll.

pub mod client;
pub mod live;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tokio::sync::{Mutex, oneshot};
use tokio::task::JoinHandle;

use crate::config::{Config, ConfigError, Scheme};
use crate::registration::{AsError, Registrar};
use crate::secret::Secret;
use crate::store::{AppRecord, Change, MappingRecord, RegistrationSpec, Store, StrategyRecord};
pub use live::Live;

/// The OpenAPI document of this API.
pub const OPENAPI: &str = include_str!("../../admin-openapi.json");

/// Runtime-state options given to the builder.
#[derive(Debug)]
pub struct RuntimeOptions {
    /// The store (seeded from the file on first start).
    pub store: Arc<Store>,
    /// The admin listener and token, when the admin API is on.
    pub admin: Option<(TcpListener, Secret)>,
    /// How often the store is polled for other gateways' changes and pending deletes retried.
    pub poll_interval: Duration,
    /// Timeout of calls to the authorization server's registration endpoint.
    pub as_timeout: Duration,
}

impl RuntimeOptions {
    /// Defaults: poll every 2 s, AS calls time out after 10 s, no admin listener.
    pub fn new(store: Arc<Store>) -> Self {
        Self {
            store,
            admin: None,
            poll_interval: Duration::from_secs(2),
            as_timeout: Duration::from_secs(10),
        }
    }
}

/// The shared runtime state.
#[derive(Debug)]
pub struct Runtime {
    store: Arc<Store>,
    live: Live,
    registrars: HashMap<String, Registrar>,
    lock: Mutex<()>,
    revision: std::sync::atomic::AtomicI64,
    /// Creates whose outcome at the AS is unknown (timeout, connection lost): (AS, client_name,
    /// polls left). The poller deletes clients of that exact name the store does not know.
    orphans: std::sync::Mutex<Vec<(String, String, u32)>>,
    token_digest: [u8; 32],
}

/// The running admin listener and poller.
#[derive(Debug)]
pub struct AdminHandle {
    addr: Option<std::net::SocketAddr>,
    shutdown: Option<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<()>>,
    runtime: Arc<Runtime>,
    tls: Option<Arc<crate::server_tls::ServerTls>>,
}

impl AdminHandle {
    /// The admin listener's address.
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        self.addr
    }

    /// The admin listener's TLS (`[admin.tls]`), for reloads.
    pub fn tls(&self) -> Option<Arc<crate::server_tls::ServerTls>> {
        self.tls.clone()
    }

    /// Reloads from the store now (what the poller does).
    pub async fn sync(&self) {
        self.runtime.poll().await;
    }

    /// Stops the listener and poller.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        for t in self.tasks.drain(..) {
            t.abort();
            let _ = t.await;
        }
    }
}

/// Seeds and loads the store into `live`, starts the poller and the admin listener.
pub async fn start(
    opts: RuntimeOptions,
    base: Config,
    live: Live,
) -> Result<AdminHandle, ConfigError> {
    let se = |e: crate::store::StoreError| ConfigError {
        key: "store".into(),
        message: e.to_string(),
    };
    let (apps, mappings) = crate::policy::records_of(&base);
    let rules = crate::policy::rule_records_of(&base);
    if opts
        .store
        .seed(&apps, &mappings, &rules)
        .await
        .map_err(se)?
    {
        tracing::info!(
            store = opts.store.url(),
            "store seeded from the configuration file"
        );
    }
    let mut registrars = HashMap::new();
    for s in &base.authorization_servers {
        if let (Some(ep), Some(token)) = (&s.registration_endpoint, &s.api_token) {
            registrars.insert(
                s.name.clone(),
                Registrar::new(ep.clone(), token.clone(), opts.as_timeout),
            );
        }
    }
    let token_digest = opts
        .admin
        .as_ref()
        .map(|(_, t)| Sha256::digest(t.expose().as_bytes()).into())
        .unwrap_or([0; 32]);
    let rt = Arc::new(Runtime {
        store: opts.store,
        live,
        registrars,
        lock: Mutex::new(()),
        revision: std::sync::atomic::AtomicI64::new(-1),
        orphans: std::sync::Mutex::new(Vec::new()),
        token_digest,
    });
    let snap = rt.store.load().await.map_err(se)?;
    rt.live
        .replace_records(snap.apps, snap.mappings, snap.claims_rules)?;
    rt.revision
        .store(snap.revision, std::sync::atomic::Ordering::SeqCst);

    let mut tasks = Vec::new();
    let poller = rt.clone();
    let every = opts.poll_interval;
    tasks.push(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            poller.poll().await;
        }
    }));
    let (mut addr, mut shutdown, mut tls) = (None, None, None);
    if let Some((listener, _)) = opts.admin {
        addr = listener.local_addr().ok();
        let (tx, rx) = oneshot::channel::<()>();
        shutdown = Some(tx);
        // Served like the proxy port (head and idle timeouts, caps, eviction), within a
        // connection cap of its own, so neither listener can starve the other.
        let max_connections = base
            .admin
            .as_ref()
            .map_or(crate::config::DEFAULT_ADMIN_MAX_CONNECTIONS, |a| {
                a.max_connections
            });
        let limits = crate::server::ClientLimits {
            header_timeout: base.client_header_timeout,
            send_timeout: base.client_send_timeout,
            shutdown_grace: opts.as_timeout + base.client_send_timeout,
            max_connections,
            max_connections_per_client: base.max_connections_per_client.min(max_connections),
        };
        if let Some(t) = base.admin.as_ref().and_then(|a| a.tls.as_ref()) {
            let t = crate::server_tls::ServerTls::new(t, "admin")?;
            tasks.push(t.watch());
            tls = Some(t);
        }
        let server =
            crate::server::Server::start_here(listener, router(rt.clone()), limits, tls.clone());
        tasks.push(tokio::spawn(async move {
            let _ = rx.await;
            server.shutdown(Duration::ZERO).await;
        }));
        tracing::info!(addr = ?addr, "admin API listening");
    }
    Ok(AdminHandle {
        addr,
        shutdown,
        tasks,
        runtime: rt,
        tls,
    })
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// An admin API error: a status and a JSON body `{error, message, …}`; never a secret.
#[derive(Debug)]
pub struct AdminError {
    status: StatusCode,
    body: Value,
    retry_after: Option<u64>,
}

impl AdminError {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: json!({ "error": code, "message": message.into() }),
            retry_after: None,
        }
    }
    fn invalid(e: ConfigError) -> Self {
        let mut s = Self::new(StatusCode::BAD_REQUEST, "invalid_request", e.to_string());
        s.body["key"] = json!(e.key);
        s
    }
    fn store(e: crate::store::StoreError) -> Self {
        tracing::error!(error = %e, "store failure");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "store_error",
            "the state store failed; nothing was changed",
        )
    }
    fn auth_server(e: &AsError, doing: &str) -> Self {
        let message = format!("{doing}: {e}");
        match e {
            AsError::Rejected {
                status,
                code,
                summary,
            } => {
                let st = if *status == 400 {
                    StatusCode::BAD_REQUEST
                } else {
                    StatusCode::BAD_GATEWAY
                };
                let mut s = Self::new(st, "authorization_server_error", message);
                s.body["authorization_server"] =
                    json!({ "status": status, "errorCode": code, "errorSummary": summary });
                s
            }
            AsError::RateLimited {
                limit,
                remaining,
                reset,
            } => {
                let mut s = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "authorization_server_rate_limited",
                    message,
                );
                s.body["authorization_server"] = json!({
                    "status": 429, "errorCode": "E0000047",
                    "rate_limit": { "limit": limit, "remaining": remaining, "reset": reset }
                });
                // Okta's reset is a time on its wall clock, so it is compared with ours.
                let now = crate::clock::Clock::now(&crate::clock::SystemClock);
                s.retry_after = Some(reset.map_or(60, |r| r.saturating_sub(now).max(1)));
                s
            }
            AsError::Timeout => Self::new(
                StatusCode::GATEWAY_TIMEOUT,
                "authorization_server_timeout",
                message,
            ),
            AsError::Unreachable(_) => Self::new(
                StatusCode::BAD_GATEWAY,
                "authorization_server_unreachable",
                message,
            ),
            AsError::NotConfigured(_) => Self::new(
                StatusCode::BAD_REQUEST,
                "registration_not_configured",
                message,
            ),
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let mut r = (self.status, axum::Json(self.body)).into_response();
        if let Some(s) = self.retry_after
            && let Ok(v) = http::HeaderValue::from_str(&s.to_string())
        {
            r.headers_mut().insert(http::header::RETRY_AFTER, v);
        }
        r
    }
}

type Result<T, E = AdminError> = std::result::Result<T, E>;

// ---------------------------------------------------------------------------------------------
// Input and views
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AppInput {
    name: String,
    #[serde(default)]
    apis: Vec<String>,
    #[serde(default)]
    strategies: Vec<StrategyInput>,
    #[serde(default)]
    identify_by_claims: Option<crate::policy::claims::RawClaimSet>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StrategyInput {
    name: String,
    scheme: Scheme,
    authorization_server: String,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    hmac: bool,
    #[serde(default)]
    registration: Option<RegistrationSpec>,
}

impl std::fmt::Debug for StrategyInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StrategyInput")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| {
        AdminError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("the body is not a valid document: {e}"),
        )
    })
}

fn check_registration(spec: &RegistrationSpec, key: &str) -> Result<(), ConfigError> {
    let bad = |k: &str, m: String| ConfigError {
        key: format!("{key}.{k}"),
        message: m,
    };
    const TYPES: &[&str] = &["web", "native", "browser", "service"];
    const GRANTS: &[&str] = &[
        "authorization_code",
        "implicit",
        "password",
        "refresh_token",
        "client_credentials",
    ];
    const RESPONSES: &[&str] = &["code", "token", "id_token", "none"];
    const METHODS: &[&str] = &["client_secret_basic", "client_secret_post"];
    if !TYPES.contains(&spec.application_type.as_str()) {
        return Err(bad(
            "application_type",
            format!("must be one of {}", TYPES.join(", ")),
        ));
    }
    if spec.grant_types.is_empty() {
        return Err(bad("grant_types", "at least one grant type".into()));
    }
    for (i, g) in spec.grant_types.iter().enumerate() {
        if !GRANTS.contains(&g.as_str()) {
            return Err(bad(
                &format!("grant_types[{i}]"),
                format!("`{g}` is not one of {}", GRANTS.join(", ")),
            ));
        }
    }
    for (i, r) in spec.response_types.iter().enumerate() {
        if !RESPONSES.contains(&r.as_str()) {
            return Err(bad(
                &format!("response_types[{i}]"),
                format!("`{r}` is not one of {}", RESPONSES.join(", ")),
            ));
        }
    }
    if !METHODS.contains(&spec.token_endpoint_auth_method.as_str()) {
        return Err(bad(
            "token_endpoint_auth_method",
            format!("must be one of {}", METHODS.join(", ")),
        ));
    }
    for (i, u) in spec.redirect_uris.iter().enumerate() {
        let ok = url::Url::parse(u).is_ok_and(|p| {
            matches!(p.scheme(), "http" | "https") && p.fragment().is_none() && p.has_host()
        });
        if !ok {
            return Err(bad(
                &format!("redirect_uris[{i}]"),
                format!("`{u}` is not an absolute http(s) URL without a fragment"),
            ));
        }
    }
    let browser_flow = spec
        .grant_types
        .iter()
        .any(|g| g == "authorization_code" || g == "implicit");
    if browser_flow && spec.redirect_uris.is_empty() {
        return Err(bad(
            "redirect_uris",
            "required for authorization_code and implicit".into(),
        ));
    }
    if let Some(n) = &spec.client_name
        && n.trim().is_empty()
    {
        return Err(bad("client_name", "must not be empty".into()));
    }
    Ok(())
}

// A pending registration's placeholders, for validating before the AS is called.
const PENDING_SECRET: &str = "pending-registration-placeholder-secret-000000";

fn record_of(input: AppInput, existing: Option<&AppRecord>) -> Result<AppRecord> {
    let mut strategies = Vec::new();
    for (j, s) in input.strategies.into_iter().enumerate() {
        let key = format!("strategies[{j}]");
        let prev = existing.and_then(|e| e.strategies.iter().find(|p| p.name == s.name));
        let (client_id, client_secret) = match (&s.registration, s.client_id) {
            (Some(_), Some(_)) => {
                return Err(AdminError::invalid(ConfigError {
                    key: format!("{key}.client_id"),
                    message: "give `client_id` or `registration`, not both".into(),
                }));
            }
            (Some(spec), None) => {
                check_registration(spec, &format!("{key}.registration"))
                    .map_err(AdminError::invalid)?;
                if s.client_secret.is_some() {
                    return Err(AdminError::invalid(ConfigError {
                        key: format!("{key}.client_secret"),
                        message: "a registered client's secret comes from the AS".into(),
                    }));
                }
                match prev.filter(|p| p.registration.is_some()) {
                    Some(p) => (p.client_id.clone(), p.client_secret.clone()),
                    None => (String::new(), Some(Secret::new(PENDING_SECRET))),
                }
            }
            (None, Some(id)) => (id, s.client_secret.map(Secret::new)),
            (None, None) => {
                return Err(AdminError::invalid(ConfigError {
                    key: format!("{key}.client_id"),
                    message: "give `client_id` or `registration`".into(),
                }));
            }
        };
        strategies.push(StrategyRecord {
            name: s.name,
            scheme: s.scheme,
            authorization_server: s.authorization_server,
            client_id,
            client_secret,
            hmac: s.hmac,
            registration: s.registration,
        });
    }
    Ok(AppRecord {
        name: input.name,
        apis: input.apis,
        strategies,
        identify_by_claims: input.identify_by_claims,
        deleting: false,
    })
}

fn view(a: &AppRecord) -> Value {
    let mut v = json!({
        "name": a.name,
        "apis": a.apis,
        "state": if a.deleting { "deleting" } else { "active" },
        "strategies": a.strategies.iter().map(|s| json!({
            "name": s.name,
            "scheme": s.scheme,
            "authorization_server": s.authorization_server,
            "client_id": s.client_id,
            "client_secret_set": s.client_secret.is_some(),
            "hmac": s.hmac,
            "registration": s.registration,
        })).collect::<Vec<_>>(),
    });
    if let Some(set) = &a.identify_by_claims {
        v["identify_by_claims"] = json!(set);
    }
    v
}

// ---------------------------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------------------------

impl Runtime {
    fn registrar(&self, as_name: &str) -> Result<&Registrar> {
        self.registrars.get(as_name).ok_or_else(|| {
            AdminError::auth_server(
                &AsError::NotConfigured(format!(
                    "authorization server `{as_name}` has no registration endpoint or no api_token"
                )),
                "dynamic registration",
            )
        })
    }

    /// Reloads the store into the live pipeline if its revision moved; retries pending deletes.
    pub async fn poll(&self) {
        let rev = match self.store.revision().await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "store poll failed");
                return;
            }
        };
        if rev != self.revision.load(std::sync::atomic::Ordering::SeqCst) {
            let _guard = self.lock.lock().await;
            if let Err(e) = self.refresh().await {
                tracing::warn!(error = %e.body, "store reload failed; keeping the current policy");
            }
        }
        let pending: Vec<String> = self
            .store
            .load()
            .await
            .map(|s| {
                s.apps
                    .into_iter()
                    .filter(|a| a.deleting)
                    .map(|a| a.name)
                    .collect()
            })
            .unwrap_or_default();
        for name in pending {
            let _guard = self.lock.lock().await;
            if let Err(e) = self.finish_delete(&name).await {
                tracing::info!(application = %name, error = %e.body, "pending delete retried");
            }
        }
        self.sweep_orphans().await;
    }

    /// Deletes clients registered by creates that timed out (the AS finished them after the
    /// gateway gave up), unless the store holds them.
    async fn sweep_orphans(&self) {
        let todo: Vec<(String, String, u32)> = std::mem::take(
            &mut *self
                .orphans
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if todo.is_empty() {
            return;
        }
        let _guard = self.lock.lock().await;
        let known: Vec<String> = match self.store.load().await {
            Ok(s) => s
                .apps
                .iter()
                .flat_map(|a| a.strategies.iter().map(|s| s.client_id.clone()))
                .collect(),
            Err(_) => {
                self.orphans
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .extend(todo);
                return;
            }
        };
        let mut keep = Vec::new();
        for (asn, name, left) in todo {
            let Some(reg) = self.registrars.get(&asn) else {
                continue;
            };
            let mut found = false;
            match reg.find_by_name(&name).await {
                Ok(ids) => {
                    for id in ids.into_iter().filter(|id| !known.contains(id)) {
                        found = true;
                        match reg.delete(&id).await {
                            Ok(()) => {
                                tracing::info!(client_id = %id, "deleted a client left by a timed-out registration");
                            }
                            Err(e) => {
                                tracing::warn!(client_id = %id, error = %e, "could not delete an orphaned client");
                                found = false;
                            }
                        }
                    }
                }
                Err(e) => tracing::info!(error = %e, "orphan check failed"),
            }
            if !found && left > 1 {
                keep.push((asn, name, left - 1));
            }
        }
        self.orphans
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(keep);
    }

    async fn refresh(&self) -> Result<()> {
        let snap = self.store.load().await.map_err(AdminError::store)?;
        self.live
            .replace_records(snap.apps, snap.mappings, snap.claims_rules)
            .map_err(AdminError::invalid)?;
        self.revision
            .store(snap.revision, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    async fn commit(&self, changes: &[Change]) -> Result<()> {
        self.store.apply(changes).await.map_err(AdminError::store)?;
        self.refresh().await
    }

    fn validate_with(&self, apps: Vec<AppRecord>, maps: &[MappingRecord]) -> Result<()> {
        // Placeholders for clients not registered yet: unique per strategy.
        let apps: Vec<AppRecord> = apps
            .into_iter()
            .map(|mut a| {
                for s in &mut a.strategies {
                    if s.client_id.is_empty() {
                        s.client_id = format!("pending:{}/{}", a.name, s.name);
                    }
                }
                a
            })
            .collect();
        live::compile(&self.live.current().resolved, &apps, maps)
            .map(|_| ())
            .map_err(AdminError::invalid)
    }

    async fn rollback(&self, created: &[(String, String)]) {
        for (asn, id) in created {
            if let Some(r) = self.registrars.get(asn)
                && let Err(e) = r.delete(id).await
            {
                tracing::warn!(client_id = %id, error = %e, "could not delete a client registered for a failed change");
            }
        }
    }

    async fn register_new(
        &self,
        app: &mut AppRecord,
        created: &mut Vec<(String, String)>,
    ) -> Result<()> {
        let app_name = app.name.clone();
        for s in &mut app.strategies {
            let Some(spec) = &s.registration else {
                continue;
            };
            if !s.client_id.is_empty() {
                continue;
            }
            let reg = self.registrar(&s.authorization_server)?;
            let client_name = format!("{app_name}/{}", s.name);
            let c = match reg.create(&client_name, spec).await {
                Ok(c) => c,
                Err(e) => {
                    if matches!(e, AsError::Timeout | AsError::Unreachable(_)) {
                        // The AS may still create it: look for it at the next polls.
                        self.orphans
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .push((s.authorization_server.clone(), client_name.clone(), 10));
                    }
                    return Err(AdminError::auth_server(&e, "registering the client"));
                }
            };
            tracing::info!(application = %app_name, strategy = %s.name, client_id = %c.client_id, "client registered");
            created.push((s.authorization_server.clone(), c.client_id.clone()));
            s.client_id = c.client_id;
            s.client_secret = c.client_secret;
        }
        Ok(())
    }

    async fn create(&self, input: AppInput) -> Result<(StatusCode, Value)> {
        let _guard = self.lock.lock().await;
        let snap = self.store.load().await.map_err(AdminError::store)?;
        if snap.apps.iter().any(|a| a.name == input.name) {
            return Err(AdminError::new(
                StatusCode::CONFLICT,
                "duplicate_name",
                format!("an application named `{}` exists", input.name),
            ));
        }
        let mut app = record_of(input, None)?;
        let mut all = snap.apps.clone();
        all.push(app.clone());
        self.validate_with(all, &snap.mappings)?;
        let mut created = Vec::new();
        if let Err(e) = self.register_new(&mut app, &mut created).await {
            self.rollback(&created).await;
            return Err(e);
        }
        if let Err(e) = self.commit(&[Change::PutApp(app.clone())]).await {
            self.rollback(&created).await;
            return Err(e);
        }
        Ok((StatusCode::CREATED, with_credentials(&app, &created)))
    }

    async fn update(&self, name: &str, input: AppInput) -> Result<(StatusCode, Value)> {
        let _guard = self.lock.lock().await;
        let snap = self.store.load().await.map_err(AdminError::store)?;
        let Some(old) = snap.apps.iter().find(|a| a.name == name && !a.deleting) else {
            return Err(not_found(name));
        };
        if input.name != name {
            return Err(AdminError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "the body's `name` must match the path (renaming is delete + create)",
            ));
        }
        let mut app = record_of(input, Some(old))?;
        let mut all: Vec<AppRecord> = snap
            .apps
            .iter()
            .filter(|a| a.name != name)
            .cloned()
            .collect();
        all.push(app.clone());
        self.validate_with(all, &snap.mappings)?;
        let mut created = Vec::new();
        if let Err(e) = self.register_new(&mut app, &mut created).await {
            self.rollback(&created).await;
            return Err(e);
        }
        // Registered clients whose registration changed: replaced at the AS.
        for s in &mut app.strategies {
            let (Some(spec), Some(p)) = (
                &s.registration,
                old.strategies.iter().find(|p| p.name == s.name),
            ) else {
                continue;
            };
            if p.registration.as_ref() == Some(spec) || created.iter().any(|c| c.1 == s.client_id) {
                continue;
            }
            let reg = self.registrar(&s.authorization_server)?;
            match reg
                .update(&s.client_id, &format!("{name}/{}", s.name), spec)
                .await
            {
                Ok(c) => {
                    if c.client_secret.is_some() {
                        s.client_secret = c.client_secret;
                    }
                }
                Err(e) => {
                    self.rollback(&created).await;
                    return Err(AdminError::auth_server(&e, "updating the client"));
                }
            }
        }
        // Registered clients dropped from the application: deleted at the AS.
        for p in &old.strategies {
            let kept = app
                .strategies
                .iter()
                .any(|s| s.registration.is_some() && s.client_id == p.client_id);
            if p.registration.is_some() && !kept {
                let reg = self.registrar(&p.authorization_server)?;
                if let Err(e) = reg.delete(&p.client_id).await {
                    self.rollback(&created).await;
                    return Err(AdminError::auth_server(
                        &e,
                        "deleting a removed strategy's client",
                    ));
                }
            }
        }
        if let Err(e) = self.commit(&[Change::PutApp(app.clone())]).await {
            self.rollback(&created).await;
            return Err(e);
        }
        Ok((StatusCode::OK, with_credentials(&app, &created)))
    }

    async fn delete(&self, name: &str) -> Result<()> {
        let _guard = self.lock.lock().await;
        let snap = self.store.load().await.map_err(AdminError::store)?;
        let Some(app) = snap.apps.iter().find(|a| a.name == name) else {
            return Err(not_found(name));
        };
        if !app.deleting {
            let mut marked = app.clone();
            marked.deleting = true;
            self.commit(&[Change::PutApp(marked)]).await?;
        }
        self.finish_delete(name).await
    }

    async fn finish_delete(&self, name: &str) -> Result<()> {
        let snap = self.store.load().await.map_err(AdminError::store)?;
        let Some(app) = snap.apps.iter().find(|a| a.name == name && a.deleting) else {
            return Ok(());
        };
        let mut left = app.clone();
        let mut failure = None;
        for s in &app.strategies {
            if s.registration.is_none() {
                continue;
            }
            let result = match self.registrar(&s.authorization_server) {
                Ok(r) => r.delete(&s.client_id).await.map_err(|e| {
                    AdminError::auth_server(
                        &e,
                        "deleting the client at the authorization server (the application is marked for deletion and will be retried)",
                    )
                }),
                Err(e) => Err(e),
            };
            match result {
                Ok(()) => left.strategies.retain(|x| x.client_id != s.client_id),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        match failure {
            None => self.commit(&[Change::DeleteApp(name.to_owned())]).await,
            Some(e) => {
                self.commit(&[Change::PutApp(left)]).await?;
                Err(e)
            }
        }
    }

    async fn new_secret(&self, name: &str, strategy: &str) -> Result<Value> {
        let _guard = self.lock.lock().await;
        let snap = self.store.load().await.map_err(AdminError::store)?;
        let Some(app) = snap.apps.iter().find(|a| a.name == name && !a.deleting) else {
            return Err(not_found(name));
        };
        let mut app = app.clone();
        let Some(s) = app.strategies.iter_mut().find(|s| s.name == strategy) else {
            return Err(AdminError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("application `{name}` has no strategy `{strategy}`"),
            ));
        };
        if s.registration.is_none() {
            return Err(AdminError::new(
                StatusCode::CONFLICT,
                "not_registered",
                "only clients registered by the gateway can be rotated here",
            ));
        }
        let reg = self.registrar(&s.authorization_server)?;
        let c = reg
            .new_secret(&s.client_id)
            .await
            .map_err(|e| AdminError::auth_server(&e, "rotating the client secret"))?;
        let Some(secret) = c.client_secret else {
            return Err(AdminError::new(
                StatusCode::BAD_GATEWAY,
                "authorization_server_error",
                "the authorization server returned no secret",
            ));
        };
        s.client_secret = Some(secret.clone());
        let id = s.client_id.clone();
        self.commit(&[Change::PutApp(app)]).await?;
        Ok(json!({ "client_id": id, "client_secret": secret.expose() }))
    }
}

fn not_found(name: &str) -> AdminError {
    AdminError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no application named `{name}`"),
    )
}

/// The view plus, once, the credentials of clients just registered.
fn with_credentials(app: &AppRecord, created: &[(String, String)]) -> Value {
    let mut v = view(app);
    let creds: Vec<Value> = app
        .strategies
        .iter()
        .filter(|s| created.iter().any(|c| c.1 == s.client_id))
        .map(|s| {
            json!({
                "strategy": s.name,
                "client_id": s.client_id,
                "client_secret": s.client_secret.as_ref().map(Secret::expose),
            })
        })
        .collect();
    v["registered_credentials"] = json!(creds);
    v
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

type St = State<Arc<Runtime>>;

fn router(rt: Arc<Runtime>) -> Router {
    Router::new()
        .route("/admin/v1/applications", get(list_apps).post(create_app))
        .route(
            "/admin/v1/applications/{name}",
            get(show_app).put(update_app).delete(delete_app),
        )
        .route(
            "/admin/v1/applications/{name}/strategies/{strategy}/new-secret",
            post(rotate),
        )
        .route(
            "/admin/v1/scope-mappings",
            get(list_mappings).post(put_mapping),
        )
        .route(
            "/admin/v1/scope-mappings/{server}/{scope}",
            delete(delete_mapping),
        )
        .route("/admin/v1/claims-rules", get(list_rules).post(put_rule))
        .route(
            "/admin/v1/claims-rules/{name}",
            get(show_rule).put(put_named_rule).delete(delete_rule),
        )
        .route("/admin/v1/apis", get(list_apis))
        .route("/admin/v1/authorization-servers", get(list_servers))
        .route(
            "/admin/v1/openapi.json",
            get(|| async { ([(http::header::CONTENT_TYPE, "application/json")], OPENAPI) }),
        )
        .fallback(|| async {
            AdminError::new(StatusCode::NOT_FOUND, "not_found", "no such admin route")
        })
        .layer(axum::middleware::from_fn_with_state(
            rt.clone(),
            authenticate,
        ))
        .layer(
            tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer::new([
                http::header::AUTHORIZATION,
            ]),
        )
        .layer(tower_http::limit::RequestBodyLimitLayer::new(64 * 1024))
        .with_state(rt)
}

async fn authenticate(
    State(rt): St,
    req: http::Request<axum::body::Body>,
    next: axum::middleware::Next,
) -> Response {
    let presented = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(s, _)| s.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned());
    let ok = presented.is_some_and(|t| {
        let d: [u8; 32] = Sha256::digest(t.as_bytes()).into();
        bool::from(d.ct_eq(&rt.token_digest))
    });
    if !ok {
        let mut r = AdminError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid admin token is required (Authorization: Bearer …)",
        )
        .into_response();
        r.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer realm=\"gateway-admin\""),
        );
        return r;
    }
    next.run(req).await
}

async fn list_apps(State(rt): St) -> Result<axum::Json<Value>> {
    let snap = rt.store.load().await.map_err(AdminError::store)?;
    Ok(axum::Json(json!(
        snap.apps.iter().map(view).collect::<Vec<_>>()
    )))
}

async fn show_app(State(rt): St, Path(name): Path<String>) -> Result<axum::Json<Value>> {
    let snap = rt.store.load().await.map_err(AdminError::store)?;
    snap.apps
        .iter()
        .find(|a| a.name == name)
        .map(|a| axum::Json(view(a)))
        .ok_or_else(|| not_found(&name))
}

async fn create_app(State(rt): St, body: Bytes) -> Result<Response> {
    let input: AppInput = parse(&body)?;
    let (st, v) = rt.create(input).await?;
    Ok((st, axum::Json(v)).into_response())
}

async fn update_app(State(rt): St, Path(name): Path<String>, body: Bytes) -> Result<Response> {
    let input: AppInput = parse(&body)?;
    let (st, v) = rt.update(&name, input).await?;
    Ok((st, axum::Json(v)).into_response())
}

async fn delete_app(State(rt): St, Path(name): Path<String>) -> Result<StatusCode> {
    rt.delete(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn rotate(
    State(rt): St,
    Path((name, strategy)): Path<(String, String)>,
) -> Result<axum::Json<Value>> {
    Ok(axum::Json(rt.new_secret(&name, &strategy).await?))
}

async fn list_mappings(State(rt): St) -> Result<axum::Json<Value>> {
    let snap = rt.store.load().await.map_err(AdminError::store)?;
    Ok(axum::Json(json!(snap.mappings)))
}

async fn put_mapping(State(rt): St, body: Bytes) -> Result<Response> {
    let m: MappingRecord = parse(&body)?;
    let _guard = rt.lock.lock().await;
    let snap = rt.store.load().await.map_err(AdminError::store)?;
    let existed = snap
        .mappings
        .iter()
        .any(|x| x.authorization_server == m.authorization_server && x.scope == m.scope);
    let mut maps: Vec<MappingRecord> = snap
        .mappings
        .iter()
        .filter(|x| !(x.authorization_server == m.authorization_server && x.scope == m.scope))
        .cloned()
        .collect();
    maps.push(m.clone());
    rt.validate_with(snap.apps.clone(), &maps)?;
    rt.commit(&[Change::PutMapping(m.clone())]).await?;
    let st = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((st, axum::Json(json!(m))).into_response())
}

async fn delete_mapping(
    State(rt): St,
    Path((server, scope)): Path<(String, String)>,
) -> Result<StatusCode> {
    let _guard = rt.lock.lock().await;
    let snap = rt.store.load().await.map_err(AdminError::store)?;
    if !snap
        .mappings
        .iter()
        .any(|x| x.authorization_server == server && x.scope == scope)
    {
        return Err(AdminError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no mapping of `{scope}` at `{server}`"),
        ));
    }
    rt.commit(&[Change::DeleteMapping(server, scope)]).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_rules(State(rt): St) -> Result<axum::Json<Value>> {
    let snap = rt.store.load().await.map_err(AdminError::store)?;
    Ok(axum::Json(json!(snap.claims_rules)))
}

async fn show_rule(State(rt): St, Path(name): Path<String>) -> Result<axum::Json<Value>> {
    let snap = rt.store.load().await.map_err(AdminError::store)?;
    snap.claims_rules
        .iter()
        .find(|r| r.name == name)
        .map(|r| axum::Json(json!(r)))
        .ok_or_else(|| rule_not_found(&name))
}

fn rule_not_found(name: &str) -> AdminError {
    AdminError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no claims rule named `{name}`"),
    )
}

/// Creates or replaces a claims rule (by its `name`), checked by the same compiler as the
/// file's (`policy::claims::compile`), then swapped into the live policy.
async fn put_rule(State(rt): St, body: Bytes) -> Result<Response> {
    let r: crate::store::ClaimsRuleRecord = parse(&body)?;
    let _guard = rt.lock.lock().await;
    let snap = rt.store.load().await.map_err(AdminError::store)?;
    let existed = snap.claims_rules.iter().any(|x| x.name == r.name);
    let mut rules: Vec<_> = snap
        .claims_rules
        .into_iter()
        .filter(|x| x.name != r.name)
        .collect();
    rules.push(r.clone());
    live::compile_rules(&rt.live.current().resolved, &rules).map_err(AdminError::invalid)?;
    rt.commit(&[Change::PutClaimsRule(r.clone())]).await?;
    let st = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((st, axum::Json(json!(r))).into_response())
}

async fn put_named_rule(State(rt): St, Path(name): Path<String>, body: Bytes) -> Result<Response> {
    let r: crate::store::ClaimsRuleRecord = parse(&body)?;
    if r.name != name {
        return Err(AdminError::invalid(ConfigError {
            key: "name".into(),
            message: format!("must be `{name}`, the rule named in the path"),
        }));
    }
    put_rule(State(rt), body).await
}

async fn delete_rule(State(rt): St, Path(name): Path<String>) -> Result<StatusCode> {
    let _guard = rt.lock.lock().await;
    let snap = rt.store.load().await.map_err(AdminError::store)?;
    if !snap.claims_rules.iter().any(|x| x.name == name) {
        return Err(rule_not_found(&name));
    }
    rt.commit(&[Change::DeleteClaimsRule(name)]).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_apis(State(rt): St) -> axum::Json<Value> {
    let p = rt.live.current();
    let apis: Vec<Value> = p
        .resolved
        .apis
        .iter()
        .map(|a| {
            json!({
                "name": a.name,
                "base_path": a.base_path,
                "upstream": a.upstream.as_str(),
                "identification": a.identification.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
                "allow_anonymous": a.allow_anonymous,
                "resources": a.resources.iter().map(|r| json!({
                    "path": r.path,
                    "methods": r.methods.iter().map(http::Method::as_str).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
                "scopes": a.scopes.iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
            })
        })
        .collect();
    axum::Json(json!(apis))
}

async fn list_servers(State(rt): St) -> axum::Json<Value> {
    let p = rt.live.current();
    let servers: Vec<Value> = p
        .resolved
        .authorization_servers
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let keys = p
                .validators
                .servers
                .get(i)
                .and_then(|r| r.local.as_ref())
                .map(|l| match &l.keys {
                    crate::validation::local::KeySource::Jwks(_) => "jwks",
                    crate::validation::local::KeySource::Static(_) => "static",
                });
            use crate::telemetry::AsCall;
            json!({
                "name": s.name,
                "discovery_url": s.discovery_url.as_ref().map(url::Url::as_str),
                "issuer": s.issuer,
                "jwks_uri": s.jwks_uri.as_ref().map(url::Url::as_str),
                "introspection_endpoint": s.introspection_endpoint.as_ref().map(url::Url::as_str),
                "token_endpoint": s.token_endpoint.as_ref().map(url::Url::as_str),
                "authorization_endpoint": s.authorization_endpoint.as_ref().map(url::Url::as_str),
                "registration_endpoint": s.registration_endpoint.as_ref().map(url::Url::as_str),
                "dynamic_registration": rt.registrars.contains_key(&s.name),
                "validation": {
                    "local": s.local.is_some(),
                    "remote": s.remote.is_some(),
                    "keys": keys,
                },
                "calls": {
                    "discovery": p.metrics.as_calls(i, AsCall::Discovery),
                    "jwks": p.metrics.as_calls(i, AsCall::Jwks),
                    "introspection": p.metrics.as_calls(i, AsCall::Introspection),
                },
            })
        })
        .collect();
    axum::Json(json!(servers))
}
