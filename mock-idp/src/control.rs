//! What the control API changes at runtime: injected faults, custom claims,
//! and the log of requests received. Shared by `/__mock/` and the Rust handle.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The control API's OpenAPI document, as `/__mock/openapi.json` serves it.
pub use crate::routes::control::OPENAPI;

/// The endpoints a fault can target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Endpoint {
    Any,
    Discovery,
    Keys,
    Token,
    Introspect,
    Revoke,
    Authorize,
    Userinfo,
    Logout,
    Authn,
    Clients,
}

impl Endpoint {
    /// Which endpoint a request path is for.
    pub fn of_path(path: &str) -> Option<Self> {
        let last = path.rsplit('/').next().unwrap_or("");
        Some(match last {
            "openid-configuration" | "oauth-authorization-server" => Self::Discovery,
            "keys" => Self::Keys,
            "token" => Self::Token,
            "introspect" => Self::Introspect,
            "revoke" => Self::Revoke,
            "authorize" => Self::Authorize,
            "userinfo" => Self::Userinfo,
            "logout" => Self::Logout,
            "authn" => Self::Authn,
            _ if path.starts_with("/oauth2/v1/clients") => Self::Clients,
            _ => return None,
        })
    }
}

/// What a fault does to the request it matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum FaultKind {
    /// Answer with this status and body instead of the real response.
    Status {
        status: u16,
        #[serde(default)]
        body: Option<Value>,
    },
    /// Wait this long, then answer normally.
    Latency { ms: u64 },
    /// Close the connection without a complete response.
    Drop,
    /// Serve the key set without the key that signs now (a stale cache upstream).
    StaleJwks,
    /// Serve a key set that is not valid JSON.
    BrokenJwks,
    /// Okta's 429 (`E0000047`) with `X-Rate-Limit-Remaining: 0`.
    RateLimit,
}

/// A fault as requested: where, what, and how often.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultSpec {
    pub endpoint: Endpoint,
    #[serde(flatten)]
    pub kind: FaultKind,
    /// Apply this many times, then remove itself (forever when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// Apply to this fraction of matching requests (all when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
}

impl FaultSpec {
    pub fn new(endpoint: Endpoint, kind: FaultKind) -> Self {
        Self {
            endpoint,
            kind,
            times: None,
            probability: None,
        }
    }

    pub fn times(mut self, times: u32) -> Self {
        self.times = Some(times);
        self
    }

    pub fn probability(mut self, probability: f64) -> Self {
        self.probability = Some(probability);
        self
    }

    pub fn validate(&self) -> Result<(), String> {
        if let FaultKind::Status { status, .. } = self.kind
            && !(100..=599).contains(&status)
        {
            return Err(format!("status: {status} is not an HTTP status"));
        }
        if let FaultKind::Latency { ms } = self.kind
            && ms > 120_000
        {
            return Err("ms: at most 120000".into());
        }
        if self.probability.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
            return Err("probability: must be between 0 and 1".into());
        }
        if self.times == Some(0) {
            return Err("times: must be at least 1".into());
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Fault {
    pub id: u64,
    #[serde(flatten)]
    pub spec: FaultSpec,
    /// How many requests it has hit so far.
    pub hits: u32,
}

/// Who a custom-claim rule applies to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimTarget {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// A user's login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// Which tokens a claim rule changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    #[default]
    Access,
    Id,
    Both,
}

/// Extra or overridden claims (`aud`, `exp`, `groups`, anything) for the
/// tokens minted for a client and/or user; `once` applies to the next token only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimRule {
    #[serde(default)]
    pub target: ClaimTarget,
    #[serde(default)]
    pub token: TokenKind,
    pub claims: Map<String, Value>,
    #[serde(default)]
    pub once: bool,
}

/// One request the server received, with nothing secret in it.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct RequestRecord {
    pub at: i64,
    pub method: String,
    pub path: String,
    /// Parameter names only: values may be secrets or tokens.
    pub query_names: Vec<String>,
    pub status: u16,
    pub client_id: Option<String>,
}

/// A token the server minted (for inspection; never the token itself).
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct IssuedToken {
    pub jti: String,
    pub kind: TokenKind,
    pub issuer: String,
    pub client_id: String,
    pub sub: String,
    pub scopes: Vec<String>,
    pub iat: i64,
    pub exp: i64,
}

const REQUEST_LOG_CAPACITY: usize = 200;
const ISSUED_LOG_CAPACITY: usize = 500;

/// Runtime changes made through the control API.
#[derive(Debug, Default)]
pub struct Control {
    next_id: AtomicU64,
    faults: Mutex<Vec<Fault>>,
    claim_rules: Mutex<Vec<(u64, ClaimRule)>>,
    requests: Mutex<VecDeque<RequestRecord>>,
    issued: Mutex<VecDeque<IssuedToken>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Control {
    fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub fn add_fault(&self, spec: FaultSpec) -> u64 {
        let id = self.next_id();
        lock(&self.faults).push(Fault { id, spec, hits: 0 });
        id
    }

    pub fn remove_fault(&self, id: u64) -> bool {
        let mut faults = lock(&self.faults);
        let before = faults.len();
        faults.retain(|f| f.id != id);
        faults.len() != before
    }

    pub fn clear_faults(&self) {
        lock(&self.faults).clear();
    }

    pub fn faults(&self) -> Vec<Fault> {
        lock(&self.faults).clone()
    }

    /// The fault to apply to a request for `endpoint`, if any (counting the hit).
    /// `roll` draws a uniform random number in [0, 1) for probabilistic faults.
    pub fn take_fault(&self, endpoint: Endpoint, roll: impl FnOnce() -> f64) -> Option<FaultKind> {
        let mut faults = lock(&self.faults);
        // One roll in [0, 1), drawn only when a fault is left to chance: most
        // requests meet no fault, and need no random number.
        let mut roll = Some(roll);
        let mut drawn = None;
        let index = faults.iter().position(|f| {
            (f.spec.endpoint == endpoint || f.spec.endpoint == Endpoint::Any)
                && f.spec.probability.is_none_or(|p| {
                    *drawn.get_or_insert_with(|| roll.take().map_or(1.0, |roll| roll())) < p
                })
        })?;
        let fault = &mut faults[index];
        fault.hits += 1;
        let kind = fault.spec.kind.clone();
        if fault.spec.times.is_some_and(|t| fault.hits >= t) {
            faults.remove(index);
        }
        Some(kind)
    }

    pub fn add_claim_rule(&self, rule: ClaimRule) -> u64 {
        let id = self.next_id();
        lock(&self.claim_rules).push((id, rule));
        id
    }

    pub fn remove_claim_rule(&self, id: u64) -> bool {
        let mut rules = lock(&self.claim_rules);
        let before = rules.len();
        rules.retain(|(rule_id, _)| *rule_id != id);
        rules.len() != before
    }

    pub fn claim_rules(&self) -> Vec<(u64, ClaimRule)> {
        lock(&self.claim_rules).clone()
    }

    /// The claims to add to a token of `kind` for this client and user, in
    /// rule order (later rules win); `once` rules are used up.
    pub fn claims_for(
        &self,
        kind: TokenKind,
        client_id: &str,
        user_login: Option<&str>,
    ) -> Map<String, Value> {
        let mut out = Map::new();
        let mut rules = lock(&self.claim_rules);
        rules.retain(|(_, rule)| {
            let kind_matches = rule.token == TokenKind::Both || rule.token == kind;
            let client_matches = rule
                .target
                .client_id
                .as_deref()
                .is_none_or(|c| c == client_id);
            let user_matches = match (&rule.target.user, user_login) {
                (None, _) => true,
                (Some(want), Some(login)) => want.eq_ignore_ascii_case(login),
                (Some(_), None) => false,
            };
            if kind_matches && client_matches && user_matches {
                out.extend(rule.claims.clone());
                return !rule.once;
            }
            true
        });
        out
    }

    pub fn record(&self, record: RequestRecord) {
        let mut requests = lock(&self.requests);
        if requests.len() == REQUEST_LOG_CAPACITY {
            requests.pop_front();
        }
        requests.push_back(record);
    }

    pub fn record_issued(&self, token: IssuedToken) {
        let mut issued = lock(&self.issued);
        if issued.len() == ISSUED_LOG_CAPACITY {
            issued.pop_front();
        }
        issued.push_back(token);
    }

    /// The most recently minted tokens, newest last.
    pub fn issued(&self) -> Vec<IssuedToken> {
        lock(&self.issued).iter().cloned().collect()
    }

    /// The most recent requests, newest last.
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.requests).iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_with_times_removes_itself() {
        let control = Control::default();
        control.add_fault(FaultSpec::new(Endpoint::Token, FaultKind::Drop).times(2));
        assert_eq!(control.take_fault(Endpoint::Keys, || 0.0), None);
        assert_eq!(
            control.take_fault(Endpoint::Token, || 0.0),
            Some(FaultKind::Drop)
        );
        assert_eq!(
            control.take_fault(Endpoint::Token, || 0.0),
            Some(FaultKind::Drop)
        );
        assert_eq!(control.take_fault(Endpoint::Token, || 0.0), None);
    }

    #[test]
    fn probability_is_checked_against_the_roll() {
        let control = Control::default();
        control.add_fault(FaultSpec::new(Endpoint::Any, FaultKind::RateLimit).probability(0.25));
        assert_eq!(control.take_fault(Endpoint::Token, || 0.5), None);
        assert_eq!(
            control.take_fault(Endpoint::Token, || 0.1),
            Some(FaultKind::RateLimit)
        );
    }

    #[test]
    fn once_claim_rules_apply_to_the_next_token_only() {
        let control = Control::default();
        let mut claims = Map::new();
        claims.insert("groups".into(), serde_json::json!(["Nurses"]));
        control.add_claim_rule(ClaimRule {
            target: ClaimTarget {
                client_id: Some("c".into()),
                user: None,
            },
            token: TokenKind::Access,
            claims,
            once: true,
        });
        assert!(
            control
                .claims_for(TokenKind::Access, "other", None)
                .is_empty()
        );
        assert!(control.claims_for(TokenKind::Id, "c", None).is_empty());
        assert_eq!(
            control.claims_for(TokenKind::Access, "c", None)["groups"],
            serde_json::json!(["Nurses"])
        );
        assert!(control.claims_for(TokenKind::Access, "c", None).is_empty());
    }
}
