//! The request pipeline, one file per step, in the order they run:
//! `head` → `route` → `extract` → `validate` → `identify` → `authorize` → `forward`.
//!
//! Each step is a plain function (benchmarked and unit-tested as such); [`Pipeline::handle`],
//! what the gateway serves (`crate::server`, against the live pipeline of the moment;
//! [`service`] is the same as a tower service), runs them in one call
//! ([`Pipeline::handle`] → [`Pipeline::admit`] → `forward`). There is no second, per-step
//! layered stack: one served path, so each rule is written once.
//! A refusing step answers through [`Pipeline::refuse_at`], the one place errors become
//! responses (`GatewayError::into_response_with_realm`) and metrics.

pub mod authorize;
pub mod extract;
pub mod forward;
pub mod head;
pub mod identify;
pub mod route;
pub mod validate;

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::response::Response;
use http::Request;

use crate::clock::SharedClock;
use crate::config::IdentificationType;
use crate::error::GatewayError;
use crate::telemetry::{self, Metrics};
use crate::validation::Identity;

/// Everything the request path reads; built once, shared by all requests.
#[derive(Debug)]
pub struct Pipeline {
    /// Realm for challenges.
    pub(crate) realm: String,
    /// Routing and authorization table.
    pub(crate) routes: route::RouteTable,
    /// Per-API identification settings.
    pub(crate) apis: Vec<ApiPolicy>,
    /// Token validators.
    pub(crate) validators: validate::Validators,
    /// Applications.
    pub(crate) directory: identify::Directory,
    /// Upstream client.
    pub(crate) forwarder: forward::Forwarder,
    /// Counters.
    pub(crate) metrics: Arc<Metrics>,
    /// Time.
    pub(crate) clock: SharedClock,
    /// The configuration after discovery.
    pub(crate) resolved: crate::config::Config,
}

impl Pipeline {
    /// The routing table (the route matcher's input).
    pub fn routes(&self) -> &route::RouteTable {
        &self.routes
    }

    /// Assembles the pipeline for `config` (after discovery) with its authorization servers'
    /// validators.
    pub fn new(
        config: crate::config::Config,
        servers: Vec<validate::ServerRuntime>,
        metrics: Arc<Metrics>,
        clock: SharedClock,
    ) -> Self {
        Self {
            realm: config.realm.clone(),
            routes: route::RouteTable::new(&config),
            apis: config
                .apis
                .iter()
                .map(|a| ApiPolicy {
                    name: a.name.clone(),
                    identification: a.identification.clone(),
                    allow_anonymous: a.allow_anonymous,
                    require_client_certificate: a.require_client_certificate,
                    allow_get_body: a.allow_get_body,
                    dpop: a.dpop,
                    dpop_origin: a.dpop_origin.clone(),
                })
                .collect(),
            validators: validate::Validators {
                servers,
                decoded: Default::default(),
            },
            directory: identify::Directory::new(&config),
            forwarder: forward::Forwarder::new(&config),
            metrics,
            clock,
            resolved: config,
        }
    }
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
    /// Whether requests need a verified TLS client certificate.
    pub require_client_certificate: bool,
    /// Whether GET requests may carry a body.
    pub allow_get_body: bool,
    /// DPoP (RFC 9449) for this API.
    pub dpop: crate::validation::dpop::DpopMode,
    /// The external origin in proofs' `htu`.
    pub dpop_origin: Option<String>,
}

impl Pipeline {
    /// Turns a step's error into the response, counting it with the API and application known
    /// so far.
    pub fn refuse_at(&self, api: Option<usize>, app: Option<usize>, e: GatewayError) -> Response {
        self.refuse_as(false, api, app, e)
    }

    /// [`Pipeline::refuse_at`], answering as gRPC does when `grpc` (a gRPC request).
    pub fn refuse_as(
        &self,
        grpc: bool,
        api: Option<usize>,
        app: Option<usize>,
        e: GatewayError,
    ) -> Response {
        self.metrics.request(api, app, e.outcome());
        tracing::debug!(
            api = api.map(|a| self.apis[a].name.as_str()),
            application = app.map(|a| self.directory.name(a)),
            status = e.status().as_u16(),
            reason = %e,
            "request refused"
        );
        let outcome = e.outcome();
        let mut res = if grpc {
            e.into_grpc_response()
        } else {
            e.into_response_with_realm(&self.realm)
        };
        crate::access_log::Note {
            api,
            application: app,
            outcome,
            client_id: None,
            subject: None,
            upstream: None,
        }
        .attach(self, &mut res);
        res
    }
}

/// The API service: [`Pipeline::handle`] as a tower service (building it is one `Arc` move, so
/// it can be built per request).
pub fn service(
    p: Arc<Pipeline>,
) -> impl tower::Service<
    Request<Body>,
    Response = Response,
    Error = std::convert::Infallible,
    Future = impl Send + 'static,
> + Clone
+ Send
+ Sync
+ 'static {
    tower::service_fn(move |req: Request<Body>| {
        let p = p.clone();
        async move { Ok(p.handle(req).await) }
    })
}

impl Pipeline {
    /// Runs every step on `req`: admits it ([`Pipeline::decide`]) and forwards it, or refuses it.
    pub async fn handle(&self, req: Request<Body>) -> Response {
        if let Err(e) = head::check_host(req.version(), req.uri(), req.headers()) {
            return self.refuse_at(None, None, e);
        }
        let has_body = !axum::body::HttpBody::is_end_stream(req.body());
        let admitted = match self
            .decide(
                req.method(),
                req.uri(),
                req.headers(),
                req.extensions(),
                has_body,
            )
            .await
        {
            Ok(a) => a,
            Err(refused) => return refused,
        };
        let headers = self.identity_headers(&admitted);
        let m = &admitted.matched;
        let grpc = crate::error::is_grpc(req.headers());
        // Timed only for the access log.
        #[allow(
            clippy::disallowed_methods,
            reason = "the upstream's time for the access log, not a token time"
        )]
        let started = self.resolved.access_log.is_some().then(Instant::now);
        match self.forwarder.forward(req, m, &headers).await {
            Ok(mut r) => {
                self.metrics.request(
                    Some(m.api),
                    admitted.application,
                    telemetry::Outcome::Forwarded,
                );
                let upstream = started.map(|t| (r.status().as_u16(), t.elapsed()));
                crate::access_log::Note::admitted(
                    self,
                    &admitted,
                    telemetry::Outcome::Forwarded,
                    upstream,
                    &mut r,
                );
                r
            }
            Err(e) => self.refuse_as(grpc, Some(m.api), admitted.application, e),
        }
    }

    /// The decision proxy mode and forward-auth (`crate::forward_auth`) share: every step
    /// before forwarding, for a request described by its method, target, headers and
    /// extensions (client address, TLS client certificate). A refusal is the response to send.
    pub async fn decide(
        &self,
        method: &http::Method,
        uri: &http::Uri,
        headers: &http::HeaderMap,
        extensions: &http::Extensions,
        has_body: bool,
    ) -> Result<Admitted, Response> {
        let (mut api, mut app) = (None, None);
        let grpc = crate::error::is_grpc(headers);
        let admitted = self
            .admit_with_body(
                method,
                uri,
                headers,
                Beyond {
                    has_body,
                    client: extensions.get::<ClientAddr>().map(|c| c.0),
                    client_certificate: extensions
                        .get::<crate::server_tls::ClientCertificate>()
                        .map(|c| c.sha256),
                },
                &mut api,
                &mut app,
            )
            .await
            .map_err(|e| self.refuse_as(grpc, api, app, e))?;
        // RFC 8705's answer when a certificate is missing: 401 invalid_token.
        if self.apis[admitted.matched.api].require_client_certificate
            && extensions
                .get::<crate::server_tls::ClientCertificate>()
                .is_none()
        {
            return Err(self.refuse_as(
                grpc,
                Some(admitted.matched.api),
                admitted.application,
                GatewayError::InvalidToken("this API requires a TLS client certificate"),
            ));
        }
        Ok(admitted)
    }

    /// What the upstream (or, in forward-auth, the calling proxy) is told about an admitted
    /// request's caller.
    pub fn identity_headers<'a>(&'a self, admitted: &'a Admitted) -> forward::IdentityHeaders<'a> {
        match (&admitted.identity, admitted.application) {
            (Some(id), Some(app)) => forward::IdentityHeaders {
                application: self.directory.name(app),
                subject: id.subject.as_deref(),
                client_id: id.client_id.as_deref(),
                scopes: &id.scopes,
                authorization_server: Some(
                    self.validators.servers[id.authorization_server]
                        .name
                        .as_str(),
                ),
            },
            _ => forward::IdentityHeaders {
                application: crate::policy::ANONYMOUS,
                ..Default::default()
            },
        }
    }
}

/// The address a request's connection came from (IPv6 by its /64), set by the server: the key
/// of per-client budgets such as introspection misses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub std::net::IpAddr);

/// What the steps read besides the head: whether a body follows, and who sent it.
#[derive(Debug, Default, Clone, Copy)]
struct Beyond {
    has_body: bool,
    client: Option<std::net::IpAddr>,
    /// The verified client certificate's SHA-256 (RFC 8705 `x5t#S256`).
    client_certificate: Option<[u8; 32]>,
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
    /// Runs route → extract → validate → identify → authorize for a request without a body,
    /// without forwarding. `api_out`/`app_out` receive what was learnt even when a later step
    /// refuses (metrics).
    pub async fn admit(
        &self,
        method: &http::Method,
        uri: &http::Uri,
        headers: &http::HeaderMap,
        api_out: &mut Option<usize>,
        app_out: &mut Option<usize>,
    ) -> Result<Admitted, GatewayError> {
        self.admit_with_body(method, uri, headers, Beyond::default(), api_out, app_out)
            .await
    }

    /// [`Pipeline::admit`] for a request that does or does not carry a body (refused on GET,
    /// HEAD, TRACE before the token is looked at; `head::check_body`).
    async fn admit_with_body(
        &self,
        method: &http::Method,
        uri: &http::Uri,
        headers: &http::HeaderMap,
        beyond: Beyond,
        api_out: &mut Option<usize>,
        app_out: &mut Option<usize>,
    ) -> Result<Admitted, GatewayError> {
        let matched = route::route(&self.routes, method, uri)?;
        *api_out = Some(matched.api);
        let policy = &self.apis[matched.api];
        head::check_body(method, beyond.has_body, policy.allow_get_body)?;

        let identity: Option<Identity> = match extract::credentials(headers, uri, policy.dpop)? {
            None if policy.allow_anonymous => None,
            None => return Err(GatewayError::MissingToken),
            Some((token, presented)) => {
                #[allow(
                    clippy::disallowed_methods,
                    reason = "elapsed time for the validation-latency metric, not a token time"
                )]
                let started = Instant::now();
                let result = self
                    .validators
                    .validate(
                        &policy.identification,
                        token,
                        beyond.client,
                        self.clock.now(),
                    )
                    .await;
                self.metrics.validation_latency(started.elapsed());
                if let Err(e) = &result {
                    self.metrics
                        .token_refused(e.refusal_reason(), self.clock.now());
                }
                let identity = result?;
                self.check_binding(
                    policy, token, presented, &identity, method, uri, headers, beyond,
                )?;
                Some(identity)
            }
        };

        let application = match &identity {
            Some(id) => {
                let app = self.directory.identify(id, matched.api, self.clock.now())?;
                *app_out = Some(app);
                authorize::authorize(&self.routes, &matched, id)?;
                Some(app)
            }
            None => None,
        };
        authorize::claims_rules(
            &self.routes,
            &self.resolved.claims_rules,
            &matched,
            identity.as_ref(),
            self.clock.now(),
        )?;
        Ok(Admitted {
            matched,
            identity,
            application,
        })
    }
}

impl Pipeline {
    /// The token's sender constraint (`validation::dpop`): its DPoP proof, its certificate.
    #[allow(clippy::too_many_arguments)]
    fn check_binding(
        &self,
        policy: &ApiPolicy,
        token: &str,
        presented: crate::validation::dpop::Presented<'_>,
        identity: &Identity,
        method: &http::Method,
        uri: &http::Uri,
        headers: &http::HeaderMap,
        beyond: Beyond,
    ) -> Result<(), GatewayError> {
        use crate::validation::dpop;
        dpop::check_binding(
            policy.dpop,
            presented,
            token,
            identity.cnf.as_ref(),
            method.as_str(),
            || {
                dpop::request_url(
                    policy.dpop_origin.as_deref(),
                    self.resolved.tls.is_some(),
                    uri,
                    headers,
                )
            },
            beyond.client_certificate.as_ref(),
            self.clock.now(),
        )
    }
}
