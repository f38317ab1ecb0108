//! The policy compiler: applications and scope mappings, by name (the file's tables, the store's
//! records, admin API documents), checked against the configured authorization servers and APIs
//! and compiled to the indexed form the pipeline reads. The file load, a reload and every admin
//! API change go through [`compile`], so they accept and refuse the same things.

pub mod claims;

use std::collections::{HashMap, HashSet};

use crate::config::{
    ApiConfig, ApplicationConfig, AuthServerConfig, Config, ConfigError, Scheme, ScopeMapping,
    Strategy,
};
use crate::store::{AppRecord, MappingRecord, StrategyRecord};

/// The application the gateway names upstream when anonymous access passed; no application may
/// be called this (in any letter case).
pub const ANONYMOUS: &str = "anonymous";

/// How error keys name a record: by position in the file (`applications[0]`) or by name in the
/// store and the admin API (`applications[OpenIDApp]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keys {
    /// `applications[0]`, `scope_mappings[0]`.
    ByIndex,
    /// `applications[OpenIDApp]`, `scope_mappings[ExternalOktaServer/beds.read]`.
    ByName,
}

fn err(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        message: message.into(),
    }
}

/// The application-name grammar: the name is sent upstream as `x-gateway-application` exactly as
/// written, so it must arrive there as itself and as one name. Refused: empty, leading or
/// trailing whitespace (an upstream trims it: `" SvcApp"` would read as `SvcApp`), control
/// characters (CR, LF, NUL, TAB, DEL…), anything not visible ASCII or space (a header value an
/// HTTP library may refuse or re-encode), a comma (a list to a header parser), and the anonymous
/// sentinel in any letter case.
pub fn check_application_name(name: &str, key: &str) -> Result<(), ConfigError> {
    if name.is_empty() {
        return Err(err(key, "must not be empty"));
    }
    if name.trim() != name {
        return Err(err(key, "must not begin or end with whitespace"));
    }
    if let Some(c) = name.chars().find(|c| !matches!(c, ' '..='~')) {
        return Err(err(
            key,
            format!(
                "must be printable ASCII (it is sent in the x-gateway-application header); found {}",
                c.escape_unicode()
            ),
        ));
    }
    if name.contains(',') {
        return Err(err(
            key,
            "must not contain a comma (an upstream would read a list)",
        ));
    }
    if name.eq_ignore_ascii_case(ANONYMOUS) {
        return Err(err(
            key,
            "`anonymous` is what the gateway sends for anonymous access; choose another name",
        ));
    }
    Ok(())
}

fn check_nonempty(value: &str, key: &str) -> Result<(), ConfigError> {
    if value.trim().is_empty() {
        return Err(err(key, "must not be empty"));
    }
    Ok(())
}

/// Checks `apps` and `mappings` against the authorization servers and APIs and compiles them to
/// the pipeline's indexed form. Applications being deleted are left out (their names stay
/// taken). Error keys name the record as `keys` says.
pub fn compile(
    servers: &[AuthServerConfig],
    apis: &[ApiConfig],
    apps: &[AppRecord],
    mappings: &[MappingRecord],
    keys: Keys,
) -> Result<(Vec<ApplicationConfig>, Vec<ScopeMapping>), ConfigError> {
    let as_index: HashMap<&str, usize> = servers
        .iter()
        .enumerate()
        .map(|(i, a)| (a.name.as_str(), i))
        .collect();
    let api_index: HashMap<&str, usize> = apis
        .iter()
        .enumerate()
        .map(|(i, a)| (a.name.as_str(), i))
        .collect();

    let mut out_maps = Vec::new();
    let mut seen = HashSet::new();
    for (i, m) in mappings.iter().enumerate() {
        let k = match keys {
            Keys::ByIndex => format!("scope_mappings[{i}]"),
            Keys::ByName => format!("scope_mappings[{}/{}]", m.authorization_server, m.scope),
        };
        let asi = *as_index
            .get(m.authorization_server.as_str())
            .ok_or_else(|| {
                err(
                    format!("{k}.authorization_server"),
                    format!("no authorization server named `{}`", m.authorization_server),
                )
            })?;
        check_nonempty(&m.scope, &format!("{k}.scope"))?;
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
            // `Api/Scope` names one API's scope; a bare name every API scope of that name.
            let (filter, scope) = match name.split_once('/') {
                Some((a, s)) => (Some(a), s),
                None => (None, name.as_str()),
            };
            let before = targets.len();
            for (ai, api) in apis.iter().enumerate() {
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

    let mut names = HashSet::new();
    let mut clients: HashMap<(usize, &str), &str> = HashMap::new();
    let mut out_apps = Vec::new();
    for (i, a) in apps.iter().enumerate() {
        let k = match keys {
            Keys::ByIndex => format!("applications[{i}]"),
            Keys::ByName => format!("applications[{}]", a.name),
        };
        check_application_name(&a.name, &format!("{k}.name"))?;
        if !names.insert(a.name.as_str()) {
            return Err(err(
                format!("{k}.name"),
                format!("`{}` is defined twice", a.name),
            ));
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
        if a.strategies.is_empty() && a.identify_by_claims.is_none() {
            return Err(err(
                format!("{k}.strategies"),
                "at least one strategy (or `identify_by_claims`) is required",
            ));
        }
        let claim_set = a
            .identify_by_claims
            .as_ref()
            .map(|raw| {
                claims::compile_claim_set(raw, &format!("{k}.identify_by_claims"), |n| {
                    as_index.get(n).copied()
                })
            })
            .transpose()?;
        // Two applications asking for the same claims could never be told apart: seen here,
        // it is a configuration error (overlaps only a token can show are a 401 at run time).
        if let Some(set) = &claim_set
            && let Some(other) = out_apps
                .iter()
                .find(|o: &&ApplicationConfig| o.claim_set.as_ref().is_some_and(|c| c.same_as(set)))
        {
            return Err(err(
                format!("{k}.identify_by_claims"),
                format!(
                    "application `{}` is identified by the same claims; no token could tell them apart",
                    other.name
                ),
            ));
        }
        let mut strategies = Vec::new();
        let mut snames = HashSet::new();
        for (j, s) in a.strategies.iter().enumerate() {
            let sk = format!("{k}.strategies[{j}]");
            check_nonempty(&s.name, &format!("{sk}.name"))?;
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
            check_nonempty(&s.client_id, &format!("{sk}.client_id"))?;
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
                    None => {
                        return Err(err(
                            format!("{sk}.client_secret"),
                            "required when `hmac` is on (it is the HMAC key)",
                        ));
                    }
                    Some(sec) if sec.expose().len() < 32 => {
                        return Err(err(
                            format!("{sk}.client_secret"),
                            "an HMAC key must be at least 32 bytes",
                        ));
                    }
                    Some(_) => {}
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
            claim_set,
        });
    }
    Ok((out_apps, out_maps))
}

/// A configuration's claims rules as records (what an empty store is seeded with, with
/// [`records_of`]).
pub fn rule_records_of(config: &Config) -> Vec<crate::store::ClaimsRuleRecord> {
    config.claims_rules.iter().map(|r| r.raw.clone()).collect()
}

/// A configuration's applications and mappings as records (what an empty store is seeded with).
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
            identify_by_claims: a.claim_set.as_ref().map(|c| c.raw.clone()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn application_names_that_would_not_arrive_upstream_as_themselves_are_refused() {
        for bad in [
            "",
            " SvcApp",
            "SvcApp\t",
            "SvcApp ",
            "anonymous",
            "Anonymous",
            "ANONYMOUS",
            "A, B",
            "A,B",
            "Svc\r\nX-Gateway-Subject: admin",
            "Svc\nApp",
            "Svc\0App",
            "Svc\u{7f}App",
            "Svc\tApp",
            "Sv\u{e7}App",
        ] {
            let e = check_application_name(bad, "applications[0].name").unwrap_err();
            assert_eq!(e.key, "applications[0].name", "{bad:?}");
        }
        for good in ["SvcApp", "Reporting App", "svc-app_2.0", "A/B", "x@y"] {
            check_application_name(good, "k").unwrap();
        }
    }
}
