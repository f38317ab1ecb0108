//! Step 3, validate: try the API's identification types in order; the first that accepts the
//! token gives the [`Identity`]. If none does, the most serious failure is returned (an
//! unreachable authorization server outranks an invalid token: the gateway fails closed and says
//! so).

use std::sync::Arc;

use crate::config::IdentificationType;
use crate::error::GatewayError;
use crate::validation::hmac::HmacClient;
use crate::validation::introspection::Introspector;
use crate::validation::jwt::{self, Jwt, is_hmac};
use crate::validation::local::{Audiences, LocalValidator, check_claims};
use crate::validation::{Identity, ValidationError};

/// What the gateway knows about one authorization server at run time.
#[derive(Debug)]
pub struct ServerRuntime {
    /// Its name.
    pub name: String,
    /// Its exact issuer.
    pub issuer: String,
    /// Local validation, when configured.
    pub local: Option<LocalValidator>,
    /// Remote validation, when configured.
    pub introspector: Option<Arc<Introspector>>,
    /// Client ids of the openid strategies at this AS: the audiences an ID token may have.
    pub id_token_clients: Vec<String>,
    /// The strategies with `hmac` on.
    pub hmac_clients: Vec<HmacClient>,
    /// Clock skew for ID tokens verified with HMAC (the local skew, or [`crate::config::DEFAULT_CLOCK_SKEW_SECONDS`]).
    pub clock_skew: u64,
}

impl ServerRuntime {
    /// The runtime of `config`'s authorization server `server`, with the validators built for it
    /// (or carried over from the previous pipeline) and the clients its applications' strategies
    /// add.
    pub fn new(
        config: &crate::config::Config,
        server: usize,
        issuer: String,
        local: Option<LocalValidator>,
        introspector: Option<Arc<Introspector>>,
    ) -> Self {
        let (id_token_clients, hmac_clients) = strategy_clients(config, server);
        let s = &config.authorization_servers[server];
        Self {
            name: s.name.clone(),
            issuer,
            local,
            introspector,
            id_token_clients,
            hmac_clients,
            clock_skew: s.clock_skew(),
        }
    }
}

/// What the applications' strategies on authorization server `server` add to its validator:
/// the client ids whose ID tokens it accepts, and the HMAC clients (strategies with `hmac` on).
fn strategy_clients(
    config: &crate::config::Config,
    server: usize,
) -> (Vec<String>, Vec<HmacClient>) {
    let strategies = || {
        config
            .applications
            .iter()
            .flat_map(|a| a.strategies.iter())
            .filter(move |st| st.authorization_server == server)
    };
    let id_token_clients = strategies()
        .filter(|st| st.scheme == crate::config::Scheme::Openid)
        .map(|st| st.client_id.clone())
        .collect();
    let hmac_clients = strategies()
        .filter(|st| st.hmac)
        .filter_map(|st| {
            st.client_secret
                .as_ref()
                .map(|sec| HmacClient::new(st.client_id.clone(), sec))
        })
        .collect();
    (id_token_clients, hmac_clients)
}

/// All authorization servers.
#[derive(Debug)]
pub struct Validators {
    /// Decoded parts of accepted JWTs (see [`jwt::DecodedTokens`]).
    pub decoded: jwt::DecodedTokens,
    /// By configuration index.
    pub servers: Vec<ServerRuntime>,
}

impl Validators {
    fn by_issuer(&self, iss: Option<&str>) -> Option<usize> {
        let iss = iss?;
        self.servers.iter().position(|s| s.issuer == iss)
    }

    /// Validates `token`, sent from `client`, by the identification types, in order.
    pub async fn validate(
        &self,
        types: &[IdentificationType],
        token: &str,
        client: Option<std::net::IpAddr>,
        now: u64,
    ) -> Result<Identity, GatewayError> {
        let (parsed, remembered) = if jwt::looks_like_jwt(token) {
            let (parsed, hit) = self.decoded.decode(token, now);
            (Some(parsed), hit)
        } else {
            (None, false)
        };
        let mut worst: Option<ValidationError> = None;
        for &kind in types {
            let result = match kind {
                IdentificationType::OpenidConnect => self.id_token(parsed.as_ref(), now).await,
                IdentificationType::Oauth2Local | IdentificationType::Jwt => {
                    self.access_token(parsed.as_ref(), kind, now).await
                }
                IdentificationType::Oauth2Remote => {
                    self.remote(parsed.as_ref(), token, client, now).await
                }
            };
            match result {
                Ok(identity) => {
                    if !remembered && let Some(Ok(jwt)) = &parsed {
                        self.decoded.remember(jwt, now);
                    }
                    tracing::debug!(
                        kind = kind.as_str(),
                        kid = parsed
                            .as_ref()
                            .and_then(|p| p.as_ref().ok())
                            .and_then(|j| j.header.kid.as_deref()),
                        sub = identity.subject.as_deref(),
                        jti = identity.jti.as_deref(),
                        "token accepted"
                    );
                    return Ok(identity);
                }
                Err(e) => {
                    worst = Some(match (worst, e) {
                        (Some(ValidationError::Unavailable), _)
                        | (_, ValidationError::Unavailable) => ValidationError::Unavailable,
                        // A type that did not apply (an opaque token for a JWT type) says least.
                        (Some(ValidationError::NotJwt), e) => e,
                        (Some(prev), _) => prev,
                        (None, e) => e,
                    });
                }
            }
        }
        let e = worst.unwrap_or(ValidationError::Invalid(
            "the token is not accepted by this API",
        ));
        // Counted and summarised by the caller (`Metrics::token_refused`); one line each only at
        // debug, so forged tokens cannot fill the log.
        tracing::debug!(reason = %e, "token refused");
        Err(e.into())
    }

    fn server_for<'a>(
        &'a self,
        parsed: Option<&'a Result<Jwt<'a>, &'static str>>,
    ) -> Result<(usize, &'a Jwt<'a>, &'a ServerRuntime), ValidationError> {
        let jwt = match parsed {
            None => return Err(ValidationError::NotJwt),
            Some(Err(e)) => return Err(ValidationError::Invalid(e)),
            Some(Ok(j)) => j,
        };
        let idx = self
            .by_issuer(jwt.claims.iss.as_deref())
            .ok_or(ValidationError::Invalid(
                "the token's issuer is not accepted",
            ))?;
        Ok((idx, jwt, &self.servers[idx]))
    }

    async fn id_token(
        &self,
        parsed: Option<&Result<Jwt<'_>, &'static str>>,
        now: u64,
    ) -> Result<Identity, ValidationError> {
        let (idx, jwt, server) = self.server_for(parsed)?;
        if is_hmac(jwt.alg) {
            let client = crate::validation::hmac::verify(jwt, &server.hmac_clients)?;
            check_claims(
                &jwt.claims,
                &server.issuer,
                Audiences::Clients(std::slice::from_ref(&client.to_owned())),
                &[],
                server.clock_skew,
                now,
            )?;
        } else {
            let local = server.local.as_ref().ok_or(ValidationError::Invalid(
                "the token's issuer is not accepted",
            ))?;
            // Claims first: a token for another audience costs no signature check (and no key
            // refresh); nothing is trusted until the signature is verified below.
            local.check_claims(jwt, Audiences::Clients(&server.id_token_clients), now)?;
            local.verify(jwt, now).await?;
        }
        let c = &jwt.claims;
        // The party the token was issued to is one of its audiences (OIDC Core §3.1.3.7), so
        // a token for one client is never taken as another's.
        if let Some(azp) = &c.azp
            && !c.aud.as_ref().is_some_and(|aud| aud.any(|a| a == azp))
        {
            return Err(ValidationError::Invalid(
                "the ID token's azp is not one of its audiences",
            ));
        }
        let client_id = c
            .azp
            .clone()
            .or_else(|| c.aud.as_ref().and_then(|a| a.single()).map(str::to_owned));
        Ok(Identity {
            authorization_server: idx,
            kind: IdentificationType::OpenidConnect,
            client_id,
            subject: c.sub.clone(),
            // An ID token says who signed in; scopes it carries grant nothing (and with HMAC,
            // whoever holds the client secret could write any).
            scopes: Vec::new(),
            jti: c.jti.clone(),
            claims: jwt.all_claims.clone(),
            cnf: c.cnf.clone(),
        })
    }

    async fn access_token(
        &self,
        parsed: Option<&Result<Jwt<'_>, &'static str>>,
        kind: IdentificationType,
        now: u64,
    ) -> Result<Identity, ValidationError> {
        let (idx, jwt, server) = self.server_for(parsed)?;
        let local = server.local.as_ref().ok_or(ValidationError::Invalid(
            "the token's issuer is not accepted",
        ))?;
        local.check_claims(jwt, Audiences::Access, now)?;
        local.verify(jwt, now).await?;
        let c = &jwt.claims;
        let mut client_id = c.cid.clone().or_else(|| c.client_id.clone());
        if kind == IdentificationType::Jwt {
            client_id = client_id.or_else(|| c.azp.clone());
        }
        Ok(Identity {
            authorization_server: idx,
            kind,
            client_id,
            subject: c.sub.clone(),
            scopes: c.scopes(),
            jti: c.jti.clone(),
            claims: jwt.all_claims.clone(),
            cnf: c.cnf.clone(),
        })
    }

    async fn remote(
        &self,
        parsed: Option<&Result<Jwt<'_>, &'static str>>,
        token: &str,
        client: Option<std::net::IpAddr>,
        now: u64,
    ) -> Result<Identity, ValidationError> {
        // A JWT that does not parse was issued by no server: nobody is asked about it.
        if let Some(Err(e)) = parsed {
            return Err(ValidationError::Invalid(e));
        }
        // A JWT names its server; an opaque token is tried at each server with introspection.
        let named = match parsed {
            Some(Ok(j)) => Some(self.by_issuer(j.claims.iss.as_deref()).ok_or(
                ValidationError::Invalid("the token's issuer is not accepted"),
            )?),
            _ => None,
        };
        // A JWT the gateway can check itself is checked first, whatever the order of the
        // identification types: a token local validation refuses for a definite reason (issuer,
        // audience, times, signature) is never re-admitted by an introspection answer.
        if let (Some(Ok(jwt)), Some(idx)) = (parsed, named)
            && let Some(local) = &self.servers[idx].local
        {
            local.check_claims(jwt, Audiences::Access, now)?;
            match local.verify(jwt, now).await {
                Ok(()) => {}
                // Not (yet) verifiable here: the authorization server decides.
                Err(ValidationError::Unavailable) => {}
                Err(ValidationError::KeyUnknown) => {}
                Err(e) => return Err(e),
            }
        }
        let candidates: Vec<usize> = match named {
            Some(i) => vec![i],
            None => (0..self.servers.len())
                .filter(|&i| self.servers[i].introspector.is_some())
                .collect(),
        };
        let mut worst = ValidationError::Invalid("the token is not active");
        for idx in candidates {
            let Some(introspector) = &self.servers[idx].introspector else {
                continue;
            };
            match introspector.introspect(token, client).await {
                Ok(found) => {
                    return Ok(Identity {
                        authorization_server: idx,
                        kind: IdentificationType::Oauth2Remote,
                        client_id: found.client_id.clone(),
                        subject: found.subject.clone(),
                        scopes: found.scopes.clone(),
                        jti: found.jti.clone(),
                        claims: found.claims.clone(),
                        cnf: found.cnf.clone(),
                    });
                }
                Err(ValidationError::Unavailable) => worst = ValidationError::Unavailable,
                Err(e) => {
                    if worst != ValidationError::Unavailable {
                        worst = e;
                    }
                }
            }
        }
        Err(worst)
    }
}
