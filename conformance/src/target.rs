//! A target file (TOML): which server to judge and with what.
//!
//! String values may hold `${VAR}` references, resolved from the environment
//! (and an optional `.env` file). Every missing variable is reported at once,
//! so `just e2e` can print exactly what is missing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// How the suite obtains an authorization code for the user.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum LoginMethod {
    /// Fill in the HTML login (and consent) forms the server shows: the mock's
    /// login page, oidc-provider's dev interactions.
    Form,
    /// Okta Classic: `POST {origin}/api/v1/authn` → `sessionToken` →
    /// `/authorize?sessionToken=…` (docs/okta-behaviour.md §11).
    OktaAuthn,
    /// No user step: the user-flow areas are skipped.
    #[default]
    None,
}

/// What the in-process runner starts before the checks.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum InProcess {
    /// The mock (crate `mock-idp`) with its default configuration.
    Mock,
}

/// The server under test.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// The issuer identifier (discovery does the rest). Omitted when `in_process`.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Start this server in process instead of calling `issuer`.
    #[serde(default)]
    pub in_process: Option<InProcess>,
    /// The in-process mock's configuration (relative to the target file; its default otherwise).
    #[serde(default)]
    pub mock_config: Option<PathBuf>,
    /// Accept `http://127.0.0.1`/`localhost` where https is required (DISC-03/10).
    #[serde(default)]
    pub allow_http_loopback: bool,
    /// A trailing-slash difference in the discovered issuer is a warning (DISC-02).
    #[serde(default)]
    pub lenient_issuer_slash: bool,
    /// Run slow checks (waiting for expiry) against a real clock. Against the
    /// in-process mock, its clock is advanced instead and they always run.
    #[serde(default)]
    pub slow_checks: bool,
    /// The audience the server puts in access tokens by default (JWTAT-05, local introspection).
    #[serde(default)]
    pub audience: Option<String>,
    /// The target issues JWT access tokens (custom AS; `false` for opaque tokens).
    #[serde(default = "yes")]
    pub jwt_access_tokens: bool,
    /// Introspection answers only for tokens minted without the service client's
    /// `resource` (oidc-provider: JWT access tokens are not introspectable), so the
    /// INTRO/REV checks request their tokens without it.
    #[serde(default)]
    pub introspect_without_resource: bool,
    /// Introspection endpoint, when discovery does not name it.
    #[serde(default)]
    pub introspection_endpoint: Option<String>,
    /// Revocation endpoint, when discovery does not name it.
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
}

fn yes() -> bool {
    true
}

/// A registered client.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    pub client_id: String,
    #[serde(default)]
    pub client_secret: Option<String>,
    /// `client_secret_basic` (default), `client_secret_post` or `none`.
    #[serde(default = "basic")]
    pub auth_method: String,
    /// Scope requested by default.
    #[serde(default)]
    pub scope: Option<String>,
    /// An RFC 8707 `resource` to send with token requests (oidc-provider JWT ATs).
    #[serde(default)]
    pub resource: Option<String>,
    /// A registered redirect URI (code-flow clients).
    #[serde(default)]
    pub redirect_uri: Option<String>,
    /// The client has more than one registered redirect URI (AUTHZ-09).
    #[serde(default)]
    pub several_redirect_uris: bool,
    /// Extra authorization-request parameters (e.g. `prompt = "consent"`).
    #[serde(default)]
    pub authorize_params: Vec<(String, String)>,
}

fn basic() -> String {
    "client_secret_basic".to_owned()
}

/// The clients the suite uses.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Clients {
    /// Confidential client allowed `client_credentials` (machine to machine).
    #[serde(default)]
    pub service: Option<Client>,
    /// Confidential client for the authorization code flow.
    #[serde(default)]
    pub web: Option<Client>,
    /// Public client (auth method `none`), if the target has one.
    #[serde(default)]
    pub public: Option<Client>,
    /// A second confidential code-flow client ("client B" for binding checks).
    #[serde(default)]
    pub other: Option<Client>,
}

/// The test user.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub login: LoginMethod,
}

/// Dynamic client registration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// Endpoint (discovery's `registration_endpoint` otherwise).
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Okta API token, sent as `Authorization: SSWS …`.
    #[serde(default)]
    pub ssws_token: Option<String>,
    /// An RFC 7591 initial access token, sent as a Bearer token.
    #[serde(default)]
    pub initial_access_token: Option<String>,
    /// `application_type` for the service clients it registers (`service` for Okta, the
    /// default; `web` for OIDC Registration servers).
    #[serde(default)]
    pub application_type: Option<String>,
}

/// The gateway in front of the demo backend (RS checks).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gateway {
    /// Base URL of a running gateway. Omitted when `in_process`.
    #[serde(default)]
    pub url: Option<String>,
    /// Start `gateway demo` wiring in process (mock + beds backend + gateway).
    #[serde(default)]
    pub in_process: bool,
    /// A protected route and the scope it needs.
    #[serde(default = "beds_path")]
    pub path: String,
    #[serde(default = "get")]
    pub method: String,
    /// The scope the route requires (tokens from the service client carry it).
    #[serde(default)]
    pub required_scope: Option<String>,
    /// A route (path) that needs a scope the service client's token lacks (RS-03).
    #[serde(default)]
    pub insufficient_scope_path: Option<String>,
    #[serde(default = "post")]
    pub insufficient_scope_method: String,
}

fn beds_path() -> String {
    "/beds".to_owned()
}
fn get() -> String {
    "GET".to_owned()
}
fn post() -> String {
    "POST".to_owned()
}

/// A whole target file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Display name.
    pub name: String,
    pub server: Server,
    #[serde(default)]
    pub clients: Clients,
    #[serde(default)]
    pub user: Option<User>,
    #[serde(default)]
    pub registration: Option<Registration>,
    #[serde(default)]
    pub gateway: Option<Gateway>,
    /// Expected deviations, relative to this file.
    #[serde(default)]
    pub expectations: Option<PathBuf>,
    /// Variables to read from a `.env` file (relative to the working directory) before `${VAR}` expansion.
    #[serde(default)]
    pub dotenv: Option<PathBuf>,
}

/// Why a target could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("{path}: missing environment variables (set them or put them in .env): {}", .missing.join(", "))]
    MissingEnv { path: PathBuf, missing: Vec<String> },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl Target {
    /// Loads and validates a target file, expanding `${VAR}`.
    pub fn load(path: &Path) -> Result<Self, TargetError> {
        let text = std::fs::read_to_string(path).map_err(|source| TargetError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses a target from text (`path` is used for messages and relative paths).
    pub fn parse(text: &str, path: &Path) -> Result<Self, TargetError> {
        // First pass: read `dotenv` without expansion to learn where extra variables live.
        let mut env: Vec<(String, String)> = std::env::vars().collect();
        if let Some(file) = raw_dotenv(text)
            && let Ok(content) = std::fs::read_to_string(&file)
        {
            for (k, v) in parse_dotenv(&content) {
                if !env.iter().any(|(n, _)| *n == k) {
                    env.push((k, v));
                }
            }
        }
        let (expanded, missing) = expand(text, &env);
        if !missing.is_empty() {
            return Err(TargetError::MissingEnv {
                path: path.to_owned(),
                missing: missing.into_iter().collect(),
            });
        }
        let mut t: Target = toml::from_str(&expanded).map_err(|source| TargetError::Parse {
            path: path.to_owned(),
            source: Box::new(source),
        })?;
        if t.server.issuer.is_none() && t.server.in_process.is_none() {
            return Err(TargetError::Invalid {
                path: path.to_owned(),
                message: "[server] needs `issuer` or `in_process`".into(),
            });
        }
        if let Some(m) = &t.server.mock_config
            && m.is_relative()
        {
            let base = path.parent().unwrap_or(Path::new("."));
            t.server.mock_config = Some(base.join(m));
        }
        if let Some(e) = &t.expectations
            && e.is_relative()
        {
            let base = path.parent().unwrap_or(Path::new("."));
            t.expectations = Some(base.join(e));
        }
        Ok(t)
    }
}

fn raw_dotenv(text: &str) -> Option<PathBuf> {
    text.lines().find_map(|l| {
        let l = l.trim();
        let rest = l.strip_prefix("dotenv")?.trim_start().strip_prefix('=')?;
        Some(PathBuf::from(rest.trim().trim_matches('"')))
    })
}

/// Parses `KEY=value` lines (comments, `export`, quotes).
pub fn parse_dotenv(content: &str) -> Vec<(String, String)> {
    content
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            if l.is_empty() || l.starts_with('#') {
                return None;
            }
            let l = l.strip_prefix("export ").unwrap_or(l);
            let (k, v) = l.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            Some((k.trim().to_owned(), v.to_owned()))
        })
        .collect()
}

/// Expands `${VAR}` (and `${VAR:-default}`) outside comment lines; returns the
/// text and the names that had no value.
pub fn expand(text: &str, env: &[(String, String)]) -> (String, BTreeSet<String>) {
    let mut out = String::with_capacity(text.len());
    let mut missing = BTreeSet::new();
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with('#') {
            out.push_str(line);
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("${") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let Some(j) = after.find('}') else {
                out.push_str(&rest[i..]);
                rest = "";
                break;
            };
            let spec = &after[..j];
            let (name, default) = match spec.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (spec, None),
            };
            match env.iter().find(|(k, v)| k == name && !v.is_empty()) {
                Some((_, v)) => out.push_str(&toml_escape(v)),
                None => match default {
                    Some(d) => out.push_str(d),
                    None => {
                        missing.insert(name.to_owned());
                    }
                },
            }
            rest = &after[j + 1..];
        }
        out.push_str(rest);
    }
    (out, missing)
}

fn toml_escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_reports_every_missing_variable() {
        let env = vec![("A".to_owned(), "x".to_owned())];
        let (out, missing) = expand(
            "a = \"${A}\"\nb = \"${B}\"\n# ${C}\nd = \"${D:-dd}\"\ne = \"${E}\"\n",
            &env,
        );
        assert!(out.contains("a = \"x\""));
        assert!(out.contains("d = \"dd\""));
        assert_eq!(missing.into_iter().collect::<Vec<_>>(), vec!["B", "E"]);
    }

    #[test]
    fn dotenv() {
        let v = parse_dotenv("# c\nexport A=1\nB=\"two words\"\n");
        assert_eq!(
            v,
            vec![("A".into(), "1".into()), ("B".into(), "two words".into())]
        );
    }
}
