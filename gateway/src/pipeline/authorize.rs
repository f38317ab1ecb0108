//! Step 5, authorize: the token's authorization-server scopes, through the scope mappings, must
//! open this resource and method. Re-evaluated on every request, cached introspection or not.

use super::route::{RouteMatch, RouteTable};
use crate::error::GatewayError;
use crate::validation::Identity;

/// Checks the identity's scopes against the matched resource method.
pub fn authorize(
    table: &RouteTable,
    m: &RouteMatch,
    identity: &Identity,
) -> Result<(), GatewayError> {
    if !table.has_scopes(m.api) {
        return Ok(());
    }
    if identity.kind == crate::config::IdentificationType::OpenidConnect {
        // An ID token says who signed in, not what a client may do: where the resource needs an
        // access token's scopes it is the wrong kind of token (401), not a token lacking a scope,
        // whatever scope claims it carries.
        return Err(GatewayError::InvalidToken(
            "an ID token is not an access token; this resource needs an access token",
        ));
    }
    let rule = table.rule(m);
    let opened = rule.opened_by.iter().any(|(asi, scope)| {
        *asi == identity.authorization_server && identity.scopes.iter().any(|s| s == scope)
    });
    if opened {
        return Ok(());
    }
    let needed: Vec<&str> = rule
        .opened_by
        .iter()
        .filter(|(asi, _)| *asi == identity.authorization_server)
        .map(|(_, s)| s.as_str())
        .collect();
    Err(GatewayError::InsufficientScope {
        scope: needed.join(" "),
    })
}

/// Checks the claims rules that guard the matched resource method (`policy::claims`), in file
/// order; the first that refuses answers. No token where a rule applies is a missing token.
pub fn claims_rules(
    table: &RouteTable,
    rules: &[crate::policy::claims::ClaimsRule],
    m: &RouteMatch,
    identity: Option<&Identity>,
    now: u64,
) -> Result<(), GatewayError> {
    use crate::policy::claims::Refusal;
    let guarding = &table.rule(m).claims_rules;
    if guarding.is_empty() {
        return Ok(());
    }
    let identity = identity.ok_or(GatewayError::MissingToken)?;
    for &ri in guarding {
        match rules[ri].check(&identity.claims, now) {
            Ok(()) => {}
            Err(Refusal::Claims { rule }) => return Err(GatewayError::ClaimsRule { rule }),
            Err(Refusal::StepUp {
                acr_values,
                max_age,
            }) => {
                return Err(GatewayError::StepUp {
                    acr_values,
                    max_age,
                });
            }
        }
    }
    Ok(())
}
