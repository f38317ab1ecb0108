//! Step 4, identify: which application the token's client belongs to, and whether that
//! application may call the API.

use std::collections::HashMap;

use crate::config::{Config, Scheme};
use crate::error::GatewayError;
use crate::validation::Identity;

/// Client ids to applications.
#[derive(Debug)]
pub struct Directory {
    by_client: HashMap<String, Vec<(usize, usize, Scheme)>>,
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
        Self {
            by_client,
            app_apis: config.applications.iter().map(|a| a.apis.clone()).collect(),
            names: config.applications.iter().map(|a| a.name.clone()).collect(),
        }
    }

    /// The application's name.
    pub fn name(&self, app: usize) -> &str {
        &self.names[app]
    }

    /// Identifies the application and checks it may call `api`.
    pub fn identify(&self, identity: &Identity, api: usize) -> Result<usize, GatewayError> {
        let unknown =
            GatewayError::InvalidToken("the token's client is not a registered application");
        let client = identity.client_id.as_deref().ok_or(unknown.clone())?;
        let app = self
            .by_client
            .get(client)
            .and_then(|v| {
                v.iter().find(|(asi, _, scheme)| {
                    *asi == identity.authorization_server && scheme.accepts(identity.kind)
                })
            })
            .map(|(_, app, _)| *app)
            .ok_or(unknown)?;
        if !self.app_apis[app].contains(&api) {
            tracing::debug!(application = %self.names[app], "application not subscribed to the API");
            return Err(GatewayError::NotSubscribed);
        }
        Ok(app)
    }
}
