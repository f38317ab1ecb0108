//! Fetching an authorization server's metadata (OIDC discovery / RFC 8414) and filling the
//! values the configuration leaves out. Explicit values always win.

use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::config::AuthServerConfig;

/// The parts of a metadata document the gateway uses.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Metadata {
    /// `issuer`.
    pub issuer: String,
    /// `jwks_uri`.
    pub jwks_uri: Option<Url>,
    /// `introspection_endpoint`.
    pub introspection_endpoint: Option<Url>,
    /// `registration_endpoint`.
    pub registration_endpoint: Option<Url>,
    /// `authorization_endpoint`.
    pub authorization_endpoint: Option<Url>,
    /// `token_endpoint`.
    pub token_endpoint: Option<Url>,
    /// `scopes_supported`.
    #[serde(default)]
    pub scopes_supported: Vec<String>,
    /// `id_token_signing_alg_values_supported`.
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Vec<String>,
}

/// Why discovery failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The request failed or timed out.
    #[error("cannot fetch {url}: {reason}")]
    Fetch {
        /// The discovery URL.
        url: Url,
        /// What went wrong.
        reason: String,
    },
    /// The document is not usable.
    #[error("{url} returned an unusable document: {reason}")]
    Document {
        /// The discovery URL.
        url: Url,
        /// What is wrong with it.
        reason: String,
    },
}

/// An HTTP client for authorization-server calls: short timeouts, no redirects.
pub fn as_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(2))
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(8)
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Fetches and parses the metadata document at `url`.
pub async fn fetch(client: &reqwest::Client, url: &Url) -> Result<Metadata, DiscoveryError> {
    let fetch_err = |reason: String| DiscoveryError::Fetch {
        url: url.clone(),
        reason,
    };
    let resp = client
        .get(url.clone())
        .header(http::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| fetch_err(e.without_url().to_string()))?;
    if !resp.status().is_success() {
        return Err(fetch_err(format!("HTTP {}", resp.status())));
    }
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| fetch_err(e.without_url().to_string()))?;
    let doc: Metadata = serde_json::from_slice(&bytes).map_err(|e| DiscoveryError::Document {
        url: url.clone(),
        reason: e.to_string(),
    })?;
    if doc.issuer.is_empty() {
        return Err(DiscoveryError::Document {
            url: url.clone(),
            reason: "`issuer` is empty".into(),
        });
    }
    Ok(doc)
}

/// Fills the values `config` leaves out from `metadata`.
pub fn apply(config: &mut AuthServerConfig, metadata: Metadata) {
    fn fill<T>(slot: &mut Option<T>, v: Option<T>) {
        if slot.is_none() {
            *slot = v;
        }
    }
    fill(&mut config.issuer, Some(metadata.issuer));
    fill(&mut config.jwks_uri, metadata.jwks_uri);
    fill(
        &mut config.introspection_endpoint,
        metadata.introspection_endpoint,
    );
    fill(
        &mut config.registration_endpoint,
        metadata.registration_endpoint,
    );
    fill(
        &mut config.authorization_endpoint,
        metadata.authorization_endpoint,
    );
    fill(&mut config.token_endpoint, metadata.token_endpoint);
    if config.scopes.is_empty() {
        config.scopes = metadata.scopes_supported;
    }
}

/// The metadata as an `[[authorization_servers]]` snippet, for `gateway discover`.
pub fn snippet(discovery_url: &Url, m: &Metadata) -> String {
    use std::fmt::Write as _;
    let q = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let mut out = String::new();
    let _ = writeln!(out, "[[authorization_servers]]");
    let _ = writeln!(out, "name = \"ExternalOktaServer\"");
    let _ = writeln!(out, "discovery_url = {}", q(discovery_url.as_str()));
    let _ = writeln!(
        out,
        "# Values found by discovery (explicit values override them):"
    );
    let _ = writeln!(out, "issuer = {}", q(&m.issuer));
    for (k, v) in [
        ("jwks_uri", &m.jwks_uri),
        ("introspection_endpoint", &m.introspection_endpoint),
        ("registration_endpoint", &m.registration_endpoint),
        ("authorization_endpoint", &m.authorization_endpoint),
        ("token_endpoint", &m.token_endpoint),
    ] {
        match v {
            Some(u) => {
                let _ = writeln!(out, "{k} = {}", q(u.as_str()));
            }
            None => {
                let _ = writeln!(out, "# {k}: not published");
            }
        }
    }
    let scopes: Vec<String> = m.scopes_supported.iter().map(|s| q(s)).collect();
    let _ = writeln!(out, "scopes = [{}]", scopes.join(", "));
    if !m.id_token_signing_alg_values_supported.is_empty() {
        let _ = writeln!(
            out,
            "# ID token algorithms: {}",
            m.id_token_signing_alg_values_supported.join(", ")
        );
    }
    let _ = writeln!(out, "\n[authorization_servers.local]");
    let _ = writeln!(out, "audiences = [\"api://default\"]");
    let _ = writeln!(out, "clock_skew_seconds = 30");
    if m.introspection_endpoint.is_some() {
        let _ = writeln!(out, "\n[authorization_servers.remote]");
        let _ = writeln!(out, "client_id = \"${{GATEWAY_CLIENT_ID}}\"");
        let _ = writeln!(out, "client_secret = \"${{GATEWAY_CLIENT_SECRET}}\"");
        let _ = writeln!(out, "cache_ttl_seconds = 60");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_fills_only_what_the_configuration_leaves_out() {
        let toml = r#"
[[authorization_servers]]
name = "ExternalOktaServer"
discovery_url = "https://example.okta.com/oauth2/default/.well-known/openid-configuration"
jwks_uri = "https://keys.example.com/pinned"
[authorization_servers.local]
audiences = ["api://default"]
"#;
        let mut config = crate::config::Config::from_toml(toml, &|_: &str| None).unwrap();
        let server = &mut config.authorization_servers[0];
        let doc: Metadata = serde_json::from_value(serde_json::json!({
            "issuer": "https://example.okta.com/oauth2/default",
            "jwks_uri": "https://example.okta.com/oauth2/default/v1/keys",
            "introspection_endpoint": "https://example.okta.com/oauth2/default/v1/introspect",
            "registration_endpoint": "https://example.okta.com/oauth2/v1/clients",
            "scopes_supported": ["openid", "beds.read"],
        }))
        .unwrap();
        apply(server, doc);
        assert_eq!(
            server.issuer.as_deref(),
            Some("https://example.okta.com/oauth2/default")
        );
        assert_eq!(
            server.jwks_uri.as_ref().unwrap().as_str(),
            "https://keys.example.com/pinned"
        );
        assert_eq!(
            server.introspection_endpoint.as_ref().unwrap().as_str(),
            "https://example.okta.com/oauth2/default/v1/introspect"
        );
        assert_eq!(
            server.registration_endpoint.as_ref().unwrap().as_str(),
            "https://example.okta.com/oauth2/v1/clients"
        );
        assert_eq!(server.scopes, vec!["openid", "beds.read"]);
    }
}
