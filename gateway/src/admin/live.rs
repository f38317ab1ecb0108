//! The live policy: the pipeline the proxy serves, swapped atomically (`ArcSwap`) when the
//! applications, scope mappings or claims rules change. A request loads the current pipeline once and runs
//! every step against it, so no request sees half a change. Key caches and introspection
//! caches are carried over from the previous pipeline.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::config::{ApplicationConfig, Config, ConfigError, ScopeMapping};
use crate::pipeline::Pipeline;
use crate::pipeline::validate::ServerRuntime;
use crate::policy;
use crate::policy::claims::ClaimsRule;
use crate::store::{AppRecord, ClaimsRuleRecord, MappingRecord};
use crate::validation::local::{KeySource, LocalValidator};

/// The store's applications, mappings and claims rules, laid over every pipeline swapped in.
#[derive(Debug, Clone)]
struct Overlay {
    apps: Vec<AppRecord>,
    mappings: Vec<MappingRecord>,
    rules: Vec<ClaimsRuleRecord>,
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
    /// reason is returned, for the caller to report once.
    pub fn try_set(&self, pipeline: Arc<Pipeline>) -> Result<(), ConfigError> {
        let overlay = self.overlay();
        let next = match overlay.as_ref() {
            None => pipeline,
            Some(o) => {
                let (a, m) = compile(&pipeline.resolved, &o.apps, &o.mappings)?;
                let r = compile_rules(&pipeline.resolved, &o.rules)?;
                Arc::new(rebuild(&pipeline, a, m, r))
            }
        };
        self.swap(next);
        Ok(())
    }

    /// Lays the store's records over the current pipeline, in one swap.
    pub fn replace_records(
        &self,
        apps: Vec<AppRecord>,
        mappings: Vec<MappingRecord>,
        rules: Vec<ClaimsRuleRecord>,
    ) -> Result<(), ConfigError> {
        let mut overlay = self.overlay();
        let current = self.current();
        let (a, m) = compile(&current.resolved, &apps, &mappings)?;
        let r = compile_rules(&current.resolved, &rules)?;
        self.swap(Arc::new(rebuild(&current, a, m, r)));
        *overlay = Some(Overlay {
            apps,
            mappings,
            rules,
        });
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
    claims_rules: Vec<ClaimsRule>,
) -> Pipeline {
    let mut config = prev.resolved.clone();
    config.applications = applications;
    config.scope_mappings = scope_mappings;
    config.claims_rules = claims_rules;
    let servers = prev
        .validators
        .servers
        .iter()
        .enumerate()
        .map(|(i, s)| {
            ServerRuntime::new(
                &config,
                i,
                s.issuer.clone(),
                s.local.as_ref().map(|l| LocalValidator {
                    issuer: l.issuer.clone(),
                    audiences: l.audiences.clone(),
                    clock_skew: l.clock_skew,
                    keys: match &l.keys {
                        KeySource::Jwks(c) => KeySource::Jwks(c.clone()),
                        KeySource::Static(k) => KeySource::Static(k.clone()),
                    },
                }),
                s.introspector.clone(),
            )
        })
        .collect();
    Pipeline::new(config, servers, prev.metrics.clone(), prev.clock.clone())
}

/// [`policy::compile`] against a pipeline's configuration, records named by name.
pub fn compile(
    base: &Config,
    apps: &[AppRecord],
    mappings: &[MappingRecord],
) -> Result<(Vec<ApplicationConfig>, Vec<ScopeMapping>), ConfigError> {
    policy::compile(
        &base.authorization_servers,
        &base.apis,
        apps,
        mappings,
        policy::Keys::ByName,
    )
}

/// [`policy::claims::compile`] against a pipeline's configuration, rules named by name.
pub fn compile_rules(
    base: &Config,
    rules: &[ClaimsRuleRecord],
) -> Result<Vec<ClaimsRule>, ConfigError> {
    policy::claims::compile(&base.apis, rules, policy::Keys::ByName)
}
