//! Raw HTTP exchanges: the request as sent (method, URL, headers, body) and the
//! response as received (status, headers, body). Redirects are never followed;
//! transport errors become an exchange with status 0, so a check can always
//! show its evidence.

use std::fmt::Write as _;
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

/// One request, built by a check exactly as it should go on the wire.
#[derive(Debug, Clone)]
pub struct Req {
    /// `GET`, `POST`, …
    pub method: String,
    /// Absolute URL, query included.
    pub url: String,
    /// Headers in order (names as given).
    pub headers: Vec<(String, String)>,
    /// Raw body.
    pub body: Option<String>,
}

impl Req {
    /// A request with no headers and no body.
    pub fn new(method: &str, url: impl Into<String>) -> Self {
        Self {
            method: method.to_owned(),
            url: url.into(),
            headers: Vec::new(),
            body: None,
        }
    }

    /// `GET url`.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new("GET", url)
    }

    /// `POST url` with an `application/x-www-form-urlencoded` body of `pairs`
    /// (repeated names are kept, which malformed-request checks rely on).
    pub fn post_form(url: impl Into<String>, pairs: &[(&str, &str)]) -> Self {
        Self::new("POST", url).form(pairs)
    }

    /// Sets a form body.
    #[must_use]
    pub fn form(self, pairs: &[(&str, &str)]) -> Self {
        let body = serde_urlencoded::to_string(pairs).unwrap_or_default();
        self.body("application/x-www-form-urlencoded", body)
    }

    /// Sets a raw body and its content type.
    #[must_use]
    pub fn body(mut self, content_type: &str, body: impl Into<String>) -> Self {
        self.headers
            .push(("Content-Type".to_owned(), content_type.to_owned()));
        self.body = Some(body.into());
        self
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// `Authorization: Basic` as RFC 6749 §2.3.1 defines it: id and secret
    /// form-urlencoded first, then base64.
    #[must_use]
    pub fn basic(self, id: &str, secret: &str) -> Self {
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let cred = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            enc(id),
            enc(secret)
        ));
        self.header("Authorization", format!("Basic {cred}"))
    }

    /// `Authorization: Bearer token`.
    #[must_use]
    pub fn bearer(self, token: &str) -> Self {
        self.header("Authorization", format!("Bearer {token}"))
    }

    /// Appends query parameters to the URL.
    #[must_use]
    pub fn query(mut self, pairs: &[(&str, &str)]) -> Self {
        let q = serde_urlencoded::to_string(pairs).unwrap_or_default();
        let sep = if self.url.contains('?') { '&' } else { '?' };
        self.url = format!("{}{sep}{q}", self.url);
        self
    }
}

/// A request and what came back.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The request as sent.
    pub req: Req,
    /// The status (0 when the request never got a response).
    pub status: u16,
    /// Response headers (lower-case names), in order.
    pub headers: Vec<(String, String)>,
    /// Response body as text (lossy UTF-8).
    pub body: String,
    /// Transport error, if any.
    pub error: Option<String>,
}

impl Exchange {
    /// The first value of a response header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a response header.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// The body's top-level member `name`, if the body is a JSON object.
    pub fn field(&self, name: &str) -> Option<Value> {
        self.json()?.get(name).cloned()
    }

    /// The body's string member `name`.
    pub fn str_field(&self, name: &str) -> Option<String> {
        self.field(name)?.as_str().map(str::to_owned)
    }

    /// The `error` member of a JSON error body.
    pub fn error_code(&self) -> Option<String> {
        self.str_field("error")
    }

    /// True when the media type is JSON (`application/json` or `+json`).
    pub fn is_json_content_type(&self) -> bool {
        self.header("content-type").is_some_and(|ct| {
            let mt = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            mt == "application/json" || mt.ends_with("+json")
        })
    }

    /// `Location`, if any.
    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }

    /// True for a 3xx.
    pub fn is_redirect(&self) -> bool {
        (300..400).contains(&self.status)
    }

    /// A compact, redacted rendering for reports: the request line, the
    /// status, the headers that matter and the start of the body.
    pub fn evidence(&self) -> String {
        let mut s = String::new();
        let _ = write!(s, "{} {}", self.req.method, redact_url(&self.req.url));
        for (n, v) in &self.req.headers {
            if n.eq_ignore_ascii_case("authorization") {
                let scheme = v.split(' ').next().unwrap_or("");
                let _ = write!(s, " [{n}: {scheme} …]");
            }
        }
        if let Some(b) = &self.req.body {
            let _ = write!(s, " body={}", truncate(&redact_form(b), 300));
        }
        if let Some(e) = &self.error {
            let _ = write!(s, " -> transport error: {e}");
            return s;
        }
        let _ = write!(s, " -> {}", self.status);
        for name in [
            "content-type",
            "www-authenticate",
            "cache-control",
            "location",
        ] {
            if let Some(v) = self.header(name) {
                let _ = write!(s, " [{name}: {}]", truncate(v, 200));
            }
        }
        if !self.body.is_empty() {
            let _ = write!(s, " body={}", truncate(&redact_tokens(&self.body), 400));
        }
        s
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.replace('\n', " ")
    } else {
        let t: String = s.chars().take(max).collect();
        format!("{}…", t.replace('\n', " "))
    }
}

const SECRET_FIELDS: &[&str] = &["client_secret", "password", "sessionToken"];
/// Shortened, not hidden: the start is enough to tell tokens apart in a report.
const TOKEN_FIELDS: &[&str] = &[
    "token",
    "refresh_token",
    "access_token",
    "id_token_hint",
    "code",
    "code_verifier",
    "request",
];

fn redact_form(body: &str) -> String {
    if body.trim_start().starts_with('{') {
        // JSON body (authn): hide the password member.
        if let Ok(mut v) = serde_json::from_str::<Value>(body) {
            if let Some(o) = v.as_object_mut() {
                for f in SECRET_FIELDS {
                    if o.contains_key(*f) {
                        o.insert((*f).to_owned(), Value::String("…".into()));
                    }
                }
            }
            return v.to_string();
        }
        return body.to_owned();
    }
    body.split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if SECRET_FIELDS.contains(&k) => format!("{k}=…"),
            Some((k, v)) if TOKEN_FIELDS.contains(&k) && v.len() > 16 => {
                format!("{k}={}…", &v[..12])
            }
            _ => kv.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Shortens token values in a JSON body (reports may end up in pull requests).
fn redact_tokens(body: &str) -> String {
    let Ok(mut v) = serde_json::from_str::<Value>(body) else {
        return body.to_owned();
    };
    let Some(o) = v.as_object_mut() else {
        return body.to_owned();
    };
    for f in [
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
        "registration_access_token",
    ] {
        if let Some(Value::String(t)) = o.get(f) {
            let short: String = t.chars().take(12).collect();
            o.insert(f.to_owned(), Value::String(format!("{short}…")));
        }
    }
    v.to_string()
}

fn redact_url(u: &str) -> String {
    match u.split_once('?') {
        Some((base, q)) => format!("{base}?{}", redact_form(q)),
        None => u.to_owned(),
    }
}

/// The HTTP client every check uses: no redirects, no cookies (the login
/// driver keeps its own jar), a timeout.
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
}

impl Http {
    /// A client that never follows redirects.
    pub fn new() -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(20))
            .user_agent("conformance/0.1")
            .build()?;
        Ok(Self { client })
    }

    /// Sends `req` and captures the exchange (never an `Err`).
    pub async fn send(&self, req: Req) -> Exchange {
        let method = match reqwest::Method::from_bytes(req.method.as_bytes()) {
            Ok(m) => m,
            Err(e) => return failed(req, e.to_string()),
        };
        let mut rb = self.client.request(method, &req.url);
        for (n, v) in &req.headers {
            rb = rb.header(n.as_str(), v.as_str());
        }
        if let Some(b) = &req.body {
            rb = rb.body(b.clone());
        }
        match rb.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let headers = resp
                    .headers()
                    .iter()
                    .map(|(n, v)| {
                        (
                            n.as_str().to_ascii_lowercase(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect();
                let body = match resp.bytes().await {
                    Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                    Err(e) => return failed(req, e.to_string()),
                };
                Exchange {
                    req,
                    status,
                    headers,
                    body,
                    error: None,
                }
            }
            Err(e) => failed(req, format!("{e:#}")),
        }
    }
}

fn failed(req: Req, error: String) -> Exchange {
    Exchange {
        req,
        status: 0,
        headers: Vec::new(),
        body: String::new(),
        error: Some(error),
    }
}

/// Parses `WWW-Authenticate` for one scheme strictly (RFC 6750 §3): returns the
/// scheme and its auth-params, or an error naming the syntax problem
/// (repeated parameter, unquoted value where a quoted string is needed, …).
pub fn parse_challenge(header: &str) -> Result<(String, Vec<(String, String)>), String> {
    let h = header.trim();
    let (scheme, rest) = match h.find(' ') {
        Some(i) => (&h[..i], h[i + 1..].trim()),
        None => (h, ""),
    };
    let mut params: Vec<(String, String)> = Vec::new();
    let b = rest.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i] == b' ' || b[i] == b',') {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let start = i;
        while i < b.len() && b[i] != b'=' && b[i] != b' ' && b[i] != b',' {
            i += 1;
        }
        let name = rest[start..i].to_ascii_lowercase();
        if i >= b.len() || b[i] != b'=' {
            return Err(format!("parameter `{name}` has no value"));
        }
        i += 1;
        let value = if i < b.len() && b[i] == b'"' {
            i += 1;
            let mut v = String::new();
            let mut closed = false;
            while i < b.len() {
                match b[i] {
                    b'\\' if i + 1 < b.len() => {
                        v.push(b[i + 1] as char);
                        i += 2;
                    }
                    b'"' => {
                        closed = true;
                        i += 1;
                        break;
                    }
                    c => {
                        v.push(c as char);
                        i += 1;
                    }
                }
            }
            if !closed {
                return Err(format!("unterminated quoted string for `{name}`"));
            }
            v
        } else {
            let start = i;
            while i < b.len() && b[i] != b',' {
                i += 1;
            }
            let v = rest[start..i].trim().to_owned();
            if ["realm", "scope", "error", "error_description", "error_uri"]
                .contains(&name.as_str())
            {
                return Err(format!("`{name}` is not a quoted string"));
            }
            v
        };
        if params.iter().any(|(n, _)| *n == name) {
            return Err(format!("`{name}` appears more than once"));
        }
        params.push((name, value));
    }
    Ok((scheme.to_owned(), params))
}

/// The value of `param` in a parsed challenge.
pub fn challenge_param<'a>(params: &'a [(String, String)], param: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == param)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_parsing() {
        let (s, p) = parse_challenge(
            r#"Bearer realm="api", error="invalid_token", error_description="x, y""#,
        )
        .unwrap();
        assert_eq!(s, "Bearer");
        assert_eq!(challenge_param(&p, "error"), Some("invalid_token"));
        assert_eq!(challenge_param(&p, "error_description"), Some("x, y"));
        assert!(parse_challenge(r#"Bearer error="a", error="b""#).is_err());
        assert!(parse_challenge("Bearer error=invalid_token").is_err());
        let (s, p) = parse_challenge("Bearer").unwrap();
        assert_eq!(s, "Bearer");
        assert!(p.is_empty());
    }

    #[test]
    fn basic_is_form_encoded() {
        let r = Req::get("http://x").basic("a b", "c:d");
        let v = &r.headers[0].1;
        let dec = base64::engine::general_purpose::STANDARD
            .decode(v.trim_start_matches("Basic "))
            .unwrap();
        assert_eq!(String::from_utf8(dec).unwrap(), "a+b:c%3Ad");
    }
}
