//! AUTHZ: the authorization endpoint (RFC 6749 §3.1, §4.1; RFC 9700).
//! Negative checks (mode N) never follow a redirect: a 3xx aimed at the
//! untrusted `redirect_uri`, or a page that would auto-send the browser
//! there, fails.

use std::collections::HashSet;

use super::Ctx;
use crate::http::{Exchange, Req};
use crate::login::{self, FlowOpts};
use crate::target::Client;

pub const IDS: &[&str] = &[
    "AUTHZ-01", "AUTHZ-02", "AUTHZ-13", "AUTHZ-17", "AUTHZ-19", "AUTHZ-03", "AUTHZ-04", "AUTHZ-05",
    "AUTHZ-06", "AUTHZ-07", "AUTHZ-09", "AUTHZ-10", "AUTHZ-11", "AUTHZ-12", "AUTHZ-14", "AUTHZ-15",
    "AUTHZ-16", "AUTHZ-18", "AUTHZ-20", "AUTHZ-21", "AUTHZ-22", "AUTHZ-23", "AUTHZ-24", "AUTHZ-25",
    "AUTHZ-26",
];

const REGISTERED_ERRORS: &[&str] = &[
    "invalid_request",
    "unauthorized_client",
    "access_denied",
    "unsupported_response_type",
    "invalid_scope",
    "server_error",
    "temporarily_unavailable",
    "login_required",
    "interaction_required",
    "consent_required",
    "account_selection_required",
    "invalid_request_uri",
    "invalid_request_object",
    "request_not_supported",
    "request_uri_not_supported",
    "registration_not_supported",
];

/// Mode N: `Err` when the response sends the browser to `untrusted`.
pub fn no_redirect_to(ex: &Exchange, untrusted: &str) -> Result<(), String> {
    if ex.is_redirect() {
        let loc = ex
            .location()
            .map(|l| login::resolve(&ex.req.url, l))
            .unwrap_or_default();
        if loc.starts_with(untrusted) {
            return Err(format!("redirected to the untrusted URI: {loc}"));
        }
    }
    if login::body_targets(&ex.body, untrusted) {
        return Err(
            "the page auto-sends the browser to the untrusted URI (form, meta refresh or script)"
                .into(),
        );
    }
    Ok(())
}

async fn negative(cx: &mut Ctx, id: &'static str, what: &str, opts: FlowOpts, untrusted: &str) {
    let Some(flow) = login::run_flow(cx, &opts).await else {
        return;
    };
    let Some(ex) = flow.result.first_authorize().cloned() else {
        return;
    };
    match no_redirect_to(&ex, untrusted) {
        Ok(()) => cx.pass(id, ""),
        Err(e) => cx.fail(id, format!("{what}: {e}"), Some(&ex)),
    }
}

pub async fn run(cx: &mut Ctx) {
    if !login::can_login(cx) {
        // The N checks need only a client, not a login.
        if cx.web().is_none() {
            cx.skip_all(IDS, "no web client in the target");
            return;
        }
    }
    let Some(web) = cx.web() else { return };
    let registered = web.redirect_uri.clone().unwrap_or_default();
    let can_login = login::can_login(cx);
    let no_login = FlowOpts {
        login: false,
        fresh_session: true,
        ..FlowOpts::default()
    };

    if redirect_uri_checks(cx, &web, &registered, &no_login)
        .await
        .is_none()
    {
        return;
    }
    login_page_checks(cx, &web, &registered, &no_login).await;

    if !can_login {
        for id in [
            "AUTHZ-01", "AUTHZ-02", "AUTHZ-03", "AUTHZ-04", "AUTHZ-05", "AUTHZ-11", "AUTHZ-12",
            "AUTHZ-14", "AUTHZ-15", "AUTHZ-16", "AUTHZ-18", "AUTHZ-20", "AUTHZ-24", "AUTHZ-26",
        ] {
            cx.skip(id, "needs a user login (target has none)");
        }
        return;
    }
    let base = FlowOpts::default();
    if code_response_checks(cx, &base).await.is_none() {
        return;
    }
    request_parameter_checks(cx, &web, &base).await;
    cancel_and_response_mode_checks(cx, &base).await;
    // 26: CSRF — resubmit the login form without its anti-CSRF field
    authz_26(cx).await;
}

/// The N checks (no login): an unregistered, altered, omitted or non-loopback http `redirect_uri`,
/// and an unknown or missing `client_id`, never redirect (AUTHZ-06, 07, 09, 10, 23). `None`: the
/// run stops.
async fn redirect_uri_checks(
    cx: &mut Ctx,
    web: &Client,
    registered: &str,
    no_login: &FlowOpts,
) -> Option<()> {
    let evil = "https://evil.example/cb".to_owned();
    negative(
        cx,
        "AUTHZ-06",
        "unregistered redirect_uri",
        FlowOpts {
            redirect_uri: Some(evil.clone()),
            ..no_login.clone()
        },
        &evil,
    )
    .await;
    let mut variants: Vec<(&str, String)> = vec![
        ("registered + suffix", format!("{registered}/evil")),
        ("extra trailing slash", format!("{registered}/")),
        ("added query", format!("{registered}?x=1")),
        (
            "changed path case",
            registered.replacen("callback", "CallBack", 1),
        ),
    ];
    if let Ok(mut u) = url::Url::parse(registered)
        && !matches!(u.host_str(), Some("127.0.0.1" | "[::1]"))
    {
        let _ = u.set_port(Some(u.port_or_known_default().unwrap_or(80) + 1));
        variants.push(("another port", u.to_string()));
    }
    variants.retain(|(_, v)| *v != registered);
    for (what, uri) in variants {
        negative(
            cx,
            "AUTHZ-07",
            what,
            FlowOpts {
                redirect_uri: Some(uri.clone()),
                ..no_login.clone()
            },
            &uri,
        )
        .await;
    }
    if web.several_redirect_uris {
        // Omitted redirect_uri with several registered: an error page, no redirect at all.
        let opts = FlowOpts {
            omit: vec!["redirect_uri"],
            ..no_login.clone()
        };
        let flow = login::run_flow(cx, &opts).await?;
        if let Some(ex) = flow.result.first_authorize().cloned() {
            let base = registered.split('?').next().unwrap_or("").to_owned();
            let ok = no_redirect_to(&ex, &base).is_ok();
            cx.check(
                "AUTHZ-09",
                ok,
                "redirect_uri omitted with several registered, yet the server redirected",
                &ex,
            );
        }
    } else {
        cx.skip("AUTHZ-09", "the web client has one registered redirect URI (set clients.web.several_redirect_uris)");
    }
    negative(
        cx,
        "AUTHZ-10",
        "unknown client_id",
        FlowOpts {
            client_id: Some("conformance-unknown-client".into()),
            ..no_login.clone()
        },
        registered,
    )
    .await;
    negative(
        cx,
        "AUTHZ-10",
        "missing client_id",
        FlowOpts {
            omit: vec!["client_id"],
            ..no_login.clone()
        },
        registered,
    )
    .await;
    let http_evil = "http://evil.example/cb".to_owned();
    negative(
        cx,
        "AUTHZ-23",
        "non-loopback http redirect_uri",
        FlowOpts {
            redirect_uri: Some(http_evil.clone()),
            ..no_login.clone()
        },
        &http_evil,
    )
    .await;

    Some(())
}

/// The login page's framing and CORS headers (AUTHZ-21, 22) and the password grant (AUTHZ-25),
/// without a login.
async fn login_page_checks(cx: &mut Ctx, web: &Client, registered: &str, no_login: &FlowOpts) {
    // AUTHZ-21 / 22: the login page (fresh session, no login).
    let flow = login::run_flow(cx, &FlowOpts { ..no_login.clone() }).await;
    if let Some(ex) = flow.as_ref().and_then(|f| f.result.last().cloned()) {
        // Follow same-origin redirects (interaction pages) to reach the page itself.
        let page = reach_page(cx, &ex).await;
        if page.status == 200
            && page
                .header("content-type")
                .is_some_and(|c| c.contains("html"))
        {
            let xfo = page.header("x-frame-options").is_some();
            let csp = page
                .header("content-security-policy")
                .is_some_and(|c| c.contains("frame-ancestors"));
            cx.check(
                "AUTHZ-21",
                xfo || csp,
                "the login page sets neither X-Frame-Options nor CSP frame-ancestors",
                &page,
            );
            if xfo && !csp {
                cx.warn("AUTHZ-21", "no CSP frame-ancestors (SHOULD)", Some(&page));
            }
        } else {
            cx.skip(
                "AUTHZ-21",
                format!("no HTML login page reached (status {})", page.status),
            );
        }
    }
    if let Some(endpoint) = cx.meta_str("authorization_endpoint").await {
        let ex = cx
            .http
            .send(
                Req::get(&endpoint)
                    .query(&[
                        ("client_id", &web.client_id),
                        ("response_type", "code"),
                        ("scope", "openid"),
                        ("redirect_uri", registered),
                        ("state", "s"),
                    ])
                    .header("Origin", "https://evil.example"),
            )
            .await;
        let acao = ex.header("access-control-allow-origin");
        cx.check(
            "AUTHZ-22",
            acao.is_none_or(|v| v != "*" && v != "https://evil.example"),
            format!("the authorization endpoint answered CORS for a foreign Origin ({acao:?})"),
            &ex,
        );
    }
    // AUTHZ-25: password grant refused under the BCP profile.
    let ex = cx
        .token_request(
            web,
            &[
                ("grant_type", "password"),
                ("username", "nobody@example.com"),
                ("password", "x"),
                ("scope", "openid"),
            ],
        )
        .await;
    let ok25 = ex.status != 200
        && matches!(
            ex.error_code().as_deref(),
            Some("unsupported_grant_type" | "unauthorized_client")
        );
    cx.check("AUTHZ-25", ok25, format!("grant_type=password answered {} {:?} (want unsupported_grant_type or unauthorized_client)", ex.status, ex.error_code()), &ex);
}

/// The code response, logged in: `state` echoed (or absent when none was sent), codes distinct and
/// long enough, `iss`, no 307 to a credential POST (AUTHZ-11, 16, 18, 20). `None`: the run stops.
async fn code_response_checks(cx: &mut Ctx, base: &FlowOpts) -> Option<()> {
    // 11: state echoed; 16: code length; 18: iss; 20: no 307
    let mut codes = HashSet::new();
    let mut short_code = false;
    for i in 0..3 {
        let f = login::run_flow(cx, base).await?;
        let last = f.result.last().cloned()?;
        if i == 0 {
            let ok = f.code().is_some() && f.result.param("state") == f.state.as_deref();
            cx.check(
                "AUTHZ-11",
                ok,
                format!(
                    "state not echoed byte for byte ({:?} vs {:?}); stopped: {:?}",
                    f.result.param("state"),
                    f.state,
                    f.result.stopped
                ),
                &last,
            );
            match f.result.param("iss") {
                Some(iss) => {
                    let issuer = cx.issuer.clone();
                    cx.check(
                        "AUTHZ-18",
                        iss == issuer,
                        format!("iss {iss} != {issuer}"),
                        &last,
                    );
                }
                None => {
                    if cx
                        .meta()
                        .await
                        .get("authorization_response_iss_parameter_supported")
                        .and_then(|v| v.as_bool())
                        == Some(true)
                    {
                        cx.fail(
                            "AUTHZ-18",
                            "iss advertised (RFC 9207) but absent from the response",
                            Some(&last),
                        );
                    } else {
                        cx.pass("AUTHZ-18", "no iss parameter (not advertised)");
                    }
                }
            }
            let bad307 = f
                .result
                .steps
                .iter()
                .find(|e| e.status == 307 && e.req.method == "POST");
            match bad307 {
                Some(e) => cx.fail(
                    "AUTHZ-20",
                    "a credential POST was answered with 307",
                    Some(e),
                ),
                None => cx.pass("AUTHZ-20", ""),
            }
        }
        if let Some(c) = f.code() {
            short_code |= c.len() < 22;
            codes.insert(c.to_owned());
        }
    }
    if codes.len() == 3 && !short_code {
        cx.pass("AUTHZ-16", "3 distinct codes of at least 128 bits");
    } else {
        cx.fail(
            "AUTHZ-16",
            format!(
                "{} distinct codes of 3; shorter than 128 bits: {short_code}",
                codes.len()
            ),
            None,
        );
    }
    // no state sent → none returned
    if let Some(f) = login::run_flow(
        cx,
        &FlowOpts {
            state: false,
            ..base.clone()
        },
    )
    .await
        && let Some(last) = f.result.last().cloned()
    {
        cx.check(
            "AUTHZ-11",
            f.code().is_some() && f.result.param("state").is_none(),
            "without state the flow failed or a state came back",
            &last,
        );
    }
    Some(())
}

/// How the request's own parameters are read, logged in: POST, unknown, reordered, missing,
/// unsupported and repeated parameters, unknown scope, `response_type=token` (AUTHZ-01 to 05, 12,
/// 14, 15, 24).
async fn request_parameter_checks(cx: &mut Ctx, web: &Client, base: &FlowOpts) {
    // 01: POST
    if let Some(f) = login::run_flow(
        cx,
        &FlowOpts {
            post: true,
            ..base.clone()
        },
    )
    .await
        && let Some(last) = f.result.last().cloned()
    {
        cx.check(
            "AUTHZ-01",
            f.code().is_some(),
            format!(
                "the authorization request as POST form did not yield a code ({:?})",
                f.result.stopped
            ),
            &last,
        );
    }
    // 02: unknown parameter
    if let Some(f) = login::run_flow(
        cx,
        &FlowOpts {
            extra: vec![("extra".into(), "foobar".into())],
            ..base.clone()
        },
    )
    .await
        && let Some(last) = f.result.last().cloned()
    {
        cx.check(
            "AUTHZ-02",
            f.code().is_some(),
            "an unknown parameter broke the flow",
            &last,
        );
    }
    // 03: scope order reversed
    let scope = web.scope.clone().unwrap_or_else(|| "openid".into());
    let reversed: Vec<&str> = scope.split_whitespace().rev().collect();
    if let Some(f) = login::run_flow(
        cx,
        &FlowOpts {
            scope: Some(reversed.join(" ")),
            ..base.clone()
        },
    )
    .await
        && let Some(last) = f.result.last().cloned()
    {
        cx.check(
            "AUTHZ-03",
            f.code().is_some(),
            "reversed scope order broke the flow",
            &last,
        );
    }
    // 04: no response_type
    if let Some(f) = login::run_flow(
        cx,
        &FlowOpts {
            omit: vec!["response_type"],
            ..base.clone()
        },
    )
    .await
        && let Some(last) = f.result.last().cloned()
    {
        let err = f.result.param("error");
        let ok = f.code().is_none()
            && (matches!(err, Some("invalid_request" | "unsupported_response_type"))
                || (f.result.redirect.is_none() && (400..500).contains(&last.status)));
        cx.check(
            "AUTHZ-04",
            ok,
            format!(
                "missing response_type: error {err:?}, status {}",
                last.status
            ),
            &last,
        );
    }
    // 05 + 12: unsupported response_type
    if let Some(f) = login::run_flow(
        cx,
        &FlowOpts {
            extra: vec![("response_type".into(), "code conformance_unknown".into())],
            omit: vec!["response_type"],
            ..base.clone()
        },
    )
    .await
        && let Some(last) = f.result.last().cloned()
    {
        let err = f.result.param("error").map(str::to_owned);
        cx.check(
            "AUTHZ-05",
            err.as_deref() == Some("unsupported_response_type"),
            format!("unsupported response_type gave error {err:?}"),
            &last,
        );
        if let Some(e) = &err {
            let mut p = Vec::new();
            if !REGISTERED_ERRORS.contains(&e.as_str()) {
                p.push(format!("error {e} is not registered"));
            }
            if f.code().is_some() {
                p.push("an error response carries a code".into());
            }
            if f.result.param("state") != f.state.as_deref() {
                p.push("state not echoed on the error".into());
            }
            if let Some(d) = f.result.param("error_description")
                && !d.bytes().all(|b| {
                    b == 0x20
                        || b == 0x21
                        || (0x23..=0x5b).contains(&b)
                        || (0x5d..=0x7e).contains(&b)
                })
            {
                p.push("error_description charset".into());
            }
            cx.check("AUTHZ-12", p.is_empty(), p.join("; "), &last);
            if f.result.param("state") != f.state.as_deref() {
                cx.fail(
                    "AUTHZ-11",
                    "state not echoed on an error redirect",
                    Some(&last),
                );
            }
        } else {
            cx.skip("AUTHZ-12", "no error redirect to inspect");
        }
    }
    // 14: unknown scope
    if let Some(f) = login::run_flow(
        cx,
        &FlowOpts {
            scope: Some(format!("{scope} conformance.unknown")),
            ..base.clone()
        },
    )
    .await
        && let Some(last) = f.result.last().cloned()
    {
        let err = f.result.param("error").map(str::to_owned);
        let ok = match (&err, f.code()) {
            (Some(e), _) => e == "invalid_scope",
            (None, Some(_)) => match login::redeem(cx, &f, None, |_| {}).await {
                Some(t) => {
                    t.status == 200
                        && !t
                            .str_field("scope")
                            .unwrap_or_default()
                            .contains("conformance.unknown")
                }
                None => false,
            },
            _ => false,
        };
        cx.check("AUTHZ-14", ok, format!("unknown scope: neither invalid_scope nor a narrowed, reported grant (error {err:?})"), &last);
    }
    // 15: repeated parameter
    if let Some(f) = login::run_flow(
        cx,
        &FlowOpts {
            dup: vec![("state".into(), "second-state".into())],
            ..base.clone()
        },
    )
    .await
        && let Some(last) = f.result.last().cloned()
    {
        let ok = f.code().is_none()
            && (f.result.param("error") == Some("invalid_request")
                || (400..500).contains(&last.status));
        cx.check(
            "AUTHZ-15",
            ok,
            format!(
                "a repeated state was not refused with invalid_request (code: {})",
                f.code().is_some()
            ),
            &last,
        );
    }
    // 24: response_type=token
    if let Some(f) = login::run_flow(
        cx,
        &FlowOpts {
            extra: vec![("response_type".into(), "token".into())],
            omit: vec!["response_type"],
            ..base.clone()
        },
    )
    .await
        && let Some(last) = f.result.last().cloned()
    {
        let ok = f.result.param("access_token").is_none()
            && f.result.param("error") == Some("unsupported_response_type");
        cx.check(
            "AUTHZ-24",
            ok,
            format!(
                "response_type=token: error {:?}, token in front channel: {}",
                f.result.param("error"),
                f.result.param("access_token").is_some()
            ),
            &last,
        );
    }
}

/// A cancelled login (AUTHZ-13) and `response_mode=form_post` (AUTHZ-19).
async fn cancel_and_response_mode_checks(cx: &mut Ctx, base: &FlowOpts) {
    // 13: the user cancels the login → access_denied (fresh session, so the login page shows)
    if cx.target.user.as_ref().map(|u| u.login) == Some(crate::target::LoginMethod::Form) {
        if let Some(f) = login::run_flow(
            cx,
            &FlowOpts {
                cancel: true,
                fresh_session: true,
                ..base.clone()
            },
        )
        .await
            && let Some(last) = f.result.last().cloned()
        {
            if f.result
                .stopped
                .as_deref()
                .is_some_and(|s| s.starts_with("no cancel"))
            {
                cx.skip(
                    "AUTHZ-13",
                    "the login page offers no cancel button or abort link",
                );
            } else {
                let e = f.result.param("error");
                cx.check(
                    "AUTHZ-13",
                    f.code().is_none() && e == Some("access_denied"),
                    format!(
                        "the user cancelled: error {e:?}, code {}",
                        f.code().is_some()
                    ),
                    &last,
                );
            }
        }
    } else {
        cx.skip(
            "AUTHZ-13",
            "needs the HTML login form (cancelling is a browser step)",
        );
    }
    // 19: response_mode=form_post, when offered
    if cx.meta_lists("response_modes_supported", "form_post").await {
        if let Some(f) = login::run_flow(
            cx,
            &FlowOpts {
                extra: vec![("response_mode".into(), "form_post".into())],
                ..base.clone()
            },
        )
        .await
            && let Some(last) = f.result.last().cloned()
        {
            let query_code = f.result.steps.iter().any(|e| {
                e.location()
                    .is_some_and(|l| l.contains("code=") || l.contains("error="))
            });
            let ok = f.result.form_post && f.code().is_some() && !query_code;
            cx.check(
                "AUTHZ-19",
                ok,
                format!(
                    "form_post: auto-POST form {}, code {}, code/error in a URL {query_code}",
                    f.result.form_post,
                    f.code().is_some()
                ),
                &last,
            );
        }
    } else {
        cx.skip("AUTHZ-19", "form_post is not advertised");
    }
}

async fn reach_page(cx: &mut Ctx, ex: &Exchange) -> Exchange {
    let mut cur = ex.clone();
    for _ in 0..5 {
        if !cur.is_redirect() {
            break;
        }
        let Some(loc) = cur.location().map(|l| login::resolve(&cur.req.url, l)) else {
            break;
        };
        if login::origin_of(&loc) != login::origin_of(&cur.req.url) {
            break;
        }
        let mut req = Req::get(loc);
        if let Some(c) = cx.jar.header_for(&req.url) {
            req = req.header("Cookie", c);
        }
        cur = cx.http.send(req).await;
        cx.jar.store(&cur);
    }
    cur
}

async fn authz_26(cx: &mut Ctx) {
    let Some(f) = login::run_flow(
        cx,
        &FlowOpts {
            login: false,
            fresh_session: true,
            ..FlowOpts::default()
        },
    )
    .await
    else {
        return;
    };
    let Some(first) = f.result.last().cloned() else {
        return;
    };
    let page = reach_page(cx, &first).await;
    let forms = login::parse_forms(&page.body);
    let Some(form) = forms.first() else {
        cx.skip(
            "AUTHZ-26",
            "no login form to forge (Okta authn or no HTML login)",
        );
        return;
    };
    let csrf_names: Vec<String> = form
        .inputs
        .iter()
        .filter(|(n, t, _)| t == "hidden" && n.to_ascii_lowercase().contains("csrf"))
        .map(|(n, _, _)| n.clone())
        .collect();
    if csrf_names.is_empty() {
        cx.skip(
            "AUTHZ-26",
            "the login form has no recognisable anti-CSRF field",
        );
        return;
    }
    let (u, p) = cx
        .target
        .user
        .as_ref()
        .map(|u| (u.username.clone(), u.password.clone()))
        .unwrap_or_default();
    let fields: Vec<(String, String)> = form
        .fill(&u, &p)
        .into_iter()
        .filter(|(n, _)| !csrf_names.contains(n))
        .collect();
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let action = login::resolve(&page.req.url, &form.action);
    let mut req = Req::post_form(action, &pairs);
    if let Some(c) = cx.jar.header_for(&req.url) {
        req = req.header("Cookie", c);
    }
    let ex = cx.http.send(req).await;
    let leaked = ex.location().is_some_and(|l| l.contains("code="));
    cx.check(
        "AUTHZ-26",
        !(leaked || ex.status == 200 && ex.body.contains("code=")),
        "a login POST without the anti-CSRF token produced a code",
        &ex,
    );
}
