//! A client of the admin API, for `gateway apps …` and `gateway apply FILE`.
//!
//! `apply` reads a TOML file with `[[applications]]` (the admin API's application documents:
//! `name`, `apis`, `strategies` with `client_id`/`client_secret` or a `registration` table) and
//! `[[scope_mappings]]`, compares it with the store through the API, and plans creates, updates
//! and deletes: applications first (deletes, then creates and updates), then mappings. A
//! strategy whose `client_secret` is given in the file cannot be compared (the API never shows
//! secrets): it is re-applied only when something else about the application changed, or when
//! the store has no secret for it.

use std::fmt;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::secret::Secret;
use crate::store::{MappingRecord, RegistrationSpec};

/// Talks to a gateway's admin API.
#[derive(Debug, Clone)]
pub struct AdminClient {
    http: reqwest::Client,
    base: String,
    token: Secret,
}

impl AdminClient {
    /// A client for `base` (e.g. `http://127.0.0.1:8081`) with the admin token.
    pub fn new(base: &str, token: Secret) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_owned(),
            token,
        }
    }

    /// One call; `Err` only when there was no HTTP answer.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), String> {
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(self.token.expose());
        if let Some(b) = body {
            r = r.json(b);
        }
        let r = r
            .send()
            .await
            .map_err(|e| format!("admin API at {}: {}", self.base, e.without_url()))?;
        let status = r.status().as_u16();
        let text = r.text().await.map_err(|e| e.without_url().to_string())?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    async fn ok(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, String> {
        let (s, v) = self.call(method, path, body).await?;
        if (200..300).contains(&s) {
            Ok(v)
        } else {
            Err(format!("{s}: {v}"))
        }
    }
}

/// The file `gateway apply` reads.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplyFile {
    /// Applications (admin API documents).
    #[serde(default)]
    pub applications: Vec<Value>,
    /// Scope mappings.
    #[serde(default)]
    pub scope_mappings: Vec<MappingRecord>,
}

impl ApplyFile {
    /// Parses the TOML text.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let f: Self = toml::from_str(text).map_err(|e| e.to_string())?;
        for (i, a) in f.applications.iter().enumerate() {
            if a.get("name").and_then(Value::as_str).is_none() {
                return Err(format!("applications[{i}].name: required"));
            }
        }
        Ok(f)
    }
}

/// One planned change.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// `DELETE /applications/{name}`.
    DeleteApp(String),
    /// `POST /applications`.
    CreateApp(String, Value),
    /// `PUT /applications/{name}`.
    UpdateApp(String, Value),
    /// `POST /scope-mappings`.
    PutMapping(MappingRecord),
    /// `DELETE /scope-mappings/{server}/{scope}`.
    DeleteMapping(String, String),
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DeleteApp(n) => write!(f, "delete application {n}"),
            Self::CreateApp(n, _) => write!(f, "create application {n}"),
            Self::UpdateApp(n, _) => write!(f, "update application {n}"),
            Self::PutMapping(m) => write!(
                f,
                "map {}/{} -> {}",
                m.authorization_server,
                m.scope,
                m.api_scopes.join(", ")
            ),
            Self::DeleteMapping(s, sc) => write!(f, "delete mapping {s}/{sc}"),
        }
    }
}

fn name_of(v: &Value) -> String {
    v["name"].as_str().unwrap_or_default().to_owned()
}

// The comparable part of an application document (desired or shown).
fn normal(v: &Value) -> Value {
    let strategies: Vec<Value> = v["strategies"]
        .as_array()
        .map(|s| {
            s.iter()
                .map(|s| {
                    let registration = s
                        .get("registration")
                        .filter(|r| !r.is_null())
                        .and_then(|r| serde_json::from_value::<RegistrationSpec>(r.clone()).ok());
                    json!({
                        "name": s["name"],
                        "scheme": s["scheme"],
                        "authorization_server": s["authorization_server"],
                        "client_id": if registration.is_some() { Value::Null } else { s["client_id"].clone() },
                        "hmac": s["hmac"].as_bool().unwrap_or(false),
                        "registration": registration,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    json!({ "apis": v.get("apis").cloned().unwrap_or(json!([])), "strategies": strategies })
}

/// Compares the file with the store and lists the changes.
pub async fn plan(client: &AdminClient, file: &ApplyFile) -> Result<Vec<Step>, String> {
    let current = client
        .ok(reqwest::Method::GET, "/admin/v1/applications", None)
        .await?;
    let current = current.as_array().cloned().unwrap_or_default();
    let maps = client
        .ok(reqwest::Method::GET, "/admin/v1/scope-mappings", None)
        .await?;
    let maps: Vec<MappingRecord> = serde_json::from_value(maps).map_err(|e| e.to_string())?;

    let mut steps = Vec::new();
    for c in &current {
        if !file.applications.iter().any(|d| name_of(d) == name_of(c)) {
            steps.push(Step::DeleteApp(name_of(c)));
        }
    }
    for d in &file.applications {
        let name = name_of(d);
        match current.iter().find(|c| name_of(c) == name) {
            None => steps.push(Step::CreateApp(name, d.clone())),
            Some(c) => {
                let secret_missing = d["strategies"].as_array().is_some_and(|ds| {
                    ds.iter().any(|s| {
                        s.get("client_secret").is_some_and(|x| !x.is_null())
                            && c["strategies"].as_array().is_some_and(|cs| {
                                cs.iter().any(|x| {
                                    x["name"] == s["name"] && x["client_secret_set"] == false
                                })
                            })
                    })
                });
                if normal(d) != normal(c) || secret_missing || c["state"] == "deleting" {
                    steps.push(Step::UpdateApp(name, d.clone()));
                }
            }
        }
    }
    for m in &file.scope_mappings {
        if !maps.contains(m) {
            steps.push(Step::PutMapping(m.clone()));
        }
    }
    for m in &maps {
        if !file
            .scope_mappings
            .iter()
            .any(|d| d.authorization_server == m.authorization_server && d.scope == m.scope)
        {
            steps.push(Step::DeleteMapping(
                m.authorization_server.clone(),
                m.scope.clone(),
            ));
        }
    }
    Ok(steps)
}

/// `s` as one URL path segment: every byte outside the unreserved set percent-encoded (`/`,
/// `%`, `?`, `#` and spaces included), so every legal name addresses its own resource.
pub fn path_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// Runs the steps in order, stopping at the first failure. Returns the answers of creates
/// (they carry registered credentials, shown once).
pub async fn execute(client: &AdminClient, steps: &[Step]) -> Result<Vec<Value>, String> {
    use reqwest::Method;
    let mut created = Vec::new();
    for step in steps {
        let r = match step {
            Step::DeleteApp(n) => {
                client
                    .ok(
                        Method::DELETE,
                        &format!("/admin/v1/applications/{}", path_segment(n)),
                        None,
                    )
                    .await
            }
            Step::CreateApp(_, v) => {
                let r = client
                    .ok(Method::POST, "/admin/v1/applications", Some(v))
                    .await;
                if let Ok(v) = &r {
                    created.push(v.clone());
                }
                r
            }
            Step::UpdateApp(n, v) => {
                client
                    .ok(
                        Method::PUT,
                        &format!("/admin/v1/applications/{}", path_segment(n)),
                        Some(v),
                    )
                    .await
            }
            Step::PutMapping(m) => {
                client
                    .ok(Method::POST, "/admin/v1/scope-mappings", Some(&json!(m)))
                    .await
            }
            Step::DeleteMapping(s, sc) => {
                client
                    .ok(
                        Method::DELETE,
                        &format!(
                            "/admin/v1/scope-mappings/{}/{}",
                            path_segment(s),
                            path_segment(sc)
                        ),
                        None,
                    )
                    .await
            }
        };
        r.map_err(|e| format!("{step}: {e}"))?;
    }
    Ok(created)
}
