//! The live policy: the pipeline the proxy serves, swapped atomically (`ArcSwap`) when the
//! applications or scope mappings change. A request loads the current pipeline once and runs
//! every step against it, so no request sees half a change. Key caches and introspection
//! caches are carried over from the previous pipeline.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::config::{ApplicationConfig, Config, ConfigError, Scheme, ScopeMapping, Strategy};
use crate::pipeline::Pipeline;
use crate::pipeline::validate::{ServerRuntime, strategy_clients};
use crate::store::{AppRecord, MappingRecord, StrategyRecord};
use crate::validation::local::{KeySource, LocalValidator};

/// The store's applications and mappings, laid over every pipeline swapped in.
#[derive(Debug, Clone)]
struct Overlay {
    apps: Vec<AppRecord>,
    mappings: Vec<MappingRecord>,
}

/// The swappable pipeline.
#[derive(Debug, Clone)]
pub struct Live {
    current: Arc<ArcSwap<Pipeline>>,
    /// Set once a store is attached: its records replace the file's applications and mappings
    /// in every pipeline swapped in (also on a whole-configuration reload). The lock
    /// serialises swaps, so a reload and a store change never lose each other.
    overlay: Arc<std::sync::Mutex<Option<Overlay>>>,
}

impl Live {
    /// Starts with `pipeline`.
    pub fn new(pipeline: Arc<Pipeline>) -> Self {
        Self {
            current: Arc::new(ArcSwap::new(pipeline)),
            overlay: Arc::new(std::sync::Mutex::new(None)),
        }
    }

    /// The pipeline now.
    pub fn current(&self) -> Arc<Pipeline> {
        self.current.load_full()
    }

    fn overlay(&self) -> std::sync::MutexGuard<'_, Option<Overlay>> {
        self.overlay
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Serves `pipeline` from now on (a whole-configuration reload); requests already running
    /// finish on the pipeline they started with. With a store attached, the store's
    /// applications and mappings replace the file's; if they no longer fit the new
    /// configuration (e.g. an API they use was removed) the current pipeline stays and the
    /// error is logged (see [`Live::try_set`]).
    pub fn set(&self, pipeline: Arc<Pipeline>) {
        let _ = self.try_set(pipeline);
    }

    /// [`Live::set`], returning why the stored applications did not fit.
    pub fn try_set(&self, pipeline: Arc<Pipeline>) -> Result<(), ConfigError> {
        let overlay = self.overlay();
        let next = match overlay.as_ref() {
            None => pipeline,
            Some(o) => match compile(&pipeline.resolved, &o.apps, &o.mappings) {
                Ok((a, m)) => Arc::new(rebuild(&pipeline, a, m)),
                Err(e) => {
                    tracing::error!(error = %e, "the new configuration does not fit the stored applications; keeping the current one");
                    return Err(e);
                }
            },
        };
        self.swap(next);
        Ok(())
    }

    /// Lays the store's records over the current pipeline, in one swap.
    pub fn replace_records(
        &self,
        apps: Vec<AppRecord>,
        mappings: Vec<MappingRecord>,
    ) -> Result<(), ConfigError> {
        let mut overlay = self.overlay();
        let current = self.current();
        let (a, m) = compile(&current.resolved, &apps, &mappings)?;
        self.swap(Arc::new(rebuild(&current, a, m)));
        *overlay = Some(Overlay { apps, mappings });
        Ok(())
    }

    fn swap(&self, next: Arc<Pipeline>) {
        // Counters first: a request on the new pipeline finds its application's slot.
        next.metrics.set_applications(
            next.resolved
                .applications
                .iter()
                .map(|a| a.name.clone())
                .collect(),
        );
        self.current.store(next);
    }
}

fn rebuild(
    prev: &Pipeline,
    applications: Vec<ApplicationConfig>,
    scope_mappings: Vec<ScopeMapping>,
) -> Pipeline {
    let mut config = prev.resolved.clone();
    config.applications = applications;
    config.scope_mappings = scope_mappings;
    let servers = prev
        .validators
        .servers
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (id_token_clients, hmac_clients) = strategy_clients(&config, i);
            ServerRuntime {
                name: s.name.clone(),
                issuer: s.issuer.clone(),
                local: s.local.as_ref().map(|l| LocalValidator {
                    issuer: l.issuer.clone(),
                    audiences: l.audiences.clone(),
                    clock_skew: l.clock_skew,
                    keys: match &l.keys {
                        KeySource::Jwks(c) => KeySource::Jwks(c.clone()),
                        KeySource::Static(k) => KeySource::Static(k.clone()),
                    },
                }),
                introspector: s.introspector.clone(),
                id_token_clients,
                hmac_clients,
                clock_skew: s.clock_skew,
            }
        })
        .collect();
    Pipeline::new(config, servers, prev.metrics.clone(), prev.clock.clone())
}

fn err(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        message: message.into(),
    }
}

/// The declarative file's applications and mappings as store records.
pub fn records_of(config: &Config) -> (Vec<AppRecord>, Vec<MappingRecord>) {
    let as_name = |i: usize| config.authorization_servers[i].name.clone();
    let apps = config
        .applications
        .iter()
        .map(|a| AppRecord {
            name: a.name.clone(),
            apis: a
                .apis
                .iter()
                .map(|i| config.apis[*i].name.clone())
                .collect(),
            deleting: false,
            strategies: a
                .strategies
                .iter()
                .map(|s| StrategyRecord {
                    name: s.name.clone(),
                    scheme: s.scheme,
                    authorization_server: as_name(s.authorization_server),
                    client_id: s.client_id.clone(),
                    client_secret: s.client_secret.clone(),
                    hmac: s.hmac,
                    registration: None,
                })
                .collect(),
        })
        .collect();
    let mappings = config
        .scope_mappings
        .iter()
        .map(|m| MappingRecord {
            authorization_server: as_name(m.authorization_server),
            scope: m.scope.clone(),
            api_scopes: m
                .api_scopes
                .iter()
                .map(|(a, s)| {
                    format!(
                        "{}/{}",
                        config.apis[*a].name, config.apis[*a].scopes[*s].name
                    )
                })
                .collect(),
        })
        .collect();
    (apps, mappings)
}

/// Validates records against the file's authorization servers and APIs and compiles them to
/// the pipeline's indexed form. Applications being deleted are left out. Error keys name the
/// record, e.g. `applications[OpenIDApp].strategies[0].client_id`.
pub fn compile(
    base: &Config,
    apps: &[AppRecord],
    mappings: &[MappingRecord],
) -> Result<(Vec<ApplicationConfig>, Vec<ScopeMapping>), ConfigError> {
    let as_index: HashMap<&str, usize> = base
        .authorization_servers
        .iter()
        .enumerate()
        .map(|(i, a)| (a.name.as_str(), i))
        .collect();
    let api_index: HashMap<&str, usize> = base
        .apis
        .iter()
        .enumerate()
        .map(|(i, a)| (a.name.as_str(), i))
        .collect();
    let mut names = HashSet::new();
    let mut clients: HashMap<(usize, &str), &str> = HashMap::new();
    let mut out_apps = Vec::new();
    for a in apps {
        let k = format!("applications[{}]", a.name);
        if a.name.trim().is_empty() {
            return Err(err(format!("{k}.name"), "must not be empty"));
        }
        if !names.insert(a.name.as_str()) {
            return Err(err(format!("{k}.name"), "is defined twice"));
        }
        if a.deleting {
            continue;
        }
        let mut app_apis = Vec::new();
        for (j, name) in a.apis.iter().enumerate() {
            let i = *api_index
                .get(name.as_str())
                .ok_or_else(|| err(format!("{k}.apis[{j}]"), format!("no API named `{name}`")))?;
            if app_apis.contains(&i) {
                return Err(err(
                    format!("{k}.apis[{j}]"),
                    format!("`{name}` is listed twice"),
                ));
            }
            app_apis.push(i);
        }
        if a.strategies.is_empty() {
            return Err(err(
                format!("{k}.strategies"),
                "at least one strategy is required",
            ));
        }
        let mut strategies = Vec::new();
        let mut snames = HashSet::new();
        for (j, s) in a.strategies.iter().enumerate() {
            let sk = format!("{k}.strategies[{j}]");
            if s.name.trim().is_empty() {
                return Err(err(format!("{sk}.name"), "must not be empty"));
            }
            if !snames.insert(s.name.as_str()) {
                return Err(err(
                    format!("{sk}.name"),
                    format!("`{}` is listed twice", s.name),
                ));
            }
            let asi = *as_index
                .get(s.authorization_server.as_str())
                .ok_or_else(|| {
                    err(
                        format!("{sk}.authorization_server"),
                        format!("no authorization server named `{}`", s.authorization_server),
                    )
                })?;
            if s.client_id.trim().is_empty() {
                return Err(err(format!("{sk}.client_id"), "must not be empty"));
            }
            if let Some(other) = clients.insert((asi, s.client_id.as_str()), a.name.as_str()) {
                return Err(err(
                    format!("{sk}.client_id"),
                    format!(
                        "client `{}` at `{}` already belongs to application `{other}`",
                        s.client_id, s.authorization_server
                    ),
                ));
            }
            if s.hmac {
                if s.scheme == Scheme::Jwt {
                    return Err(err(
                        format!("{sk}.hmac"),
                        "HMAC applies to openid and oauth2 strategies",
                    ));
                }
                match &s.client_secret {
                    Some(sec) if sec.expose().len() >= 32 => {}
                    _ => {
                        return Err(err(
                            format!("{sk}.client_secret"),
                            "`hmac` needs a client secret of at least 32 bytes",
                        ));
                    }
                }
            }
            strategies.push(Strategy {
                name: s.name.clone(),
                scheme: s.scheme,
                authorization_server: asi,
                client_id: s.client_id.clone(),
                client_secret: s.client_secret.clone(),
                hmac: s.hmac,
            });
        }
        out_apps.push(ApplicationConfig {
            name: a.name.clone(),
            apis: app_apis,
            strategies,
        });
    }

    let mut out_maps = Vec::new();
    let mut seen = HashSet::new();
    for m in mappings {
        let k = format!("scope_mappings[{}/{}]", m.authorization_server, m.scope);
        let asi = *as_index
            .get(m.authorization_server.as_str())
            .ok_or_else(|| {
                err(
                    format!("{k}.authorization_server"),
                    format!("no authorization server named `{}`", m.authorization_server),
                )
            })?;
        if m.scope.trim().is_empty() {
            return Err(err(format!("{k}.scope"), "must not be empty"));
        }
        if !seen.insert((asi, m.scope.as_str())) {
            return Err(err(format!("{k}.scope"), "is mapped twice"));
        }
        if m.api_scopes.is_empty() {
            return Err(err(
                format!("{k}.api_scopes"),
                "map the scope to at least one API scope",
            ));
        }
        let mut targets = Vec::new();
        for (j, name) in m.api_scopes.iter().enumerate() {
            let (filter, scope) = match name.split_once('/') {
                Some((a, s)) => (Some(a), s),
                None => (None, name.as_str()),
            };
            let before = targets.len();
            for (ai, api) in base.apis.iter().enumerate() {
                if filter.is_some_and(|f| f != api.name) {
                    continue;
                }
                if let Some(si) = api.scopes.iter().position(|s| s.name == scope) {
                    targets.push((ai, si));
                }
            }
            if targets.len() == before {
                return Err(err(
                    format!("{k}.api_scopes[{j}]"),
                    format!("no API scope named `{name}`"),
                ));
            }
        }
        out_maps.push(ScopeMapping {
            authorization_server: asi,
            scope: m.scope.clone(),
            api_scopes: targets,
        });
    }
    Ok((out_apps, out_maps))
}
