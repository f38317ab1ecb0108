//! The configuration schema (TOML, Okta's field names), the embedded default,
//! and validation whose errors name the offending key.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// The configuration used when none is given (`mock-idp --print-config`).
pub const DEFAULT_CONFIG_TOML: &str = include_str!("../default-config.toml");

/// Grant types the token endpoint understands.
pub const KNOWN_GRANT_TYPES: &[&str] = &[
    "authorization_code",
    "client_credentials",
    "implicit",
    "password",
    "refresh_token",
    crate::device::GRANT_TYPE,
    crate::grants::token_exchange::GRANT_TYPE,
    crate::grants::jwt_bearer::GRANT_TYPE,
];

/// OpenID Connect scopes every server offers; custom scopes may not reuse them.
pub const OIDC_SCOPES: &[&str] = &[
    "openid",
    "profile",
    "email",
    "address",
    "phone",
    "offline_access",
    "groups",
];

const AUTH_METHODS: &[&str] = &[
    "client_secret_basic",
    "client_secret_post",
    "client_secret_jwt",
    "private_key_jwt",
    "none",
];

/// The longest browser session (Okta's longest: 90 days).
pub const MAX_SESSION_LIFETIME: u64 = 90 * 24 * 3600;

/// The longest refresh-token idle window (Okta's longest finite one: 5 years).
pub const MAX_REFRESH_TOKEN_WINDOW: u64 = 5 * 365 * 24 * 3600;

/// A configuration error; the message names the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config: {0}")]
    Parse(String),
    #[error("invalid config: `{key}`: {message}")]
    Invalid { key: String, message: String },
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerSettings,
    #[serde(default)]
    pub org: OrgServerConfig,
    #[serde(default)]
    pub authorization_servers: Vec<AuthorizationServerConfig>,
    #[serde(default)]
    pub clients: Vec<ClientConfig>,
    #[serde(default)]
    pub users: Vec<UserConfig>,
    #[serde(default)]
    pub api_tokens: Vec<ApiTokenConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Seconds clients may cache the key set.
    #[serde(default = "default_jwks_max_age")]
    pub jwks_max_age: u64,
    /// Largest request body accepted, in bytes.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// Requests per minute per endpoint before Okta's 429 (`E0000047`);
    /// unlimited when absent (the `X-Rate-Limit-*` headers are always sent).
    #[serde(default)]
    pub rate_limit_per_minute: Option<u64>,
    /// Serve HTTPS with this certificate chain and key (PEM files). Without
    /// it, `mock-idp --tls` makes its own CA and certificate.
    #[serde(default)]
    pub tls: Option<TlsFiles>,
    /// Sign every browser login in as this user (a `login`) without showing
    /// the login page: for fully headless test runs. Per client: `auto_login`.
    #[serde(default)]
    pub auto_login: Option<String>,
    /// Authorization-code lifetime in seconds (Okta: 300).
    #[serde(default = "default_code_lifetime")]
    pub authorization_code_lifetime: u64,
    /// Browser-session lifetime in seconds (Okta's default session policy: 2 hours).
    #[serde(default = "default_session_lifetime")]
    pub session_lifetime: u64,
    /// A refresh token unused for this many seconds expires (Okta's
    /// `refreshTokenWindowMinutes`, default 7 days).
    #[serde(default = "default_refresh_token_window")]
    pub refresh_token_window: u64,
    /// When set, every `/__mock/` request must carry `Authorization: Bearer <token>`
    /// (for a mock run as a shared service; `MOCK_IDP_CONTROL_TOKEN` sets it too).
    #[serde(default)]
    pub control_token: Option<Secret>,
    /// Failed passwords in a row before a user is `LOCKED_OUT` (Okta's password
    /// policy `lockout.maxAttempts`, 10 by default); 0 never locks.
    #[serde(default = "default_lockout_max_attempts")]
    pub lockout_max_attempts: u32,
    /// Minutes after which a locked-out user is unlocked at their next sign-in
    /// (Okta's `lockout.autoUnlockMinutes`); 0 (the default): only an admin unlocks.
    #[serde(default)]
    pub lockout_auto_unlock_minutes: u64,
    /// Tell a locked-out user so (authn's `LOCKED_OUT`, the login page's message)
    /// instead of Okta's default `E0000004` (`lockout.showLockoutFailures`).
    #[serde(default)]
    pub show_lockout_failures: bool,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            jwks_max_age: default_jwks_max_age(),
            max_body_bytes: default_max_body_bytes(),
            rate_limit_per_minute: None,
            tls: None,
            auto_login: None,
            authorization_code_lifetime: default_code_lifetime(),
            session_lifetime: default_session_lifetime(),
            refresh_token_window: default_refresh_token_window(),
            control_token: None,
            lockout_max_attempts: default_lockout_max_attempts(),
            lockout_auto_unlock_minutes: 0,
            show_lockout_failures: false,
        }
    }
}

fn default_lockout_max_attempts() -> u32 {
    10
}

fn default_code_lifetime() -> u64 {
    300
}

fn default_session_lifetime() -> u64 {
    7200
}

fn default_refresh_token_window() -> u64 {
    7 * 24 * 3600
}

fn default_jwks_max_age() -> u64 {
    300
}

fn default_max_body_bytes() -> usize {
    64 * 1024
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgServerConfig {
    /// PKCS#8 PEM file with the RSA signing key; generated at start when absent.
    pub signing_key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationServerConfig {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default = "default_audience")]
    pub audience: String,
    /// Access-token lifetime in seconds (Okta allows 5 minutes to 24 hours).
    #[serde(default = "default_token_lifetime")]
    pub access_token_lifetime: u64,
    #[serde(default)]
    pub scopes: Vec<ScopeConfig>,
    #[serde(default)]
    pub policies: Vec<PolicyConfig>,
    /// PKCS#8 PEM file with the RSA signing key; generated at start when absent.
    pub signing_key_file: Option<PathBuf>,
    /// Custom claims this server adds to its tokens (Okta's claims).
    #[serde(default)]
    pub claims: Vec<ClaimConfig>,
}

/// A custom claim: a fixed value, or a value taken from the user.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimConfig {
    pub name: String,
    /// `access`, `id` or `both`.
    #[serde(default)]
    pub token: crate::control::TokenKind,
    /// A fixed value (any TOML value).
    #[serde(default)]
    pub value: Option<toml::Value>,
    /// From the user: `groups`, `login`, `id`, or `profile.<attribute>`.
    #[serde(default)]
    pub value_from: Option<String>,
    /// Only for these client ids (every client when empty).
    #[serde(default)]
    pub clients: Vec<String>,
}

fn default_audience() -> String {
    "api://default".to_owned()
}

fn default_token_lifetime() -> u64 {
    3600
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeConfig {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Granted when a client_credentials request names no scope.
    #[serde(default)]
    pub default: bool,
    /// Okta's `metadataPublish`: listed in discovery only with `ALL_CLIENTS`.
    #[serde(default)]
    pub metadata_publish: MetadataPublish,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MetadataPublish {
    AllClients,
    #[default]
    NoClients,
}

/// An access policy with one rule: which clients may use which grants for
/// which scopes. The first matching policy decides.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    pub name: String,
    /// Client ids, or `ALL_CLIENTS`.
    #[serde(default = "all_clients")]
    pub clients: Vec<String>,
    #[serde(default = "all_grants")]
    pub grant_types: Vec<String>,
    /// Scope names, or `*` for every scope.
    #[serde(default = "all_scopes")]
    pub scopes: Vec<String>,
    /// Overrides the server's access-token lifetime, in seconds.
    #[serde(default)]
    pub access_token_lifetime: Option<u64>,
}

fn all_clients() -> Vec<String> {
    vec!["ALL_CLIENTS".to_owned()]
}

fn all_grants() -> Vec<String> {
    KNOWN_GRANT_TYPES.iter().map(|g| (*g).to_owned()).collect()
}

fn all_scopes() -> Vec<String> {
    vec!["*".to_owned()]
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    pub client_id: String,
    #[serde(default)]
    pub client_secret: Option<Secret>,
    #[serde(default)]
    pub client_name: Option<String>,
    #[serde(default = "default_application_type")]
    pub application_type: String,
    #[serde(default = "default_grant_types")]
    pub grant_types: Vec<String>,
    #[serde(default = "default_response_types")]
    pub response_types: Vec<String>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    #[serde(default = "default_auth_method")]
    pub token_endpoint_auth_method: String,
    /// The client's public keys for `private_key_jwt` (a JWK set).
    #[serde(default)]
    pub jwks: Option<toml::Value>,
    /// Okta's "Require PKCE" setting; always on for public clients.
    #[serde(default)]
    pub pkce_required: bool,
    /// Okta's `refresh_token.rotation_type`: `ROTATE` or `STATIC`. Default:
    /// `ROTATE` for public clients (as Okta does for SPAs), else `STATIC`.
    #[serde(default)]
    pub refresh_token_rotation_type: Option<String>,
    /// Okta's `refresh_token.leeway`: seconds a rotated-out refresh token
    /// still works (0–60, default 30).
    #[serde(default = "default_refresh_leeway")]
    pub refresh_token_leeway: u64,
    /// Sign this user (a `login`) in without the login page, for this client.
    #[serde(default)]
    pub auto_login: Option<String>,
    /// Encrypt ID tokens to the client's `enc` key (Okta: `RSA-OAEP-256`, …).
    #[serde(default)]
    pub id_token_encrypted_response_alg: Option<String>,
    /// Content encryption for ID tokens (Okta: `A256GCM`, the default).
    #[serde(default)]
    pub id_token_encrypted_response_enc: Option<String>,
    /// Authorize requests must come through `/v1/par` (RFC 9126 §6).
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    /// Okta's "Require DPoP": token requests must carry a DPoP proof (RFC 9449).
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
}

fn default_refresh_leeway() -> u64 {
    30
}

fn default_application_type() -> String {
    "web".to_owned()
}

fn default_grant_types() -> Vec<String> {
    vec!["authorization_code".to_owned()]
}

fn default_response_types() -> Vec<String> {
    vec!["code".to_owned()]
}

fn default_auth_method() -> String {
    "client_secret_basic".to_owned()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// Okta user id (`00u…`); derived from the login when absent.
    #[serde(default)]
    pub id: Option<String>,
    pub login: String,
    pub password: Secret,
    #[serde(default)]
    pub groups: Vec<String>,
    /// Okta profile attributes: firstName, lastName, email, locale, timeZone, …
    #[serde(default)]
    pub profile: BTreeMap<String, toml::Value>,
    /// Start `PASSWORD_EXPIRED`: authn asks for a new password first.
    #[serde(default)]
    pub password_expired: bool,
    /// The password expires this many days after start (on the mock clock);
    /// until then authn answers `PASSWORD_WARN` when asked to warn.
    #[serde(default)]
    pub password_expires_in_days: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiTokenConfig {
    #[serde(default)]
    pub name: Option<String>,
    pub token: Secret,
}

impl Config {
    /// The embedded default configuration.
    pub fn default_config() -> Self {
        match Self::from_toml(DEFAULT_CONFIG_TOML) {
            Ok(config) => config,
            // The embedded file is checked by a unit test; failing here is a build defect.
            Err(error) => unreachable!("embedded default config is invalid: {error}"),
        }
    }

    /// Parses and validates a TOML document.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Parses and validates a JSON document with the same schema (for
    /// `MOCK_IDP_CONFIG_JSON`, where a container's environment holds the config).
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let config: Config =
            serde_json::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// The configuration as TOML that loads back to the same configuration.
    /// Client secrets, passwords, API tokens and the control token print as
    /// `[redacted]` unless `show_secrets`.
    pub fn to_toml(&self, show_secrets: bool) -> Result<String, ConfigError> {
        let mut value =
            toml::Value::try_from(self).map_err(|e| ConfigError::Parse(e.to_string()))?;
        if show_secrets {
            let secrets: [(&str, &str, Vec<Option<&Secret>>); 3] = [
                (
                    "clients",
                    "client_secret",
                    self.clients
                        .iter()
                        .map(|c| c.client_secret.as_ref())
                        .collect(),
                ),
                (
                    "users",
                    "password",
                    self.users.iter().map(|u| Some(&u.password)).collect(),
                ),
                (
                    "api_tokens",
                    "token",
                    self.api_tokens.iter().map(|t| Some(&t.token)).collect(),
                ),
            ];
            if let (Some(token), Some(server)) = (
                &self.server.control_token,
                value.get_mut("server").and_then(toml::Value::as_table_mut),
            ) {
                let exposed = toml::Value::String(token.expose().to_owned());
                server.insert("control_token".to_owned(), exposed);
            }
            for (table, field, values) in secrets {
                let Some(toml::Value::Array(items)) = value.get_mut(table) else {
                    continue;
                };
                for (item, secret) in items.iter_mut().zip(values) {
                    if let (Some(item), Some(secret)) = (item.as_table_mut(), secret) {
                        let exposed = toml::Value::String(secret.expose().to_owned());
                        item.insert(field.to_owned(), exposed);
                    }
                }
            }
        }
        toml::to_string_pretty(&value).map_err(|e| ConfigError::Parse(e.to_string()))
    }

    /// Reads, parses and validates a TOML file; relative key paths in it are
    /// resolved against the file's folder.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config = Self::from_toml(&text)?;
        if let Some(dir) = path.parent() {
            config.resolve_paths(dir);
        }
        Ok(config)
    }

    fn resolve_paths(&mut self, dir: &Path) {
        let resolve = |p: &mut Option<PathBuf>| {
            if let Some(path) = p.as_mut()
                && path.is_relative()
            {
                *path = dir.join(&*path);
            }
        };
        resolve(&mut self.org.signing_key_file);
        if let Some(tls) = self.server.tls.as_mut() {
            for path in [&mut tls.cert_file, &mut tls.key_file] {
                if path.is_relative() {
                    *path = dir.join(&*path);
                }
            }
        }
        for server in &mut self.authorization_servers {
            resolve(&mut server.signing_key_file);
        }
    }

    /// Checks what serde cannot: uniqueness, references and allowed values.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut server_ids = HashSet::new();
        for (i, server) in self.authorization_servers.iter().enumerate() {
            let key = format!("authorization_servers[{i}]");
            validate_server(server, &key)?;
            if !server_ids.insert(server.id.as_str()) {
                return Err(invalid(
                    format!("{key}.id"),
                    format!("duplicate id {:?}", server.id),
                ));
            }
        }
        let mut client_ids = HashSet::new();
        for (i, client) in self.clients.iter().enumerate() {
            let key = format!("clients[{i}]");
            validate_client(client, &key)?;
            if !client_ids.insert(client.client_id.as_str()) {
                return Err(invalid(
                    format!("{key}.client_id"),
                    format!("duplicate client_id {:?}", client.client_id),
                ));
            }
        }
        for (i, server) in self.authorization_servers.iter().enumerate() {
            for (j, policy) in server.policies.iter().enumerate() {
                for (k, client) in policy.clients.iter().enumerate() {
                    if client != "ALL_CLIENTS" && !client_ids.contains(client.as_str()) {
                        return Err(invalid(
                            format!("authorization_servers[{i}].policies[{j}].clients[{k}]"),
                            format!("no client with client_id {client:?}"),
                        ));
                    }
                }
            }
        }
        let mut logins = HashSet::new();
        let mut user_ids = HashSet::new();
        for (i, user) in self.users.iter().enumerate() {
            let key = format!("users[{i}]");
            if user.login.trim().is_empty() {
                return Err(invalid(format!("{key}.login"), "must not be empty"));
            }
            if user.password.is_empty() {
                return Err(invalid(format!("{key}.password"), "must not be empty"));
            }
            if !logins.insert(user.login.to_lowercase()) {
                return Err(invalid(
                    format!("{key}.login"),
                    format!("duplicate login {:?}", user.login),
                ));
            }
            if let Some(id) = &user.id {
                if !is_okta_id_like(id) {
                    return Err(invalid(
                        format!("{key}.id"),
                        "use letters and digits only (Okta user ids look like 00u…)",
                    ));
                }
                if !user_ids.insert(id.as_str()) {
                    return Err(invalid(format!("{key}.id"), format!("duplicate id {id:?}")));
                }
            }
        }
        let known_login = |login: &str| {
            self.users
                .iter()
                .any(|u| u.login.eq_ignore_ascii_case(login))
        };
        if let Some(login) = &self.server.auto_login
            && !known_login(login)
        {
            return Err(invalid(
                "server.auto_login",
                format!("no user with login {login:?}"),
            ));
        }
        for (i, client) in self.clients.iter().enumerate() {
            if let Some(login) = &client.auto_login
                && !known_login(login)
            {
                return Err(invalid(
                    format!("clients[{i}].auto_login"),
                    format!("no user with login {login:?}"),
                ));
            }
        }
        if !(60..=3600).contains(&self.server.authorization_code_lifetime) {
            return Err(invalid(
                "server.authorization_code_lifetime",
                "must be between 60 and 3600 seconds",
            ));
        }
        if !(60..=MAX_SESSION_LIFETIME).contains(&self.server.session_lifetime) {
            return Err(invalid(
                "server.session_lifetime",
                format!(
                    "must be between 60 and {MAX_SESSION_LIFETIME} seconds (90 days, Okta's longest session)"
                ),
            ));
        }
        if !(600..=MAX_REFRESH_TOKEN_WINDOW).contains(&self.server.refresh_token_window) {
            return Err(invalid(
                "server.refresh_token_window",
                format!(
                    "must be between 600 and {MAX_REFRESH_TOKEN_WINDOW} seconds (10 minutes to 5 years, as Okta allows)"
                ),
            ));
        }
        if let Some(token) = &self.server.control_token
            && token.expose().len() < 16
        {
            return Err(invalid(
                "server.control_token",
                "must be at least 16 characters",
            ));
        }
        for (i, token) in self.api_tokens.iter().enumerate() {
            if token.token.expose().len() < 16 {
                return Err(invalid(
                    format!("api_tokens[{i}].token"),
                    "must be at least 16 characters",
                ));
            }
        }
        if self.server.jwks_max_age > 365 * 24 * 3600 {
            return Err(invalid("server.jwks_max_age", "must be at most one year"));
        }
        if self.server.max_body_bytes < 1024 {
            return Err(invalid("server.max_body_bytes", "must be at least 1024"));
        }
        Ok(())
    }
}

fn validate_server(server: &AuthorizationServerConfig, key: &str) -> Result<(), ConfigError> {
    if server.id.is_empty()
        || !server
            .id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(invalid(
            format!("{key}.id"),
            "use letters, digits, '-' or '_' (it is a URL path segment)",
        ));
    }
    if server.id == "v1" {
        return Err(invalid(
            format!("{key}.id"),
            "\"v1\" is the org authorization server's path",
        ));
    }
    if server.audience.trim().is_empty() {
        return Err(invalid(format!("{key}.audience"), "must not be empty"));
    }
    if server.audience.contains(':') && url::Url::parse(&server.audience).is_err() {
        return Err(invalid(
            format!("{key}.audience"),
            "an audience containing ':' must be a valid URI (as Okta requires)",
        ));
    }
    if !(300..=86_400).contains(&server.access_token_lifetime) {
        return Err(invalid(
            format!("{key}.access_token_lifetime"),
            "must be between 300 and 86400 seconds (5 minutes to 24 hours, as Okta allows)",
        ));
    }
    let mut names = HashSet::new();
    for (j, scope) in server.scopes.iter().enumerate() {
        let scope_key = format!("{key}.scopes[{j}].name");
        if scope.name.is_empty()
            || scope
                .name
                .chars()
                .any(|c| c.is_whitespace() || c == '"' || c == '\\' || c.is_control())
        {
            return Err(invalid(
                scope_key,
                "must be non-empty, without spaces, quotes or backslashes",
            ));
        }
        if OIDC_SCOPES.contains(&scope.name.as_str()) {
            return Err(invalid(
                scope_key,
                format!("{:?} is a built-in OpenID Connect scope", scope.name),
            ));
        }
        if !names.insert(scope.name.as_str()) {
            return Err(invalid(
                scope_key,
                format!("duplicate scope {:?}", scope.name),
            ));
        }
    }
    for (j, claim) in server.claims.iter().enumerate() {
        let claim_key = format!("{key}.claims[{j}]");
        const RESERVED: &[&str] = &[
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "jti",
            "cid",
            "uid",
            "scp",
            "ver",
            "nonce",
            "auth_time",
            "at_hash",
            "c_hash",
            "amr",
            "idp",
        ];
        if claim.name.is_empty() || RESERVED.contains(&claim.name.as_str()) {
            return Err(invalid(
                format!("{claim_key}.name"),
                format!("{:?} is empty or a reserved claim", claim.name),
            ));
        }
        match (&claim.value, &claim.value_from) {
            (Some(_), None) => {}
            (None, Some(from))
                if matches!(from.as_str(), "groups" | "login" | "id")
                    || from.strip_prefix("profile.").is_some_and(|a| !a.is_empty()) => {}
            (None, Some(from)) => {
                return Err(invalid(
                    format!("{claim_key}.value_from"),
                    format!("{from:?}: use groups, login, id or profile.<attribute>"),
                ));
            }
            _ => {
                return Err(invalid(
                    claim_key,
                    "give exactly one of value or value_from",
                ));
            }
        }
    }
    for (j, policy) in server.policies.iter().enumerate() {
        let policy_key = format!("{key}.policies[{j}]");
        for (k, grant) in policy.grant_types.iter().enumerate() {
            if !KNOWN_GRANT_TYPES.contains(&grant.as_str()) {
                return Err(invalid(
                    format!("{policy_key}.grant_types[{k}]"),
                    format!(
                        "unknown grant type {grant:?}; known: {}",
                        KNOWN_GRANT_TYPES.join(", ")
                    ),
                ));
            }
        }
        for (k, scope) in policy.scopes.iter().enumerate() {
            if scope != "*"
                && !names.contains(scope.as_str())
                && !OIDC_SCOPES.contains(&scope.as_str())
            {
                return Err(invalid(
                    format!("{policy_key}.scopes[{k}]"),
                    format!("no scope {scope:?} on this server"),
                ));
            }
        }
        if let Some(lifetime) = policy.access_token_lifetime
            && !(300..=86_400).contains(&lifetime)
        {
            return Err(invalid(
                format!("{policy_key}.access_token_lifetime"),
                "must be between 300 and 86400 seconds",
            ));
        }
    }
    Ok(())
}

pub(crate) fn validate_client(client: &ClientConfig, key: &str) -> Result<(), ConfigError> {
    if client.client_id.is_empty()
        || client
            .client_id
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == ':')
    {
        return Err(invalid(
            format!("{key}.client_id"),
            "must be non-empty, without spaces or ':'",
        ));
    }
    let method = client.token_endpoint_auth_method.as_str();
    if !AUTH_METHODS.contains(&method) {
        return Err(invalid(
            format!("{key}.token_endpoint_auth_method"),
            format!(
                "unknown method {method:?}; known: {}",
                AUTH_METHODS.join(", ")
            ),
        ));
    }
    let has_secret = client.client_secret.as_ref().is_some_and(|s| !s.is_empty());
    match method {
        "client_secret_basic" | "client_secret_post" if !has_secret => {
            return Err(invalid(
                format!("{key}.client_secret"),
                format!("required with token_endpoint_auth_method = {method:?}"),
            ));
        }
        "client_secret_jwt" => match &client.client_secret {
            Some(secret) if secret.expose().len() >= 32 => {}
            _ => {
                return Err(invalid(
                    format!("{key}.client_secret"),
                    "client_secret_jwt needs a secret of at least 32 characters",
                ));
            }
        },
        "private_key_jwt" if client.jwks.is_none() => {
            return Err(invalid(
                format!("{key}.jwks"),
                "private_key_jwt needs the client's public keys",
            ));
        }
        "none" if has_secret => {
            return Err(invalid(
                format!("{key}.client_secret"),
                "a public client (token_endpoint_auth_method = \"none\") has no secret",
            ));
        }
        _ => {}
    }
    for (j, grant) in client.grant_types.iter().enumerate() {
        if !KNOWN_GRANT_TYPES.contains(&grant.as_str()) {
            return Err(invalid(
                format!("{key}.grant_types[{j}]"),
                format!(
                    "unknown grant type {grant:?}; known: {}",
                    KNOWN_GRANT_TYPES.join(", ")
                ),
            ));
        }
    }
    if method == "none" && client.grant_types.iter().any(|g| g == "client_credentials") {
        return Err(invalid(
            format!("{key}.grant_types"),
            "a public client cannot use client_credentials",
        ));
    }
    for (j, uri) in client
        .redirect_uris
        .iter()
        .chain(&client.post_logout_redirect_uris)
        .enumerate()
    {
        match url::Url::parse(uri) {
            Ok(parsed) if parsed.fragment().is_none() => {}
            _ => {
                return Err(invalid(
                    format!("{key}.redirect_uris[{j}]"),
                    format!("{uri:?} must be an absolute URI without a fragment"),
                ));
            }
        }
    }
    if let Some(rotation) = &client.refresh_token_rotation_type
        && rotation != "ROTATE"
        && rotation != "STATIC"
    {
        return Err(invalid(
            format!("{key}.refresh_token_rotation_type"),
            "must be \"ROTATE\" or \"STATIC\"",
        ));
    }
    if client.refresh_token_leeway > 60 {
        return Err(invalid(
            format!("{key}.refresh_token_leeway"),
            "must be between 0 and 60 seconds (as Okta allows)",
        ));
    }
    if let Some(alg) = &client.id_token_encrypted_response_alg {
        if !crate::jwe::ALGORITHMS.contains(&alg.as_str()) {
            return Err(invalid(
                format!("{key}.id_token_encrypted_response_alg"),
                format!(
                    "{alg:?} is not one of {}",
                    crate::jwe::ALGORITHMS.join(", ")
                ),
            ));
        }
        if crate::jwe::encryption_key(client.jwks.as_ref()).is_none() {
            return Err(invalid(
                format!("{key}.jwks"),
                "encrypted ID tokens need an RSA key with \"use\" = \"enc\" (or no \"use\") in the client's jwks",
            ));
        }
    }
    if let Some(enc) = &client.id_token_encrypted_response_enc {
        if client.id_token_encrypted_response_alg.is_none() {
            return Err(invalid(
                format!("{key}.id_token_encrypted_response_enc"),
                "needs id_token_encrypted_response_alg",
            ));
        }
        if !crate::jwe::CONTENT_ENCRYPTIONS.contains(&enc.as_str()) {
            return Err(invalid(
                format!("{key}.id_token_encrypted_response_enc"),
                format!(
                    "{enc:?} is not one of {}",
                    crate::jwe::CONTENT_ENCRYPTIONS.join(", ")
                ),
            ));
        }
    }
    if let Some(jwks) = &client.jwks {
        let keys = jwks.get("keys").and_then(toml::Value::as_array);
        if keys.is_none_or(|k| k.is_empty()) {
            return Err(invalid(
                format!("{key}.jwks.keys"),
                "must be a non-empty array of JWKs",
            ));
        }
    }
    Ok(())
}

fn is_okta_id_like(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_default_config_is_valid() {
        let config = Config::from_toml(DEFAULT_CONFIG_TOML).expect("default config");
        assert_eq!(config.authorization_servers[0].id, "default");
        assert!(
            config
                .clients
                .iter()
                .any(|c| c.grant_types.iter().any(|g| g == "client_credentials"))
        );
        assert!(!config.users.is_empty());
        assert!(!config.api_tokens.is_empty());
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_name() {
        let error = Config::from_toml("[server]\njwks_max_agee = 5\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("jwks_max_agee"), "{error}");
    }

    #[test]
    fn semantic_errors_name_the_key() {
        let text = r#"
[[authorization_servers]]
id = "default"
[[authorization_servers.policies]]
name = "p"
grant_types = ["client_credentials", "magic"]
"#;
        let error = Config::from_toml(text).unwrap_err().to_string();
        assert!(
            error.contains("authorization_servers[0].policies[0].grant_types[1]"),
            "{error}"
        );

        let text = r#"
[[clients]]
client_id = "abc"
token_endpoint_auth_method = "client_secret_basic"
"#;
        let error = Config::from_toml(text).unwrap_err().to_string();
        assert!(error.contains("clients[0].client_secret"), "{error}");
    }

    #[test]
    fn the_printed_config_loads_back_and_hides_secrets_unless_asked() {
        let config = Config::default_config();
        let redacted = config.to_toml(false).unwrap();
        assert!(!redacted.contains(config.users[0].password.expose()));
        assert!(!redacted.contains(config.api_tokens[0].token.expose()));
        assert!(redacted.contains("[redacted]"));
        let shown = config.to_toml(true).unwrap();
        assert!(shown.contains(config.api_tokens[0].token.expose()));
        let again = Config::from_toml(&shown).unwrap();
        assert_eq!(
            again.to_toml(true).unwrap(),
            shown,
            "a round trip changes nothing"
        );
        let json = serde_json::to_string(&toml::from_str::<toml::Value>(&shown).unwrap()).unwrap();
        assert_eq!(
            Config::from_json(&json).unwrap().to_toml(true).unwrap(),
            shown
        );
    }

    #[test]
    fn server_durations_are_bounded_so_now_plus_lifetime_cannot_wrap() {
        // TOML integers stop at i64::MAX.
        for (key, value) in [
            ("session_lifetime", i64::MAX.unsigned_abs()),
            ("session_lifetime", MAX_SESSION_LIFETIME + 1),
            ("refresh_token_window", i64::MAX.unsigned_abs()),
            ("refresh_token_window", MAX_REFRESH_TOKEN_WINDOW + 1),
            ("authorization_code_lifetime", i64::MAX.unsigned_abs()),
            ("jwks_max_age", i64::MAX.unsigned_abs()),
        ] {
            let error = Config::from_toml(&format!("[server]\n{key} = {value}\n"))
                .unwrap_err()
                .to_string();
            assert!(error.contains(&format!("server.{key}")), "{key}: {error}");
        }
        assert!(Config::from_toml(&format!("[server]\nsession_lifetime = {MAX_SESSION_LIFETIME}\nrefresh_token_window = {MAX_REFRESH_TOKEN_WINDOW}\n")).is_ok());
    }

    #[test]
    fn debug_of_the_config_hides_secrets() {
        let config = Config::default_config();
        let printed = format!("{config:?}");
        for client in &config.clients {
            if let Some(secret) = &client.client_secret {
                assert!(!printed.contains(secret.expose()));
            }
        }
        assert!(!printed.contains(config.users[0].password.expose()));
        assert!(!printed.contains(config.api_tokens[0].token.expose()));
    }
}
