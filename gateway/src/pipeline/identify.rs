//! Step 4, identify: which application the token's client belongs to (or, failing that, whose
//! claim set the token satisfies), and whether that application may call the API.

use std::collections::HashMap;

use crate::config::{Config, Scheme};
use crate::error::GatewayError;
use crate::validation::Identity;

/// Client ids to applications.
#[derive(Debug)]
pub struct Directory {
    by_client: HashMap<String, Vec<(usize, usize, Scheme)>>,
    /// `(application, claim set)`, most specific (most conditions) first.
    by_claims: Vec<(usize, crate::policy::claims::ClaimSet)>,
    app_apis: Vec<Vec<usize>>,
    names: Vec<String>,
}

impl Directory {
    /// Builds the directory from the applications' strategies.
    pub fn new(config: &Config) -> Self {
        let mut by_client: HashMap<String, Vec<(usize, usize, Scheme)>> = HashMap::new();
        for (ai, app) in config.applications.iter().enumerate() {
            for s in &app.strategies {
                by_client.entry(s.client_id.clone()).or_default().push((
                    s.authorization_server,
                    ai,
                    s.scheme,
                ));
            }
        }
        let mut by_claims: Vec<(usize, crate::policy::claims::ClaimSet)> = config
            .applications
            .iter()
            .enumerate()
            .filter_map(|(ai, a)| a.claim_set.clone().map(|c| (ai, c)))
            .collect();
        by_claims.sort_by_key(|(_, c)| std::cmp::Reverse(c.conditions.len()));
        Self {
            by_client,
            by_claims,
            app_apis: config.applications.iter().map(|a| a.apis.clone()).collect(),
            names: config.applications.iter().map(|a| a.name.clone()).collect(),
        }
    }

    /// The application's name.
    pub fn name(&self, app: usize) -> &str {
        &self.names[app]
    }

    /// Identifies the application and checks it may call `api`: by the token's client first
    /// (a strategy's client id), else by the most specific claim set the token satisfies (two
    /// equally specific ones both satisfied: 401, the token names no one application).
    pub fn identify(
        &self,
        identity: &Identity,
        api: usize,
        now: u64,
    ) -> Result<usize, GatewayError> {
        let unknown =
            GatewayError::InvalidToken("the token's client is not a registered application");
        let by_client = identity.client_id.as_deref().and_then(|client| {
            self.by_client.get(client).and_then(|v| {
                v.iter().find(|(asi, _, scheme)| {
                    *asi == identity.authorization_server && scheme.accepts(identity.kind)
                })
            })
        });
        let app = match by_client {
            Some((_, app, _)) => *app,
            None => self.by_claims(identity, now)?.ok_or(unknown)?,
        };
        if !self.app_apis[app].contains(&api) {
            tracing::debug!(application = %self.names[app], "application not subscribed to the API");
            return Err(GatewayError::NotSubscribed);
        }
        Ok(app)
    }

    fn by_claims(&self, identity: &Identity, now: u64) -> Result<Option<usize>, GatewayError> {
        let mut found: Option<(usize, usize)> = None;
        for (app, set) in &self.by_claims {
            let n = set.conditions.len();
            if found.is_some_and(|(_, m)| n < m) {
                break;
            }
            if set.authorization_server != identity.authorization_server
                || !set.matches(&identity.claims, now)
            {
                continue;
            }
            if found.is_some() {
                return Err(GatewayError::InvalidToken(
                    "the token's claims identify more than one application",
                ));
            }
            found = Some((*app, n));
        }
        Ok(found.map(|(app, _)| app))
    }
}
