//! Durable state: applications (with their strategies, subscriptions and registered client
//! credentials), scope mappings and claims rules, kept by name so they survive restarts and configuration
//! edits.
//!
//! Backends: `memory:` (tests, no persistence), `sqlite:PATH` (embedded, the default) and
//! `postgres://…` (a fleet of gateways sharing one database; same schema). Every
//! change bumps a revision number; gateways poll it (see `[store] poll_interval_seconds`) and
//! reload when it moved, which is how several processes sharing one store see each other's
//! changes within one poll interval. Client secrets are sealed with AES-256-GCM under the key in
//! `GATEWAY_STORE_KEY` (see [`seal`]).

mod postgres;
pub mod seal;

use std::fmt;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::config::Scheme;
use crate::secret::Secret;
pub use seal::Sealer;

/// What a dynamic registration asks the authorization server for (webMethods' `dcrConfig`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrationSpec {
    /// `client_name` at the AS (default: `APP/STRATEGY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// `web`, `native`, `browser` or `service` (default `service`).
    #[serde(default = "default_app_type")]
    pub application_type: String,
    /// Grant types (default `["client_credentials"]`).
    #[serde(default = "default_grants")]
    pub grant_types: Vec<String>,
    /// Response types (default `["token"]`).
    #[serde(default = "default_responses")]
    pub response_types: Vec<String>,
    /// Redirect URIs (absolute http(s), no fragment).
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// `client_secret_basic` (default) or `client_secret_post`.
    #[serde(default = "default_auth_method")]
    pub token_endpoint_auth_method: String,
}

fn default_app_type() -> String {
    "service".into()
}
fn default_grants() -> Vec<String> {
    vec!["client_credentials".into()]
}
fn default_responses() -> Vec<String> {
    vec!["token".into()]
}
fn default_auth_method() -> String {
    "client_secret_basic".into()
}

/// A stored strategy.
#[derive(Clone)]
pub struct StrategyRecord {
    /// e.g. `OktaStrategy`.
    pub name: String,
    /// openid / oauth2 / jwt.
    pub scheme: Scheme,
    /// The authorization server's name.
    pub authorization_server: String,
    /// The client id (registered or given).
    pub client_id: String,
    /// The client secret.
    pub client_secret: Option<Secret>,
    /// HS* tokens signed with the secret.
    pub hmac: bool,
    /// Set when the client was registered by the gateway (it owns the client at the AS).
    pub registration: Option<RegistrationSpec>,
}

impl fmt::Debug for StrategyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StrategyRecord")
            .field("name", &self.name)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// A stored application.
#[derive(Debug, Clone)]
pub struct AppRecord {
    /// Unique name.
    pub name: String,
    /// Subscribed API names.
    pub apis: Vec<String>,
    /// Strategies.
    pub strategies: Vec<StrategyRecord>,
    /// A claim set that identifies it too.
    pub identify_by_claims: Option<crate::policy::claims::RawClaimSet>,
    /// Deleted by an operator, but its registered clients could not be deleted at the AS yet:
    /// not served, retried.
    pub deleting: bool,
}

/// A stored scope mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingRecord {
    /// The authorization server's name.
    pub authorization_server: String,
    /// The AS scope.
    pub scope: String,
    /// API scopes (`Api/Scope` or a bare scope name).
    pub api_scopes: Vec<String>,
}

/// A stored claims rule: the document the file or the admin API gave.
pub type ClaimsRuleRecord = crate::policy::claims::RawClaimsRule;

/// Everything in the store at one revision.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Applications, by name order.
    pub apps: Vec<AppRecord>,
    /// Mappings.
    pub mappings: Vec<MappingRecord>,
    /// Claims rules, by name order.
    pub claims_rules: Vec<ClaimsRuleRecord>,
    /// The revision.
    pub revision: i64,
}

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("store: {0}")]
    Db(String),
    /// A sealed secret could not be opened, or no key is configured.
    #[error("store: {0}")]
    Seal(String),
    /// The URL names no supported backend.
    #[error("store url: {0}")]
    Url(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Db(e.to_string())
    }
}

// The stored document of an application: secrets sealed.
#[derive(Serialize, Deserialize)]
struct AppDoc {
    name: String,
    apis: Vec<String>,
    strategies: Vec<StrategyDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    identify_by_claims: Option<crate::policy::claims::RawClaimSet>,
    #[serde(default)]
    deleting: bool,
}

#[derive(Serialize, Deserialize)]
struct StrategyDoc {
    name: String,
    scheme: Scheme,
    authorization_server: String,
    client_id: String,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    hmac: bool,
    #[serde(default)]
    registration: Option<RegistrationSpec>,
}

enum Backend {
    Memory(Mutex<Snapshot>),
    Sqlite(Mutex<rusqlite::Connection>),
    Postgres(postgres::Pg),
}

/// The store.
pub struct Store {
    backend: Backend,
    sealer: Sealer,
    url: String,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("url", &self.url).finish()
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS gateway_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS gateway_applications (name TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS gateway_scope_mappings (
    authorization_server TEXT NOT NULL, scope TEXT NOT NULL, doc TEXT NOT NULL,
    PRIMARY KEY (authorization_server, scope));
CREATE TABLE IF NOT EXISTS gateway_claims_rules (name TEXT PRIMARY KEY, doc TEXT NOT NULL);
INSERT OR IGNORE INTO gateway_meta (key, value) VALUES ('schema_version', '1');
INSERT OR IGNORE INTO gateway_meta (key, value) VALUES ('revision', '0');
";

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Store {
    /// An in-memory store (nothing survives the process).
    pub fn memory() -> Self {
        Self {
            backend: Backend::Memory(Mutex::new(Snapshot::default())),
            sealer: Sealer::none(),
            url: "memory:".into(),
        }
    }

    /// Opens `memory:`, `sqlite:PATH` (`PATH` relative to the working directory) or
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`, creating the schema (migrations run at start).
    pub async fn open(url: &str, sealer: Sealer) -> Result<Self, StoreError> {
        if url == "memory:" {
            return Ok(Self {
                sealer,
                ..Self::memory()
            });
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self {
                backend: Backend::Postgres(postgres::Pg::connect(url).await?),
                sealer,
                url: postgres::redact(url),
            });
        }
        let Some(path) = url.strip_prefix("sqlite:") else {
            return Err(StoreError::Url(
                "expected `sqlite:PATH`, `postgres://…` or `memory:`".into(),
            ));
        };
        let path = path.strip_prefix("//").unwrap_or(path);
        let conn = rusqlite::Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch("PRAGMA journal_mode=WAL;")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            backend: Backend::Sqlite(Mutex::new(conn)),
            sealer,
            url: url.to_owned(),
        })
    }

    /// Where it is.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The current revision (bumped by every change).
    pub async fn revision(&self) -> Result<i64, StoreError> {
        match &self.backend {
            Backend::Postgres(p) => p.revision().await,
            Backend::Memory(m) => Ok(lock(m).revision),
            Backend::Sqlite(c) => Ok(lock(c).query_row(
                "SELECT CAST(value AS INTEGER) FROM gateway_meta WHERE key = 'revision'",
                [],
                |r| r.get(0),
            )?),
        }
    }

    /// Everything, at one revision.
    pub async fn load(&self) -> Result<Snapshot, StoreError> {
        match &self.backend {
            Backend::Postgres(p) => {
                let (apps, mappings, rules, revision) = p.load().await?;
                Ok(Snapshot {
                    apps: apps
                        .iter()
                        .map(|d| self.decode_app(d))
                        .collect::<Result<_, _>>()?,
                    mappings: mappings
                        .iter()
                        .map(|d| {
                            serde_json::from_str(d)
                                .map_err(|e| StoreError::Db(format!("mapping document: {e}")))
                        })
                        .collect::<Result<_, _>>()?,
                    claims_rules: rules
                        .iter()
                        .map(|d| decode_rule(d))
                        .collect::<Result<_, _>>()?,
                    revision,
                })
            }
            Backend::Memory(m) => Ok(lock(m).clone()),
            Backend::Sqlite(c) => {
                let mut c = lock(c);
                let tx = c.transaction()?;
                let revision: i64 = tx.query_row(
                    "SELECT CAST(value AS INTEGER) FROM gateway_meta WHERE key = 'revision'",
                    [],
                    |r| r.get(0),
                )?;
                let mut apps = Vec::new();
                {
                    let mut st =
                        tx.prepare("SELECT doc FROM gateway_applications ORDER BY name")?;
                    let docs = st.query_map([], |r| r.get::<_, String>(0))?;
                    for d in docs {
                        apps.push(self.decode_app(&d?)?);
                    }
                }
                let mut mappings = Vec::new();
                {
                    let mut st = tx.prepare(
                        "SELECT doc FROM gateway_scope_mappings ORDER BY authorization_server, scope",
                    )?;
                    let docs = st.query_map([], |r| r.get::<_, String>(0))?;
                    for d in docs {
                        mappings.push(
                            serde_json::from_str(&d?)
                                .map_err(|e| StoreError::Db(format!("mapping document: {e}")))?,
                        );
                    }
                }
                let mut claims_rules = Vec::new();
                {
                    let mut st =
                        tx.prepare("SELECT doc FROM gateway_claims_rules ORDER BY name")?;
                    let docs = st.query_map([], |r| r.get::<_, String>(0))?;
                    for d in docs {
                        claims_rules.push(decode_rule(&d?)?);
                    }
                }
                tx.commit()?;
                Ok(Snapshot {
                    apps,
                    mappings,
                    claims_rules,
                    revision,
                })
            }
        }
    }

    /// Seeds an empty store from the declarative file, once; returns whether it did.
    pub async fn seed(
        &self,
        apps: &[AppRecord],
        mappings: &[MappingRecord],
        rules: &[ClaimsRuleRecord],
    ) -> Result<bool, StoreError> {
        let changes: Vec<Change> = apps
            .iter()
            .cloned()
            .map(Change::PutApp)
            .chain(mappings.iter().cloned().map(Change::PutMapping))
            .chain(rules.iter().cloned().map(Change::PutClaimsRule))
            .collect();
        match &self.backend {
            Backend::Postgres(p) => p.seed(&self.encode_changes(&changes)?).await,
            Backend::Memory(m) => {
                let mut s = lock(m);
                if s.revision != 0 {
                    return Ok(false);
                }
                s.apps = apps.to_vec();
                s.mappings = mappings.to_vec();
                s.claims_rules = rules.to_vec();
                s.claims_rules.sort_by(|x, y| x.name.cmp(&y.name));
                s.revision = 1;
                Ok(true)
            }
            Backend::Sqlite(c) => {
                let mut c = lock(c);
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let seeded: Option<String> = tx
                    .query_row(
                        "SELECT value FROM gateway_meta WHERE key = 'seeded'",
                        [],
                        |r| r.get(0),
                    )
                    .ok();
                if seeded.is_some() {
                    return Ok(false);
                }
                for ch in &changes {
                    self.sqlite_change(&tx, ch)?;
                }
                tx.execute(
                    "INSERT INTO gateway_meta (key, value) VALUES ('seeded', '1')",
                    [],
                )?;
                bump(&tx)?;
                tx.commit()?;
                Ok(true)
            }
        }
    }

    /// Applies a batch of changes atomically (one revision).
    pub async fn apply(&self, changes: &[Change]) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Postgres(p) => p.apply(&self.encode_changes(changes)?).await,
            Backend::Memory(m) => {
                let mut s = lock(m);
                for ch in changes {
                    match ch {
                        Change::PutApp(a) => {
                            s.apps.retain(|x| x.name != a.name);
                            s.apps.push(a.clone());
                            s.apps.sort_by(|x, y| x.name.cmp(&y.name));
                        }
                        Change::DeleteApp(n) => s.apps.retain(|x| &x.name != n),
                        Change::PutMapping(mp) => {
                            s.mappings.retain(|x| {
                                !(x.authorization_server == mp.authorization_server
                                    && x.scope == mp.scope)
                            });
                            s.mappings.push(mp.clone());
                        }
                        Change::DeleteMapping(asn, sc) => s
                            .mappings
                            .retain(|x| !(&x.authorization_server == asn && &x.scope == sc)),
                        Change::PutClaimsRule(r) => {
                            s.claims_rules.retain(|x| x.name != r.name);
                            s.claims_rules.push(r.clone());
                            s.claims_rules.sort_by(|x, y| x.name.cmp(&y.name));
                        }
                        Change::DeleteClaimsRule(n) => s.claims_rules.retain(|x| &x.name != n),
                    }
                }
                s.revision += 1;
                Ok(())
            }
            Backend::Sqlite(c) => {
                let mut c = lock(c);
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                for ch in changes {
                    self.sqlite_change(&tx, ch)?;
                }
                bump(&tx)?;
                tx.commit()?;
                Ok(())
            }
        }
    }

    fn sqlite_change(&self, tx: &rusqlite::Transaction<'_>, ch: &Change) -> Result<(), StoreError> {
        match ch {
            Change::PutApp(a) => {
                tx.execute(
                    "INSERT OR REPLACE INTO gateway_applications (name, doc) VALUES (?1, ?2)",
                    (&a.name, self.encode_app(a)?),
                )?;
            }
            Change::DeleteApp(n) => {
                tx.execute("DELETE FROM gateway_applications WHERE name = ?1", [n])?;
            }
            Change::PutMapping(m) => {
                tx.execute(
                    "INSERT OR REPLACE INTO gateway_scope_mappings (authorization_server, scope, doc) VALUES (?1, ?2, ?3)",
                    (&m.authorization_server, &m.scope, encode_mapping(m)?),
                )?;
            }
            Change::DeleteMapping(asn, sc) => {
                tx.execute(
                    "DELETE FROM gateway_scope_mappings WHERE authorization_server = ?1 AND scope = ?2",
                    [asn, sc],
                )?;
            }
            Change::PutClaimsRule(r) => {
                tx.execute(
                    "INSERT OR REPLACE INTO gateway_claims_rules (name, doc) VALUES (?1, ?2)",
                    (&r.name, encode_rule(r)?),
                )?;
            }
            Change::DeleteClaimsRule(n) => {
                tx.execute("DELETE FROM gateway_claims_rules WHERE name = ?1", [n])?;
            }
        }
        Ok(())
    }

    /// The raw stored document of an application (tests check secrets are sealed).
    pub async fn raw_document(&self, name: &str) -> Option<String> {
        match &self.backend {
            Backend::Postgres(p) => p.raw_document(name).await,
            Backend::Memory(m) => lock(m)
                .apps
                .iter()
                .find(|a| a.name == name)
                .and_then(|a| self.encode_app(a).ok()),
            Backend::Sqlite(c) => lock(c)
                .query_row(
                    "SELECT doc FROM gateway_applications WHERE name = ?1",
                    [name],
                    |r| r.get(0),
                )
                .ok(),
        }
    }

    fn encode_changes(&self, changes: &[Change]) -> Result<Vec<postgres::Op>, StoreError> {
        changes
            .iter()
            .map(|c| {
                Ok(match c {
                    Change::PutApp(a) => postgres::Op::PutApp(a.name.clone(), self.encode_app(a)?),
                    Change::DeleteApp(n) => postgres::Op::DeleteApp(n.clone()),
                    Change::PutMapping(m) => postgres::Op::PutMapping(
                        m.authorization_server.clone(),
                        m.scope.clone(),
                        encode_mapping(m)?,
                    ),
                    Change::DeleteMapping(a, s) => {
                        postgres::Op::DeleteMapping(a.clone(), s.clone())
                    }
                    Change::PutClaimsRule(r) => {
                        postgres::Op::PutClaimsRule(r.name.clone(), encode_rule(r)?)
                    }
                    Change::DeleteClaimsRule(n) => postgres::Op::DeleteClaimsRule(n.clone()),
                })
            })
            .collect()
    }

    fn encode_app(&self, a: &AppRecord) -> Result<String, StoreError> {
        let doc = AppDoc {
            name: a.name.clone(),
            apis: a.apis.clone(),
            identify_by_claims: a.identify_by_claims.clone(),
            deleting: a.deleting,
            strategies: a
                .strategies
                .iter()
                .map(|s| {
                    Ok(StrategyDoc {
                        name: s.name.clone(),
                        scheme: s.scheme,
                        authorization_server: s.authorization_server.clone(),
                        client_id: s.client_id.clone(),
                        client_secret: s
                            .client_secret
                            .as_ref()
                            .map(|x| self.sealer.seal(x.expose()))
                            .transpose()?,
                        hmac: s.hmac,
                        registration: s.registration.clone(),
                    })
                })
                .collect::<Result<_, StoreError>>()?,
        };
        serde_json::to_string(&doc).map_err(|e| StoreError::Db(e.to_string()))
    }

    fn decode_app(&self, text: &str) -> Result<AppRecord, StoreError> {
        let doc: AppDoc = serde_json::from_str(text)
            .map_err(|e| StoreError::Db(format!("application document: {e}")))?;
        Ok(AppRecord {
            name: doc.name,
            apis: doc.apis,
            identify_by_claims: doc.identify_by_claims,
            deleting: doc.deleting,
            strategies: doc
                .strategies
                .into_iter()
                .map(|s| {
                    Ok(StrategyRecord {
                        name: s.name,
                        scheme: s.scheme,
                        authorization_server: s.authorization_server,
                        client_id: s.client_id,
                        client_secret: s
                            .client_secret
                            .as_deref()
                            .map(|x| self.sealer.open(x).map(Secret::new))
                            .transpose()?,
                        hmac: s.hmac,
                        registration: s.registration,
                    })
                })
                .collect::<Result<_, StoreError>>()?,
        })
    }
}

fn encode_mapping(m: &MappingRecord) -> Result<String, StoreError> {
    serde_json::to_string(m).map_err(|e| StoreError::Db(e.to_string()))
}

fn encode_rule(r: &ClaimsRuleRecord) -> Result<String, StoreError> {
    serde_json::to_string(r).map_err(|e| StoreError::Db(e.to_string()))
}

fn decode_rule(d: &str) -> Result<ClaimsRuleRecord, StoreError> {
    serde_json::from_str(d).map_err(|e| StoreError::Db(format!("claims rule document: {e}")))
}

fn bump(tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE gateway_meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'revision'",
        [],
    )?;
    Ok(())
}

/// One change to the store.
#[derive(Debug, Clone)]
pub enum Change {
    /// Create or replace an application.
    PutApp(AppRecord),
    /// Remove an application.
    DeleteApp(String),
    /// Create or replace a mapping.
    PutMapping(MappingRecord),
    /// Remove the mapping of (AS, scope).
    DeleteMapping(String, String),
    /// Create or replace a claims rule (by name).
    PutClaimsRule(ClaimsRuleRecord),
    /// Remove the claims rule of that name.
    DeleteClaimsRule(String),
}
