//! Getting an authorization code without a person: the server's HTML login
//! and consent forms (the mock, oidc-provider's dev interactions), or Okta's
//! `/api/v1/authn` + `sessionToken` (docs/okta-behaviour.md §11). Redirects are
//! followed by hand, only on the authorization server's origin, and never to
//! the client's `redirect_uri`: the flow stops at the first redirect aimed at it.

use std::collections::BTreeMap;

use serde_json::json;

use crate::checks::{Ctx, UserTokens};
use crate::http::{Exchange, Req};
use crate::jwt;
use crate::target::{Client, LoginMethod};

/// A minimal cookie jar (name/value per host; no paths or expiry).
#[derive(Debug, Default, Clone)]
pub struct Jar {
    cookies: Vec<(String, String, String)>,
}

fn host_of(u: &str) -> String {
    url::Url::parse(u)
        .ok()
        .and_then(|u| {
            u.host_str()
                .map(|h| format!("{h}:{}", u.port_or_known_default().unwrap_or(0)))
        })
        .unwrap_or_default()
}

impl Jar {
    /// The `Cookie` header for `url`.
    pub fn header_for(&self, url: &str) -> Option<String> {
        let h = host_of(url);
        let v: Vec<String> = self
            .cookies
            .iter()
            .filter(|(host, _, _)| *host == h)
            .map(|(_, n, v)| format!("{n}={v}"))
            .collect();
        (!v.is_empty()).then(|| v.join("; "))
    }

    /// Stores the `Set-Cookie`s of a response to `url`.
    pub fn store(&mut self, ex: &Exchange) {
        let h = host_of(&ex.req.url);
        for sc in ex.header_all("set-cookie") {
            let pair = sc.split(';').next().unwrap_or("");
            let Some((n, v)) = pair.split_once('=') else {
                continue;
            };
            let (n, v) = (n.trim().to_owned(), v.trim().to_owned());
            let expired = sc.to_ascii_lowercase().contains("max-age=0")
                || sc.to_ascii_lowercase().contains("expires=thu, 01 jan 1970");
            self.cookies
                .retain(|(host, name, _)| !(*host == h && *name == n));
            if !expired && !v.is_empty() {
                self.cookies.push((h.clone(), n, v));
            }
        }
    }

    /// Forgets every cookie (a fresh browser).
    pub fn clear(&mut self) {
        self.cookies.clear();
    }
}

/// What happened at the authorization endpoint.
#[derive(Debug, Clone, Default)]
pub struct AuthzResult {
    /// Every exchange, in order (authn call, authorize, login pages, …).
    pub steps: Vec<Exchange>,
    /// The redirect aimed at `redirect_uri`, if one came.
    pub redirect: Option<String>,
    /// Its parameters (query and fragment).
    pub params: BTreeMap<String, String>,
    /// Why the driver stopped without reaching `redirect_uri`.
    pub stopped: Option<String>,
    /// The response came as an auto-submitting form aimed at `redirect_uri` (form_post).
    pub form_post: bool,
}

impl AuthzResult {
    /// The last exchange.
    pub fn last(&self) -> Option<&Exchange> {
        self.steps.last()
    }

    /// The exchange with the authorization endpoint (the first after any authn call).
    pub fn first_authorize(&self) -> Option<&Exchange> {
        self.steps
            .iter()
            .find(|e| !e.req.url.contains("/api/v1/authn"))
    }

    /// A callback parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

/// Options for one authorization request.
#[derive(Debug, Clone)]
pub struct FlowOpts {
    /// `S256`, `plain`, or `None` for no PKCE.
    pub pkce: Option<&'static str>,
    pub state: bool,
    pub nonce: bool,
    /// Scope (the web client's otherwise).
    pub scope: Option<String>,
    /// Extra parameters: each replaces a parameter of the same name (or is appended).
    pub extra: Vec<(String, String)>,
    /// Parameters appended even when the name is already present (repeated-parameter checks).
    pub dup: Vec<(String, String)>,
    /// Parameters to leave out (e.g. `response_type`).
    pub omit: Vec<&'static str>,
    /// Override `redirect_uri` (negative checks).
    pub redirect_uri: Option<String>,
    /// Override `client_id`.
    pub client_id: Option<String>,
    /// Log in (form / authn). `false` sends the request and stops.
    pub login: bool,
    /// Send the request as a POST form.
    pub post: bool,
    /// Start with an empty cookie jar.
    pub fresh_session: bool,
    /// The user cancels at the login page (a cancel/deny button or an abort link).
    pub cancel: bool,
}

impl Default for FlowOpts {
    fn default() -> Self {
        Self {
            pkce: Some("S256"),
            state: true,
            nonce: true,
            scope: None,
            extra: Vec::new(),
            dup: Vec::new(),
            omit: Vec::new(),
            redirect_uri: None,
            client_id: None,
            login: true,
            post: false,
            fresh_session: false,
            cancel: false,
        }
    }
}

/// One authorization request and its secrets.
#[derive(Debug, Clone)]
pub struct Flow {
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub verifier: Option<String>,
    pub redirect_uri: String,
    pub result: AuthzResult,
}

impl Flow {
    /// The authorization code, if the flow got one.
    pub fn code(&self) -> Option<&str> {
        self.result.param("code")
    }
}

/// The public client and the options for its authorization requests.
pub fn public_flow(cx: &Ctx) -> Option<(Client, FlowOpts)> {
    let public = cx.target.clients.public.clone()?;
    if !can_login(cx) {
        return None;
    }
    let opts = FlowOpts {
        client_id: Some(public.client_id.clone()),
        redirect_uri: public.redirect_uri.clone(),
        scope: public.scope.clone(),
        ..FlowOpts::default()
    };
    Some((public, opts))
}

/// True when the target can log a user in headlessly.
pub fn can_login(cx: &Ctx) -> bool {
    cx.target
        .user
        .as_ref()
        .is_some_and(|u| u.login != LoginMethod::None)
        && cx.web().is_some()
}

/// Sends an authorization request for the web client and, when `opts.login`,
/// drives the login until the redirect to `redirect_uri`.
pub async fn run_flow(cx: &mut Ctx, opts: &FlowOpts) -> Option<Flow> {
    let client = cx.web()?;
    let endpoint = cx.meta_str("authorization_endpoint").await?;
    let registered = client.redirect_uri.clone().unwrap_or_default();
    let redirect_uri = opts
        .redirect_uri
        .clone()
        .unwrap_or_else(|| registered.clone());
    let state = opts.state.then(|| jwt::random(16));
    let nonce = opts.nonce.then(|| jwt::random(16));
    let verifier = opts.pkce.map(|_| jwt::random(32));
    let scope = opts
        .scope
        .clone()
        .or_else(|| client.scope.clone())
        .unwrap_or_else(|| "openid".into());
    let mut params: Vec<(String, String)> = vec![
        (
            "client_id".into(),
            opts.client_id.clone().unwrap_or(client.client_id.clone()),
        ),
        ("response_type".into(), "code".into()),
        ("scope".into(), scope),
        ("redirect_uri".into(), redirect_uri.clone()),
    ];
    if let Some(s) = &state {
        params.push(("state".into(), s.clone()));
    }
    if let Some(n) = &nonce {
        params.push(("nonce".into(), n.clone()));
    }
    if let (Some(m), Some(v)) = (opts.pkce, &verifier) {
        let ch = if m == "plain" {
            v.clone()
        } else {
            jwt::s256(v)
        };
        params.push(("code_challenge".into(), ch));
        params.push(("code_challenge_method".into(), m.into()));
    }
    if let Some(r) = &client.resource {
        params.push(("resource".into(), r.clone()));
    }
    for (k, v) in &client.authorize_params {
        params.push((k.clone(), v.clone()));
    }
    params.retain(|(k, _)| !opts.omit.contains(&k.as_str()));
    for (k, v) in &opts.extra {
        params.retain(|(n, _)| n != k);
        params.push((k.clone(), v.clone()));
    }
    params.extend(opts.dup.iter().cloned());
    if opts.fresh_session {
        cx.jar.clear();
    }
    let result = authorize(cx, &endpoint, params, &registered, opts).await;
    Some(Flow {
        state,
        nonce,
        verifier,
        redirect_uri,
        result,
    })
}

async fn authorize(
    cx: &mut Ctx,
    endpoint: &str,
    mut params: Vec<(String, String)>,
    registered_redirect: &str,
    opts: &FlowOpts,
) -> AuthzResult {
    let mut out = AuthzResult::default();
    let user = cx.target.user.clone();
    let method = user.as_ref().map(|u| u.login).unwrap_or_default();
    if opts.login
        && method == LoginMethod::OktaAuthn
        && let Some(u) = &user
    {
        let origin = origin_of(endpoint);
        let body = json!({
            "username": u.username,
            "password": u.password,
            "options": {"multiOptionalFactorEnroll": false, "warnBeforePasswordExpired": false}
        });
        let ex = cx
            .http
            .send(
                Req::new("POST", format!("{origin}/api/v1/authn"))
                    .header("Accept", "application/json")
                    .body("application/json", body.to_string()),
            )
            .await;
        let token = ex.str_field("sessionToken");
        out.steps.push(ex);
        match token {
            Some(t) => params.push(("sessionToken".into(), t)),
            None => {
                out.stopped = Some("/api/v1/authn returned no sessionToken".into());
                return out;
            }
        }
    }
    let pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut req = if opts.post {
        Req::post_form(endpoint, &pairs)
    } else {
        Req::get(endpoint).query(&pairs)
    };
    let redirect_target = opts
        .redirect_uri
        .clone()
        .unwrap_or_else(|| registered_redirect.to_owned());
    let mut forms_submitted = 0;
    for _ in 0..20 {
        if let Some(c) = cx.jar.header_for(&req.url) {
            req = req.header("Cookie", c);
        }
        let ex = cx.http.send(req.clone()).await;
        cx.jar.store(&ex);
        out.steps.push(ex.clone());
        if ex.is_redirect() {
            let Some(loc) = ex.location().map(|l| resolve(&ex.req.url, l)) else {
                out.stopped = Some("redirect without Location".into());
                return out;
            };
            if aimed_at(&loc, &redirect_target)
                || (!redirect_target.is_empty() && aimed_at(&loc, registered_redirect))
            {
                out.params = callback_params(&loc);
                out.redirect = Some(loc);
                return out;
            }
            if !opts.login {
                out.stopped = Some(format!("redirect to {loc} (not followed)"));
                return out;
            }
            if origin_of(&loc) != origin_of(endpoint) {
                out.stopped = Some(format!("redirect off the authorization server to {loc}"));
                return out;
            }
            req = Req::get(loc);
            continue;
        }
        if !opts.login {
            out.stopped = Some(format!("status {} (no redirect)", ex.status));
            return out;
        }
        if ex.status == 200
            && forms_submitted < 6
            && let Some(form) = parse_forms(&ex.body).into_iter().next()
        {
            let target = resolve(&ex.req.url, &form.action);
            if aimed_at(&target, &redirect_target) || aimed_at(&target, registered_redirect) {
                // response_mode=form_post: the parameters are the form's fields.
                out.params = form
                    .inputs
                    .iter()
                    .filter(|(n, _, _)| !n.is_empty())
                    .map(|(n, _, v)| (n.clone(), v.clone()))
                    .collect();
                out.redirect = Some(target);
                out.form_post = true;
                return out;
            }
            let (user_name, password) = user
                .as_ref()
                .map(|u| (u.username.clone(), u.password.clone()))
                .unwrap_or_default();
            if opts.cancel {
                // The user cancels: a cancel/deny/abort button of the form, else an abort link.
                let is_cancel = |v: &str| {
                    let v = v.to_ascii_lowercase();
                    v.contains("cancel") || v.contains("deny") || v.contains("abort")
                };
                if let Some((n, _, v)) = form.inputs.iter().find(|(n, t, v)| {
                    (t == "submit" || t == "button") && !n.is_empty() && is_cancel(v)
                }) {
                    let mut fields: Vec<(String, String)> = form
                        .inputs
                        .iter()
                        .filter(|(n, t, _)| t == "hidden" && !n.is_empty())
                        .map(|(n, _, v)| (n.clone(), v.clone()))
                        .collect();
                    fields.push((n.clone(), v.clone()));
                    let pairs: Vec<(&str, &str)> = fields
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect();
                    let action = resolve(
                        &ex.req.url,
                        if form.action.is_empty() {
                            &ex.req.url
                        } else {
                            &form.action
                        },
                    );
                    req = Req::post_form(action, &pairs);
                    forms_submitted += 1;
                    continue;
                }
                if let Some(href) = abort_link(&ex.body) {
                    req = Req::get(resolve(&ex.req.url, &href));
                    forms_submitted += 1;
                    continue;
                }
                out.stopped = Some("no cancel button or abort link on the login page".into());
                return out;
            }
            let fields = form.fill(&user_name, &password);
            let action = resolve(
                &ex.req.url,
                if form.action.is_empty() {
                    &ex.req.url
                } else {
                    &form.action
                },
            );
            let pairs: Vec<(&str, &str)> = fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            req = if form.method.eq_ignore_ascii_case("get") {
                Req::get(action).query(&pairs)
            } else {
                Req::post_form(action, &pairs)
            };
            forms_submitted += 1;
            continue;
        }
        out.stopped = Some(format!(
            "stopped at status {} without a redirect to the client",
            ex.status
        ));
        return out;
    }
    out.stopped = Some("too many steps".into());
    out
}

/// Redeems `flow`'s code at the token endpoint with `client` (the web client
/// when `None`), with `edit` applied to the parameters.
pub async fn redeem(
    cx: &mut Ctx,
    flow: &Flow,
    client: Option<&Client>,
    edit: impl FnOnce(&mut Vec<(String, String)>),
) -> Option<Exchange> {
    let client = match client {
        Some(c) => c.clone(),
        None => cx.web()?,
    };
    let mut p: Vec<(String, String)> = vec![
        ("grant_type".into(), "authorization_code".into()),
        ("code".into(), flow.code()?.to_owned()),
        ("redirect_uri".into(), flow.redirect_uri.clone()),
    ];
    if let Some(v) = &flow.verifier {
        p.push(("code_verifier".into(), v.clone()));
    }
    if let Some(r) = &client.resource {
        p.push(("resource".into(), r.clone()));
    }
    edit(&mut p);
    let pairs: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Some(cx.token_request(&client, &pairs).await)
}

/// One complete, successful code flow (the shared tokens of the user areas).
pub async fn code_flow_tokens(cx: &mut Ctx) -> Option<UserTokens> {
    if !can_login(cx) {
        return None;
    }
    let flow = run_flow(cx, &FlowOpts::default()).await?;
    let ex = redeem(cx, &flow, None, |_| {}).await?;
    Some(UserTokens {
        access_token: ex.str_field("access_token"),
        id_token: ex.str_field("id_token"),
        refresh_token: ex.str_field("refresh_token"),
        scope: ex.str_field("scope"),
        nonce: flow.nonce.clone(),
        exchange: Some(ex),
    })
}

/// `scheme://host:port` of a URL.
pub fn origin_of(u: &str) -> String {
    url::Url::parse(u)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default()
}

/// Resolves a possibly relative `Location` against the request URL.
pub fn resolve(base: &str, loc: &str) -> String {
    url::Url::parse(base)
        .and_then(|b| b.join(loc))
        .map(|u| u.to_string())
        .unwrap_or_else(|_| loc.to_owned())
}

/// True when `loc` is `redirect_uri` itself plus only a query or fragment.
pub fn aimed_at(loc: &str, redirect_uri: &str) -> bool {
    if redirect_uri.is_empty() {
        return false;
    }
    let base = |s: &str| s.split(['?', '#']).next().unwrap_or("").to_owned();
    base(loc) == base(redirect_uri)
}

/// The parameters of a callback URL (query, then fragment).
pub fn callback_params(loc: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Ok(u) = url::Url::parse(loc) {
        for (k, v) in u.query_pairs() {
            out.insert(k.into_owned(), v.into_owned());
        }
        if let Some(f) = u.fragment() {
            for (k, v) in url::form_urlencoded::parse(f.as_bytes()) {
                out.insert(k.into_owned(), v.into_owned());
            }
        }
    }
    out
}

/// An HTML form, as far as a login driver needs it.
#[derive(Debug, Clone, Default)]
pub struct Form {
    pub action: String,
    pub method: String,
    /// (name, type, value)
    pub inputs: Vec<(String, String, String)>,
}

impl Form {
    /// The fields to submit: hidden values kept, the username and password filled in.
    pub fn fill(&self, username: &str, password: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut button_done = false;
        for (name, ty, value) in &self.inputs {
            if name.is_empty() {
                continue;
            }
            let lname = name.to_ascii_lowercase();
            let v = match ty.as_str() {
                "password" => password.to_owned(),
                "submit" | "button" => {
                    if button_done {
                        continue;
                    }
                    button_done = true;
                    value.clone()
                }
                "checkbox" | "radio" => continue,
                "hidden" => value.clone(),
                _ if [
                    "username",
                    "login",
                    "identifier",
                    "email",
                    "user",
                    "loginhint",
                ]
                .contains(&lname.as_str()) =>
                {
                    username.to_owned()
                }
                _ => value.clone(),
            };
            out.push((name.clone(), v));
        }
        out
    }
}

/// Finds the forms in an HTML page (no scripts run, no CSS: just tags).
pub fn parse_forms(html: &str) -> Vec<Form> {
    let lower = html.to_ascii_lowercase();
    let mut forms = Vec::new();
    let mut pos = 0;
    while let Some(i) = lower[pos..].find("<form") {
        let start = pos + i;
        let Some(tag_end) = lower[start..].find('>').map(|e| start + e) else {
            break;
        };
        let attrs = attributes(&html[start + 5..tag_end]);
        let end = lower[tag_end..]
            .find("</form")
            .map_or(html.len(), |e| tag_end + e);
        let body = &html[tag_end..end];
        let lbody = &lower[tag_end..end];
        let mut form = Form {
            action: attr(&attrs, "action"),
            method: {
                let m = attr(&attrs, "method");
                if m.is_empty() { "get".into() } else { m }
            },
            inputs: Vec::new(),
        };
        let mut p = 0;
        while let Some(j) = find_tag(&lbody[p..]) {
            let (tagname, s) = j;
            let s = p + s;
            let Some(e) = lbody[s..].find('>').map(|e| s + e) else {
                break;
            };
            let a = attributes(&body[s + tagname.len() + 1..e]);
            let ty = if tagname == "button" {
                let t = attr(&a, "type");
                if t.is_empty() {
                    "submit".into()
                } else {
                    t.to_ascii_lowercase()
                }
            } else {
                let t = attr(&a, "type").to_ascii_lowercase();
                if t.is_empty() { "text".into() } else { t }
            };
            form.inputs.push((attr(&a, "name"), ty, attr(&a, "value")));
            p = e;
        }
        forms.push(form);
        pos = end;
    }
    forms
}

fn find_tag(lower: &str) -> Option<(&'static str, usize)> {
    let i = lower.find("<input");
    let b = lower.find("<button");
    match (i, b) {
        (Some(i), Some(b)) if b < i => Some(("<button", b)),
        (Some(i), _) => Some(("<input", i)),
        (None, Some(b)) => Some(("<button", b)),
        (None, None) => None,
    }
    .map(|(t, p)| (t.trim_start_matches('<'), p))
}

fn attr(attrs: &[(String, String)], name: &str) -> String {
    attrs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

fn attributes(s: &str) -> Vec<(String, String)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        let st = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'=' && b[i] != b'/' {
            i += 1;
        }
        if st == i {
            i += 1;
            continue;
        }
        let name = s[st..i].to_ascii_lowercase();
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < b.len() && b[i] == b'=' {
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                let q = b[i];
                i += 1;
                let vs = i;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
                value = s[vs..i].to_owned();
                i += 1;
            } else {
                let vs = i;
                while i < b.len() && !b[i].is_ascii_whitespace() {
                    i += 1;
                }
                value = s[vs..i].to_owned();
            }
        }
        out.push((name, decode_entities(&value)));
    }
    out
}

/// The first `<a href>` whose target or text says cancel / abort / deny.
fn abort_link(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let mut pos = 0;
    while let Some(i) = lower[pos..].find("<a ") {
        let start = pos + i;
        let tag_end = start + lower[start..].find('>')?;
        let close = lower[tag_end..]
            .find("</a>")
            .map_or(lower.len(), |c| tag_end + c);
        let attrs = attributes(&html[start + 2..tag_end]);
        let href = attr(&attrs, "href");
        let text = &lower[tag_end..close];
        let h = href.to_ascii_lowercase();
        if ["abort", "cancel", "deny"]
            .iter()
            .any(|w| h.contains(w) || text.contains(w))
            && !href.is_empty()
        {
            return Some(href);
        }
        pos = close;
    }
    None
}

/// Decodes the HTML entities that appear in attribute values.
pub fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match after.find(';') {
            Some(j) if j <= 8 => {
                let ent = &after[..j];
                let ch = match ent {
                    "amp" => Some('&'),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    e if e.starts_with("#x") || e.starts_with("#X") => {
                        u32::from_str_radix(&e[2..], 16)
                            .ok()
                            .and_then(char::from_u32)
                    }
                    e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
                    _ => None,
                };
                match ch {
                    Some(c) => {
                        out.push(c);
                        rest = &after[j + 1..];
                    }
                    None => {
                        out.push('&');
                        rest = after;
                    }
                }
            }
            _ => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// True when an HTML body contains something that would send the browser to
/// `uri` without the user: a form, meta refresh or script naming it (mode N).
pub fn body_targets(body: &str, uri: &str) -> bool {
    if uri.is_empty() {
        return false;
    }
    let decoded = decode_entities(body);
    let b = decoded.to_ascii_lowercase();
    let u = uri.to_ascii_lowercase();
    let enc = url::form_urlencoded::byte_serialize(uri.as_bytes())
        .collect::<String>()
        .to_ascii_lowercase();
    let mentions = b.contains(&u);
    let auto = b.contains("http-equiv=\"refresh\"") || b.contains("<script") || b.contains("<form");
    (mentions && auto)
        || parse_forms(&decoded)
            .iter()
            .any(|f| f.action.to_ascii_lowercase().starts_with(&u))
        || (b.contains("http-equiv") && (b.contains(&u) || b.contains(&enc)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_found_and_filled() {
        let html = r#"<html><form method="POST" action="/interaction/abc/login?x=1&amp;y=2">
          <input type="hidden" name="prompt" value="login"/>
          <input required type="text" name="login" placeholder="Enter any login">
          <input required type="password" name="password">
          <button type="submit" class="login">Sign-in</button></form></html>"#;
        let f = &parse_forms(html)[0];
        assert_eq!(f.action, "/interaction/abc/login?x=1&y=2");
        assert_eq!(f.method, "POST");
        let filled = f.fill("u", "p");
        assert!(filled.contains(&("prompt".into(), "login".into())));
        assert!(filled.contains(&("login".into(), "u".into())));
        assert!(filled.contains(&("password".into(), "p".into())));
    }

    #[test]
    fn aimed() {
        assert!(aimed_at("http://a/cb?code=1", "http://a/cb"));
        assert!(!aimed_at("http://a/cb2?code=1", "http://a/cb"));
        let p = callback_params("http://a/cb?code=1&state=s#x=2");
        assert_eq!(p.get("code").map(String::as_str), Some("1"));
        assert_eq!(p.get("x").map(String::as_str), Some("2"));
    }
}
