//! Step 1, route: which API, resource and method a request is for. Paths that are not in
//! canonical form (dot segments, `//`, `;`, encoded slashes or dots, backslashes, bad or
//! control-character escapes, non-ASCII, invalid UTF-8) are refused before matching, so a path
//! trick cannot reach a resource through a different mapping.
//!
//! The rest is matched as loosely as any common upstream reads a path: literal segments
//! compare with escapes decoded (RFC 3986 §6.2.2) and ASCII case ignored (Express and IIS route
//! case-insensitively), and a trailing `/` names the same resource (Express, older Spring). The
//! most specific resource that matches wins (literal before `{param}` before `*`, as in OpenAPI
//! and most routers), whatever the order of the configuration; and the path must then spell it
//! exactly. So `/hospitals/s%65cret`, `/hospitals/SECRET` or `/hospitals/secret/` can never be
//! authorized as `/hospitals/{id}` and served by an upstream as `/hospitals/secret`.

use http::{Method, Uri};

use crate::config::{Config, Resource};
use crate::error::GatewayError;

/// The matched API, resource and method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteMatch {
    /// Index into the configuration's APIs.
    pub api: usize,
    /// Index into the API's resources.
    pub resource: usize,
    /// Index into the resource's methods.
    pub method: usize,
    /// Byte offset in the path where the part after the base path begins.
    pub rest_start: usize,
}

#[derive(Debug)]
enum Segment {
    Literal(String),
    Param,
    Rest,
}

/// A resource's method and the AS scopes `(authorization server, scope)` that open it.
#[derive(Debug)]
pub struct MethodRule {
    /// The method.
    pub method: Method,
    /// The AS scopes, through the scope mappings, that open this resource and method.
    pub opened_by: Vec<(usize, String)>,
    /// Indexes of the claims rules (`Config::claims_rules`) that guard it, in file order.
    pub claims_rules: Vec<usize>,
}

impl Segment {
    /// How general the segment is: matching prefers the lowest at the first difference.
    fn generality(&self) -> u8 {
        match self {
            Segment::Literal(_) => 0,
            Segment::Param => 1,
            Segment::Rest => 2,
        }
    }
}

#[derive(Debug)]
struct RouteResource {
    segments: Vec<Segment>,
    methods: Vec<MethodRule>,
}

#[derive(Debug)]
struct RouteApi {
    /// The base path's segments (none for `/`).
    base: Vec<String>,
    resources: Vec<RouteResource>,
    /// Resource indexes, most specific first.
    by_specificity: Vec<usize>,
    has_scopes: bool,
}

/// The compiled routing and authorization table.
#[derive(Debug)]
pub struct RouteTable {
    apis: Vec<RouteApi>,
    /// API indexes, longest base path first.
    order: Vec<usize>,
}

fn compile(resource: &Resource) -> Vec<Segment> {
    if resource.path == "/" {
        return Vec::new();
    }
    resource
        .path
        .split('/')
        .skip(1)
        .map(|s| match s {
            "*" => Segment::Rest,
            p if p.starts_with('{') => Segment::Param,
            lit => Segment::Literal(lit.to_owned()),
        })
        .collect()
}

impl RouteTable {
    /// Compiles the table from the configuration, resolving scope mappings to the AS scopes
    /// that open each resource method.
    pub fn new(config: &Config) -> Self {
        let mut apis: Vec<RouteApi> = config
            .apis
            .iter()
            .map(|a| RouteApi {
                base: a
                    .base_path
                    .split('/')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                by_specificity: Vec::new(),
                resources: a
                    .resources
                    .iter()
                    .map(|r| RouteResource {
                        segments: compile(r),
                        methods: r
                            .methods
                            .iter()
                            .map(|m| MethodRule {
                                method: m.clone(),
                                opened_by: Vec::new(),
                                claims_rules: Vec::new(),
                            })
                            .collect(),
                    })
                    .collect(),
                has_scopes: !a.scopes.is_empty(),
            })
            .collect();
        for mapping in &config.scope_mappings {
            for &(api, scope) in &mapping.api_scopes {
                for (resource, methods) in &config.apis[api].scopes[scope].grants {
                    for m in methods {
                        let rules = &mut apis[api].resources[*resource].methods;
                        if let Some(rule) = rules.iter_mut().find(|r| r.method == *m) {
                            let entry = (mapping.authorization_server, mapping.scope.clone());
                            if !rule.opened_by.contains(&entry) {
                                rule.opened_by.push(entry);
                            }
                        }
                    }
                }
            }
        }
        for (ri, rule) in config.claims_rules.iter().enumerate() {
            for (resource, r) in apis[rule.api].resources.iter_mut().enumerate() {
                for m in &mut r.methods {
                    if rule.applies(resource, &m.method) {
                        m.claims_rules.push(ri);
                    }
                }
            }
        }
        for api in &mut apis {
            let resources = &api.resources;
            let mut order: Vec<usize> = (0..resources.len()).collect();
            // Lexicographic on generality; a pattern that is a prefix of another comes first.
            order.sort_by(|&x, &y| {
                let g = |i: usize| resources[i].segments.iter().map(Segment::generality);
                g(x).cmp(g(y))
            });
            api.by_specificity = order;
        }
        let mut order: Vec<usize> = (0..apis.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(apis[i].base.len()));
        Self { apis, order }
    }

    /// Whether the API defines scopes (if not, any identified, subscribed caller may call it).
    pub fn has_scopes(&self, api: usize) -> bool {
        self.apis[api].has_scopes
    }

    /// The rule for a match.
    pub fn rule(&self, m: &RouteMatch) -> &MethodRule {
        &self.apis[m.api].resources[m.resource].methods[m.method]
    }
}

fn is_canonical(path: &str) -> bool {
    if !path.starts_with('/') || !path.is_ascii() {
        return false;
    }
    if path.contains("//") || path.contains(['\\', ';']) {
        return false;
    }
    if path.split('/').any(|s| s == "." || s == "..") {
        return false;
    }
    let b = path.as_bytes();
    let mut escaped_non_ascii = false;
    let mut i = 0;
    while let Some(p) = b[i..].iter().position(|c| *c == b'%') {
        let at = i + p;
        let Some(v) = escaped(b, at) else {
            // `%` not followed by two hex digits (`%zz`, IIS's `%u002e`).
            return false;
        };
        // Encoded '/', '\', '.', ';' (path parameters) and '%' itself (double encoding), and
        // control characters (NUL truncates paths in C upstreams), are refused.
        if matches!(v, b'/' | b'\\' | b'.' | b';' | b'%') || v.is_ascii_control() {
            return false;
        }
        escaped_non_ascii |= !v.is_ascii();
        i = at + 3;
    }
    // Escaped bytes must spell UTF-8: overlong forms (`%c0%ae` for '.') are refused.
    !escaped_non_ascii || std::str::from_utf8(&percent_decoded(path).collect::<Vec<u8>>()).is_ok()
}

/// The byte `%XX` at `at` stands for, if the two characters after `%` are hex digits.
fn escaped(b: &[u8], at: usize) -> Option<u8> {
    let digit = |i: usize| b.get(i).and_then(|c| (*c as char).to_digit(16));
    u8::try_from(digit(at + 1)? * 16 + digit(at + 2)?).ok()
}

/// `s` with its `%XX` escapes decoded; a `%` without two hex digits stays as it is.
pub(super) fn percent_decoded(s: &str) -> impl Iterator<Item = u8> + '_ {
    let b = s.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        let c = *b.get(i)?;
        match (c == b'%').then(|| escaped(b, i)).flatten() {
            Some(v) => {
                i += 3;
                Some(v)
            }
            None => {
                i += 1;
                Some(c)
            }
        }
    })
}

/// How a request path fits a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fit {
    /// Not at all.
    No,
    /// Only as some upstreams read paths (escapes decoded, case ignored, a trailing `/`).
    Loosely,
    /// As written.
    Exactly,
}

impl Fit {
    fn and(self, other: Fit) -> Fit {
        match (self, other) {
            (Fit::No, _) | (_, Fit::No) => Fit::No,
            (Fit::Exactly, Fit::Exactly) => Fit::Exactly,
            _ => Fit::Loosely,
        }
    }
}

/// How a request path segment fits `literal` (from the configuration).
fn segment_fit(segment: &str, literal: &str) -> Fit {
    let same = if segment == literal {
        return Fit::Exactly;
    } else if !segment.contains('%') && !literal.contains('%') {
        // Canonical paths are ASCII: no allocation on the common path.
        segment
            .trim_end_matches('.')
            .eq_ignore_ascii_case(literal.trim_end_matches('.'))
    } else {
        loosely(segment) == loosely(literal)
    };
    if same { Fit::Loosely } else { Fit::No }
}

/// A segment as the loosest common upstream reads it: escapes decoded; the letters that fold
/// to ASCII ones in Java's `equalsIgnoreCase` (`ſ`, `ı`, the Kelvin sign) and full-width forms
/// mapped to them; ASCII case ignored; trailing dots and spaces dropped (Windows, IIS).
fn loosely(segment: &str) -> String {
    let bytes: Vec<u8> = percent_decoded(segment).collect();
    let folded: String = String::from_utf8_lossy(&bytes)
        .chars()
        .map(|c| match c {
            'ſ' => 's',
            'ı' => 'i',
            '\u{212A}' => 'k',
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
            c => c,
        })
        .map(|c| c.to_ascii_lowercase())
        .collect();
    folded.trim_end_matches(['.', ' ']).to_owned()
}

/// Where the rest of `path` starts after `base`'s segments, and how it fits them.
fn under_base(base: &[String], path: &str) -> (usize, Fit) {
    let mut at = 0;
    let mut fit = Fit::Exactly;
    for b in base {
        let Some(rest) = path[at..].strip_prefix('/') else {
            return (at, Fit::No);
        };
        let len = rest.find('/').unwrap_or(rest.len());
        fit = fit.and(segment_fit(&rest[..len], b));
        if fit == Fit::No {
            return (at, Fit::No);
        }
        at += 1 + len;
    }
    (at, fit)
}

/// Routes a request.
pub fn route(table: &RouteTable, method: &Method, uri: &Uri) -> Result<RouteMatch, GatewayError> {
    let path = uri.path();
    if !is_canonical(path) {
        return Err(GatewayError::InvalidRequest(
            "the request path is not in canonical form",
        ));
    }
    for &api in &table.order {
        let a = &table.apis[api];
        let (rest_start, base_fit) = under_base(&a.base, path);
        if base_fit == Fit::No {
            continue;
        }
        let rest = &path[rest_start..];
        let Some((ri, fit)) = a.by_specificity.iter().find_map(|&ri| {
            let fit = base_fit.and(fits(&a.resources[ri].segments, rest));
            (fit != Fit::No).then_some((ri, fit))
        }) else {
            return Err(GatewayError::NotFound);
        };
        if fit != Fit::Exactly {
            return Err(GatewayError::InvalidRequest(
                "the request path is not in canonical form",
            ));
        }
        let r = &a.resources[ri];
        let rule = |want: &Method| r.methods.iter().position(|m| m.method == *want);
        // HEAD is allowed wherever GET is, under GET's scopes (RFC 9110 §9.3.2).
        let found = rule(method).or_else(|| {
            if *method == Method::HEAD {
                rule(&Method::GET)
            } else {
                None
            }
        });
        return match found {
            Some(mi) => Ok(RouteMatch {
                api,
                resource: ri,
                method: mi,
                rest_start,
            }),
            None => Err(GatewayError::MethodNotAllowed),
        };
    }
    Err(GatewayError::NotFound)
}

/// How `rest` (the path after the base path) fits `pattern`.
fn fits(pattern: &[Segment], rest: &str) -> Fit {
    if rest.is_empty() || rest == "/" {
        return if pattern.is_empty() {
            Fit::Exactly
        } else {
            Fit::No
        };
    }
    // Under a final `*` a trailing `/` is part of the rest; elsewhere it may name the same
    // resource as the path without it.
    let (rest, mut fit) = match rest.strip_suffix('/') {
        Some(stripped) if !matches!(pattern.last(), Some(Segment::Rest)) => {
            (stripped, Fit::Loosely)
        }
        _ => (rest, Fit::Exactly),
    };
    let mut parts = rest[1..].split('/');
    for seg in pattern {
        match seg {
            Segment::Rest => return fit,
            Segment::Param => match parts.next() {
                Some(p) if !p.is_empty() => {}
                _ => return Fit::No,
            },
            Segment::Literal(l) => match parts.next() {
                Some(p) => fit = fit.and(segment_fit(p, l)),
                None => return Fit::No,
            },
        }
        if fit == Fit::No {
            return Fit::No;
        }
    }
    if parts.next().is_none() { fit } else { Fit::No }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_canonical_paths_are_refused() {
        for p in [
            "/beds//x",
            "/beds/./x",
            "/beds/../admin",
            "/beds;x",
            "/beds/%2e%2e/admin",
            "/beds%2Fx",
            "/beds/%252e",
            "/beds/%",
            "/beds/%zz",
            "/beds/%u002e%u002e/admin",
            "/beds/%00",
            "/beds/%0a",
            "/beds/%c0%ae%c0%ae/admin",
            "/beds/%ff",
            "/beds/%3b",
            "/beds/\u{e9}",
        ] {
            assert!(!is_canonical(p), "{p}");
        }
        for p in [
            "/beds",
            "/beds/hospitals/h1/wards",
            "/beds/a%20b",
            "/beds/%C3%A9",
        ] {
            assert!(is_canonical(p), "{p}");
        }
    }

    fn pattern(path: &str) -> Vec<Segment> {
        compile(&Resource {
            path: path.into(),
            methods: vec![Method::GET],
            websocket: false,
        })
    }

    #[test]
    fn patterns_fit_exactly_or_as_some_upstream_would_read_them() {
        let pat = pattern("/hospitals/{id}/wards");
        assert_eq!(fits(&pat, "/hospitals/h1/wards"), Fit::Exactly);
        assert_eq!(fits(&pat, "/hospitals/h1/wards/"), Fit::Loosely);
        assert_eq!(fits(&pat, "/Hospitals/h1/wards"), Fit::Loosely);
        assert_eq!(fits(&pat, "/hospitals/h1/w%61rds"), Fit::Loosely);
        assert_eq!(fits(&pat, "/hospitals//wards"), Fit::No);
        assert_eq!(fits(&pat, "/hospitals/h1/ward"), Fit::No);
        let rest = pattern("/a/*");
        assert_eq!(fits(&rest, "/a/b/c"), Fit::Exactly);
        assert_eq!(fits(&rest, "/a/b/c/"), Fit::Exactly);
        assert_eq!(fits(&[], "/x"), Fit::No);
        assert_eq!(fits(&[], "/"), Fit::Exactly);
    }

    fn table(resources: &[&str]) -> RouteTable {
        let resources = resources
            .iter()
            .map(|p| format!(r#"{{ path = "{p}", methods = ["GET"] }}"#))
            .collect::<Vec<_>>()
            .join(", ");
        let toml = format!(
            r#"
[[apis]]
name = "Orders"
base_path = "/orders"
upstream = "http://127.0.0.1:1"
allow_anonymous = true
resources = [{resources}]
"#
        );
        RouteTable::new(&Config::from_toml(&toml, &|_: &str| None).unwrap())
    }

    fn resource(t: &RouteTable, path: &str) -> Result<usize, GatewayError> {
        route(t, &Method::GET, &Uri::try_from(path).unwrap()).map(|m| m.resource)
    }

    #[test]
    fn the_most_specific_resource_wins_whatever_the_configuration_order() {
        for (resources, secret, param, rest) in [
            (["/h/{id}", "/h/secret", "/h/*"], 1, 0, 2),
            (["/h/secret", "/h/*", "/h/{id}"], 0, 2, 1),
            (["/h/*", "/h/{id}", "/h/secret"], 2, 1, 0),
        ] {
            let t = table(&resources);
            assert_eq!(resource(&t, "/orders/h/secret").unwrap(), secret);
            assert_eq!(resource(&t, "/orders/h/other").unwrap(), param);
            assert_eq!(resource(&t, "/orders/h/other/x").unwrap(), rest);
            assert_eq!(resource(&t, "/orders/h/secret/x").unwrap(), rest);
        }
    }

    #[test]
    fn a_spelling_that_an_upstream_reads_as_another_resource_is_refused() {
        let t = table(&["/h/{id}", "/h/secret"]);
        for path in [
            "/orders/h/s%65cret",
            "/orders/h/SECRET",
            "/orders/h/secret/",
            "/orders/h/secret.",
            "/orders/h/secret%20",
            "/orders/h/%C5%BFecret",
            "/orders/h/%EF%BD%93%EF%BD%85%EF%BD%83%EF%BD%92%EF%BD%85%EF%BD%94",
            "/orders/H/other",
            "/Orders/h/other",
            "/orders/h/other/",
        ] {
            assert!(
                matches!(resource(&t, path), Err(GatewayError::InvalidRequest(_))),
                "{path}"
            );
        }
        assert!(matches!(
            resource(&t, "/orders/h/secret/x"),
            Err(GatewayError::NotFound)
        ));
    }

    #[test]
    fn head_is_allowed_wherever_get_is() {
        let t = table(&["/h/{id}"]);
        let head = route(&t, &Method::HEAD, &Uri::from_static("/orders/h/1")).unwrap();
        assert_eq!(t.rule(&head).method, Method::GET);
        assert!(matches!(
            route(&t, &Method::POST, &Uri::from_static("/orders/h/1")),
            Err(GatewayError::MethodNotAllowed)
        ));
    }
}
