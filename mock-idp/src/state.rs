//! The running server's state: authorization servers with their keys,
//! clients, users, API tokens, the clock and the store.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use bytes::Bytes;

use crate::clock::Clock;
use crate::config::{
    ClientConfig, Config, MetadataPublish, PolicyConfig, ScopeConfig, ServerSettings,
};
use crate::directory::Directory;
pub use crate::directory::User;
use crate::directory::UserStatus;
use crate::keys::{KeyRing, SigningKey};
use crate::secret::Secret;
use crate::store::Store;

/// Why a sign-in with a password was refused.
#[derive(Debug, Clone)]
pub enum SignInRefused {
    /// Unknown login, wrong password, or a user who may not sign in (Okta's
    /// `E0000004`); the attempt that locks a user out is one of these.
    BadCredentials,
    /// The user was already `LOCKED_OUT`, whatever the password.
    LockedOut,
    /// The password was right but has expired: the user must change it first.
    PasswordExpired(Arc<User>),
}

/// Shared, cheaply cloneable handle to the state.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
pub struct Inner {
    base_url: String,
    pub clock: Clock,
    settings: ServerSettings,
    org: Arc<AuthServer>,
    custom: HashMap<String, Arc<AuthServer>>,
    pub(crate) clients: RwLock<HashMap<String, Arc<Client>>>,
    pub(crate) registry: crate::registration::Registry,
    pub(crate) limits: crate::management::RateLimits,
    pub control: crate::control::Control,
    /// Users and groups: the configuration's, then whatever the management API changes.
    pub(crate) directory: RwLock<Directory>,
    api_tokens: Vec<Secret>,
    /// The org's id (`00o…`), the `idp` claim of ID tokens for Okta logins.
    org_id: String,
    pub store: Store,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Builds the state for a server reachable at `base_url` (no trailing slash).
    /// `keys` holds one key ring per server: the org first, then the custom
    /// servers in config order.
    pub fn new(config: &Config, base_url: &str, clock: Clock, mut keys: Vec<KeyRing>) -> Self {
        let base_url = base_url.trim_end_matches('/').to_owned();
        let custom_keys = keys.split_off(1.min(keys.len()));
        let org_key = keys.pop();
        let org = Arc::new(AuthServer::org(&base_url, org_key));
        let custom = config
            .authorization_servers
            .iter()
            .zip(custom_keys)
            .map(|(server, key)| {
                let policies = if server.policies.is_empty() {
                    vec![default_policy()]
                } else {
                    server.policies.clone()
                };
                let issuer = format!("{base_url}/oauth2/{}", server.id);
                let auth_server = AuthServer {
                    id: Some(server.id.clone()),
                    name: server.name.clone().unwrap_or_else(|| server.id.clone()),
                    endpoint_base: issuer.clone(),
                    issuer,
                    audience: server.audience.clone(),
                    access_token_lifetime: server.access_token_lifetime,
                    scopes: server.scopes.clone(),
                    policies,
                    keys: key,
                    unpublished_access_keys: None,
                    registration_endpoint: format!("{base_url}/oauth2/v1/clients"),
                    metadata: std::sync::OnceLock::new(),
                    claims: server.claims.clone(),
                };
                (server.id.clone(), Arc::new(auth_server))
            })
            .collect();
        let clients = config
            .clients
            .iter()
            .map(|c| {
                let client = Client {
                    seeded: true,
                    ..Client::from_config(c)
                };
                (c.client_id.clone(), Arc::new(client))
            })
            .collect();
        let directory = Directory::seeded(&config.users, clock.now());
        let api_tokens = config.api_tokens.iter().map(|t| t.token.clone()).collect();
        let org_id = derived_id("00o", &base_url);
        let seeded_at = clock.now();
        let state = Self(Arc::new(Inner {
            org_id,
            base_url,
            clock,
            settings: config.server.clone(),
            org,
            custom,
            clients: RwLock::new(clients),
            registry: crate::registration::Registry::default(),
            limits: crate::management::RateLimits::default(),
            control: crate::control::Control::default(),
            directory: RwLock::new(directory),
            api_tokens,
            store: Store::default(),
        }));
        for client in &config.clients {
            state.registry.seed_issued_at(&client.client_id, seeded_at);
        }
        state
    }
}

impl Inner {
    /// Whether a token of ours (its verified claims) was withdrawn: revoked, or issued to a
    /// client that has since been deleted (`cid` for access tokens, `azp`/`aud` for ID tokens).
    pub fn is_withdrawn(&self, claims: &serde_json::Map<String, serde_json::Value>) -> bool {
        let text = |name: &str| claims.get(name).and_then(serde_json::Value::as_str);
        text("jti").is_some_and(|jti| self.store.is_revoked(jti))
            || [text("cid"), text("azp"), text("aud")]
                .into_iter()
                .flatten()
                .any(|client| self.store.is_client_deleted(client))
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The org's id (`00o…`), stable for a base URL.
    pub fn org_id(&self) -> &str {
        &self.org_id
    }

    pub fn settings(&self) -> &ServerSettings {
        &self.settings
    }

    pub fn org(&self) -> &Arc<AuthServer> {
        &self.org
    }

    pub fn custom_server(&self, id: &str) -> Option<&Arc<AuthServer>> {
        self.custom.get(id)
    }

    /// Every authorization server, the org server first.
    pub fn servers(&self) -> impl Iterator<Item = &Arc<AuthServer>> {
        std::iter::once(&self.org).chain(self.custom.values())
    }

    /// The directory, for reading (a poisoned lock still holds consistent data:
    /// every change replaces whole entries).
    pub fn directory(&self) -> std::sync::RwLockReadGuard<'_, Directory> {
        self.directory
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn directory_mut(&self) -> std::sync::RwLockWriteGuard<'_, Directory> {
        self.directory
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Every user, in id order.
    pub fn users(&self) -> Vec<Arc<User>> {
        self.directory().users_after(None).cloned().collect()
    }

    pub fn user_by_login(&self, login: &str) -> Option<Arc<User>> {
        self.directory().user_by_login(login).cloned()
    }

    /// The user with this login and password who may sign in (status `ACTIVE`),
    /// counting wrong passwords towards the lockout (`server.lockout_*`). A
    /// password is compared, in constant time, whether or not the login exists,
    /// so that timing does not reveal logins.
    pub fn sign_in(&self, login: &str, password: &str) -> Result<Arc<User>, SignInRefused> {
        static NOBODY: std::sync::LazyLock<Secret> =
            std::sync::LazyLock::new(|| Secret::new(crate::ids::random_token()));
        let user = self.user_by_login(login);
        let secret = user
            .as_ref()
            .and_then(|u| u.password.as_ref())
            .unwrap_or(&NOBODY);
        let matches = secret.matches(password);
        let Some(user) = user.filter(|u| u.password.is_some()) else {
            return Err(SignInRefused::BadCredentials);
        };
        let now = self.clock.now();
        let settings = &self.settings;
        let auto_unlock = settings.lockout_auto_unlock_minutes.saturating_mul(60);
        let locked = user.status == UserStatus::LockedOut;
        let unlocks = locked
            && auto_unlock > 0
            && user
                .status_changed
                .is_some_and(|at| at.saturating_add_unsigned(auto_unlock) <= now);
        if locked && !unlocks {
            return Err(SignInRefused::LockedOut);
        }
        let expired = user.status == UserStatus::PasswordExpired;
        if !(user.can_sign_in() || expired || unlocks) {
            return Err(SignInRefused::BadCredentials);
        }
        let max = settings.lockout_max_attempts;
        let mut directory = self.directory_mut();
        // The user again under the write lock: an admin may have changed them.
        let Some(current) = directory.user(&user.id).cloned() else {
            return Err(SignInRefused::BadCredentials);
        };
        let mut changed = User::clone(&current);
        if unlocks && changed.status == UserStatus::LockedOut {
            changed.unlock(now);
        }
        if matches {
            changed.failed_logins = 0;
        } else {
            changed.failed_logins = changed.failed_logins.saturating_add(1);
            if max > 0 && changed.failed_logins >= max && changed.status == UserStatus::Active {
                changed.status = UserStatus::LockedOut;
                changed.status_changed = Some(now);
                changed.last_updated = now;
            }
        }
        let signs_in = matches && (changed.can_sign_in() || expired);
        let user =
            if changed.status == current.status && changed.failed_logins == current.failed_logins {
                current
            } else {
                directory
                    .put_user(changed)
                    .map_err(|_| SignInRefused::BadCredentials)?
            };
        drop(directory);
        if signs_in && user.password_expired(now) {
            Err(SignInRefused::PasswordExpired(user))
        } else if signs_in {
            Ok(user)
        } else {
            if user.status == UserStatus::LockedOut {
                self.store.log_user_out_everywhere(&user.id, now);
            }
            Err(SignInRefused::BadCredentials)
        }
    }

    /// A user's own password change (authn's `change_password`, the login
    /// page's step), with Okta's errors: `E0000014` for a wrong old password,
    /// `E0000080` for a new one the policy refuses.
    pub fn change_own_password(
        &self,
        user_id: &str,
        old: &str,
        new: &str,
    ) -> Result<Arc<User>, crate::error::OktaApiError> {
        use crate::directory::{PASSWORD_REQUIREMENTS, PasswordChangeError};
        use crate::error::OktaApiError;
        use axum::http::StatusCode;
        let now = self.clock.now();
        let mut directory = self.directory_mut();
        let mut user = directory
            .user(user_id)
            .map(|u| User::clone(u))
            .ok_or_else(|| OktaApiError::not_found(user_id, "User"))?;
        user.change_password(old, new, now).map_err(|e| {
            let (code, summary, cause) = match e {
                PasswordChangeError::OldPasswordIncorrect => (
                    "E0000014",
                    "Update of credentials failed",
                    "oldPassword: The credentials provided were incorrect.".to_owned(),
                ),
                PasswordChangeError::Policy => (
                    "E0000080",
                    "The password does not meet the complexity requirements of the current password policy.",
                    format!("password: {PASSWORD_REQUIREMENTS}"),
                ),
            };
            let mut error = OktaApiError::new(StatusCode::FORBIDDEN, code, summary);
            error.causes.push(cause);
            error
        })?;
        user.last_updated = now;
        directory
            .put_user(user)
            .map_err(|_| OktaApiError::not_found(user_id, "User"))
    }

    pub fn user_by_id(&self, id: &str) -> Option<Arc<User>> {
        self.directory().user(id).cloned()
    }

    /// Whether `presented` is a configured SSWS API token (constant time per token).
    pub fn is_api_token(&self, presented: &str) -> bool {
        self.api_tokens
            .iter()
            .fold(false, |found, token| token.matches(presented) | found)
    }
}

fn default_policy() -> PolicyConfig {
    PolicyConfig {
        name: "Default Policy".to_owned(),
        clients: vec!["ALL_CLIENTS".to_owned()],
        grant_types: crate::config::KNOWN_GRANT_TYPES
            .iter()
            .map(|g| (*g).to_owned())
            .collect(),
        scopes: vec!["*".to_owned()],
        access_token_lifetime: None,
    }
}

/// One authorization server: the org server (`id` None) or a custom one.
#[derive(Debug)]
pub struct AuthServer {
    pub id: Option<String>,
    pub name: String,
    pub issuer: String,
    /// Prefix of the `/v1/...` endpoints: `{base}/oauth2` or the custom issuer.
    pub endpoint_base: String,
    pub audience: String,
    pub access_token_lifetime: u64,
    pub scopes: Vec<ScopeConfig>,
    pub policies: Vec<PolicyConfig>,
    pub keys: KeyRing,
    /// The org server's access-token keys: never published (Okta's org access tokens are
    /// opaque to clients, to be introspected), so a gateway that validates them locally fails
    /// here as it would against a real tenant. Made on first use: most mocks never issue one.
    /// `None`: access tokens use `keys`.
    pub unpublished_access_keys: Option<std::sync::OnceLock<KeyRing>>,
    pub registration_endpoint: String,
    /// Custom claims from the configuration.
    pub claims: Vec<crate::config::ClaimConfig>,
    /// Discovery documents, rendered on first use.
    pub metadata: std::sync::OnceLock<crate::routes::discovery::Metadata>,
}

impl AuthServer {
    fn org(base_url: &str, key: Option<KeyRing>) -> Self {
        let key = key.unwrap_or_else(|| unreachable!("the org server always gets a key"));
        Self {
            id: None,
            name: "org".to_owned(),
            issuer: base_url.to_owned(),
            endpoint_base: format!("{base_url}/oauth2"),
            audience: base_url.to_owned(),
            access_token_lifetime: 3600,
            scopes: Vec::new(),
            policies: vec![default_policy()],
            unpublished_access_keys: Some(std::sync::OnceLock::new()),
            keys: key,
            registration_endpoint: format!("{base_url}/oauth2/v1/clients"),
            metadata: std::sync::OnceLock::new(),
            claims: Vec::new(),
        }
    }

    pub fn is_org(&self) -> bool {
        self.id.is_none()
    }

    /// The keys that sign this server's access tokens (generation starts on the first call;
    /// request handlers await [`KeyRing::ready`] before minting).
    pub fn access_token_keys(&self) -> &KeyRing {
        match &self.unpublished_access_keys {
            Some(cell) => cell.get_or_init(|| KeyRing::generating(SigningKey::fresh)),
            None => &self.keys,
        }
    }

    /// Every key ring of this server that exists (published and not).
    pub fn key_rings(&self) -> impl Iterator<Item = &KeyRing> {
        std::iter::once(&self.keys).chain(
            self.unpublished_access_keys
                .as_ref()
                .and_then(std::sync::OnceLock::get),
        )
    }

    pub fn endpoint(&self, path: &str) -> String {
        format!("{}/v1/{path}", self.endpoint_base)
    }

    /// The configured custom claims for a token of `kind` minted for this
    /// client (and user, in user flows).
    pub fn configured_claims(
        &self,
        kind: crate::control::TokenKind,
        client_id: &str,
        user: Option<&User>,
    ) -> serde_json::Map<String, serde_json::Value> {
        use crate::control::TokenKind;
        let mut out = serde_json::Map::new();
        for claim in &self.claims {
            let kind_matches = claim.token == TokenKind::Both || claim.token == kind;
            let client_matches =
                claim.clients.is_empty() || claim.clients.iter().any(|c| c == client_id);
            if !(kind_matches && client_matches) {
                continue;
            }
            let value = match (&claim.value, claim.value_from.as_deref(), user) {
                (Some(value), _, _) => serde_json::to_value(value).ok(),
                (None, Some("groups"), Some(user)) => Some(serde_json::json!(user.groups)),
                (None, Some("login"), Some(user)) => Some(serde_json::json!(user.login)),
                (None, Some("id"), Some(user)) => Some(serde_json::json!(user.id)),
                (None, Some(from), Some(user)) => from
                    .strip_prefix("profile.")
                    .and_then(|attribute| user.profile.get(attribute).cloned()),
                _ => None,
            };
            if let Some(value) = value {
                out.insert(claim.name.clone(), value);
            }
        }
        out
    }

    pub fn has_custom_scope(&self, name: &str) -> bool {
        self.scopes.iter().any(|s| s.name == name)
    }

    pub fn default_scopes(&self) -> Vec<String> {
        self.scopes
            .iter()
            .filter(|s| s.default)
            .map(|s| s.name.clone())
            .collect()
    }

    pub fn published_scopes(&self) -> impl Iterator<Item = &str> {
        self.scopes
            .iter()
            .filter(|s| s.metadata_publish == MetadataPublish::AllClients)
            .map(|s| s.name.as_str())
    }

    /// The first policy that applies to this client and grant type.
    pub fn policy_for(&self, client_id: &str, grant_type: &str) -> Option<&PolicyConfig> {
        self.policies.iter().find(|p| {
            p.clients
                .iter()
                .any(|c| c == "ALL_CLIENTS" || c == client_id)
                && p.grant_types.iter().any(|g| g == grant_type)
        })
    }

    /// The pre-rendered JWKS.
    pub fn jwks(&self) -> Bytes {
        self.keys.jwks_bytes()
    }
}

/// A registered OAuth client.
#[derive(Debug)]
pub struct Client {
    pub client_id: String,
    pub client_secret: Option<Secret>,
    pub client_name: String,
    pub application_type: String,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub token_endpoint_auth_method: String,
    pub jwks: Vec<jsonwebtoken::jwk::Jwk>,
    /// Okta's "Require PKCE" (always true for public clients).
    pub pkce_required: bool,
    /// Refresh tokens rotate on use (Okta `rotation_type: ROTATE`).
    pub rotate_refresh_tokens: bool,
    /// Seconds a rotated-out refresh token keeps working.
    pub refresh_token_leeway: u64,
    /// Log this user (a login) in without the login page.
    pub auto_login: Option<String>,
    /// ID tokens for this client are encrypted (JWE) when set.
    pub id_token_encryption: Option<crate::jwe::IdTokenEncryption>,
    /// From the configuration file: its documented secret and settings are fixed.
    pub seeded: bool,
    /// Authorize requests must be pushed first (RFC 9126).
    pub require_pushed_authorization_requests: bool,
    /// Token requests must carry a DPoP proof.
    pub dpop_bound_access_tokens: bool,
}

impl Client {
    pub fn from_config(config: &ClientConfig) -> Self {
        let jwks = config
            .jwks
            .as_ref()
            .and_then(|j| serde_json::to_value(j).ok())
            .and_then(|j| serde_json::from_value::<jsonwebtoken::jwk::JwkSet>(j).ok())
            .map(|set| set.keys)
            .unwrap_or_default();
        Self {
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
            client_name: config
                .client_name
                .clone()
                .unwrap_or_else(|| config.client_id.clone()),
            application_type: config.application_type.clone(),
            grant_types: config.grant_types.clone(),
            response_types: config.response_types.clone(),
            redirect_uris: config.redirect_uris.clone(),
            post_logout_redirect_uris: config.post_logout_redirect_uris.clone(),
            token_endpoint_auth_method: config.token_endpoint_auth_method.clone(),
            jwks,
            pkce_required: config.pkce_required || config.token_endpoint_auth_method == "none",
            rotate_refresh_tokens: match config.refresh_token_rotation_type.as_deref() {
                Some(rotation) => rotation == "ROTATE",
                None => config.token_endpoint_auth_method == "none",
            },
            refresh_token_leeway: config.refresh_token_leeway,
            auto_login: config.auto_login.clone(),
            id_token_encryption: crate::jwe::IdTokenEncryption::for_client(
                config.id_token_encrypted_response_alg.as_deref(),
                config.id_token_encrypted_response_enc.as_deref(),
                config.jwks.as_ref(),
            ),
            seeded: false,
            require_pushed_authorization_requests: config.require_pushed_authorization_requests,
            dpop_bound_access_tokens: config.dpop_bound_access_tokens,
        }
    }

    pub fn allows_grant(&self, grant_type: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant_type)
    }

    pub fn is_public(&self) -> bool {
        self.token_endpoint_auth_method == "none"
    }
}

/// A stable Okta-shaped id: `prefix` + 17 alphanumerics derived from `seed`.
pub(crate) fn derived_id(prefix: &str, seed: &str) -> String {
    use sha2::{Digest, Sha256};
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let digest = Sha256::digest(seed.as_bytes());
    let suffix: String = digest
        .iter()
        .take(17)
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    format!("{prefix}{suffix}")
}
