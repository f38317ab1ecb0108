//! Claims rules: `[[claims_rules]]` that require something of a token's claims (`groups` ∋
//! `Nurses`, `tenant = "st-marys"`, a recent login) for a whole API, some of its resources and
//! methods, or wherever one of its API scopes applies. Compiled once here (typed, checked with
//! errors naming the key) and evaluated per request over the validated token's claims (or the
//! introspection answer) without allocating.
//!
//! Unknown or ill-typed claims never satisfy a condition: a string claim never "contains" (no
//! substring match), a number never equals a string, an array is never "one of" a set.

use std::sync::Arc;

use http::Method;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::config::{ApiConfig, ConfigError};

/// How deep `all`/`any` may nest (the rule itself is depth 1).
pub const MAX_DEPTH: usize = 8;
/// Conditions (leaves) in one rule, and values in one list.
pub const MAX_CONDITIONS: usize = 256;

/// Claims that say how the user logged in: a rule that fails only on them asks for a stronger
/// login (RFC 9470) instead of refusing.
const LOGIN_CLAIMS: [&str; 3] = ["acr", "amr", "auth_time"];

fn err(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        message: message.into(),
    }
}

/// A `[[claims_rules]]` table as written (the file) or sent (the admin API).
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawClaimsRule {
    /// Named in refusals and in the admin API: `[A-Za-z0-9._-]`, 1–64 characters.
    pub name: String,
    /// The API it guards.
    pub api: String,
    /// Only these resources (and methods; all of the resource's when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<RawRuleResource>>,
    /// Only where this API scope applies (its resources and methods).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_scope: Option<String>,
    /// The condition: a leaf or `all`/`any`.
    pub require: Value,
}

/// A resource a rule applies to.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawRuleResource {
    /// A resource path of the API, exactly as configured.
    pub path: String,
    /// Some of its methods (all when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub methods: Option<Vec<String>>,
}

/// A value a condition compares with: claims compare by JSON type, never across types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scalar {
    /// A JSON string.
    Str(Box<str>),
    /// A JSON integer.
    Int(i64),
    /// A JSON boolean.
    Bool(bool),
}

impl Scalar {
    fn matches(&self, v: &Value) -> bool {
        match (self, v) {
            (Scalar::Str(s), Value::String(c)) => **s == **c,
            (Scalar::Int(n), Value::Number(c)) => c.as_i64() == Some(*n),
            (Scalar::Bool(b), Value::Bool(c)) => b == c,
            _ => false,
        }
    }
}

/// One condition over the claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// The claim is an array holding at least one of the values.
    ContainsAny(Box<str>, Vec<Scalar>),
    /// The claim is an array holding every value.
    ContainsAll(Box<str>, Vec<Scalar>),
    /// The claim is this scalar.
    Equals(Box<str>, Scalar),
    /// The claim is a scalar among the values.
    OneOf(Box<str>, Vec<Scalar>),
    /// The claim is present and not null.
    Exists(Box<str>),
    /// `auth_time` is an integer no more than this many seconds ago.
    MaxAge(u64),
    /// Every one holds.
    All(Vec<Condition>),
    /// At least one holds.
    Any(Vec<Condition>),
}

/// What a request lacked, when a rule refused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The claims do not satisfy the rule (403).
    Claims {
        /// The rule's name.
        rule: Arc<str>,
    },
    /// Only a stronger or more recent login would satisfy it (401, RFC 9470).
    StepUp {
        /// `acr` values the rule accepts, space-separated (empty when it names none).
        acr_values: String,
        /// The oldest login the rule accepts, seconds.
        max_age: Option<u64>,
    },
}

/// A compiled rule.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimsRule {
    /// The rule's name.
    pub name: Arc<str>,
    /// Index of the API.
    pub api: usize,
    /// `(resource index, methods)` it applies to; `None`: the whole API.
    pub applies_to: Option<Vec<(usize, Vec<Method>)>>,
    /// The condition.
    pub require: Condition,
    /// What it was compiled from (shown by the admin API).
    pub raw: RawClaimsRule,
}

impl ClaimsRule {
    /// Whether the rule guards `method` on resource `resource` of its API.
    pub fn applies(&self, resource: usize, method: &Method) -> bool {
        self.applies_to.as_ref().is_none_or(|v| {
            v.iter()
                .any(|(r, ms)| *r == resource && ms.iter().any(|m| m == method))
        })
    }

    /// Evaluates the rule over `claims` at `now` (seconds).
    pub fn check(&self, claims: &Map<String, Value>, now: u64) -> Result<(), Refusal> {
        if eval(&self.require, claims, now, false) {
            return Ok(());
        }
        // Would a stronger login (the login conditions holding) satisfy it? Then say so.
        if has_login(&self.require) && eval(&self.require, claims, now, true) {
            let mut acr = Vec::new();
            let mut max_age = None;
            login_asks(&self.require, &mut acr, &mut max_age);
            return Err(Refusal::StepUp {
                acr_values: acr.join(" "),
                max_age,
            });
        }
        Err(Refusal::Claims {
            rule: self.name.clone(),
        })
    }
}

fn is_login(c: &Condition) -> bool {
    match c {
        Condition::ContainsAny(n, _)
        | Condition::ContainsAll(n, _)
        | Condition::Equals(n, _)
        | Condition::OneOf(n, _)
        | Condition::Exists(n) => LOGIN_CLAIMS.contains(&&**n),
        Condition::MaxAge(_) => true,
        Condition::All(_) | Condition::Any(_) => false,
    }
}

fn has_login(c: &Condition) -> bool {
    match c {
        Condition::All(v) | Condition::Any(v) => v.iter().any(has_login),
        leaf => is_login(leaf),
    }
}

fn login_asks<'a>(c: &'a Condition, acr: &mut Vec<&'a str>, max_age: &mut Option<u64>) {
    match c {
        Condition::All(v) | Condition::Any(v) => {
            for c in v {
                login_asks(c, acr, max_age);
            }
        }
        Condition::MaxAge(n) => *max_age = Some(max_age.map_or(*n, |m| m.min(*n))),
        Condition::Equals(n, Scalar::Str(s)) if &**n == "acr" && !acr.contains(&&**s) => {
            acr.push(s);
        }
        Condition::OneOf(n, values) if &**n == "acr" => {
            for v in values {
                if let Scalar::Str(s) = v
                    && !acr.contains(&&**s)
                {
                    acr.push(s);
                }
            }
        }
        _ => {}
    }
}

fn eval(c: &Condition, claims: &Map<String, Value>, now: u64, assume_login: bool) -> bool {
    if assume_login && is_login(c) {
        return true;
    }
    match c {
        Condition::ContainsAny(n, want) => match claims.get(&**n) {
            Some(Value::Array(have)) => want.iter().any(|w| have.iter().any(|h| w.matches(h))),
            _ => false,
        },
        Condition::ContainsAll(n, want) => match claims.get(&**n) {
            Some(Value::Array(have)) => want.iter().all(|w| have.iter().any(|h| w.matches(h))),
            _ => false,
        },
        Condition::Equals(n, want) => claims.get(&**n).is_some_and(|h| want.matches(h)),
        Condition::OneOf(n, want) => claims
            .get(&**n)
            .is_some_and(|h| want.iter().any(|w| w.matches(h))),
        Condition::Exists(n) => claims.get(&**n).is_some_and(|h| !h.is_null()),
        Condition::MaxAge(max) => claims
            .get("auth_time")
            .and_then(Value::as_u64)
            .is_some_and(|t| t <= now.saturating_add(30) && now.saturating_sub(t) <= *max),
        Condition::All(v) => v.iter().all(|c| eval(c, claims, now, assume_login)),
        Condition::Any(v) => v.iter().any(|c| eval(c, claims, now, assume_login)),
    }
}

fn check_rule_name(name: &str, key: &str) -> Result<(), ConfigError> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(err(
            key,
            "must be 1-64 characters of A-Z, a-z, 0-9, `.`, `_`, `-` (it is named in refusals)",
        ));
    }
    Ok(())
}

fn scalar(v: &Value, key: &str) -> Result<Scalar, ConfigError> {
    match v {
        Value::String(s) => Ok(Scalar::Str(s.as_str().into())),
        Value::Bool(b) => Ok(Scalar::Bool(*b)),
        Value::Number(n) => n.as_i64().map(Scalar::Int).ok_or_else(|| {
            err(
                key,
                "numbers must be integers (claims compare by JSON type)",
            )
        }),
        _ => Err(err(key, "must be a string, an integer or a boolean")),
    }
}

fn scalars(v: &Value, key: &str) -> Result<Vec<Scalar>, ConfigError> {
    let list = v
        .as_array()
        .ok_or_else(|| err(key, "must be a list of values"))?;
    if list.is_empty() || list.len() > MAX_CONDITIONS {
        return Err(err(key, format!("must list 1 to {MAX_CONDITIONS} values")));
    }
    list.iter()
        .enumerate()
        .map(|(i, v)| scalar(v, &format!("{key}[{i}]")))
        .collect()
}

/// Parses one condition at `key`, `depth` levels down, counting leaves in `leaves`.
fn condition(
    v: &Value,
    key: &str,
    depth: usize,
    leaves: &mut usize,
) -> Result<Condition, ConfigError> {
    if depth > MAX_DEPTH {
        return Err(err(
            key,
            format!("`all`/`any` nest at most {MAX_DEPTH} levels"),
        ));
    }
    let obj = v.as_object().ok_or_else(|| {
        err(
            key,
            "must be a table: { claim = …, contains_any|contains_all|equals|one_of|exists = … }, { max_age = … }, { all = […] } or { any = […] }",
        )
    })?;
    for group in ["all", "any"] {
        if let Some(list) = obj.get(group) {
            if obj.len() != 1 {
                return Err(err(key, format!("`{group}` stands alone in its table")));
            }
            let gk = format!("{key}.{group}");
            let items = list
                .as_array()
                .filter(|l| !l.is_empty())
                .ok_or_else(|| err(&gk, "must be a non-empty list of conditions"))?;
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(condition(item, &format!("{gk}[{i}]"), depth + 1, leaves)?);
            }
            return Ok(if group == "all" {
                Condition::All(out)
            } else {
                Condition::Any(out)
            });
        }
    }
    *leaves += 1;
    if *leaves > MAX_CONDITIONS {
        return Err(err(
            key,
            format!("a rule has at most {MAX_CONDITIONS} conditions"),
        ));
    }
    if let Some(age) = obj.get("max_age") {
        if obj.len() != 1 {
            return Err(err(key, "`max_age` stands alone in its table"));
        }
        let age = age
            .as_u64()
            .filter(|n| (1..=31_536_000).contains(n))
            .ok_or_else(|| err(format!("{key}.max_age"), "must be 1 to 31536000 seconds"))?;
        return Ok(Condition::MaxAge(age));
    }
    let name = match obj.get("claim") {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 256 => s.as_str(),
        Some(_) => {
            return Err(err(
                format!("{key}.claim"),
                "must be a claim name (1-256 characters)",
            ));
        }
        None => {
            return Err(err(
                format!("{key}.claim"),
                "is required (or use `all`, `any`, `max_age`)",
            ));
        }
    };
    let ops: Vec<&String> = obj.keys().filter(|k| *k != "claim").collect();
    let [op] = ops[..] else {
        return Err(err(
            key,
            "give exactly one of contains_any, contains_all, equals, one_of, exists",
        ));
    };
    let ok = format!("{key}.{op}");
    let n: Box<str> = name.into();
    let v = &obj[op.as_str()];
    Ok(match op.as_str() {
        "contains_any" => Condition::ContainsAny(n, scalars(v, &ok)?),
        "contains_all" => Condition::ContainsAll(n, scalars(v, &ok)?),
        "one_of" => Condition::OneOf(n, scalars(v, &ok)?),
        "equals" => Condition::Equals(n, scalar(v, &ok)?),
        "exists" => {
            if v != &Value::Bool(true) {
                return Err(err(ok, "must be `true`"));
            }
            Condition::Exists(n)
        }
        other => {
            return Err(err(
                ok,
                format!(
                    "unknown operator `{other}` (contains_any, contains_all, equals, one_of, exists)"
                ),
            ));
        }
    })
}

/// Checks `raw` against the APIs and compiles it. Error keys are `claims_rules[i]…` (file) or
/// `claims_rules[NAME]…` (store, admin API), as `keys` says.
pub fn compile(
    apis: &[ApiConfig],
    raw: &[RawClaimsRule],
    keys: super::Keys,
) -> Result<Vec<ClaimsRule>, ConfigError> {
    let mut out: Vec<ClaimsRule> = Vec::with_capacity(raw.len());
    for (i, r) in raw.iter().enumerate() {
        let k = match keys {
            super::Keys::ByIndex => format!("claims_rules[{i}]"),
            super::Keys::ByName => format!("claims_rules[{}]", r.name),
        };
        check_rule_name(&r.name, &format!("{k}.name"))?;
        if out.iter().any(|o| *o.name == r.name) {
            return Err(err(
                format!("{k}.name"),
                format!("`{}` is defined twice", r.name),
            ));
        }
        let api_i = apis
            .iter()
            .position(|a| a.name == r.api)
            .ok_or_else(|| err(format!("{k}.api"), format!("no API named `{}`", r.api)))?;
        let api = &apis[api_i];
        let applies_to = match (&r.resources, &r.api_scope) {
            (Some(_), Some(_)) => {
                return Err(err(
                    format!("{k}.api_scope"),
                    "give `resources` or `api_scope`, not both",
                ));
            }
            (None, None) => None,
            (None, Some(scope)) => Some(
                api.scopes
                    .iter()
                    .find(|s| s.name == *scope)
                    .ok_or_else(|| {
                        err(
                            format!("{k}.api_scope"),
                            format!("API `{}` has no scope `{scope}`", api.name),
                        )
                    })?
                    .grants
                    .clone(),
            ),
            (Some(list), None) => {
                if list.is_empty() {
                    return Err(err(
                        format!("{k}.resources"),
                        "list at least one resource (or leave `resources` out for the whole API)",
                    ));
                }
                let mut v = Vec::with_capacity(list.len());
                for (j, res) in list.iter().enumerate() {
                    v.push(crate::config::resource_methods(
                        &api.resources,
                        &api.name,
                        &res.path,
                        res.methods.as_deref(),
                        &format!("{k}.resources[{j}]"),
                    )?);
                }
                Some(v)
            }
        };
        let mut leaves = 0;
        let require = condition(&r.require, &format!("{k}.require"), 1, &mut leaves)?;
        out.push(ClaimsRule {
            name: r.name.as_str().into(),
            api: api_i,
            applies_to,
            require,
            raw: r.clone(),
        });
    }
    Ok(out)
}

/// An application's claim set as written (`applications[].identify_by_claims`): the
/// application is who calls when a token from `authorization_server` satisfies every condition
/// (webMethods' "claims" identification).
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawClaimSet {
    /// The authorization server whose tokens it reads.
    pub authorization_server: String,
    /// Conditions (leaves only: `claim` with one operator, or `max_age`), all required.
    pub require: Vec<Value>,
}

/// A compiled claim set.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimSet {
    /// Index of the authorization server.
    pub authorization_server: usize,
    /// The conditions, all required; their count is the set's specificity.
    pub conditions: Vec<Condition>,
    /// What it was compiled from.
    pub raw: RawClaimSet,
}

impl ClaimSet {
    /// Whether `claims` satisfy every condition.
    pub fn matches(&self, claims: &Map<String, Value>, now: u64) -> bool {
        self.conditions.iter().all(|c| eval(c, claims, now, false))
    }

    /// Whether two sets ask for the same things (in any order): no token could tell them apart.
    pub fn same_as(&self, other: &ClaimSet) -> bool {
        self.authorization_server == other.authorization_server
            && self.conditions.len() == other.conditions.len()
            && self.conditions.iter().all(|c| other.conditions.contains(c))
    }
}

/// Compiles a claim set at `key` (`applications[i].identify_by_claims`); `as_index` finds an
/// authorization server by name.
pub fn compile_claim_set(
    raw: &RawClaimSet,
    key: &str,
    as_index: impl Fn(&str) -> Option<usize>,
) -> Result<ClaimSet, ConfigError> {
    let authorization_server = as_index(&raw.authorization_server).ok_or_else(|| {
        err(
            format!("{key}.authorization_server"),
            format!(
                "no authorization server named `{}`",
                raw.authorization_server
            ),
        )
    })?;
    let rk = format!("{key}.require");
    if raw.require.is_empty() || raw.require.len() > MAX_CONDITIONS {
        return Err(err(
            &rk,
            format!("list 1 to {MAX_CONDITIONS} conditions (all are required)"),
        ));
    }
    let mut conditions: Vec<Condition> = Vec::with_capacity(raw.require.len());
    let mut leaves = 0;
    for (i, v) in raw.require.iter().enumerate() {
        let ck = format!("{rk}[{i}]");
        let c = condition(v, &ck, 1, &mut leaves)?;
        if matches!(c, Condition::All(_) | Condition::Any(_)) {
            return Err(err(
                ck,
                "a claim set lists plain conditions, all required (no `all`/`any`), so its specificity is its length",
            ));
        }
        if conditions.contains(&c) {
            return Err(err(ck, "is listed twice"));
        }
        conditions.push(c);
    }
    Ok(ClaimSet {
        authorization_server,
        conditions,
        raw: raw.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(require: Value) -> ClaimsRule {
        let mut leaves = 0;
        ClaimsRule {
            name: "r".into(),
            api: 0,
            applies_to: None,
            require: condition(&require, "claims_rules[0].require", 1, &mut leaves).unwrap(),
            raw: RawClaimsRule {
                name: "r".into(),
                api: "A".into(),
                resources: None,
                api_scope: None,
                require,
            },
        }
    }

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn claims_rule_contains_never_matches_a_substring_or_another_type() {
        let r = rule(json!({ "claim": "groups", "contains_any": ["Nurses"] }));
        assert!(
            r.check(&claims(json!({ "groups": ["Everyone", "Nurses"] })), 0)
                .is_ok()
        );
        for bad in [
            json!({ "groups": "Nurses" }),
            json!({ "groups": "Senior Nurses" }),
            json!({ "groups": ["Senior Nurses"] }),
            json!({ "groups": [["Nurses"]] }),
            json!({ "groups": null }),
            json!({}),
        ] {
            assert!(r.check(&claims(bad.clone()), 0).is_err(), "{bad}");
        }
        let n = rule(json!({ "claim": "ward", "equals": 7 }));
        assert!(n.check(&claims(json!({ "ward": 7 })), 0).is_ok());
        assert!(n.check(&claims(json!({ "ward": "7" })), 0).is_err());
        assert!(n.check(&claims(json!({ "ward": 7.5 })), 0).is_err());
        let s = rule(json!({ "claim": "ward", "one_of": ["7", "8"] }));
        assert!(s.check(&claims(json!({ "ward": 7 })), 0).is_err());
        assert!(s.check(&claims(json!({ "ward": ["7"] })), 0).is_err());
        assert!(s.check(&claims(json!({ "ward": "8" })), 0).is_ok());
    }

    #[test]
    fn claims_rule_all_and_any_nest() {
        let r = rule(json!({ "all": [
            { "claim": "tenant", "equals": "st-marys" },
            { "any": [
                { "claim": "groups", "contains_all": ["Nurses", "Beds"] },
                { "claim": "admin", "exists": true },
            ] },
        ] }));
        let ok = |v: Value| r.check(&claims(v), 0).is_ok();
        assert!(ok(
            json!({ "tenant": "st-marys", "groups": ["Beds", "Nurses"] })
        ));
        assert!(ok(json!({ "tenant": "st-marys", "admin": false })));
        assert!(!ok(json!({ "tenant": "st-marys", "groups": ["Beds"] })));
        assert!(!ok(json!({ "tenant": "other", "admin": true })));
        assert_eq!(
            r.check(&claims(json!({})), 0),
            Err(Refusal::Claims { rule: "r".into() })
        );
    }

    #[test]
    fn claims_rule_failing_only_on_the_login_asks_for_step_up() {
        let r = rule(json!({ "all": [
            { "claim": "groups", "contains_any": ["Nurses"] },
            { "claim": "acr", "one_of": ["urn:okta:loa:2fa:any", "phr"] },
            { "max_age": 300 },
        ] }));
        let nurse = |extra: Value| {
            let mut c = claims(json!({ "groups": ["Nurses"] }));
            c.extend(claims(extra));
            r.check(&c, 1000)
        };
        assert!(nurse(json!({ "acr": "phr", "auth_time": 900 })).is_ok());
        let step_up = Err(Refusal::StepUp {
            acr_values: "urn:okta:loa:2fa:any phr".into(),
            max_age: Some(300),
        });
        assert_eq!(nurse(json!({ "acr": "pwd", "auth_time": 900 })), step_up);
        assert_eq!(nurse(json!({ "acr": "phr", "auth_time": 100 })), step_up);
        // Not a nurse: no login makes it pass, so a plain refusal.
        assert_eq!(
            r.check(&claims(json!({ "acr": "phr", "auth_time": 900 })), 1000),
            Err(Refusal::Claims { rule: "r".into() })
        );
    }

    #[test]
    fn claims_rule_errors_name_the_key() {
        let bad = [
            (json!({ "claim": "g" }), "claims_rules[0].require"),
            (
                json!({ "claim": "g", "contains": ["x"] }),
                "claims_rules[0].require.contains",
            ),
            (
                json!({ "claim": "g", "equals": 1.5 }),
                "claims_rules[0].require.equals",
            ),
            (
                json!({ "claim": "g", "one_of": [] }),
                "claims_rules[0].require.one_of",
            ),
            (
                json!({ "claim": "g", "exists": false }),
                "claims_rules[0].require.exists",
            ),
            (
                json!({ "all": [{ "claim": "g", "contains_any": [{}] }] }),
                "claims_rules[0].require.all[0].contains_any[0]",
            ),
            (json!({ "any": [] }), "claims_rules[0].require.any"),
            (json!({ "max_age": 0 }), "claims_rules[0].require.max_age"),
            (json!({ "ward": "7" }), "claims_rules[0].require.claim"),
        ];
        for (v, key) in bad {
            let mut leaves = 0;
            let e = condition(&v, "claims_rules[0].require", 1, &mut leaves).unwrap_err();
            assert_eq!(e.key, key, "{v}: {}", e.message);
        }
        let mut deep = json!({ "claim": "g", "exists": true });
        for _ in 0..MAX_DEPTH {
            deep = json!({ "all": [deep] });
        }
        let mut leaves = 0;
        let e = condition(&deep, "k", 1, &mut leaves).unwrap_err();
        assert!(e.message.contains("nest"), "{}", e.message);
    }
}
