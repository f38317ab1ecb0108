//! Dynamic client registration (Okta's `/oauth2/v1/clients`, RFC 7591/7592):
//! turning a client-metadata document into a working client, and back into
//! Okta's JSON representation.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde_json::{Map, Value, json};

use crate::config::{ClientConfig, ConfigError};
use crate::error::OAuthError;
use crate::ids;
use crate::secret::Secret;
use crate::state::{Client, Inner};

/// Metadata Okta stores for a client beyond what the flows use.
const DESCRIPTIVE_FIELDS: &[&str] = &[
    "client_uri",
    "logo_uri",
    "policy_uri",
    "tos_uri",
    "initiate_login_uri",
];

/// Per-client registration details (`client_id_issued_at`, the URIs), and the
/// application view's status and assignments (`/api/v1/apps`).
#[derive(Debug, Default)]
pub struct Registry {
    details: RwLock<HashMap<String, Map<String, Value>>>,
    access: RwLock<HashMap<String, AppAccess>>,
}

/// Who may sign in to an application, and whether it is active. A client
/// without an entry (from the configuration or `/oauth2/v1/clients`) is active
/// and open to everyone; one created at `/api/v1/apps` starts with nobody
/// assigned, as Okta's apps do.
#[derive(Debug, Clone, Default)]
pub struct AppAccess {
    pub inactive: bool,
    /// Assigned to every user (Okta's `Everyone` group).
    pub everyone: bool,
    pub users: std::collections::BTreeSet<String>,
    /// Group ids.
    pub groups: std::collections::BTreeSet<String>,
}

impl AppAccess {
    pub fn open() -> Self {
        Self {
            everyone: true,
            ..Self::default()
        }
    }
}

impl Registry {
    fn details(&self, client_id: &str) -> Map<String, Value> {
        self.details
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(client_id)
            .cloned()
            .unwrap_or_default()
    }

    fn set_details(&self, client_id: &str, details: Map<String, Value>) {
        self.details
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(client_id.to_owned(), details);
    }

    /// A client from the configuration reports when this server started as its
    /// `client_id_issued_at` (an integer, as a registered client's).
    pub(crate) fn seed_issued_at(&self, client_id: &str, now: i64) {
        let mut details = Map::new();
        details.insert("client_id_issued_at".into(), Value::from(now));
        self.set_details(client_id, details);
    }

    fn remove(&self, client_id: &str) {
        self.details
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(client_id);
        self.access
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(client_id);
    }

    /// The application's status and assignments.
    pub fn access(&self, client_id: &str) -> AppAccess {
        self.access
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(client_id)
            .cloned()
            .unwrap_or_else(AppAccess::open)
    }

    /// Changes the application's status or assignments.
    pub fn change_access(&self, client_id: &str, change: impl FnOnce(&mut AppAccess)) {
        let mut access = self
            .access
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        change(
            access
                .entry(client_id.to_owned())
                .or_insert_with(AppAccess::open),
        );
    }

    fn is_inactive(&self, client_id: &str) -> bool {
        self.access
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(client_id)
            .is_some_and(|a| a.inactive)
    }
}

impl Inner {
    /// A client the flows may use: registered and not deactivated.
    pub fn client(&self, client_id: &str) -> Option<Arc<Client>> {
        self.registered_client(client_id)
            .filter(|_| !self.registry.is_inactive(client_id))
    }

    /// A registered client, active or not (for the management views).
    pub fn registered_client(&self, client_id: &str) -> Option<Arc<Client>> {
        self.clients
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(client_id)
            .cloned()
    }

    /// Whether the user is assigned to the application (directly, through a
    /// group, or because it is open to everyone).
    pub fn is_assigned(&self, client_id: &str, user: &crate::state::User) -> bool {
        let access = self.registry.access(client_id);
        access.everyone
            || access.users.contains(&user.id)
            || self
                .directory()
                .groups_of(user)
                .any(|g| access.groups.contains(&g.id))
    }

    /// Every client, ordered by client id (a stable order for pagination).
    pub fn all_clients(&self) -> Vec<Arc<Client>> {
        let mut clients: Vec<_> = self
            .clients
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        clients.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        clients
    }

    fn put_client(&self, client: Client) -> Arc<Client> {
        let client = Arc::new(client);
        self.store.set_client_deleted(&client.client_id, false);
        self.clients
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(client.client_id.clone(), client.clone());
        client
    }

    /// Registers a new client from RFC 7591 metadata; returns its representation
    /// including the generated secret (shown only now and on rotation).
    pub fn register_client(&self, metadata: &Value) -> Result<Value, OAuthError> {
        let client_id = ids::okta_id("0oa");
        let (config, details) = client_config(&client_id, metadata, None)?;
        let mut details = details;
        details.insert("client_id_issued_at".into(), Value::from(self.clock.now()));
        let client = self.put_client(Client::from_config(&config));
        self.registry.set_details(&client_id, details);
        Ok(self.client_representation(&client, true))
    }

    /// Replaces a client's metadata (PUT: a full replacement that keeps the
    /// id, the issue time and, unless the method changes, the secret).
    pub fn replace_client(
        &self,
        client_id: &str,
        metadata: &Value,
    ) -> Result<Option<Value>, OAuthError> {
        let Some(existing) = self.registered_client(client_id) else {
            return Ok(None);
        };
        for read_only in ["client_id_issued_at", "client_secret_expires_at"] {
            if metadata.get(read_only).is_some() {
                return Err(metadata_error(format!(
                    "{read_only}: The field is read-only."
                )));
            }
        }
        let (config, mut details) =
            client_config(client_id, metadata, existing.client_secret.clone())?;
        let issued_at = self
            .registry
            .details(client_id)
            .get("client_id_issued_at")
            .cloned();
        details.insert(
            "client_id_issued_at".into(),
            issued_at.unwrap_or(Value::Null),
        );
        let client = self.put_client(Client::from_config(&config));
        self.registry.set_details(client_id, details);
        Ok(Some(self.client_representation(&client, true)))
    }

    /// Deletes a client; false when there was none.
    pub fn delete_client(&self, client_id: &str) -> bool {
        let removed = self
            .clients
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(client_id)
            .is_some();
        self.registry.remove(client_id);
        if removed {
            // As at Okta, the tokens issued to a deleted client stop being active.
            self.store.set_client_deleted(client_id, true);
        }
        removed
    }

    /// Issues a new secret (`lifecycle/newSecret`); the old one stops working at once.
    pub fn rotate_client_secret(&self, client_id: &str) -> Result<Option<Value>, OAuthError> {
        let Some(existing) = self.registered_client(client_id) else {
            return Ok(None);
        };
        if !matches!(
            existing.token_endpoint_auth_method.as_str(),
            "client_secret_basic" | "client_secret_post" | "client_secret_jwt"
        ) {
            return Err(metadata_error(
                "token_endpoint_auth_method: A new secret can only be generated for clients that authenticate with a secret.",
            ));
        }
        let representation = self.client_representation(&existing, false);
        let mut metadata = representation.clone();
        for read_only in [
            "client_id_issued_at",
            "client_secret_expires_at",
            "client_id",
        ] {
            if let Some(map) = metadata.as_object_mut() {
                map.remove(read_only);
            }
        }
        let (config, details) = client_config(
            client_id,
            &metadata,
            Some(Secret::new(ids::client_secret())),
        )?;
        let mut details = details;
        let issued_at = self
            .registry
            .details(client_id)
            .get("client_id_issued_at")
            .cloned();
        details.insert(
            "client_id_issued_at".into(),
            issued_at.unwrap_or(Value::Null),
        );
        let client = self.put_client(Client::from_config(&config));
        self.registry.set_details(client_id, details);
        Ok(Some(self.client_representation(&client, true)))
    }

    /// Okta's JSON representation of a client; the secret only when asked.
    pub fn client_representation(&self, client: &Client, with_secret: bool) -> Value {
        let details = self.registry.details(&client.client_id);
        let mut out = json!({
            "client_id": client.client_id,
            "client_id_issued_at": details.get("client_id_issued_at").cloned().unwrap_or(Value::Null),
            "client_name": client.client_name,
            "client_secret_expires_at": 0,
            "redirect_uris": client.redirect_uris,
            "post_logout_redirect_uris": client.post_logout_redirect_uris,
            "response_types": client.response_types,
            "grant_types": client.grant_types,
            "token_endpoint_auth_method": client.token_endpoint_auth_method,
            "application_type": client.application_type,
        });
        for field in DESCRIPTIVE_FIELDS {
            out[*field] = details.get(*field).cloned().unwrap_or(Value::Null);
        }
        if !client.jwks.is_empty() {
            out["jwks"] = json!({ "keys": client.jwks });
        }
        if with_secret && let Some(secret) = &client.client_secret {
            out["client_secret"] = Value::from(secret.expose());
        }
        out
    }
}

fn metadata_error(description: impl Into<std::borrow::Cow<'static, str>>) -> OAuthError {
    OAuthError::new(
        crate::error::OAuthErrorCode::InvalidClientMetadata,
        description,
    )
}

fn redirect_error(description: impl Into<std::borrow::Cow<'static, str>>) -> OAuthError {
    OAuthError::new(
        crate::error::OAuthErrorCode::InvalidRedirectUri,
        description,
    )
}

/// Grant types each application type may use (Okta's rules).
fn allowed_grants(application_type: &str) -> Option<&'static [&'static str]> {
    match application_type {
        "web" => Some(&[
            "authorization_code",
            "implicit",
            "refresh_token",
            "client_credentials",
        ]),
        "native" => Some(&[
            "authorization_code",
            "implicit",
            "password",
            "refresh_token",
            crate::device::GRANT_TYPE,
        ]),
        "browser" => Some(&["authorization_code", "implicit", "refresh_token"]),
        "service" => Some(&[
            "client_credentials",
            crate::grants::token_exchange::GRANT_TYPE,
            crate::grants::jwt_bearer::GRANT_TYPE,
        ]),
        _ => None,
    }
}

fn string_list(metadata: &Value, field: &str) -> Result<Option<Vec<String>>, OAuthError> {
    match metadata.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| metadata_error(format!("{field}: Each value must be a string.")))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(metadata_error(format!(
            "{field}: The field must be an array of strings."
        ))),
    }
}

fn optional_string(metadata: &Value, field: &str) -> Result<Option<String>, OAuthError> {
    match metadata.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(metadata_error(format!(
            "{field}: The field must be a string."
        ))),
    }
}

/// Validates RFC 7591 metadata into a client configuration plus the
/// descriptive details. `secret` keeps an existing secret (PUT); a new one
/// is generated when the method needs one and none is kept.
fn client_config(
    client_id: &str,
    metadata: &Value,
    secret: Option<Secret>,
) -> Result<(ClientConfig, Map<String, Value>), OAuthError> {
    if !metadata.is_object() {
        return Err(metadata_error("The client metadata must be a JSON object."));
    }
    let client_name = optional_string(metadata, "client_name")?
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| metadata_error("client_name: The field cannot be left blank"))?;
    let application_type =
        optional_string(metadata, "application_type")?.unwrap_or_else(|| "web".into());
    let allowed = allowed_grants(&application_type).ok_or_else(|| {
        metadata_error(format!(
            "application_type: '{application_type}' is not one of web, native, browser, service."
        ))
    })?;
    let default_grants: Vec<String> = match application_type.as_str() {
        "service" => vec!["client_credentials".into()],
        _ => vec!["authorization_code".into()],
    };
    let grant_types = string_list(metadata, "grant_types")?.unwrap_or(default_grants);
    if let Some(grant) = grant_types.iter().find(|g| !allowed.contains(&g.as_str())) {
        return Err(metadata_error(format!(
            "grant_types: '{grant}' is not allowed for application_type '{application_type}'. Allowed: [{}].",
            allowed.join(", ")
        )));
    }
    if matches!(application_type.as_str(), "web" | "native")
        && !grant_types.iter().any(|g| g == "authorization_code")
    {
        return Err(metadata_error(format!(
            "grant_types: A '{application_type}' application must include 'authorization_code'."
        )));
    }
    let response_types = string_list(metadata, "response_types")?.unwrap_or_else(|| {
        match application_type.as_str() {
            "service" => Vec::new(),
            _ => vec!["code".into()],
        }
    });
    if let Some(bad) = response_types
        .iter()
        .find(|r| !matches!(r.as_str(), "code" | "token" | "id_token" | "none"))
    {
        return Err(metadata_error(format!(
            "response_types: '{bad}' is not a supported response type."
        )));
    }
    let redirect_uris = string_list(metadata, "redirect_uris")?.unwrap_or_default();
    let needs_redirect = grant_types
        .iter()
        .any(|g| g == "authorization_code" || g == "implicit");
    if needs_redirect && redirect_uris.is_empty() {
        return Err(redirect_error(
            "redirect_uris: The field cannot be left blank when the authorization_code or implicit grant is allowed.",
        ));
    }
    for uri in &redirect_uris {
        match url::Url::parse(uri) {
            Ok(parsed) if parsed.fragment().is_none() && !parsed.cannot_be_a_base() => {
                // Plain http only to the loopback interface (RFC 8252 §7.3, RFC 9700 §2.6).
                let loopback =
                    matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
                if parsed.scheme() == "http" && !loopback {
                    return Err(redirect_error(format!(
                        "redirect_uris: '{uri}' must use https (plain http is allowed only for localhost)."
                    )));
                }
            }
            _ => {
                return Err(redirect_error(format!(
                    "redirect_uris: '{uri}' must be an absolute URI without a fragment."
                )));
            }
        }
    }
    let post_logout_redirect_uris =
        string_list(metadata, "post_logout_redirect_uris")?.unwrap_or_default();
    let method = optional_string(metadata, "token_endpoint_auth_method")?.unwrap_or_else(|| {
        if application_type == "browser" {
            "none".into()
        } else {
            "client_secret_basic".into()
        }
    });
    if metadata.get("jwks_uri").is_some_and(|v| !v.is_null()) {
        return Err(metadata_error(
            if metadata.get("jwks").is_some_and(|v| !v.is_null()) {
                "jwks_uri: The fields jwks and jwks_uri cannot be used together."
            } else {
                "jwks_uri: This server does not fetch client keys; register them inline with jwks."
            },
        ));
    }
    let jwks = match metadata.get("jwks") {
        None | Some(Value::Null) => None,
        Some(value) => Some(
            serde_json::from_value::<toml::Value>(value.clone())
                .map_err(|_| metadata_error("jwks: The field must be a JWK set."))?,
        ),
    };
    let client_secret = match method.as_str() {
        "client_secret_basic" | "client_secret_post" | "client_secret_jwt" => {
            Some(secret.unwrap_or_else(|| Secret::new(ids::client_secret())))
        }
        _ => None,
    };
    let mut details = Map::new();
    for field in DESCRIPTIVE_FIELDS {
        if let Some(value) = optional_string(metadata, field)? {
            match url::Url::parse(&value) {
                Ok(parsed) if *field != "initiate_login_uri" || parsed.scheme() == "https" => {}
                Ok(_) => {
                    return Err(metadata_error(format!(
                        "{field}: '{value}' must use https."
                    )));
                }
                Err(_) => {
                    return Err(metadata_error(format!(
                        "{field}: '{value}' must be an absolute URI."
                    )));
                }
            }
            details.insert((*field).into(), Value::from(value));
        }
    }
    let config_json = json!({
        "client_id": client_id,
        "client_name": client_name,
        "application_type": application_type,
        "grant_types": grant_types,
        "response_types": response_types,
        "redirect_uris": redirect_uris,
        "post_logout_redirect_uris": post_logout_redirect_uris,
        "token_endpoint_auth_method": method,
    });
    let mut config: ClientConfig = serde_json::from_value(config_json)
        .map_err(|e| metadata_error(format!("The client metadata is invalid: {e}")))?;
    config.client_secret = client_secret;
    config.jwks = jwks;
    crate::config::validate_client(&config, "client").map_err(|error| match error {
        ConfigError::Invalid { key, message } => {
            let field = key.trim_start_matches("client.");
            if field.starts_with("redirect_uris") {
                redirect_error(format!("{field}: {message}"))
            } else {
                metadata_error(format!("{field}: {message}"))
            }
        }
        other => metadata_error(other.to_string()),
    })?;
    Ok((config, details))
}
