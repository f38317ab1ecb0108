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
