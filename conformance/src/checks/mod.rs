//! The check registry and the context every area runs in.
//!
//! The catalogue (`catalogue.rs`) names every check: id, area, level, mode and
//! its one-line assertion. Each area module exports `IDS` (what it implements)
//! and `run`, which replays a flow and records an outcome per check id; `AREAS`
//! lists every area once (name, ids, run), in the order they run. The
//! level turns a failed assertion into a verdict: MUST → fail, SHOULD and
//! DERIVED → warn, MAY → info.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::http::{Exchange, Http, Req};
use crate::login::Jar;
use crate::target::{Client, Target};

pub mod catalogue;

pub mod authz;
pub mod bcp;
pub mod cauth;
pub mod dcr;
pub mod disc;
pub mod idt;
pub mod intro;
pub mod jose;
pub mod jwks;
pub mod jwtat;
pub mod oidc;
pub mod pkce;
pub mod rev;
pub mod rs;
pub mod rt;
pub mod tok_ac;
pub mod tok_cc;
pub mod tok_gen;
pub mod ui;

/// What the source says about the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Level {
    Must,
    MustStar,
    Should,
    May,
    Derived,
    Info,
}

impl Level {
    /// The catalogue's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Must => "MUST",
            Self::MustStar => "MUST*",
            Self::Should => "SHOULD",
            Self::May => "MAY",
            Self::Derived => "DERIVED",
            Self::Info => "INFO",
        }
    }
}

/// One catalogue entry.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CheckDef {
    pub id: &'static str,
    pub area: &'static str,
    pub level: Level,
    /// The full level column (split levels such as "MUST (header) / SHOULD (401)").
    pub level_text: &'static str,
    pub mode: &'static str,
    pub source: &'static str,
    pub assertion: &'static str,
}

/// Looks an id up in the catalogue.
pub fn def(id: &str) -> Option<&'static CheckDef> {
    catalogue::CATALOGUE.iter().find(|d| d.id == id)
}

/// An area's run: replays its flows and records an outcome per check id.
pub type Run = for<'a> fn(&'a mut Ctx) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// A catalogue area: its name, the check ids it implements and how to run it.
#[derive(Debug)]
pub struct Area {
    /// The catalogue's area name (`DISC`, `TOK-GEN`, …).
    pub name: &'static str,
    /// The check ids its module implements (`IDS`).
    pub ids: &'static [&'static str],
    /// Its module's `run`.
    pub run: Run,
}

/// Every area, in the order they run: the one list of areas (a new area is one row here).
pub static AREAS: &[Area] = &[
    Area {
        name: "DISC",
        ids: disc::IDS,
        run: |cx| Box::pin(disc::run(cx)),
    },
    Area {
        name: "JWKS",
        ids: jwks::IDS,
        run: |cx| Box::pin(jwks::run(cx)),
    },
    Area {
        name: "TOK-GEN",
        ids: tok_gen::IDS,
        run: |cx| Box::pin(tok_gen::run(cx)),
    },
    Area {
        name: "TOK-CC",
        ids: tok_cc::IDS,
        run: |cx| Box::pin(tok_cc::run(cx)),
    },
    Area {
        name: "CAUTH",
        ids: cauth::IDS,
        run: |cx| Box::pin(cauth::run(cx)),
    },
    Area {
        name: "INTRO",
        ids: intro::IDS,
        run: |cx| Box::pin(intro::run(cx)),
    },
    Area {
        name: "REV",
        ids: rev::IDS,
        run: |cx| Box::pin(rev::run(cx)),
    },
    Area {
        name: "JOSE",
        ids: jose::IDS,
        run: |cx| Box::pin(jose::run(cx)),
    },
    Area {
        name: "JWTAT",
        ids: jwtat::IDS,
        run: |cx| Box::pin(jwtat::run(cx)),
    },
    Area {
        name: "AUTHZ",
        ids: authz::IDS,
        run: |cx| Box::pin(authz::run(cx)),
    },
    Area {
        name: "PKCE",
        ids: pkce::IDS,
        run: |cx| Box::pin(pkce::run(cx)),
    },
    Area {
        name: "TOK-AC",
        ids: tok_ac::IDS,
        run: |cx| Box::pin(tok_ac::run(cx)),
    },
    Area {
        name: "IDT",
        ids: idt::IDS,
        run: |cx| Box::pin(idt::run(cx)),
    },
    Area {
        name: "OIDC",
        ids: oidc::IDS,
        run: |cx| Box::pin(oidc::run(cx)),
    },
    Area {
        name: "RT",
        ids: rt::IDS,
        run: |cx| Box::pin(rt::run(cx)),
    },
    Area {
        name: "UI",
        ids: ui::IDS,
        run: |cx| Box::pin(ui::run(cx)),
    },
    Area {
        name: "DCR",
        ids: dcr::IDS,
        run: |cx| Box::pin(dcr::run(cx)),
    },
    Area {
        name: "RS",
        ids: rs::IDS,
        run: |cx| Box::pin(rs::run(cx)),
    },
    Area {
        name: "BCP",
        ids: bcp::IDS,
        run: |cx| Box::pin(bcp::run(cx)),
    },
];

/// The area named `name` (exactly as the catalogue spells it).
pub fn area(name: &str) -> Option<&'static Area> {
    AREAS.iter().find(|a| a.name == name)
}

/// The check ids an area implements.
pub fn implemented(name: &str) -> &'static [&'static str] {
    area(name).map_or(&[], |a| a.ids)
}

/// True when `id` is implemented by some area.
pub fn is_implemented(id: &str) -> bool {
    def(id).is_some_and(|d| implemented(d.area).contains(&id))
}

/// A raw outcome recorded by a check, before the level is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Raw {
    Skip,
    Info,
    Pass,
    Warn,
    Fail,
}

/// One recorded observation.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub raw: Raw,
    pub message: String,
    pub evidence: Option<String>,
}

/// Moves the target's clock forward by `Some(d)`, or back to real time with
/// `None` (the in-process mock).
pub type ClockHook = Arc<dyn Fn(Option<Duration>) + Send + Sync>;

/// Mints a token signed by the target's real key with the given request (the
/// in-process mock's test-token hook: `{client_id, scopes, claims, expires_in, flavor}`).
pub type MintHook = Arc<dyn Fn(serde_json::Value) -> Option<String> + Send + Sync>;

/// A function that rotates the target's signing key (the in-process mock).
pub type RotateHook =
    Arc<dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send + Sync>;

/// Tokens from one authorization-code flow.
#[derive(Debug, Clone, Default)]
pub struct UserTokens {
    pub access_token: Option<String>,
    pub id_token: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
    pub nonce: Option<String>,
    /// The token response.
    pub exchange: Option<Exchange>,
}

/// Everything a check needs: the target, a client, discovered metadata, and
/// the record of outcomes.
pub struct Ctx {
    pub target: Target,
    pub issuer: String,
    pub http: Http,
    /// Advances the target's clock (in-process mock only).
    pub clock: Option<ClockHook>,
    /// Rotates the target's signing key (in-process mock only).
    pub rotate: Option<RotateHook>,
    /// Mints admin-made tokens (in-process mock only; mode A checks).
    pub mint: Option<MintHook>,
    /// Base URL of the gateway for RS checks.
    pub gateway_url: Option<String>,
    /// The login driver's cookie jar (the "browser session").
    pub jar: Jar,
    discovery: Option<Exchange>,
    jwks: Option<Exchange>,
    cc_token: Option<Exchange>,
    user_tokens: Option<Option<UserTokens>>,
    records: BTreeMap<&'static str, Vec<Record>>,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("target", &self.target.name)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl Ctx {
    /// A context for `target` whose issuer is `issuer`.
    pub fn new(target: Target, issuer: String, http: Http) -> Self {
        Self {
            target,
            issuer,
            http,
            clock: None,
            rotate: None,
            mint: None,
            gateway_url: None,
            jar: Jar::default(),
            discovery: None,
            jwks: None,
            cc_token: None,
            user_tokens: None,
            records: BTreeMap::new(),
        }
    }

    /// The recorded observations, by id.
    pub fn records(&self) -> &BTreeMap<&'static str, Vec<Record>> {
        &self.records
    }

    // ---- recording ------------------------------------------------------

    fn push(&mut self, id: &'static str, raw: Raw, message: String, ex: Option<&Exchange>) {
        debug_assert!(def(id).is_some(), "unknown check id {id}");
        self.records.entry(id).or_default().push(Record {
            raw,
            message,
            evidence: ex.map(Exchange::evidence),
        });
    }

    /// The assertion held.
    pub fn pass(&mut self, id: &'static str, note: impl Into<String>) {
        self.push(id, Raw::Pass, note.into(), None);
    }

    /// The assertion failed (the level decides fail / warn / info).
    pub fn fail(&mut self, id: &'static str, msg: impl Into<String>, ex: Option<&Exchange>) {
        self.push(id, Raw::Fail, msg.into(), ex);
    }

    /// A soft failure whatever the level (the SHOULD half of a split level).
    pub fn warn(&mut self, id: &'static str, msg: impl Into<String>, ex: Option<&Exchange>) {
        self.push(id, Raw::Warn, msg.into(), ex);
    }

    /// Recorded, not judged.
    pub fn info(&mut self, id: &'static str, msg: impl Into<String>) {
        self.push(id, Raw::Info, msg.into(), None);
    }

    /// Could not run here.
    pub fn skip(&mut self, id: &'static str, reason: impl Into<String>) {
        self.push(id, Raw::Skip, reason.into(), None);
    }

    /// Records pass when `ok`, else a failure with `msg` and the exchange.
    pub fn check(
        &mut self,
        id: &'static str,
        ok: bool,
        msg: impl Into<String>,
        ex: &Exchange,
    ) -> bool {
        if ok {
            self.push(id, Raw::Pass, String::new(), None);
        } else {
            self.push(id, Raw::Fail, msg.into(), Some(ex));
        }
        ok
    }

    /// Skips every id in `ids` with the same reason.
    pub fn skip_all(&mut self, ids: &[&'static str], reason: &str) {
        for id in ids {
            self.skip(id, reason);
        }
    }

    // ---- target facts ---------------------------------------------------

    /// True when http://127.0.0.1 / localhost URLs are acceptable.
    pub fn allow_http_loopback(&self) -> bool {
        self.target.server.allow_http_loopback
    }

    /// Whether slow (T) checks may run: always on a target with a clock hook.
    pub fn slow_ok(&self) -> bool {
        self.clock.is_some() || self.target.server.slow_checks
    }

    /// Moves time forward: the mock's clock when available, else sleeps.
    pub async fn elapse(&self, by: Duration) {
        match &self.clock {
            Some(hook) => hook(Some(by)),
            None => tokio::time::sleep(by).await,
        }
    }

    /// After a time-travelling check: the target's clock back to real time,
    /// and the shared tokens forgotten (they may have expired).
    pub fn restore_time(&mut self) {
        if let Some(hook) = &self.clock {
            hook(None);
        }
        self.cc_token = None;
        self.user_tokens = None;
    }

    /// The service (client-credentials) client.
    pub fn service(&self) -> Option<Client> {
        self.target.clients.service.clone()
    }

    /// "Client B" for binding checks: the second web client, else the service client.
    pub fn other(&self) -> Option<Client> {
        self.target
            .clients
            .other
            .clone()
            .or_else(|| self.service())
            .filter(|c| self.web().is_none_or(|w| w.client_id != c.client_id))
    }

    /// A confidential client other than the service client (the second web client, else the
    /// web client), for cross-client checks against the service client's tokens.
    pub fn not_service(&self) -> Option<Client> {
        let svc = self.service().map(|s| s.client_id);
        [self.target.clients.other.clone(), self.web()]
            .into_iter()
            .flatten()
            .find(|c| Some(&c.client_id) != svc.as_ref())
    }

    /// The web (authorization-code) client.
    pub fn web(&self) -> Option<Client> {
        self.target.clients.web.clone()
    }

    // ---- discovery and keys ---------------------------------------------

    /// The discovery exchange (fetched once).
    pub async fn discovery(&mut self) -> Exchange {
        if let Some(d) = &self.discovery {
            return d.clone();
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let ex = self.http.send(Req::get(url)).await;
        self.discovery = Some(ex.clone());
        ex
    }

    /// The discovery document (an empty object if it could not be read).
    pub async fn meta(&mut self) -> Value {
        self.discovery()
            .await
            .json()
            .filter(Value::is_object)
            .unwrap_or_else(|| Value::Object(Default::default()))
    }

    /// A string member of the discovery document.
    pub async fn meta_str(&mut self, name: &str) -> Option<String> {
        self.meta().await.get(name)?.as_str().map(str::to_owned)
    }

    /// True when a discovery array member contains `value`.
    pub async fn meta_lists(&mut self, name: &str, value: &str) -> bool {
        self.meta()
            .await
            .get(name)
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(value)))
    }

    /// The token endpoint.
    pub async fn token_endpoint(&mut self) -> Option<String> {
        self.meta_str("token_endpoint").await
    }

    /// The introspection endpoint (discovery, else the target file).
    pub async fn introspection_endpoint(&mut self) -> Option<String> {
        match self.meta_str("introspection_endpoint").await {
            Some(u) => Some(u),
            None => self.target.server.introspection_endpoint.clone(),
        }
    }

    /// The revocation endpoint (discovery, else the target file).
    pub async fn revocation_endpoint(&mut self) -> Option<String> {
        match self.meta_str("revocation_endpoint").await {
            Some(u) => Some(u),
            None => self.target.server.revocation_endpoint.clone(),
        }
    }

    /// The JWKS exchange (fetched once; `refetch` forces a new fetch).
    pub async fn jwks_exchange(&mut self, refetch: bool) -> Exchange {
        if !refetch && let Some(j) = &self.jwks {
            return j.clone();
        }
        let url = self.meta_str("jwks_uri").await.unwrap_or_default();
        let ex = self.http.send(Req::get(url)).await;
        self.jwks = Some(ex.clone());
        ex
    }

    /// The JWKS (an empty set if unreadable).
    pub async fn jwks(&mut self) -> Value {
        self.jwks_exchange(false)
            .await
            .json()
            .unwrap_or_else(|| serde_json::json!({"keys": []}))
    }

    // ---- token requests -------------------------------------------------

    /// Adds `client`'s authentication to a token-style request with `params`.
    pub fn authenticated(url: &str, client: &Client, params: &[(&str, &str)]) -> Req {
        let mut p: Vec<(&str, &str)> = params.to_vec();
        let secret = client.client_secret.as_deref().unwrap_or("");
        match client.auth_method.as_str() {
            "client_secret_post" => {
                p.push(("client_id", &client.client_id));
                p.push(("client_secret", secret));
                Req::post_form(url, &p)
            }
            "none" => {
                p.push(("client_id", &client.client_id));
                Req::post_form(url, &p)
            }
            _ => Req::post_form(url, &p).basic(&client.client_id, secret),
        }
    }

    /// POSTs `params` to the token endpoint with `client`'s authentication.
    pub async fn token_request(&mut self, client: &Client, params: &[(&str, &str)]) -> Exchange {
        let url = self.token_endpoint().await.unwrap_or_default();
        self.http
            .send(Self::authenticated(&url, client, params))
            .await
    }

    /// A fresh client-credentials request for the service client (with its scope and resource).
    pub async fn client_credentials(&mut self) -> Option<Exchange> {
        let c = self.service()?;
        let mut p = vec![("grant_type", "client_credentials")];
        if let Some(s) = &c.scope {
            p.push(("scope", s));
        }
        if let Some(r) = &c.resource {
            p.push(("resource", r));
        }
        Some(self.token_request(&c, &p).await)
    }

    /// A fresh client-credentials token meant for introspection (without the
    /// `resource` when the target says its JWT access tokens are not introspectable).
    pub async fn introspectable_token(&mut self) -> Option<String> {
        if !self.target.server.introspect_without_resource {
            return self.client_credentials().await?.str_field("access_token");
        }
        let mut c = self.service()?;
        c.resource = None;
        let mut p = vec![("grant_type", "client_credentials")];
        let scope = c.scope.clone();
        if let Some(s) = &scope {
            p.push(("scope", s));
        }
        self.token_request(&c, &p).await.str_field("access_token")
    }

    /// A client-credentials token response (obtained once and shared).
    pub async fn cc_exchange(&mut self) -> Option<Exchange> {
        if let Some(t) = &self.cc_token {
            return Some(t.clone());
        }
        let ex = self.client_credentials().await?;
        self.cc_token = Some(ex.clone());
        Some(ex)
    }

    /// A live client-credentials access token.
    pub async fn cc_token(&mut self) -> Option<String> {
        self.cc_exchange().await?.str_field("access_token")
    }

    /// Introspects `token` as the service client.
    pub async fn introspect(&mut self, token: &str, hint: Option<&str>) -> Option<Exchange> {
        let url = self.introspection_endpoint().await?;
        let c = self.introspect_client()?;
        let mut p = vec![("token", token)];
        if let Some(h) = hint {
            p.push(("token_type_hint", h));
        }
        Some(self.http.send(Self::authenticated(&url, &c, &p)).await)
    }

    /// The client used to call introspection / revocation (the service client, else web).
    pub fn introspect_client(&self) -> Option<Client> {
        self.service().or_else(|| self.web())
    }

    /// Tokens from one successful code flow for the web client (obtained once and shared; `None` when no user login).
    pub async fn user_tokens(&mut self) -> Option<UserTokens> {
        if let Some(t) = &self.user_tokens {
            return t.clone();
        }
        let t = crate::login::code_flow_tokens(self).await;
        self.user_tokens = Some(t.clone());
        t
    }
}

/// Final verdict of a check on a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    Warn,
    Info,
    Skip,
    /// Failed or warned as documented in the expectations file.
    Deviation,
    /// Not implemented in this crate (yet).
    NotImplemented,
}

impl Status {
    /// Short label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "FAIL",
            Self::Warn => "warn",
            Self::Info => "info",
            Self::Skip => "skip",
            Self::Deviation => "deviation",
            Self::NotImplemented => "n/i",
        }
    }
}
