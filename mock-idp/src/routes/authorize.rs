//! `GET|POST {base}/v1/authorize`: the browser entry point of every user
//! flow (docs/okta-behaviour.md §6).
//!
//! An unknown client or a redirect URI that is not registered byte for byte
//! never redirects: an HTML error page (400) says why. Every other error is
//! sent back to the client in the requested response mode with `error`,
//! `error_description` and `state`. Users authenticate by an existing
//! session (`sid` cookie), an authn `sessionToken`, auto-login, or the login
//! page (routes/login.rs), which replays the request once they have logged in.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Server;
use crate::error::{OAuthError, OAuthErrorCode};
use crate::grants::user_tokens::{UserGrant, check_user_scopes, mint_user_tokens};
use crate::html;
use crate::state::{AppState, AuthServer, Client, User};
use crate::store::{AuthorizationCode, PendingLogin, Session};
use crate::tokens::split_scopes;

/// The browser-session cookie (Okta Classic's name).
pub const SESSION_COOKIE: &str = "sid";
/// The login form's anti-CSRF cookie.
pub const CSRF_COOKIE: &str = "mock_idp_csrf";
/// How long the login page stays usable.
const LOGIN_TTL: i64 = 600;

pub async fn authorize_get(
    State(state): State<AppState>,
    Server(server): Server,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if let Err(failed) = access_keys_ready(&server).await {
        return failed;
    }
    let params = parse_params(query.as_deref().unwrap_or_default().as_bytes());
    run(&state, &server, &headers, params, false, Authenticated::No)
}

/// Waits for the keys of the access tokens this flow may issue (implicit, or after the login
/// page), so that no handler blocks on a key being generated.
async fn access_keys_ready(server: &AuthServer) -> Result<(), Response> {
    server.access_token_keys().ready().await.map_err(|_| {
        html::error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "The server's signing key could not be generated.",
        )
    })
}

/// The POST form binding: the same parameters in an
/// `application/x-www-form-urlencoded` body, and no query string.
pub async fn authorize_post(
    State(state): State<AppState>,
    Server(server): Server,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    if let Err(failed) = access_keys_ready(&server).await {
        return failed;
    }
    if query.is_some_and(|q| !q.is_empty()) {
        return html::error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The authorize request sent by POST must carry its parameters in the body, not the query string.",
        );
    }
    if !is_form(&headers) {
        return html::error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The request must use Content-Type 'application/x-www-form-urlencoded'.",
        );
    }
    if body.len() > state.settings().max_body_bytes {
        return html::error_page(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            "The request body is too large.",
        );
    }
    run(
        &state,
        &server,
        &headers,
        parse_params(&body),
        false,
        Authenticated::No,
    )
}

pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

pub fn parse_params(raw: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// How the user got here.
#[derive(Debug)]
pub enum Authenticated {
    /// A plain authorize request: use the session, sessionToken or login page.
    No,
    /// The login page just verified this user's password (a new session).
    Fresh { user: Arc<User>, sid: String },
    /// The user pressed Cancel on the login page.
    Cancelled,
}

/// Where and how responses go, once the client and redirect URI are trusted.
#[derive(Debug, Clone)]
pub struct Reply {
    pub redirect_uri: String,
    pub mode: ResponseMode,
    pub state: Option<String>,
    /// 302 from /authorize, 303 after the login form's POST.
    pub status: StatusCode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    Query,
    Fragment,
    FormPost,
    /// Okta's: a page that posts the response to the opening window (okta-auth-js's silent
    /// renew in an iframe, and its popup login).
    OktaPostMessage,
}

impl Reply {
    /// Sends `params` (plus `state`) to the client.
    pub fn send(&self, mut params: Vec<(&'static str, String)>) -> Response {
        if let Some(state) = &self.state {
            params.push(("state", state.clone()));
        }
        match self.mode {
            ResponseMode::FormPost => html::form_post(&self.redirect_uri, &params),
            ResponseMode::OktaPostMessage => {
                html::okta_post_message(&web_origin(&self.redirect_uri), &params)
            }
            ResponseMode::Query | ResponseMode::Fragment => {
                let location = match self.mode {
                    ResponseMode::Query => {
                        let mut url = url::Url::parse(&self.redirect_uri)
                            .unwrap_or_else(|_| unreachable!("registered URIs are absolute"));
                        url.query_pairs_mut().extend_pairs(params.iter());
                        url.to_string()
                    }
                    _ => {
                        let encoded = url::form_urlencoded::Serializer::new(String::new())
                            .extend_pairs(params.iter())
                            .finish();
                        format!("{}#{encoded}", self.redirect_uri)
                    }
                };
                let mut response = self.status.into_response();
                let headers = response.headers_mut();
                if let Ok(value) = HeaderValue::from_str(&location) {
                    headers.insert(header::LOCATION, value);
                }
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                headers.insert(
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("no-referrer"),
                );
                response
            }
        }
    }

    pub fn error(&self, error: &OAuthError) -> Response {
        self.send(vec![
            ("error", error.code.as_str().to_owned()),
            ("error_description", error.description.to_string()),
        ])
    }
}

/// The origin of `uri` as `postMessage` names it (`null` for a non-web scheme).
fn web_origin(uri: &str) -> String {
    url::Url::parse(uri).map_or_else(|_| "null".to_owned(), |u| u.origin().ascii_serialization())
}

/// A validated authorize request.
#[derive(Debug)]
pub(crate) struct Request {
    client: Arc<Client>,
    reply: Reply,
    code: bool,
    token: bool,
    id_token: bool,
    scopes: Vec<String>,
    nonce: Option<String>,
    prompt_none: bool,
    prompt_login: bool,
    max_age: Option<i64>,
    code_challenge: Option<String>,
    session_token: Option<String>,
    id_token_hint: Option<String>,
    login_hint: Option<String>,
    lifetime: u64,
    /// The `acr_values` entry this login satisfies.
    acr: Option<String>,
}

/// How long a pushed request's `request_uri` stays usable.
pub const PUSHED_REQUEST_TTL: i64 = 60;

/// The parameters a `request_uri` stands for (RFC 9126 §4: only those, plus the
/// `client_id`, which must match). Unknown, used, expired, or another client's:
/// an error page, since its redirect URI cannot be trusted.
fn resolve_pushed(
    state: &AppState,
    server: &AuthServer,
    params: &[(String, String)],
) -> Result<Vec<(String, String)>, &'static str> {
    let get = |name: &str| {
        let mut values = params.iter().filter(|(n, _)| n == name);
        match (values.next(), values.next()) {
            (Some((_, value)), None) => Some(value.as_str()),
            _ => None,
        }
    };
    let (Some(uri), Some(client_id)) = (get("request_uri"), get("client_id")) else {
        return Err(
            "A 'request_uri' needs exactly one 'request_uri' and one 'client_id' parameter.",
        );
    };
    let now = state.clock.now();
    state
        .store
        .take_pushed_request(uri, &server.issuer, client_id, now)
        .map(|pushed| pushed.params)
        .ok_or("The 'request_uri' is invalid, has expired or was already used.")
}

/// Validates, authenticates and answers an authorize request. `pushed`: the
/// parameters already came from a pushed request (a replay after the login page).
pub fn run(
    state: &AppState,
    server: &Arc<AuthServer>,
    headers: &HeaderMap,
    params: Vec<(String, String)>,
    pushed: bool,
    authenticated: Authenticated,
) -> Response {
    let status = match authenticated {
        Authenticated::No => StatusCode::FOUND,
        _ => StatusCode::SEE_OTHER,
    };
    let (params, pushed) = if !pushed && params.iter().any(|(n, _)| n == "request_uri") {
        match resolve_pushed(state, server, &params) {
            Ok(params) => (params, true),
            Err(description) => {
                return html::error_page(StatusCode::BAD_REQUEST, "invalid_request", description);
            }
        }
    } else {
        (params, pushed)
    };
    let request = match validate(server, state, &params, pushed, status) {
        Ok(request) => request,
        Err(Rejected::Page(error)) => {
            return html::error_page(error.status, error.code.as_str(), &error.description);
        }
        Err(Rejected::Redirect(reply, error)) => return reply.error(&error),
    };
    let now = state.clock.now();
    let (user, auth_time, new_cookie) = match authenticated {
        Authenticated::Cancelled => {
            return request.reply.error(&OAuthError::new(
                OAuthErrorCode::AccessDenied,
                "The resource owner or authorization server denied the request.",
            ));
        }
        Authenticated::Fresh { user, sid } => (user, now, Some(sid)),
        Authenticated::No => match authenticate(state, headers, &request, now) {
            Some(found) => found,
            None if request.prompt_none => {
                return request.reply.error(&OAuthError::new(
                    OAuthErrorCode::LoginRequired,
                    "The client specified not to prompt, but the user is not logged in.",
                ));
            }
            None => return login_page(state, server, &request, params, pushed, now),
        },
    };
    // Okta's "assigned users only": a user the application is not assigned to is refused.
    if !state.is_assigned(&request.client.client_id, &user) {
        return request.reply.error(&OAuthError::new(
            OAuthErrorCode::AccessDenied,
            "User is not assigned to the client application.",
        ));
    }
    let mut response = issue(state, server, &request, &user, auth_time, now);
    if let Some(sid) = new_cookie {
        set_session_cookie(state, &mut response, &sid);
    }
    response
}

pub(crate) enum Rejected {
    /// Untrusted client or redirect URI: an error page, never a redirect.
    Page(OAuthError),
    Redirect(Reply, OAuthError),
}

/// Checks an authorize request's parameters (`pushed`: they came through `/v1/par`).
pub(crate) fn validate(
    server: &AuthServer,
    state: &AppState,
    params: &[(String, String)],
    pushed: bool,
    status: StatusCode,
) -> Result<Request, Rejected> {
    let mut map: HashMap<&str, &str> = HashMap::new();
    let mut duplicated = false;
    for (name, value) in params {
        if value.is_empty() {
            continue;
        }
        if map.insert(name.as_str(), value.as_str()).is_some() {
            duplicated = true;
            if name == "client_id" || name == "redirect_uri" {
                return Err(Rejected::Page(OAuthError::invalid_request(format!(
                    "The '{name}' parameter was sent more than once."
                ))));
            }
        }
    }
    let get = |name: &str| map.get(name).copied();
    let page = |d: &'static str| Rejected::Page(OAuthError::invalid_request(d));
    let client_id =
        get("client_id").ok_or_else(|| page("The 'client_id' parameter is required."))?;
    let client = state.client(client_id).ok_or_else(|| {
        Rejected::Page(
            OAuthError::invalid_client("Invalid value for 'client_id' parameter.")
                .with_status(StatusCode::BAD_REQUEST),
        )
    })?;
    let redirect_uri = get("redirect_uri").ok_or_else(|| {
        page(
            "The 'redirect_uri' parameter must be a Login redirect URI in the client app settings.",
        )
    })?;
    if !client.redirect_uris.iter().any(|r| r == redirect_uri) {
        return Err(page(
            "The 'redirect_uri' parameter must be a Login redirect URI in the client app settings.",
        ));
    }
    // From here on, errors go back to the client.
    let response_type = get("response_type");
    let types: Vec<&str> = response_type
        .map(|t| t.split(' ').filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    let code = types.contains(&"code");
    let token = types.contains(&"token");
    let id_token = types.contains(&"id_token");
    let default_mode = if token || id_token {
        ResponseMode::Fragment
    } else {
        ResponseMode::Query
    };
    let requested_mode = match get("response_mode") {
        None => Some(default_mode),
        Some("query") => Some(ResponseMode::Query),
        Some("fragment") => Some(ResponseMode::Fragment),
        Some("form_post") => Some(ResponseMode::FormPost),
        // Only to a web origin: a message is never addressed to "*".
        Some("okta_post_message") if web_origin(redirect_uri) != "null" => {
            Some(ResponseMode::OktaPostMessage)
        }
        Some(_) => None,
    };
    let mut reply = Reply {
        redirect_uri: redirect_uri.to_owned(),
        mode: requested_mode.unwrap_or(default_mode),
        state: get("state").map(str::to_owned),
        status,
    };
    let fail = |reply: &Reply, error: OAuthError| Err(Rejected::Redirect(reply.clone(), error));
    if client.require_pushed_authorization_requests && !pushed {
        return fail(
            &reply,
            OAuthError::invalid_request(
                "The client requires pushed authorization requests: send the request to the 'pushed_authorization_request_endpoint' and pass its 'request_uri'.",
            ),
        );
    }
    if duplicated {
        return fail(
            &reply,
            OAuthError::invalid_request(
                "The request contained multiple parameters with the same name.",
            ),
        );
    }
    if requested_mode.is_none() {
        return fail(
            &reply,
            OAuthError::new(
                OAuthErrorCode::UnsupportedResponseMode,
                "The response mode is not supported by the authorization server. Supported response modes: [query, fragment, form_post, okta_post_message].",
            ),
        );
    }
    let unsupported_type = || {
        OAuthError::new(
            OAuthErrorCode::UnsupportedResponseType,
            format!(
                "The response type is not supported by the authorization server. Configured response types: [{}].",
                client.response_types.join(", ")
            ),
        )
    };
    if response_type.is_none() {
        return fail(
            &reply,
            OAuthError::invalid_request("The 'response_type' parameter is required."),
        );
    }
    if types.is_empty()
        || types
            .iter()
            .any(|t| !matches!(*t, "code" | "token" | "id_token"))
        || types
            .iter()
            .any(|t| !client.response_types.iter().any(|r| r == t))
    {
        return fail(&reply, unsupported_type());
    }
    if reply.mode == ResponseMode::Query && (token || id_token) {
        return fail(
            &reply,
            OAuthError::invalid_request(
                "The 'query' response mode cannot be used with the 'id_token' or 'token' response types.",
            ),
        );
    }
    // Request objects (OIDC Core §6) are not supported: refuse them rather
    // than ignore parameters the client believes were sent.
    if get("request").is_some() {
        return fail(
            &reply,
            OAuthError::new(
                OAuthErrorCode::RequestNotSupported,
                "The 'request' parameter is not supported by this authorization server.",
            ),
        );
    }
    if get("request_uri").is_some() {
        return fail(
            &reply,
            OAuthError::new(
                OAuthErrorCode::RequestUriNotSupported,
                "The 'request_uri' parameter is not supported by this authorization server.",
            ),
        );
    }
    let grant = if token || id_token {
        "implicit"
    } else {
        "authorization_code"
    };
    for needed in [
        code.then_some("authorization_code"),
        (token || id_token).then_some("implicit"),
    ]
    .into_iter()
    .flatten()
    {
        if !client.allows_grant(needed) {
            return fail(
                &reply,
                OAuthError::new(
                    OAuthErrorCode::UnauthorizedClient,
                    format!(
                        "The client is not authorized to use the provided grant type. Configured grant types: [{}].",
                        client.grant_types.join(", ")
                    ),
                ),
            );
        }
    }
    if reply.state.is_none() {
        return fail(
            &reply,
            OAuthError::invalid_request("The 'state' parameter is required."),
        );
    }
    let mut scopes = get("scope").map(split_scopes).unwrap_or_default();
    if scopes.len() > 200 || get("scope").is_some_and(|s| s.len() > 1024) {
        return fail(
            &reply,
            OAuthError::invalid_scope("The 'scope' parameter is too long."),
        );
    }
    let lifetime = match check_user_scopes(server, &client, grant, &scopes) {
        Ok(lifetime) => lifetime,
        Err(error) => return fail(&reply, error),
    };
    if id_token && !scopes.iter().any(|s| s == "openid") {
        return fail(
            &reply,
            OAuthError::invalid_scope(
                "Requests for ID tokens or access tokens with OpenID scopes require the 'openid' scope.",
            ),
        );
    }
    // A refresh token only comes from the code flow.
    if !code {
        scopes.retain(|s| s != "offline_access");
    }
    let nonce = get("nonce").map(str::to_owned);
    if (token || id_token) && nonce.is_none() {
        return fail(
            &reply,
            OAuthError::invalid_request(
                "The 'nonce' parameter is required for authorize requests with either the 'id_token' or 'token' response types.",
            ),
        );
    }
    let prompts: Vec<&str> = get("prompt")
        .map(|p| p.split(' ').filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    if prompts
        .iter()
        .any(|p| !matches!(*p, "none" | "login" | "consent"))
        || (prompts.contains(&"none") && prompts.len() > 1)
    {
        return fail(
            &reply,
            OAuthError::invalid_request(
                "The 'prompt' parameter must be 'none', 'login', 'consent' or 'login consent'.",
            ),
        );
    }
    let max_age = match get("max_age").map(str::parse::<i64>) {
        None => None,
        Some(Ok(age)) if age >= 0 => Some(age),
        Some(_) => {
            return fail(
                &reply,
                OAuthError::invalid_request(
                    "The 'max_age' parameter must be a non-negative integer.",
                ),
            );
        }
    };
    let acr = match get("acr_values").map(satisfied_acr) {
        None | Some(Ok(None)) => None,
        Some(Ok(acr)) => acr,
        Some(Err(error)) => return fail(&reply, error),
    };
    let code_challenge = match (get("code_challenge"), get("code_challenge_method")) {
        (None, None) => None,
        (None, Some(_)) => {
            return fail(
                &reply,
                OAuthError::invalid_request("The required parameter 'code_challenge' is missing."),
            );
        }
        (Some(challenge), method) => {
            if method != Some("S256") {
                return fail(
                    &reply,
                    OAuthError::invalid_request(
                        "PKCE code challenge method is not supported. Valid values: [S256]",
                    ),
                );
            }
            if !crate::grants::authorization_code::is_valid_verifier(challenge) {
                return fail(
                    &reply,
                    OAuthError::invalid_request("PKCE code challenge contains illegal characters."),
                );
            }
            Some(challenge.to_owned())
        }
    };
    if code && code_challenge.is_none() && client.pkce_required {
        return fail(
            &reply,
            OAuthError::invalid_request(
                "PKCE code challenge is required when the token endpoint authentication method is 'NONE'.",
            ),
        );
    }
    // A code without PKCE must not be usable by a browser script: fine on
    // Okta too. Everything checks out.
    reply.mode = requested_mode.unwrap_or(default_mode);
    Ok(Request {
        client,
        reply,
        code,
        token,
        id_token,
        scopes,
        nonce,
        prompt_none: prompts.contains(&"none"),
        prompt_login: prompts.contains(&"login"),
        max_age,
        code_challenge,
        session_token: get("sessionToken").map(str::to_owned),
        id_token_hint: get("id_token_hint").map(str::to_owned),
        login_hint: get("login_hint").map(str::to_owned),
        lifetime,
        acr,
    })
}

/// Okta's authentication context classes: what a password login satisfies, and
/// what would need a second factor (the mock's users have none, so those cannot be met).
const ONE_FACTOR_ACRS: &[&str] = &[
    "urn:okta:loa:1fa:any",
    "urn:okta:loa:1fa:pwd",
    "urn:okta:loa:2fa:any:ifpossible",
];
const TWO_FACTOR_ACRS: &[&str] = &["urn:okta:loa:2fa:any", "phr", "phrh"];

/// The first `acr_values` entry a password login satisfies. Values that are not
/// Okta's are ignored (OIDC Core §3.1.2.1: acr_values are voluntary); a request
/// naming only Okta classes a password cannot meet is an error.
fn satisfied_acr(acr_values: &str) -> Result<Option<String>, OAuthError> {
    let known: Vec<&str> = acr_values
        .split(' ')
        .filter(|v| ONE_FACTOR_ACRS.contains(v) || TWO_FACTOR_ACRS.contains(v))
        .collect();
    if known.is_empty() {
        return Ok(None);
    }
    known
        .iter()
        .find(|v| ONE_FACTOR_ACRS.contains(v))
        .map(|v| Some((*v).to_owned()))
        .ok_or_else(|| {
            OAuthError::new(
                OAuthErrorCode::UnmetAuthenticationRequirements,
                "The requested authentication context needs a second factor, and this user has none enrolled.",
            )
        })
}

/// Finds who the user is without a login page: a sessionToken, the session
/// cookie (unless `prompt=login` or `max_age` asks for a fresh login), or
/// auto-login. Returns the user, auth_time and a new session id to set.
fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    request: &Request,
    now: i64,
) -> Option<(Arc<User>, i64, Option<String>)> {
    if let Some(token) = &request.session_token
        && let Some(user_id) = state.store.take_session_token(token, now)
        && let Some(user) = state.user_by_id(&user_id)
    {
        let sid = new_session(state, &user, now);
        return Some((user, now, Some(sid)));
    }
    if !request.prompt_login
        && let Some(sid) = cookie(headers, SESSION_COOKIE)
        && let Some(session) = state.store.session(sid, now)
        && request
            .max_age
            .is_none_or(|age| now - session.auth_time <= age)
        && let Some(user) = state.user_by_id(&session.user_id)
    {
        if request.prompt_none
            && let Some(hint) = &request.id_token_hint
            && hint_subject(state, &request.client, hint).is_some_and(|sub| sub != user.id)
        {
            return None;
        }
        return Some((user, session.auth_time, None));
    }
    if request.prompt_none {
        return None;
    }
    let auto = request
        .client
        .auto_login
        .as_deref()
        .or(state.settings().auto_login.as_deref())?;
    let user = state.user_by_login(auto)?;
    let sid = new_session(state, &user, now);
    Some((user, now, Some(sid)))
}

/// The `sub` of an ID token this server issued to `client` (expired is fine).
fn hint_subject(state: &AppState, client: &Client, hint: &str) -> Option<String> {
    state.servers().find_map(|server| {
        let claims = crate::tokens::verify_own_jwt(server, hint, i64::MIN, |_| false).ok()?;
        (claims.get("aud")?.as_str()? == client.client_id)
            .then(|| claims.get("sub")?.as_str().map(str::to_owned))?
    })
}

pub fn new_session(state: &AppState, user: &User, now: i64) -> String {
    let lifetime = i64::try_from(state.settings().session_lifetime).unwrap_or(7200);
    state.store.create_session(
        Session {
            user_id: user.id.clone(),
            auth_time: now,
            expires_at: now + lifetime,
        },
        now,
    )
}

/// Mints what the response type asks for and sends it to the client.
fn issue(
    state: &AppState,
    server: &AuthServer,
    request: &Request,
    user: &User,
    auth_time: i64,
    now: i64,
) -> Response {
    let code = request.code.then(|| {
        let lifetime = i64::try_from(state.settings().authorization_code_lifetime).unwrap_or(300);
        state.store.issue_code(
            AuthorizationCode {
                issuer: server.issuer.clone(),
                client_id: request.client.client_id.clone(),
                redirect_uri: request.reply.redirect_uri.clone(),
                user_id: user.id.clone(),
                auth_time,
                scopes: request.scopes.clone(),
                nonce: request.nonce.clone(),
                code_challenge: request.code_challenge.clone(),
                acr: request.acr.clone(),
                expires_at: now + lifetime,
            },
            now,
        )
    });
    let grant = UserGrant {
        server,
        client: &request.client,
        user,
        auth_time,
        scopes: &request.scopes,
        nonce: request.nonce.as_deref(),
        lifetime: request.lifetime,
        acr: request.acr.as_deref(),
        dpop_jkt: None,
    };
    let minted = mint_user_tokens(
        state,
        &grant,
        request.token,
        request.id_token,
        code.as_deref(),
        now,
    );
    let (access, id) = match minted {
        Ok(tokens) => tokens,
        Err(error) => return request.reply.error(&error),
    };
    let mut params: Vec<(&'static str, String)> = Vec::new();
    if let Some(code) = code {
        params.push(("code", code));
    }
    if let Some(access) = access {
        params.push(("access_token", access.token));
        params.push(("token_type", "Bearer".to_owned()));
        params.push(("expires_in", request.lifetime.to_string()));
        params.push(("scope", request.scopes.join(" ")));
    }
    if let Some(id) = id {
        params.push(("id_token", id.token));
    }
    request.reply.send(params)
}

/// Shows the login page for a pending request.
fn login_page(
    state: &AppState,
    server: &AuthServer,
    request: &Request,
    params: Vec<(String, String)>,
    pushed: bool,
    now: i64,
) -> Response {
    let waiting = Waiting {
        server: server.id.clone(),
        params,
        pushed,
        activate: None,
    };
    show_login(
        state,
        waiting,
        &request.client.client_name,
        request.login_hint.as_deref().unwrap_or_default(),
        now,
    )
}

/// What waits for a login: an authorize request, or a device's user code.
#[derive(Debug)]
pub struct Waiting {
    pub server: Option<String>,
    pub params: Vec<(String, String)>,
    /// `params` came from a pushed request.
    pub pushed: bool,
    pub activate: Option<String>,
}

/// The login page (with its anti-CSRF cookie) for what `waiting` holds.
pub fn show_login(
    state: &AppState,
    waiting: Waiting,
    client_name: &str,
    username: &str,
    now: i64,
) -> Response {
    let csrf = crate::ids::random_token();
    let transaction = state.store.put_login(
        PendingLogin {
            server: waiting.server,
            params: waiting.params,
            csrf: csrf.clone(),
            activate: waiting.activate,
            pushed: waiting.pushed,
            expires_at: now + LOGIN_TTL,
        },
        now,
    );
    let action = format!("{}/login/login.htm", state.base_url());
    let mut response = html::login_page(
        &html::LoginPage {
            client_name,
            action: &action,
            transaction: &transaction,
            csrf: &csrf,
            username,
            error: None,
            change_password: false,
        },
        StatusCode::OK,
    );
    set_cookie(
        state,
        &mut response,
        CSRF_COOKIE,
        &csrf,
        "Strict",
        Some(LOGIN_TTL),
    );
    response
}

/// Sets (or, with `sid` empty, clears) the browser-session cookie. Over https it is
/// `SameSite=None; Secure`, as Okta's, so okta-auth-js's `getWithoutPrompt` and
/// `session.exists()` work from an app on another site; over http browsers refuse
/// `SameSite=None` without `Secure`, so it stays `Lax`.
pub fn set_session_cookie(state: &AppState, response: &mut Response, sid: &str) {
    let same_site = if state.base_url().starts_with("https:") {
        "None"
    } else {
        "Lax"
    };
    let max_age = sid.is_empty().then_some(0);
    set_cookie(state, response, SESSION_COOKIE, sid, same_site, max_age);
}

/// Adds a `Set-Cookie` (HttpOnly, Path=/, Secure on https).
pub fn set_cookie(
    state: &AppState,
    response: &mut Response,
    name: &str,
    value: &str,
    same_site: &str,
    max_age: Option<i64>,
) {
    let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite={same_site}");
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={age}"));
    }
    if state.base_url().starts_with("https:") {
        cookie.push_str("; Secure");
    }
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// The value of cookie `name` in the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}
