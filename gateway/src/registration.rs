//! Dynamic client registration at Okta (`/oauth2/v1/clients`, `Authorization: SSWS {token}`):
//! create, replace, delete and rotate the secret of the clients the gateway owns.
//!
//! Failures keep what the AS said (Okta's `errorCode`/`errorSummary`, OAuth's
//! `error`/`error_description`, the `X-Rate-Limit-*` headers of a 429) and never the token.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use crate::secret::Secret;
use crate::store::RegistrationSpec;

/// Why a call to the authorization server failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AsError {
    /// Okta's management error (`errorCode`, e.g. E0000011) or an OAuth error body.
    #[error("the authorization server answered {status}: {code}: {summary}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// `errorCode` (or OAuth `error`).
        code: String,
        /// `errorSummary` (or `error_description`).
        summary: String,
    },
    /// 429 (E0000047).
    #[error("the authorization server's rate limit was exceeded (retry after {reset:?})")]
    RateLimited {
        /// `X-Rate-Limit-Limit`.
        limit: Option<u64>,
        /// `X-Rate-Limit-Remaining`.
        remaining: Option<u64>,
        /// `X-Rate-Limit-Reset` (Unix seconds).
        reset: Option<u64>,
    },
    /// No answer in time.
    #[error("the authorization server did not answer in time")]
    Timeout,
    /// The connection failed or the answer was not understood.
    #[error("the authorization server could not be reached: {0}")]
    Unreachable(String),
    /// No registration endpoint or no API token for this AS.
    #[error("{0}")]
    NotConfigured(String),
}

impl AsError {
    /// The client is already gone (delete is then a success).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Rejected { status: 404, .. })
            || matches!(self, Self::Rejected { status: 401, code, .. } if code == "invalid_client")
    }
}

/// What the AS returned for a client.
#[derive(Clone)]
pub struct RegisteredClient {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret` (returned on create, update and newSecret only).
    pub client_secret: Option<Secret>,
}

impl std::fmt::Debug for RegisteredClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisteredClient")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// One AS's registration endpoint with its API token.
#[derive(Clone)]
pub struct Registrar {
    http: reqwest::Client,
    endpoint: Url,
    token: Secret,
}

impl std::fmt::Debug for Registrar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registrar")
            .field("endpoint", &self.endpoint.as_str())
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct ClientBody {
    client_id: String,
    #[serde(default)]
    client_secret: Option<String>,
}

impl Registrar {
    /// A registrar for `endpoint` (`…/oauth2/v1/clients`) with `token`; calls time out after
    /// `timeout`.
    pub fn new(endpoint: Url, token: Secret, timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self {
            http,
            endpoint,
            token,
        }
    }

    fn url(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.endpoint.as_str().trim_end_matches('/'))
    }

    fn body(name: &str, spec: &RegistrationSpec) -> Value {
        json!({
            "client_name": spec.client_name.clone().unwrap_or_else(|| name.to_owned()),
            "application_type": spec.application_type,
            "grant_types": spec.grant_types,
            "response_types": spec.response_types,
            "redirect_uris": spec.redirect_uris,
            "token_endpoint_auth_method": spec.token_endpoint_auth_method,
        })
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, AsError> {
        let r = req
            .header("Authorization", format!("SSWS {}", self.token.expose()))
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    AsError::Timeout
                } else {
                    AsError::Unreachable(strip(&e))
                }
            })?;
        if r.status().is_success() {
            return Ok(r);
        }
        Err(error_of(r).await)
    }

    async fn client(r: reqwest::Response) -> Result<RegisteredClient, AsError> {
        let b: ClientBody = r.json().await.map_err(|e| {
            if e.is_timeout() {
                AsError::Timeout
            } else {
                AsError::Unreachable("the answer is not a client".into())
            }
        })?;
        Ok(RegisteredClient {
            client_id: b.client_id,
            client_secret: b.client_secret.map(Secret::new),
        })
    }

    /// `POST /oauth2/v1/clients`.
    pub async fn create(
        &self,
        name: &str,
        spec: &RegistrationSpec,
    ) -> Result<RegisteredClient, AsError> {
        let r = self
            .send(self.http.post(self.url("")).json(&Self::body(name, spec)))
            .await?;
        Self::client(r).await
    }

    /// `PUT /oauth2/v1/clients/{id}` (full replacement).
    pub async fn update(
        &self,
        client_id: &str,
        name: &str,
        spec: &RegistrationSpec,
    ) -> Result<RegisteredClient, AsError> {
        let r = self
            .send(
                self.http
                    .put(self.url(&format!("/{}", enc(client_id))))
                    .json(&Self::body(name, spec)),
            )
            .await?;
        Self::client(r).await
    }

    /// `DELETE /oauth2/v1/clients/{id}`; a client already gone counts as deleted.
    pub async fn delete(&self, client_id: &str) -> Result<(), AsError> {
        match self
            .send(self.http.delete(self.url(&format!("/{}", enc(client_id)))))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The ids of the clients named exactly `name` (`GET ?q=` is a prefix match).
    pub async fn find_by_name(&self, name: &str) -> Result<Vec<String>, AsError> {
        let r = self
            .send(
                self.http
                    .get(self.url(""))
                    .query(&[("q", name), ("limit", "200")]),
            )
            .await?;
        let list: Vec<serde_json::Value> = r
            .json()
            .await
            .map_err(|_| AsError::Unreachable("the answer is not a client list".into()))?;
        Ok(list
            .iter()
            .filter(|c| c.get("client_name").and_then(Value::as_str) == Some(name))
            .filter_map(|c| {
                c.get("client_id")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .collect())
    }

    /// `POST /oauth2/v1/clients/{id}/lifecycle/newSecret`.
    pub async fn new_secret(&self, client_id: &str) -> Result<RegisteredClient, AsError> {
        let r = self
            .send(
                self.http
                    .post(self.url(&format!("/{}/lifecycle/newSecret", enc(client_id))))
                    .header("Content-Type", "application/json")
                    .body("{}"),
            )
            .await?;
        Self::client(r).await
    }
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

// reqwest errors print the URL; ours carry no secret in the URL, but keep the message short.
fn strip(e: &reqwest::Error) -> String {
    if e.is_connect() {
        "connection failed".into()
    } else if e.is_request() {
        "the request failed".into()
    } else {
        "the connection was closed".into()
    }
}

fn header_u64(r: &reqwest::Response, name: &str) -> Option<u64> {
    r.headers().get(name)?.to_str().ok()?.trim().parse().ok()
}

async fn error_of(r: reqwest::Response) -> AsError {
    let status = r.status().as_u16();
    if status == 429 {
        return AsError::RateLimited {
            limit: header_u64(&r, "x-rate-limit-limit"),
            remaining: header_u64(&r, "x-rate-limit-remaining"),
            reset: header_u64(&r, "x-rate-limit-reset"),
        };
    }
    let body: Value = match r.bytes().await {
        Ok(b) => serde_json::from_slice(&b).unwrap_or(Value::Null),
        Err(e) if e.is_timeout() => return AsError::Timeout,
        Err(_) => Value::Null,
    };
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
    let (code, summary) = if let Some(code) = text("errorCode") {
        let mut summary = text("errorSummary").unwrap_or_default();
        if let Some(causes) = body.get("errorCauses").and_then(Value::as_array) {
            for c in causes
                .iter()
                .filter_map(|c| c.get("errorSummary")?.as_str())
            {
                summary.push_str("; ");
                summary.push_str(c);
            }
        }
        (code, summary)
    } else if let Some(code) = text("error") {
        (code, text("error_description").unwrap_or_default())
    } else {
        (format!("http_{status}"), "no error document".into())
    };
    AsError::Rejected {
        status,
        code,
        summary,
    }
}
