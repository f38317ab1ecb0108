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
