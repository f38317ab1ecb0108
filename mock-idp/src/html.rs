//! Server-rendered pages: the login page, error pages and the form_post
//! response. Hand-written templates (no template engine); every value that
//! reaches a page goes through [`escape`].

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

const LOGIN_TEMPLATE: &str = include_str!("../templates/login.html");
const ERROR_TEMPLATE: &str = include_str!("../templates/error.html");
const FORM_POST_TEMPLATE: &str = include_str!("../templates/form_post.html");
const ACTIVATE_TEMPLATE: &str = include_str!("../templates/activate.html");
const POST_MESSAGE_TEMPLATE: &str = include_str!("../templates/okta_post_message.html");
/// The post-message page's one script. The data it sends sits in attributes (HTML-escaped like
/// every value here), so nothing from the request is ever written into script text.
const POST_MESSAGE_SCRIPT: &str = "(function (w) { var el = document.getElementById('okta-message'); var target = w.parent !== w ? w.parent : w.opener; if (target) { target.postMessage(JSON.parse(el.getAttribute('data-message')), el.getAttribute('data-origin')); } })(window);";

/// Escapes text for HTML element content and double-quoted attributes.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Fills `{{name}}` placeholders with escaped values. Values are inserted in
/// one pass over the template, so a value containing `{{…}}` stays literal.
fn render(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let name = after[..end].trim();
                match values.iter().find(|(n, _)| *n == name) {
                    Some((_, value)) => out.push_str(&escape(value)),
                    None => out.push_str(&rest[start..start + 2 + end + 2]),
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The values the login page shows.
#[derive(Debug, Default)]
pub struct LoginPage<'a> {
    pub client_name: &'a str,
    pub action: &'a str,
    pub transaction: &'a str,
    pub csrf: &'a str,
    pub username: &'a str,
    pub error: Option<&'a str>,
    /// The expired-password step: the same form with a new-password field.
    pub change_password: bool,
}

pub fn login_page(page: &LoginPage<'_>, status: StatusCode) -> Response {
    let error = page.error.unwrap_or_default();
    let body = render(
        LOGIN_TEMPLATE,
        &[
            ("client_name", page.client_name),
            ("action", page.action),
            ("transaction", page.transaction),
            ("csrf", page.csrf),
            ("username", page.username),
            ("error", error),
            ("error_hidden", if error.is_empty() { "hidden" } else { "" }),
            (
                "change_hidden",
                if page.change_password { "" } else { "hidden" },
            ),
            (
                "username_invalid",
                if error.is_empty() { "false" } else { "true" },
            ),
        ],
    );
    // `error_hidden` is an attribute name, not a value: the template writes
    // it as `{{error_hidden}}` inside the tag, and escaping keeps it inert.
    page_response(status, body)
}

/// The device verification page (`/activate`): one of its three steps.
#[derive(Debug)]
pub enum ActivateStep<'a> {
    /// Enter the code (with a message after a wrong one).
    Enter {
        user_code: &'a str,
        message: Option<&'a str>,
    },
    /// Signed in: allow or deny this client.
    Confirm {
        user_code: &'a str,
        client_name: &'a str,
        login: &'a str,
        csrf: &'a str,
    },
    /// The outcome.
    Done { title: &'a str, message: &'a str },
}

pub fn activate_page(action: &str, step: &ActivateStep<'_>, status: StatusCode) -> Response {
    let hidden = |shown: bool| if shown { "" } else { "hidden" };
    let (mut user_code, mut message, mut client_name, mut login, mut csrf) = ("", "", "", "", "");
    let (mut done_title, mut done_message) = ("", "");
    match *step {
        ActivateStep::Enter {
            user_code: code,
            message: text,
        } => {
            user_code = code;
            message = text.unwrap_or_default();
        }
        ActivateStep::Confirm {
            user_code: code,
            client_name: name,
            login: who,
            csrf: token,
        } => {
            (user_code, client_name, login, csrf) = (code, name, who, token);
        }
        ActivateStep::Done { title, message } => (done_title, done_message) = (title, message),
    }
    let body = render(
        ACTIVATE_TEMPLATE,
        &[
            ("action", action),
            ("user_code", user_code),
            ("message", message),
            ("message_hidden", hidden(!message.is_empty())),
            ("client_name", client_name),
            ("login", login),
            ("csrf", csrf),
            ("done_title", done_title),
            ("done_message", done_message),
            (
                "enter_hidden",
                hidden(matches!(step, ActivateStep::Enter { .. })),
            ),
            (
                "confirm_hidden",
                hidden(matches!(step, ActivateStep::Confirm { .. })),
            ),
            (
                "done_hidden",
                hidden(matches!(step, ActivateStep::Done { .. })),
            ),
        ],
    );
    page_response(status, body)
}

/// An error page: what happened, without redirecting anywhere.
pub fn error_page(status: StatusCode, error: &str, description: &str) -> Response {
    let body = render(
        ERROR_TEMPLATE,
        &[("error", error), ("description", description)],
    );
    page_response(status, body)
}

/// `response_mode=form_post`: a page that POSTs the response to the client.
pub fn form_post(action: &str, params: &[(&str, String)]) -> Response {
    let mut inputs = String::new();
    for (name, value) in params {
        inputs.push_str(&format!(
            "      <input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
            escape(name),
            escape(value)
        ));
    }
    let body = render(FORM_POST_TEMPLATE, &[("action", action)]).replace("<!--inputs-->", &inputs);
    let mut response = page_response(StatusCode::OK, body);
    // This page must run its one inline script and post to the client.
    response
        .headers_mut()
        .remove(header::CONTENT_SECURITY_POLICY);
    response
}

/// Okta's `okta_post_message` response: a page that hands `params` to the window that opened
/// it (an iframe's parent for `prompt=none`, a popup's opener) with `postMessage`, addressed to
/// `origin` (the redirect URI's) only, and that only that origin may frame.
pub fn okta_post_message(origin: &str, params: &[(&str, String)]) -> Response {
    let message: serde_json::Map<String, serde_json::Value> = params
        .iter()
        .map(|(name, value)| ((*name).to_owned(), serde_json::Value::from(value.as_str())))
        .collect();
    let message = serde_json::Value::Object(message).to_string();
    let body = render(
        POST_MESSAGE_TEMPLATE,
        &[("message", &message), ("origin", origin)],
    )
    .replace("<!--script-->", POST_MESSAGE_SCRIPT);
    let mut response = page_response(StatusCode::OK, body);
    let headers = response.headers_mut();
    headers.remove(header::X_FRAME_OPTIONS);
    static SCRIPT_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        use base64::Engine as _;
        use sha2::Digest as _;
        base64::engine::general_purpose::STANDARD
            .encode(sha2::Sha256::digest(POST_MESSAGE_SCRIPT.as_bytes()))
    });
    let policy = format!(
        "default-src 'none'; script-src 'sha256-{}'; frame-ancestors {origin}; base-uri 'none'",
        *SCRIPT_HASH
    );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

fn page_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_placeholders_in_values_stay_literal() {
        let out = render(
            "<p>{{a}}</p><i title=\"{{b}}\"></i>",
            &[("a", "<script>{{b}}</script>"), ("b", "\"x'&")],
        );
        assert_eq!(
            out,
            "<p>&lt;script&gt;{{b}}&lt;/script&gt;</p><i title=\"&quot;x&#39;&amp;\"></i>"
        );
    }
}
