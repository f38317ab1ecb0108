//! The declarative configuration: authorization servers, APIs, API scopes, scope mappings and
//! applications with their strategies.
//!
//! The TOML is read into `Raw*` types (unknown keys rejected), then validated into [`Config`].
//! Every validation error names the key it is about, e.g. `apis[0].resources[1].methods`.
//! Secrets (and any endpoint) may be written as `${ENV_NAME}`; the lookup is a parameter, so
//! tests never touch the process environment.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use http::Method;
use serde::Deserialize;
use url::Url;

use crate::secret::Secret;

/// A configuration error, naming the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ConfigError {
    /// The key, e.g. `apis[0].resources[1].methods`.
    pub key: String,
    /// What is wrong with it.
    pub message: String,
}

fn err(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        message: message.into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Raw (file) schema
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: Option<String>,
    realm: Option<String>,
    upstream_timeout_seconds: Option<u64>,
    client_header_timeout_seconds: Option<u64>,
    client_send_timeout_seconds: Option<u64>,
    max_connections: Option<u64>,
    max_connections_per_client: Option<u64>,
    workers: Option<u64>,
    #[serde(default)]
    authorization_servers: Vec<RawAuthServer>,
    #[serde(default)]
    apis: Vec<RawApi>,
    #[serde(default)]
    scope_mappings: Vec<RawScopeMapping>,
    #[serde(default)]
    applications: Vec<RawApplication>,
    #[serde(default)]
    claims_rules: Vec<crate::policy::claims::RawClaimsRule>,
    admin: Option<RawAdmin>,
    store: Option<RawStore>,
    tls: Option<listener::RawTls>,
    identity_headers: Option<RawIdentityHeaders>,
    forward_auth: Option<forward_auth::RawForwardAuth>,
    access_log: Option<access_log::RawAccessLog>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIdentityHeaders {
    #[serde(default)]
    strip: Vec<String>,
    #[serde(default)]
    keep: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdmin {
    listen: Option<String>,
    token: String,
    max_connections: Option<u64>,
    tls: Option<listener::RawTls>,
}

impl fmt::Debug for RawAdmin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawAdmin")
            .field("listen", &self.listen)
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    url: String,
    poll_interval_seconds: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuthServer {
    name: String,
    discovery_url: Option<String>,
    issuer: Option<String>,
    jwks_uri: Option<String>,
    introspection_endpoint: Option<String>,
    registration_endpoint: Option<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    local: Option<RawLocal>,
    remote: Option<RawRemote>,
    api_token: Option<String>,
}

impl fmt::Debug for RawAuthServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawAuthServer")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLocal {
    #[serde(default)]
    audiences: Vec<String>,
    clock_skew_seconds: Option<u64>,
    public_key_pem: Option<String>,
    public_key_pem_file: Option<String>,
    jwks_min_refresh_seconds: Option<u64>,
    jwks_max_stale_seconds: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRemote {
    introspection_endpoint: Option<String>,
    client_id: String,
    client_secret: String,
    cache_ttl_seconds: Option<u64>,
    client_miss_budget: Option<u64>,
}

impl fmt::Debug for RawRemote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawRemote")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApi {
    name: String,
    base_path: String,
    upstream: String,
    #[serde(default)]
    upstream_protocol: Option<crate::upstream::UpstreamProtocol>,
    #[serde(default)]
    upstream_tls: Option<crate::upstream::RawUpstreamTls>,
    #[serde(default)]
    websocket_idle_timeout_seconds: Option<u64>,
    #[serde(default)]
    resources: Vec<RawResource>,
    #[serde(default)]
    identification: Vec<IdentificationType>,
    #[serde(default)]
    allow_anonymous: bool,
    #[serde(default)]
    require_client_certificate: bool,
    #[serde(default)]
    allow_get_body: bool,
    #[serde(default)]
    dpop: crate::validation::dpop::DpopMode,
    #[serde(default)]
    dpop_origin: Option<String>,
    #[serde(default)]
    scopes: Vec<RawApiScope>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResource {
    path: String,
    methods: Vec<String>,
    /// WebSocket handshakes may upgrade (see `crate::upstream::websocket`).
    #[serde(default)]
    websocket: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApiScope {
    name: String,
    #[serde(default)]
    description: Option<String>,
    resources: Vec<RawResource>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScopeMapping {
    authorization_server: String,
    scope: String,
    api_scopes: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApplication {
    name: String,
    #[serde(default)]
    apis: Vec<String>,
    #[serde(default)]
    strategies: Vec<RawStrategy>,
    #[serde(default)]
    identify_by_claims: Option<crate::policy::claims::RawClaimSet>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStrategy {
    name: String,
    scheme: Scheme,
    authorization_server: String,
    client_id: String,
    client_secret: Option<String>,
    #[serde(default)]
    hmac: bool,
}

impl fmt::Debug for RawStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawStrategy")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------------------------------------
// Validated configuration
// ---------------------------------------------------------------------------------------------

/// How an API identifies the caller; tried in the configured order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentificationType {
    /// An OpenID Connect ID token (`aud` = the client id), RS* against the JWKS or HS* with the
    /// strategy's client secret when its `hmac` is on.
    OpenidConnect,
    /// An OAuth2 access token (JWT) validated locally against the JWKS or the static key.
    Oauth2Local,
    /// An OAuth2 access token validated by RFC 7662 introspection at the authorization server.
    Oauth2Remote,
    /// A JWT validated locally like an access token, for `jwt` strategies.
    Jwt,
}

impl IdentificationType {
    /// The label used in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenidConnect => "openid_connect",
            Self::Oauth2Local => "oauth2_local",
            Self::Oauth2Remote => "oauth2_remote",
            Self::Jwt => "jwt",
        }
    }
}

/// A strategy's scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    /// OpenID Connect: ID tokens and access tokens (local or remote).
    Openid,
    /// OAuth2 access tokens (local or remote).
    Oauth2,
    /// JWT identification.
    Jwt,
}

impl Scheme {
    /// Whether a token identified by `kind` may be matched to a strategy of this scheme.
    pub fn accepts(self, kind: IdentificationType) -> bool {
        use IdentificationType as T;
        match self {
            Self::Openid => matches!(kind, T::OpenidConnect | T::Oauth2Local | T::Oauth2Remote),
            Self::Oauth2 => matches!(kind, T::Oauth2Local | T::Oauth2Remote),
            Self::Jwt => matches!(kind, T::Jwt),
        }
    }
}

/// The whole validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where `gateway run` listens.
    pub listen: SocketAddr,
    /// The realm in `WWW-Authenticate` challenges.
    pub realm: String,
    /// How long the upstream may take.
    pub upstream_timeout: Duration,
    /// How long a client may take to send a request head, on a new connection or between
    /// requests on a kept-alive one; then the connection is closed (slow or idle clients must
    /// not hold connections forever).
    pub client_header_timeout: Duration,
    /// How long a write to a client may make no progress (a client that stops reading its
    /// response); then the connection is closed, with the upstream connection feeding it.
    pub client_send_timeout: Duration,
    /// Client connections open at once; beyond it the oldest idle one is closed for a new one,
    /// or the new one when none is idle (so that slow clients cannot use up the descriptors
    /// upstream connections need).
    pub max_connections: usize,
    /// Client connections open at once from one address (an IPv6 client: its /64).
    pub max_connections_per_client: usize,
    /// Threads serving the proxy port, each with its own connections and upstream pool
    /// (`workers`; default: one per CPU).
    pub workers: usize,
    /// The authorization servers.
    pub authorization_servers: Vec<AuthServerConfig>,
    /// The APIs.
    pub apis: Vec<ApiConfig>,
    /// AS scope → API scopes.
    pub scope_mappings: Vec<ScopeMapping>,
    /// The applications.
    pub applications: Vec<ApplicationConfig>,
    /// `[[claims_rules]]`, compiled (`policy::claims`).
    pub claims_rules: Vec<crate::policy::claims::ClaimsRule>,
    /// The admin API (`[admin]`), when enabled.
    pub admin: Option<AdminConfig>,
    /// The durable store of applications and mappings (`[store]`).
    pub store: Option<StoreConfig>,
    /// HTTPS on `listen` (`[tls]`); absent: plain HTTP.
    pub tls: Option<TlsConfig>,
    /// Client headers that claim an identity or a client address, removed before the upstream
    /// (`[identity_headers]`: [`DEFAULT_STRIPPED_IDENTITY_HEADERS`] plus `strip`, less `keep`),
    /// lower case. `x-gateway-*` is always removed, whatever this says.
    pub stripped_identity_headers: Vec<String>,
    /// The forward-auth decision endpoint (`[forward_auth]`), when enabled.
    pub forward_auth: Option<ForwardAuthConfig>,
    /// The access log (`[access_log]`), when enabled.
    pub access_log: Option<AccessLogConfig>,
}

/// Headers an auth proxy or CDN conventionally sets to say who the user is or where the client
/// is; upstreams (Grafana's `auth.proxy`, Apache's `REMOTE_USER`, apps trusting a CDN) believe
/// them, so a client's copy never passes. Names compare ignoring case and `_`/`-`.
pub const DEFAULT_STRIPPED_IDENTITY_HEADERS: &[&str] = &[
    "remote-user",
    "x-remote-user",
    "x-user",
    "x-auth-request-user",
    "x-auth-request-email",
    "x-auth-request-groups",
    "x-auth-request-preferred-username",
    "x-authenticated-user",
    "x-authenticated-userid",
    "x-webauth-user",
    "x-original-host",
    "x-host",
    "client-ip",
    "x-cluster-client-ip",
    "cf-connecting-ip",
    "fastly-client-ip",
    "x-envoy-external-address",
    "x-proxyuser-ip",
];

/// The admin API listener (`[admin]`).
#[derive(Debug, Clone)]
pub struct AdminConfig {
    /// Where it listens (default 127.0.0.1:8081); never the proxy port.
    pub listen: SocketAddr,
    /// Its client connections open at once (default 32), apart from the proxy port's.
    pub max_connections: usize,
    /// HTTPS on the admin port (`[admin.tls]`).
    pub tls: Option<TlsConfig>,
    /// The bearer token it requires.
    pub token: Secret,
}

/// The durable store (`[store]`). `Debug` hides the URL's password.
#[derive(Clone)]
pub struct StoreConfig {
    /// `sqlite:PATH`, `memory:` or `postgres://…`.
    pub url: String,
    /// How often the store is polled for other gateways' changes.
    pub poll_interval: Duration,
}

impl fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = match Url::parse(&self.url) {
            Ok(mut u) if u.password().is_some() => {
                let _ = u.set_password(Some("***"));
                u.to_string()
            }
            _ => self.url.clone(),
        };
        f.debug_struct("StoreConfig")
            .field("url", &url)
            .field("poll_interval", &self.poll_interval)
            .finish()
    }
}

/// The most proxy worker threads `workers` may ask for.
pub const MAX_WORKERS: u64 = 256;

/// `client_header_timeout_seconds` when unset: hyper's default, between nginx's
/// `client_header_timeout` (60 s) and the seconds a slowloris needs to be harmless.
pub const DEFAULT_CLIENT_HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest `client_header_timeout_seconds` and `client_send_timeout_seconds`.
pub const MAX_CLIENT_HEADER_TIMEOUT_SECONDS: u64 = 3600;
/// `client_send_timeout_seconds` when unset: nginx's `send_timeout`.
pub const DEFAULT_CLIENT_SEND_TIMEOUT: Duration = Duration::from_secs(60);
/// The default listen address of the admin API.
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:8081";

/// An external authorization server.
#[derive(Debug, Clone)]
pub struct AuthServerConfig {
    /// e.g. `ExternalOktaServer`.
    pub name: String,
    /// The OIDC/OAuth metadata document, which fills the values not given explicitly.
    pub discovery_url: Option<Url>,
    /// Expected `iss`.
    pub issuer: Option<String>,
    /// Where the signing keys are published.
    pub jwks_uri: Option<Url>,
    /// RFC 7662 endpoint.
    pub introspection_endpoint: Option<Url>,
    /// RFC 7591 endpoint (recorded, not used on the request path).
    pub registration_endpoint: Option<Url>,
    /// Authorization endpoint (used by `gateway demo` to print the browser URL).
    pub authorization_endpoint: Option<Url>,
    /// Token endpoint.
    pub token_endpoint: Option<Url>,
    /// The AS's scopes (informational; mappings may name others).
    pub scopes: Vec<String>,
    /// Local introspection settings.
    pub local: Option<LocalConfig>,
    /// Remote introspection settings.
    pub remote: Option<RemoteConfig>,
    /// The management API token (`SSWS`) used for dynamic client registration.
    pub api_token: Option<Secret>,
}

impl AuthServerConfig {
    /// The clock skew allowed for this server's tokens: the local setting, or the default.
    pub fn clock_skew(&self) -> u64 {
        self.local
            .as_ref()
            .map_or(DEFAULT_CLOCK_SKEW_SECONDS, |l| l.clock_skew)
    }
}

/// `local.clock_skew_seconds` when unset, and the skew of a server without local settings.
pub const DEFAULT_CLOCK_SKEW_SECONDS: u64 = 30;

/// Local (JWT) validation settings.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// Accepted `aud` values for access tokens.
    pub audiences: Vec<String>,
    /// Allowed clock skew for `exp`/`iat`/`nbf`, seconds.
    pub clock_skew: u64,
    /// A static public key or certificate (PEM) instead of the JWKS.
    pub public_key_pem: Option<String>,
    /// The least time between two JWKS refreshes triggered by an unknown `kid`.
    pub jwks_min_refresh: u64,
    /// How long keys keep serving after their refresh time when the AS cannot be reached.
    pub jwks_max_stale: u64,
}

/// Remote (introspection) validation settings.
#[derive(Debug, Clone)]
pub struct RemoteConfig {
    /// Overrides the discovered endpoint.
    pub introspection_endpoint: Option<Url>,
    /// The gateway's client at the AS.
    pub client_id: String,
    /// Its secret.
    pub client_secret: Secret,
    /// Upper bound on how long an introspection result is reused, seconds (0 = no cache).
    pub cache_ttl_cap: u64,
    /// Introspection calls per client address and minute whose token turned out not active
    /// (or unusable); past it, that client's unknown tokens are refused without a call.
    pub client_miss_budget: u32,
}

/// `remote.client_miss_budget` when unset.
pub const DEFAULT_CLIENT_MISS_BUDGET: u32 = 30;

/// One API.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// e.g. `CheckBedAvailability`.
    pub name: String,
    /// Path prefix at the gateway, e.g. `/beds`.
    pub base_path: String,
    /// Where requests go; the path after `base_path` is appended.
    pub upstream: Url,
    /// How the upstream is called (protocol, TLS).
    pub upstream_client: crate::upstream::UpstreamClient,
    /// Resources (paths relative to `base_path`) and their methods.
    pub resources: Vec<Resource>,
    /// Identification types, in order.
    pub identification: Vec<IdentificationType>,
    /// Requests without a token pass as the anonymous application.
    pub allow_anonymous: bool,
    /// Requests must come on a connection with a verified TLS client certificate (`[tls]`
    /// with `client_auth`).
    pub require_client_certificate: bool,
    /// GET requests may carry a body (for APIs that search with one); otherwise they are 400.
    pub allow_get_body: bool,
    /// DPoP (RFC 9449): `disabled` (a DPoP scheme or header is refused), `allowed`, `required`.
    pub dpop: crate::validation::dpop::DpopMode,
    /// The external origin clients put in a proof's `htu` (`https://api.example.com`); unset:
    /// the listener's scheme and the request's Host.
    pub dpop_origin: Option<String>,
    /// API scopes.
    pub scopes: Vec<ApiScope>,
}

/// A resource: a path pattern (`{name}` matches one segment, a final `*` the rest) and methods.
#[derive(Debug, Clone)]
pub struct Resource {
    /// The pattern as written.
    pub path: String,
    /// Accepted methods.
    pub methods: Vec<Method>,
    /// A WebSocket handshake (GET) may upgrade the connection; elsewhere `Upgrade` is stripped.
    pub websocket: bool,
}

/// An API scope: the resource methods it opens.
#[derive(Debug, Clone)]
pub struct ApiScope {
    /// e.g. `CheckBedAvailibiltyScopeV3`.
    pub name: String,
    /// (resource index, methods).
    pub grants: Vec<(usize, Vec<Method>)>,
}

/// An AS scope mapped to API scopes.
#[derive(Debug, Clone)]
pub struct ScopeMapping {
    /// Index into `authorization_servers`.
    pub authorization_server: usize,
    /// The AS scope, e.g. `beds.read`.
    pub scope: String,
    /// (API index, API scope index).
    pub api_scopes: Vec<(usize, usize)>,
}

/// An application.
#[derive(Debug, Clone)]
pub struct ApplicationConfig {
    /// e.g. `OpenIDApp`.
    pub name: String,
    /// Indexes of the APIs it may call.
    pub apis: Vec<usize>,
    /// How its requests are authenticated.
    pub strategies: Vec<Strategy>,
    /// Identified by a claim set too (`identify_by_claims`).
    pub claim_set: Option<crate::policy::claims::ClaimSet>,
}

/// A strategy.
#[derive(Debug, Clone)]
pub struct Strategy {
    /// e.g. `OktaStrategy`.
    pub name: String,
    /// openid / oauth2 / jwt.
    pub scheme: Scheme,
    /// Index into `authorization_servers`.
    pub authorization_server: usize,
    /// The client id tokens carry (`cid`, `client_id`, `azp` or the ID token's `aud`).
    pub client_id: String,
    /// The client secret (the HMAC key when `hmac` is on).
    pub client_secret: Option<Secret>,
    /// Accept HS256/384/512 ID tokens signed with the client secret.
    pub hmac: bool,
}

/// The default listen address of `gateway run`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// Resolves `${NAME}` references.
pub trait EnvLookup {
    /// The value of `name`, if set.
    fn get(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> EnvLookup for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// Reads the process environment.
#[derive(Debug, Clone, Copy)]
pub struct ProcessEnv;

impl EnvLookup for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

fn expand(value: &str, key: &str, env: &dyn EnvLookup) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| err(key, "unterminated `${` reference"))?;
        let name = &after[..end];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(err(
                key,
                format!("`${{{name}}}` is not an environment variable name"),
            ));
        }
        let v = env
            .get(name)
            .ok_or_else(|| err(key, format!("environment variable `{name}` is not set")))?;
        out.push_str(&v);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn parse_url(value: &str, key: &str, env: &dyn EnvLookup) -> Result<Url, ConfigError> {
    let v = expand(value, key, env)?;
    let url = Url::parse(&v).map_err(|e| err(key, format!("not a URL: {e}")))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(err(key, "must be an http or https URL"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(err(
            key,
            "must not carry credentials; use client_id/client_secret",
        ));
    }
    Ok(url)
}

fn opt_url(v: &Option<String>, key: &str, env: &dyn EnvLookup) -> Result<Option<Url>, ConfigError> {
    v.as_deref().map(|s| parse_url(s, key, env)).transpose()
}

fn check_name(name: &str, key: &str) -> Result<(), ConfigError> {
    if name.trim().is_empty() {
        return Err(err(key, "must not be empty"));
    }
    Ok(())
}

/// `[identity_headers]`: the default list plus `strip`, less `keep`; a name that is not a
/// header name, or a `keep` that is not on the default list (a typo would strip nothing less),
/// is refused.
fn identity_headers(raw: Option<RawIdentityHeaders>) -> Result<Vec<String>, ConfigError> {
    let mut names: Vec<String> = DEFAULT_STRIPPED_IDENTITY_HEADERS
        .iter()
        .map(|&n| n.to_owned())
        .collect();
    let Some(raw) = raw else {
        return Ok(names);
    };
    let normal = |n: &str| n.to_ascii_lowercase().replace('_', "-");
    for (i, n) in raw.strip.iter().enumerate() {
        if http::HeaderName::from_bytes(n.as_bytes()).is_err() {
            return Err(err(
                format!("identity_headers.strip[{i}]"),
                "is not a header name",
            ));
        }
        if !names.contains(&normal(n)) {
            names.push(normal(n));
        }
    }
    for (i, n) in raw.keep.iter().enumerate() {
        let before = names.len();
        names.retain(|d| *d != normal(n));
        if names.len() == before {
            return Err(err(
                format!("identity_headers.keep[{i}]"),
                format!(
                    "`{n}` is not on the default list: {}",
                    DEFAULT_STRIPPED_IDENTITY_HEADERS.join(", ")
                ),
            ));
        }
    }
    Ok(names)
}

/// A reference to some methods of one of an API's resources (an API scope's grant, a claims
/// rule's target), by its configured path; `methods: None` is all of the resource's. Keys are
/// `{key}.path` and `{key}.methods[n]`.
pub(crate) fn resource_methods(
    resources: &[Resource],
    api: &str,
    path: &str,
    methods: Option<&[String]>,
    key: &str,
) -> Result<(usize, Vec<Method>), ConfigError> {
    let idx = resources
        .iter()
        .position(|x| x.path == path)
        .ok_or_else(|| {
            err(
                format!("{key}.path"),
                format!("`{path}` is not a resource of API `{api}`"),
            )
        })?;
    let Some(methods) = methods else {
        return Ok((idx, resources[idx].methods.clone()));
    };
    let methods = parse_methods(methods, &format!("{key}.methods"))?;
    for (n, me) in methods.iter().enumerate() {
        if !resources[idx].methods.contains(me) {
            return Err(err(
                format!("{key}.methods[{n}]"),
                format!("resource `{path}` does not accept {me}"),
            ));
        }
    }
    Ok((idx, methods))
}

fn parse_methods(methods: &[String], key: &str) -> Result<Vec<Method>, ConfigError> {
    if methods.is_empty() {
        return Err(err(key, "at least one method is required"));
    }
    let mut out = Vec::with_capacity(methods.len());
    for (i, m) in methods.iter().enumerate() {
        let upper = m.to_ascii_uppercase();
        if !METHODS.contains(&upper.as_str()) {
            return Err(err(
                format!("{key}[{i}]"),
                format!("`{m}` is not one of {}", METHODS.join(", ")),
            ));
        }
        let method = Method::from_bytes(upper.as_bytes())
            .map_err(|_| err(format!("{key}[{i}]"), "invalid method"))?;
        if out.contains(&method) {
            return Err(err(format!("{key}[{i}]"), format!("`{m}` is listed twice")));
        }
        out.push(method);
    }
    Ok(out)
}

/// Whether two resource paths match the same requests: segments equal with ASCII case ignored
/// (as requests are routed), any `{param}` the same as any other.
fn same_pattern(a: &str, b: &str) -> bool {
    let param = |s: &str| s.starts_with('{');
    a.split('/').count() == b.split('/').count()
        && a.split('/').zip(b.split('/')).all(|(x, y)| {
            (param(x) && param(y)) || (!param(x) && !param(y) && x.eq_ignore_ascii_case(y))
        })
}

/// Whether two paths without `*` both match some request while each is the more specific one
/// somewhere (`/h/{id}` and `/{x}/secret` on `/h/secret`): the gateway picks by the first
/// difference, but an upstream's router may pick the other, under other scopes.
fn ambiguous_patterns(a: &str, b: &str) -> bool {
    let param = |s: &str| s.starts_with('{');
    if a.split('/').count() != b.split('/').count() || a.contains('*') || b.contains('*') {
        return false;
    }
    let (mut a_first, mut b_first) = (false, false);
    for (x, y) in a.split('/').zip(b.split('/')) {
        match (param(x), param(y)) {
            (false, false) if !x.eq_ignore_ascii_case(y) => return false,
            (false, true) => a_first = true,
            (true, false) => b_first = true,
            _ => {}
        }
    }
    a_first && b_first
}

fn check_resource_path(path: &str, key: &str) -> Result<(), ConfigError> {
    if !path.starts_with('/') {
        return Err(err(key, "must start with `/`"));
    }
    // Requests with escapes or non-ASCII in a literal's place are refused as non-canonical
    // (see `pipeline::route`), so such a literal could never be reached.
    if !path.is_ascii() || path.contains(['%', ';', '\\']) {
        return Err(err(
            key,
            "must be plain ASCII without `%`, `;` or `\\` (a path an upstream reads as is)",
        ));
    }
    for (i, seg) in path.split('/').skip(1).enumerate() {
        let last = i + 2 == path.split('/').count();
        if seg.is_empty() && path != "/" {
            return Err(err(key, "must not contain empty segments or end with `/`"));
        }
        if seg == "." || seg == ".." {
            return Err(err(key, "must not contain `.` or `..` segments"));
        }
        if seg == "*" && !last {
            return Err(err(key, "`*` is only allowed as the last segment"));
        }
        if seg.contains(['{', '}'])
            && !(seg.starts_with('{') && seg.ends_with('}') && seg.len() > 2)
        {
            return Err(err(key, "a parameter segment is written `{name}`"));
        }
    }
    Ok(())
}

impl Config {
    /// Parses and validates a TOML document, resolving `${ENV}` references with `env`.
    pub fn from_toml(text: &str, env: &dyn EnvLookup) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let key = e
                .span()
                .map(|s| {
                    let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                    format!("line {line}")
                })
                .unwrap_or_else(|| "config".into());
            err(key, e.message().to_owned())
        })?;
        Self::validate(raw, env)
    }

    /// Reads a file (see [`Config::from_toml`]).
    pub fn from_file(path: &std::path::Path, env: &dyn EnvLookup) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| err(path.display().to_string(), format!("cannot read: {e}")))?;
        Self::from_toml(&text, env)
    }

    fn validate(raw: RawConfig, env: &dyn EnvLookup) -> Result<Self, ConfigError> {
        let listen = raw
            .listen
            .as_deref()
            .unwrap_or(DEFAULT_LISTEN)
            .parse()
            .map_err(|_| err("listen", "must be an address like 127.0.0.1:8080"))?;
        let realm = raw.realm.unwrap_or_else(|| "gateway".into());
        if realm.contains(['"', '\\']) || realm.chars().any(|c| c.is_control()) {
            return Err(err(
                "realm",
                "must not contain quotes, backslashes or control characters",
            ));
        }
        let upstream_timeout = Duration::from_secs(raw.upstream_timeout_seconds.unwrap_or(30));
        let client_header_timeout = match raw.client_header_timeout_seconds {
            None => DEFAULT_CLIENT_HEADER_TIMEOUT,
            Some(n @ 1..=MAX_CLIENT_HEADER_TIMEOUT_SECONDS) => Duration::from_secs(n),
            Some(_) => {
                return Err(err(
                    "client_header_timeout_seconds",
                    format!("must be between 1 and {MAX_CLIENT_HEADER_TIMEOUT_SECONDS}"),
                ));
            }
        };
        let client_send_timeout = match raw.client_send_timeout_seconds {
            None => DEFAULT_CLIENT_SEND_TIMEOUT,
            Some(n @ 1..=MAX_CLIENT_HEADER_TIMEOUT_SECONDS) => Duration::from_secs(n),
            Some(_) => {
                return Err(err(
                    "client_send_timeout_seconds",
                    format!("must be between 1 and {MAX_CLIENT_HEADER_TIMEOUT_SECONDS}"),
                ));
            }
        };
        let tls = listener::tls_of(raw.tls, "tls")?;
        let caps = listener::Caps::from_raw(
            raw.max_connections,
            raw.max_connections_per_client,
            raw.admin.as_ref().map(|a| a.max_connections),
        )?;
        let workers = match raw.workers {
            None => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            Some(n @ 1..=MAX_WORKERS) => n as usize,
            Some(_) => {
                return Err(err(
                    "workers",
                    format!("must be between 1 and {MAX_WORKERS}"),
                ));
            }
        };

        let authorization_servers = authorization_servers(raw.authorization_servers, env)?;
        let apis = apis(raw.apis, env)?;
        check_identification(&apis, &authorization_servers)?;
        listener::check_client_certificates(&apis, tls.as_ref())?;
        let (applications, scope_mappings) = policy(
            raw.applications,
            raw.scope_mappings,
            &authorization_servers,
            &apis,
            env,
        )?;
        let claims_rules =
            crate::policy::claims::compile(&apis, &raw.claims_rules, crate::policy::Keys::ByIndex)?;

        let admin = match raw.admin {
            None => None,
            Some(a) => {
                let listen_admin: SocketAddr = a
                    .listen
                    .as_deref()
                    .unwrap_or(DEFAULT_ADMIN_LISTEN)
                    .parse()
                    .map_err(|_| err("admin.listen", "must be an address like 127.0.0.1:8081"))?;
                if listen_admin == listen {
                    return Err(err("admin.listen", "must differ from the proxy's `listen`"));
                }
                let token = expand(&a.token, "admin.token", env)?;
                if token.len() < 16 {
                    return Err(err("admin.token", "must be at least 16 characters"));
                }
                Some(AdminConfig {
                    listen: listen_admin,
                    max_connections: caps
                        .admin_max_connections
                        .unwrap_or(listener::DEFAULT_ADMIN_MAX_CONNECTIONS),
                    tls: listener::tls_of(a.tls, "admin.tls")?,
                    token: Secret::new(token),
                })
            }
        };
        let store = match raw.store {
            None => None,
            Some(s) => Some(StoreConfig {
                url: expand(&s.url, "store.url", env)?,
                poll_interval: Duration::from_secs(s.poll_interval_seconds.unwrap_or(2).max(1)),
            }),
        };

        let stripped_identity_headers = identity_headers(raw.identity_headers)?;
        let forward_auth = forward_auth::forward_auth(raw.forward_auth, &apis)?;
        let access_log = access_log::access_log(raw.access_log)?;

        Ok(Self {
            stripped_identity_headers,
            forward_auth,
            access_log,
            listen,
            realm,
            upstream_timeout,
            client_header_timeout,
            client_send_timeout,
            max_connections: caps.max_connections,
            max_connections_per_client: caps.max_connections_per_client,
            workers,
            authorization_servers,
            apis,
            scope_mappings,
            applications,
            claims_rules,
            admin,
            store,
            tls,
        })
    }
}

/// `[[authorization_servers]]`: names unique, local and remote settings, `${ENV}` resolved.
fn authorization_servers(
    raw: Vec<RawAuthServer>,
    env: &dyn EnvLookup,
) -> Result<Vec<AuthServerConfig>, ConfigError> {
    let mut as_index = HashMap::new();
    let mut authorization_servers = Vec::new();
    for (i, a) in raw.into_iter().enumerate() {
        let k = format!("authorization_servers[{i}]");
        check_name(&a.name, &format!("{k}.name"))?;
        if as_index.insert(a.name.clone(), i).is_some() {
            return Err(err(
                format!("{k}.name"),
                format!("`{}` is defined twice", a.name),
            ));
        }
        let local = match a.local {
            None => None,
            Some(l) => {
                let lk = format!("{k}.local");
                let public_key_pem = match (l.public_key_pem, l.public_key_pem_file) {
                    (Some(_), Some(_)) => {
                        return Err(err(
                            format!("{lk}.public_key_pem"),
                            "give either public_key_pem or public_key_pem_file",
                        ));
                    }
                    (Some(p), None) => Some(expand(&p, &format!("{lk}.public_key_pem"), env)?),
                    (None, Some(f)) => {
                        let f = expand(&f, &format!("{lk}.public_key_pem_file"), env)?;
                        Some(std::fs::read_to_string(&f).map_err(|e| {
                            err(
                                format!("{lk}.public_key_pem_file"),
                                format!("cannot read `{f}`: {e}"),
                            )
                        })?)
                    }
                    (None, None) => None,
                };
                if l.audiences.is_empty() {
                    return Err(err(
                        format!("{lk}.audiences"),
                        "at least one accepted audience is required",
                    ));
                }
                let clock_skew = l.clock_skew_seconds.unwrap_or(DEFAULT_CLOCK_SKEW_SECONDS);
                if clock_skew > 300 {
                    return Err(err(
                        format!("{lk}.clock_skew_seconds"),
                        "must be at most 300",
                    ));
                }
                Some(LocalConfig {
                    audiences: l.audiences,
                    clock_skew,
                    public_key_pem,
                    jwks_min_refresh: l.jwks_min_refresh_seconds.unwrap_or(10),
                    jwks_max_stale: l.jwks_max_stale_seconds.unwrap_or(24 * 3600),
                })
            }
        };
        let remote = match a.remote {
            None => None,
            Some(r) => {
                let rk = format!("{k}.remote");
                check_name(&r.client_id, &format!("{rk}.client_id"))?;
                let secret = expand(&r.client_secret, &format!("{rk}.client_secret"), env)?;
                if secret.is_empty() {
                    return Err(err(format!("{rk}.client_secret"), "must not be empty"));
                }
                Some(RemoteConfig {
                    introspection_endpoint: opt_url(
                        &r.introspection_endpoint,
                        &format!("{rk}.introspection_endpoint"),
                        env,
                    )?,
                    client_id: expand(&r.client_id, &format!("{rk}.client_id"), env)?,
                    client_secret: Secret::new(secret),
                    cache_ttl_cap: r.cache_ttl_seconds.unwrap_or(60),
                    client_miss_budget: match r.client_miss_budget {
                        None => DEFAULT_CLIENT_MISS_BUDGET,
                        Some(n @ 1..=1_000_000) => n as u32,
                        Some(_) => {
                            return Err(err(
                                format!("{rk}.client_miss_budget"),
                                "must be 1 to 1,000,000 misses per minute",
                            ));
                        }
                    },
                })
            }
        };
        if local.is_none() && remote.is_none() {
            return Err(err(
                &k,
                "needs `local` and/or `remote` introspection settings",
            ));
        }
        let discovery_url = opt_url(&a.discovery_url, &format!("{k}.discovery_url"), env)?;
        let issuer = a
            .issuer
            .as_deref()
            .map(|s| expand(s, &format!("{k}.issuer"), env))
            .transpose()?;
        if discovery_url.is_none() && issuer.is_none() {
            return Err(err(
                format!("{k}.issuer"),
                "give `issuer` or `discovery_url`",
            ));
        }
        authorization_servers.push(AuthServerConfig {
            name: a.name,
            discovery_url,
            issuer,
            jwks_uri: opt_url(&a.jwks_uri, &format!("{k}.jwks_uri"), env)?,
            introspection_endpoint: opt_url(
                &a.introspection_endpoint,
                &format!("{k}.introspection_endpoint"),
                env,
            )?,
            registration_endpoint: opt_url(
                &a.registration_endpoint,
                &format!("{k}.registration_endpoint"),
                env,
            )?,
            authorization_endpoint: opt_url(
                &a.authorization_endpoint,
                &format!("{k}.authorization_endpoint"),
                env,
            )?,
            token_endpoint: opt_url(&a.token_endpoint, &format!("{k}.token_endpoint"), env)?,
            scopes: a.scopes,
            local,
            remote,
            api_token: a
                .api_token
                .as_deref()
                .map(|v| expand(v, &format!("{k}.api_token"), env))
                .transpose()?
                .map(Secret::new),
        });
    }
    Ok(authorization_servers)
}

/// `[[apis]]`: names and base paths unique, upstreams, resources, scopes.
fn apis(raw: Vec<RawApi>, env: &dyn EnvLookup) -> Result<Vec<ApiConfig>, ConfigError> {
    let mut api_index = HashMap::new();
    let mut base_paths = HashSet::new();
    let mut apis = Vec::new();
    for (i, a) in raw.into_iter().enumerate() {
        let k = format!("apis[{i}]");
        check_name(&a.name, &format!("{k}.name"))?;
        if api_index.insert(a.name.clone(), i).is_some() {
            return Err(err(
                format!("{k}.name"),
                format!("`{}` is defined twice", a.name),
            ));
        }
        let bp = &a.base_path;
        if !bp.starts_with('/') || (bp.len() > 1 && bp.ends_with('/')) || bp.contains("//") {
            return Err(err(
                format!("{k}.base_path"),
                "must start with `/` and not end with `/`",
            ));
        }
        if bp
            .split('/')
            .any(|s| s == "." || s == ".." || s.contains(['{', '}', '*', ';', '%']))
        {
            return Err(err(format!("{k}.base_path"), "must be a plain path"));
        }
        if bp == "/health" || bp == "/metrics" {
            return Err(err(
                format!("{k}.base_path"),
                "`/health` and `/metrics` are the gateway's own",
            ));
        }
        // Paths are routed with ASCII case ignored (see `pipeline::route`).
        if !base_paths.insert(bp.to_ascii_lowercase()) {
            return Err(err(
                format!("{k}.base_path"),
                format!("`{bp}` is used by another API"),
            ));
        }
        let upstream = parse_url(&a.upstream, &format!("{k}.upstream"), env)?;
        let upstream_client = crate::upstream::validate(
            &upstream,
            (a.upstream_protocol, a.upstream_tls),
            a.websocket_idle_timeout_seconds,
            &k,
            &|v, key| expand(v, key, env),
        )?;
        if upstream.query().is_some() || upstream.fragment().is_some() {
            return Err(err(
                format!("{k}.upstream"),
                "must not have a query or fragment",
            ));
        }
        if a.resources.is_empty() {
            return Err(err(
                format!("{k}.resources"),
                "at least one resource is required",
            ));
        }
        let mut resources: Vec<Resource> = Vec::new();
        for (j, r) in a.resources.iter().enumerate() {
            let rk = format!("{k}.resources[{j}]");
            check_resource_path(&r.path, &format!("{rk}.path"))?;
            if let Some(twin) = resources.iter().find(|x| same_pattern(&x.path, &r.path)) {
                return Err(err(
                    format!("{rk}.path"),
                    format!("`{}` is the same resource as `{}`", r.path, twin.path),
                ));
            }
            if let Some(twin) = resources
                .iter()
                .find(|x| ambiguous_patterns(&x.path, &r.path))
            {
                return Err(err(
                    format!("{rk}.path"),
                    format!(
                        "`{}` and `{}` both match some paths and neither is more specific; \
                         routers disagree on which wins (add a literal resource for the overlap)",
                        r.path, twin.path
                    ),
                ));
            }
            let methods = parse_methods(&r.methods, &format!("{rk}.methods"))?;
            if r.websocket && !methods.contains(&Method::GET) {
                return Err(err(
                    format!("{rk}.websocket"),
                    "a WebSocket handshake is a GET: list GET in methods",
                ));
            }
            resources.push(Resource {
                path: r.path.clone(),
                methods,
                websocket: r.websocket,
            });
        }
        if a.identification.is_empty() && !a.allow_anonymous {
            return Err(err(
                format!("{k}.identification"),
                "list at least one identification type (or allow_anonymous)",
            ));
        }
        let mut seen = HashSet::new();
        for (j, t) in a.identification.iter().enumerate() {
            if !seen.insert(*t) {
                return Err(err(
                    format!("{k}.identification[{j}]"),
                    format!("`{}` is listed twice", t.as_str()),
                ));
            }
        }
        let mut scopes: Vec<ApiScope> = Vec::new();
        for (j, s) in a.scopes.iter().enumerate() {
            let sk = format!("{k}.scopes[{j}]");
            check_name(&s.name, &format!("{sk}.name"))?;
            let _ = &s.description;
            if scopes.iter().any(|x| x.name == s.name) {
                return Err(err(
                    format!("{sk}.name"),
                    format!("`{}` is defined twice", s.name),
                ));
            }
            let mut grants = Vec::new();
            for (m, r) in s.resources.iter().enumerate() {
                let gk = format!("{sk}.resources[{m}]");
                if r.websocket {
                    return Err(err(
                        format!("{gk}.websocket"),
                        "set on the API's resource, not in a scope",
                    ));
                }
                grants.push(resource_methods(
                    &resources,
                    &a.name,
                    &r.path,
                    Some(&r.methods),
                    &gk,
                )?);
            }
            if grants.is_empty() {
                return Err(err(
                    format!("{sk}.resources"),
                    "an API scope must open at least one resource",
                ));
            }
            scopes.push(ApiScope {
                name: s.name.clone(),
                grants,
            });
        }
        apis.push(ApiConfig {
            name: a.name,
            base_path: a.base_path,
            upstream,
            upstream_client,
            resources,
            identification: a.identification,
            allow_anonymous: a.allow_anonymous,
            require_client_certificate: a.require_client_certificate,
            allow_get_body: a.allow_get_body,
            dpop_origin: check_dpop_origin(&format!("apis[{i}].dpop_origin"), a.dpop_origin)?,
            dpop: a.dpop,
            scopes,
        });
    }
    Ok(apis)
}

/// `dpop_origin`: an origin only (`https://host[:port]`), what clients put before the path.
fn check_dpop_origin(key: &str, origin: Option<String>) -> Result<Option<String>, ConfigError> {
    let Some(origin) = origin else {
        return Ok(None);
    };
    let url =
        Url::parse(&origin).map_err(|_| err(key, "must be a URL like https://api.example.com"))?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none()
        || url.path() != "/"
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
    {
        return Err(err(
            key,
            "must be an origin (scheme, host, optional port) without a path, like https://api.example.com",
        ));
    }
    Ok(Some(origin.trim_end_matches('/').to_owned()))
}

/// Each API's identification types need an authorization server with matching settings.
fn check_identification(
    apis: &[ApiConfig],
    authorization_servers: &[AuthServerConfig],
) -> Result<(), ConfigError> {
    for (i, a) in apis.iter().enumerate() {
        for (j, t) in a.identification.iter().enumerate() {
            let ok = match t {
                IdentificationType::Oauth2Remote => {
                    authorization_servers.iter().any(|s| s.remote.is_some())
                }
                IdentificationType::Oauth2Local | IdentificationType::Jwt => {
                    authorization_servers.iter().any(|s| s.local.is_some())
                }
                IdentificationType::OpenidConnect => true,
            };
            if !ok {
                return Err(err(
                    format!("apis[{i}].identification[{j}]"),
                    format!(
                        "no authorization server has the {} settings `{}` needs",
                        if *t == IdentificationType::Oauth2Remote {
                            "remote"
                        } else {
                            "local"
                        },
                        t.as_str()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// `[[applications]]` and `[[scope_mappings]]`: `${ENV}` references resolved here, everything
/// else checked by the one policy compiler the admin API and reloads use.
fn policy(
    applications: Vec<RawApplication>,
    mappings: Vec<RawScopeMapping>,
    authorization_servers: &[AuthServerConfig],
    apis: &[ApiConfig],
    env: &dyn EnvLookup,
) -> Result<(Vec<ApplicationConfig>, Vec<ScopeMapping>), ConfigError> {
    let mut records = Vec::with_capacity(applications.len());
    for (i, a) in applications.into_iter().enumerate() {
        let mut strategies = Vec::with_capacity(a.strategies.len());
        for (j, s) in a.strategies.into_iter().enumerate() {
            let sk = format!("applications[{i}].strategies[{j}]");
            strategies.push(crate::store::StrategyRecord {
                client_id: expand(&s.client_id, &format!("{sk}.client_id"), env)?,
                client_secret: s
                    .client_secret
                    .as_deref()
                    .map(|v| expand(v, &format!("{sk}.client_secret"), env))
                    .transpose()?
                    .map(Secret::new),
                name: s.name,
                scheme: s.scheme,
                authorization_server: s.authorization_server,
                hmac: s.hmac,
                registration: None,
            });
        }
        records.push(crate::store::AppRecord {
            name: a.name,
            apis: a.apis,
            strategies,
            identify_by_claims: a.identify_by_claims,
            deleting: false,
        });
    }
    let mappings: Vec<crate::store::MappingRecord> = mappings
        .into_iter()
        .map(|m| crate::store::MappingRecord {
            authorization_server: m.authorization_server,
            scope: m.scope,
            api_scopes: m.api_scopes,
        })
        .collect();
    crate::policy::compile(
        authorization_servers,
        apis,
        &records,
        &mappings,
        crate::policy::Keys::ByIndex,
    )
}

mod access_log;
pub use access_log::{AccessLogConfig, AccessLogFormat};
mod forward_auth;
pub use forward_auth::{DEFAULT_FORWARD_AUTH_PATH, ForwardAuthConfig, IpNet};
mod listener;
pub use listener::{
    CertificateFiles, ClientAuth, DEFAULT_ADMIN_MAX_CONNECTIONS,
    DEFAULT_MAX_CONNECTIONS_PER_CLIENT, DEFAULT_TLS_HANDSHAKE_TIMEOUT, MAX_CONNECTIONS,
    RESERVED_DESCRIPTORS, TlsConfig,
};

#[cfg(test)]
mod tests;
