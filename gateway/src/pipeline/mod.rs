//! The request pipeline, one file per step, in the order they run:
//! `route` → `extract` → `validate` → `identify` → `authorize` → `forward`.
//!
//! The steps are plain functions over a shared [`Pipeline`], composed by [`handle`], the tower
//! service (an axum fallback handler) behind the gateway's listener; errors from any step become
//! responses in one place, `GatewayError::into_response_with_realm`.

pub mod authorize;
pub mod extract;
pub mod forward;
pub mod identify;
pub mod route;
pub mod validate;

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use http::Request;

use crate::clock::SharedClock;
use crate::config::IdentificationType;
use crate::error::GatewayError;
use crate::telemetry::{Metrics, Outcome};
use crate::validation::Identity;

/// Everything the request path reads; built once, shared by all requests.
#[derive(Debug)]
pub struct Pipeline {
    /// Realm for challenges.
    pub realm: String,
    /// Routing and authorization table.
    pub routes: route::RouteTable,
    /// Per-API identification settings.
    pub apis: Vec<ApiPolicy>,
    /// Token validators.
    pub validators: validate::Validators,
    /// Applications.
    pub directory: identify::Directory,
    /// Upstream client.
    pub forwarder: forward::Forwarder,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Time.
    pub clock: SharedClock,
    /// The configuration after discovery.
    pub resolved: crate::config::Config,
}

/// An API's identify-and-authorize policy.
#[derive(Debug)]
pub struct ApiPolicy {
    /// Name, for logs.
    pub name: String,
    /// Identification types, in order.
    pub identification: Vec<IdentificationType>,
    /// Whether requests without a token pass as anonymous.
    pub allow_anonymous: bool,
}

/// The gateway's request handler.
pub async fn handle(State(p): State<Arc<Pipeline>>, req: Request<Body>) -> Response {
    let mut api = None;
    let mut app = None;
    let result = run(&p, req, &mut api, &mut app).await;
    match result {
        Ok(r) => {
            p.metrics.request(api, app, Outcome::Forwarded);
            r
        }
        Err(e) => {
            p.metrics.request(api, app, e.outcome());
            tracing::debug!(
                api = api.map(|a| p.apis[a].name.as_str()),
                application = app.map(|a| p.directory.name(a)),
                status = e.status().as_u16(),
                reason = %e,
                "request refused"
            );
            e.into_response_with_realm(&p.realm)
        }
    }
}

/// A request that passed every step before forwarding.
#[derive(Debug)]
pub struct Admitted {
    /// The route.
    pub matched: route::RouteMatch,
    /// Who the token speaks for (`None`: anonymous access).
    pub identity: Option<Identity>,
    /// The application (`None`: anonymous access).
    pub application: Option<usize>,
}

impl Pipeline {
    /// Runs route → extract → validate → identify → authorize, without forwarding.
    /// `api_out`/`app_out` receive what was learnt even when a later step refuses (metrics).
    pub async fn admit(
        &self,
        method: &http::Method,
        uri: &http::Uri,
        headers: &http::HeaderMap,
        api_out: &mut Option<usize>,
        app_out: &mut Option<usize>,
    ) -> Result<Admitted, GatewayError> {
        let matched = route::route(&self.routes, method, uri)?;
        *api_out = Some(matched.api);
        let policy = &self.apis[matched.api];

        let identity: Option<Identity> = match extract::bearer(headers, uri)? {
            None if policy.allow_anonymous => None,
            None => return Err(GatewayError::MissingToken),
            Some(token) => {
                let started = Instant::now();
                let result = self
                    .validators
                    .validate(&policy.identification, token, self.clock.now())
                    .await;
                self.metrics.validation_latency(started.elapsed());
                Some(result?)
            }
        };

        let application = match &identity {
            Some(id) => {
                let app = self.directory.identify(id, matched.api)?;
                *app_out = Some(app);
                authorize::authorize(&self.routes, &matched, id)?;
                Some(app)
            }
            None => None,
        };
        Ok(Admitted {
            matched,
            identity,
            application,
        })
    }
}

async fn run(
    p: &Pipeline,
    req: Request<Body>,
    api_out: &mut Option<usize>,
    app_out: &mut Option<usize>,
) -> Result<Response, GatewayError> {
    let Admitted {
        matched,
        identity,
        application,
    } = p
        .admit(req.method(), req.uri(), req.headers(), api_out, app_out)
        .await?;
    let headers = match (&identity, application) {
        (Some(id), Some(app)) => forward::IdentityHeaders {
            application: p.directory.name(app),
            subject: id.subject.as_deref(),
            client_id: id.client_id.as_deref(),
            scopes: &id.scopes,
            authorization_server: Some(p.validators.servers[id.authorization_server].name.as_str()),
        },
        _ => forward::IdentityHeaders {
            application: "anonymous",
            ..Default::default()
        },
    };
    p.forwarder.forward(req, &matched, &headers).await
}
