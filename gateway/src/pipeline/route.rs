//! Step 1, route: which API, resource and method a request is for. Paths that are not in
//! canonical form (dot segments, `//`, `;`, encoded slashes or dots, backslashes) are refused
//! before matching, so a path trick cannot reach a resource through a different mapping.

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
}

#[derive(Debug)]
struct RouteResource {
    segments: Vec<Segment>,
    methods: Vec<MethodRule>,
}

#[derive(Debug)]
struct RouteApi {
    base_path: String,
    resources: Vec<RouteResource>,
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
                base_path: a.base_path.clone(),
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
        let mut order: Vec<usize> = (0..apis.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(apis[i].base_path.len()));
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
    if !path.starts_with('/') || path.contains("//") || path.contains(['\\', ';']) {
        return false;
    }
    if path.split('/').any(|s| s == "." || s == "..") {
        return false;
    }
    // Encoded '/', '\', '.' and '%' itself (double encoding) are refused.
    let b = path.as_bytes();
    let mut i = 0;
    while let Some(p) = b[i..].iter().position(|c| *c == b'%') {
        let at = i + p;
        let hex = b.get(at + 1..at + 3);
        match hex {
            Some([a, c]) => {
                let pair = [a.to_ascii_lowercase(), c.to_ascii_lowercase()];
                if matches!(&pair, b"2f" | b"5c" | b"2e" | b"25") {
                    return false;
                }
            }
            _ => return false,
        }
        i = at + 1;
    }
    true
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
        let base = a.base_path.as_str();
        let rest_start = if base == "/" {
            0
        } else if path.starts_with(base)
            && (path.len() == base.len() || path.as_bytes()[base.len()] == b'/')
        {
            base.len()
        } else {
            continue;
        };
        let rest = &path[rest_start..];
        for (ri, r) in a.resources.iter().enumerate() {
            if matches(&r.segments, rest) {
                return match r.methods.iter().position(|m| m.method == *method) {
                    Some(mi) => Ok(RouteMatch {
                        api,
                        resource: ri,
                        method: mi,
                        rest_start,
                    }),
                    None => Err(GatewayError::MethodNotAllowed),
                };
            }
        }
        return Err(GatewayError::NotFound);
    }
    Err(GatewayError::NotFound)
}

fn matches(pattern: &[Segment], rest: &str) -> bool {
    if rest.is_empty() || rest == "/" {
        return pattern.is_empty();
    }
    let mut parts = rest[1..].split('/');
    for seg in pattern {
        match seg {
            Segment::Rest => return true,
            Segment::Param => match parts.next() {
                Some(p) if !p.is_empty() => {}
                _ => return false,
            },
            Segment::Literal(l) => match parts.next() {
                Some(p) if p == l => {}
                _ => return false,
            },
        }
    }
    parts.next().is_none()
}

/// The route step as a tower layer: records the [`RouteMatch`] for the next steps.
pub async fn layer(
    axum::extract::State(p): axum::extract::State<std::sync::Arc<super::Pipeline>>,
    mut req: http::Request<axum::body::Body>,
    next: axum::middleware::Next,
) -> axum::response::Response {
    match route(&p.routes, req.method(), req.uri()) {
        Ok(m) => {
            req.extensions_mut().insert(m);
            next.run(req).await
        }
        Err(e) => p.refuse(req.extensions(), e),
    }
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
        ] {
            assert!(!is_canonical(p), "{p}");
        }
        for p in ["/beds", "/beds/hospitals/h1/wards", "/beds/a%20b"] {
            assert!(is_canonical(p), "{p}");
        }
    }

    #[test]
    fn patterns_match_segments_exactly() {
        let pat = vec![
            Segment::Literal("hospitals".into()),
            Segment::Param,
            Segment::Literal("wards".into()),
        ];
        assert!(matches(&pat, "/hospitals/h1/wards"));
        assert!(!matches(&pat, "/hospitals/h1/wards/"));
        assert!(!matches(&pat, "/hospitals//wards"));
        assert!(!matches(&pat, "/Hospitals/h1/wards"));
        let rest = vec![Segment::Literal("a".into()), Segment::Rest];
        assert!(matches(&rest, "/a/b/c"));
        assert!(!matches(&[], "/x"));
        assert!(matches(&[], "/"));
    }
}
