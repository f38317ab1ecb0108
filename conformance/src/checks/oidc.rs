//! OIDC: OpenID Connect authentication-request parameters (Core §3.1.2.1).

use std::time::Duration;

use super::Ctx;
use crate::jwt::Jwt;
use crate::login::{self, Flow, FlowOpts};
use crate::target::LoginMethod;

pub const IDS: &[&str] = &[
    "OIDC-01", "OIDC-02", "OIDC-03", "OIDC-04", "OIDC-05", "OIDC-06", "OIDC-07", "OIDC-08",
    "OIDC-09", "OIDC-10", "OIDC-11", "OIDC-12", "OIDC-14", "OIDC-15",
];

async fn id_token(cx: &mut Ctx, f: &Flow) -> Option<Jwt> {
    let ex = login::redeem(cx, f, None, |_| {}).await?;
    ex.str_field("id_token").and_then(|t| Jwt::decode(&t))
}

/// True when the login driver had to show a login form (a POST of credentials).
fn logged_in_again(f: &Flow) -> bool {
    f.result.steps.iter().any(|e| {
        e.req.method == "POST"
            && e.req
                .body
                .as_deref()
                .is_some_and(|b| b.contains("password="))
    }) || f
        .result
        .steps
        .iter()
        .any(|e| e.req.url.contains("/api/v1/authn"))
}

pub async fn run(cx: &mut Ctx) {
    run_code(cx).await;
    oidc_03(cx).await;
}

/// OIDC-03: an ID token from the authorization endpoint requires a nonce.
async fn oidc_03(cx: &mut Ctx) {
    if !cx.meta_lists("response_types_supported", "id_token").await {
        cx.skip(
            "OIDC-03",
            "no response type returns an ID token from the authorization endpoint",
        );
        return;
    }
    let Some((_, mut opts)) = login::public_flow(cx) else {
        cx.skip(
            "OIDC-03",
            "needs a public client allowed the implicit flow (mode A)",
        );
        return;
    };
    opts.extra.push(("response_type".into(), "id_token".into()));
    opts.nonce = false;
    opts.pkce = None;
    let Some(f) = login::run_flow(cx, &opts).await else {
        return;
    };
    let Some(last) = f.result.last().cloned() else {
        return;
    };
    if f.result.param("error") == Some("unauthorized_client") {
        cx.skip(
            "OIDC-03",
            "the public client is not allowed response_type=id_token",
        );
        return;
    }
    let ok =
        f.result.param("id_token").is_none() && f.result.param("error") == Some("invalid_request");
    cx.check(
        "OIDC-03",
        ok,
        format!(
            "response_type=id_token without nonce: error {:?}, id_token issued {}",
            f.result.param("error"),
            f.result.param("id_token").is_some()
        ),
        &last,
    );
}

async fn run_code(cx: &mut Ctx) {
    if !login::can_login(cx) {
        cx.skip_all(IDS, "needs a user login (target has none)");
        return;
    }
    let method = cx.target.user.as_ref().map(|u| u.login).unwrap_or_default();
    let base = FlowOpts::default();
    if no_session_checks(cx, &base).await.is_none() {
        return;
    }
    if session_checks(cx, &base, method).await.is_none() {
        return;
    }
    request_parameter_checks(cx, &base).await;
}

/// Without a session: `prompt=none` (OIDC-04), no nonce (OIDC-02), no `openid` (OIDC-01). `None`:
/// the run stops.
async fn no_session_checks(cx: &mut Ctx, base: &FlowOpts) -> Option<()> {
    // 04: prompt=none with no session (no login, fresh jar)
    let f = login::run_flow(
        cx,
        &FlowOpts {
            login: false,
            fresh_session: true,
            extra: vec![("prompt".into(), "none".into())],
            ..base.clone()
        },
    )
    .await?;
    if let Some(last) = f.result.last().cloned() {
        let e = f.result.param("error");
        cx.check(
            "OIDC-04",
            matches!(
                e,
                Some(
                    "login_required"
                        | "interaction_required"
                        | "consent_required"
                        | "account_selection_required"
                )
            ),
            format!(
                "prompt=none without a session: error {e:?}, status {}",
                last.status
            ),
            &last,
        );
    }
    // 02: no nonce
    let f = login::run_flow(
        cx,
        &FlowOpts {
            nonce: false,
            ..base.clone()
        },
    )
    .await?;
    if let Some(last) = f.result.last().cloned() {
        cx.check(
            "OIDC-02",
            f.code().is_some(),
            "the code flow without nonce failed",
            &last,
        );
    }
    // 01: no openid
    let scope: String = cx
        .web()
        .and_then(|w| w.scope)
        .unwrap_or_default()
        .split_whitespace()
        .filter(|s| *s != "openid")
        .collect::<Vec<_>>()
        .join(" ");
    if let Some(f) = login::run_flow(
        cx,
        &FlowOpts {
            scope: Some(scope),
            nonce: false,
            ..base.clone()
        },
    )
    .await
    {
        match login::redeem(cx, &f, None, |_| {}).await {
            Some(ex) => cx.info(
                "OIDC-01",
                format!(
                    "without openid: status {}, id_token returned: {}",
                    ex.status,
                    ex.field("id_token").is_some()
                ),
            ),
            None => cx.info(
                "OIDC-01",
                format!(
                    "without openid the authorization request stopped: {:?} {:?}",
                    f.result.param("error"),
                    f.result.stopped
                ),
            ),
        }
    }
    Some(())
}

/// On one session after a first login: `prompt=none` (OIDC-05), `max_age` (OIDC-07, 08),
/// `id_token_hint` (OIDC-09), `prompt=login` (OIDC-06), `prompt="none login"` (OIDC-10). `None`:
/// the run stops.
async fn session_checks(cx: &mut Ctx, base: &FlowOpts, method: LoginMethod) -> Option<()> {
    // First login of a session, then prompt=none / max_age / prompt=login on the same jar.
    let f1 = login::run_flow(
        cx,
        &FlowOpts {
            fresh_session: true,
            extra: vec![("max_age".into(), "15000".into())],
            ..base.clone()
        },
    )
    .await?;
    let Some(t1) = id_token(cx, &f1).await else {
        cx.skip_all(
            &["OIDC-05", "OIDC-06", "OIDC-07", "OIDC-08", "OIDC-09"],
            "no ID token from the first login",
        );
        return None;
    };
    let sub1 = t1.c("sub").map(str::to_owned);
    let at1 = t1.n("auth_time");
    let okta = method == LoginMethod::OktaAuthn;
    // 05: prompt=none with a session (form logins keep the session cookie; Okta authn brings a sessionToken)
    let f = login::run_flow(
        cx,
        &FlowOpts {
            login: okta,
            extra: vec![("prompt".into(), "none".into())],
            ..base.clone()
        },
    )
    .await?;
    if let Some(last) = f.result.last().cloned() {
        if f.code().is_none() {
            cx.fail(
                "OIDC-05",
                format!(
                    "prompt=none with a session failed: {:?}",
                    f.result.param("error")
                ),
                Some(&last),
            );
        } else if let Some(t) = id_token(cx, &f).await {
            let ok = t.c("sub").map(str::to_owned) == sub1
                && (okta || at1.is_none() || t.n("auth_time").is_none() || t.n("auth_time") == at1);
            cx.check(
                "OIDC-05",
                ok,
                format!(
                    "prompt=none: sub {:?} vs {sub1:?}, auth_time {:?} vs {at1:?}",
                    t.c("sub"),
                    t.n("auth_time")
                ),
                &last,
            );
        }
    }
    // 08: a large max_age → no re-authentication, auth_time unchanged
    let f = login::run_flow(
        cx,
        &FlowOpts {
            extra: vec![("max_age".into(), "10000".into())],
            ..base.clone()
        },
    )
    .await?;
    if let Some(last) = f.result.last().cloned() {
        if okta {
            cx.skip("OIDC-08", "every Okta authn login is a new authentication");
        } else if let Some(t) = id_token(cx, &f).await {
            let ok = !logged_in_again(&f) && t.n("auth_time").is_some() && t.n("auth_time") == at1;
            cx.check(
                "OIDC-08",
                ok,
                format!(
                    "max_age=10000: re-login {} auth_time {:?} vs {at1:?}",
                    logged_in_again(&f),
                    t.n("auth_time")
                ),
                &last,
            );
        }
    }
    // 09: prompt=none + id_token_hint
    let hint_flow = login::run_flow(cx, base)
        .await
        .unwrap_or_else(|| f1.clone());
    if let Some(hint) = login::redeem(cx, &hint_flow, None, |_| {})
        .await
        .and_then(|e| e.str_field("id_token"))
    {
        let f = login::run_flow(
            cx,
            &FlowOpts {
                login: okta,
                extra: vec![
                    ("prompt".into(), "none".into()),
                    ("id_token_hint".into(), hint),
                ],
                ..base.clone()
            },
        )
        .await?;
        if let Some(last) = f.result.last().cloned() {
            match id_token(cx, &f).await {
                Some(t) => {
                    cx.check(
                        "OIDC-09",
                        t.c("sub").map(str::to_owned) == sub1,
                        "id_token_hint: a different sub",
                        &last,
                    );
                }
                None => cx.fail(
                    "OIDC-09",
                    format!(
                        "prompt=none + id_token_hint failed: {:?}",
                        f.result.param("error")
                    ),
                    Some(&last),
                ),
            }
        }
    }
    // 06: prompt=login → re-authentication, later auth_time
    cx.elapse(Duration::from_secs(2)).await;
    let f = login::run_flow(
        cx,
        &FlowOpts {
            extra: vec![("prompt".into(), "login".into())],
            ..base.clone()
        },
    )
    .await?;
    if let Some(last) = f.result.last().cloned() {
        let t = id_token(cx, &f).await;
        let later = match (t.as_ref().and_then(|t| t.n("auth_time")), at1) {
            (Some(a), Some(b)) => a > b,
            _ => true,
        };
        cx.check(
            "OIDC-06",
            f.code().is_some() && logged_in_again(&f) && later,
            format!(
                "prompt=login: re-login {}, later auth_time {later}",
                logged_in_again(&f)
            ),
            &last,
        );
    }
    // 07: max_age=1 after more than a second
    cx.elapse(Duration::from_secs(2)).await;
    let f = login::run_flow(
        cx,
        &FlowOpts {
            extra: vec![("max_age".into(), "1".into())],
            ..base.clone()
        },
    )
    .await?;
    if let Some(last) = f.result.last().cloned() {
        let t = id_token(cx, &f).await;
        let has_at = t.as_ref().and_then(|t| t.n("auth_time")).is_some();
        cx.check(
            "OIDC-07",
            f.code().is_some() && logged_in_again(&f) && has_at,
            format!(
                "max_age=1: re-login {}, auth_time present {has_at}",
                logged_in_again(&f)
            ),
            &last,
        );
    }
    cx.restore_time();
    // 10: prompt="none login"
    let f = login::run_flow(
        cx,
        &FlowOpts {
            extra: vec![("prompt".into(), "none login".into())],
            ..base.clone()
        },
    )
    .await?;
    if let Some(last) = f.result.last().cloned() {
        cx.check(
            "OIDC-10",
            f.code().is_none() && f.result.param("error").is_some(),
            "prompt=\"none login\" did not give an error",
            &last,
        );
    }
    Some(())
}

/// Request parameters: display and locale hints (OIDC-11), an unsigned request object (OIDC-12),
/// the `claims` parameter (OIDC-14), profile/email claims at userinfo (OIDC-15).
async fn request_parameter_checks(cx: &mut Ctx, base: &FlowOpts) {
    // 11: display, ui_locales, claims_locales, login_hint, acr_values
    let username = cx
        .target
        .user
        .as_ref()
        .map(|u| u.username.clone())
        .unwrap_or_default();
    for (k, v) in [
        ("display", "page"),
        ("ui_locales", "en-GB"),
        ("claims_locales", "en"),
        ("login_hint", username.as_str()),
        ("acr_values", "urn:mace:incommon:iap:silver"),
    ] {
        let Some(f) = login::run_flow(
            cx,
            &FlowOpts {
                extra: vec![(k.into(), v.into())],
                ..base.clone()
            },
        )
        .await
        else {
            return;
        };
        if let Some(last) = f.result.last().cloned() {
            cx.check(
                "OIDC-11",
                f.code().is_some(),
                format!("{k}={v} caused an error: {:?}", f.result.param("error")),
                &last,
            );
        }
    }
    // 12: an unsigned request object: processed (its state wins) or refused, never ignored
    let inner_state = crate::jwt::random(12);
    let client_id = cx.web().map(|w| w.client_id).unwrap_or_default();
    let object = crate::jwt::forge(
        &serde_json::json!({"alg": "none"}),
        &serde_json::json!({"state": inner_state, "client_id": client_id, "response_type": "code", "iss": client_id, "aud": cx.issuer}),
        "",
    );
    if let Some(f) = login::run_flow(
        cx,
        &FlowOpts {
            extra: vec![("request".into(), object)],
            ..base.clone()
        },
    )
    .await
        && let Some(last) = f.result.last().cloned()
    {
        let got = f.result.param("state");
        let err = f.result.param("error");
        let ok = if f.code().is_some() {
            got == Some(inner_state.as_str())
        } else {
            err.is_some() || (400..500).contains(&last.status)
        };
        cx.check(
            "OIDC-12",
            ok,
            format!(
                "request object: code {}, state {} (inner wins: {}), error {err:?}",
                f.code().is_some(),
                got.unwrap_or(""),
                got == Some(inner_state.as_str())
            ),
            &last,
        );
    }
    // 14: claims parameter asking for `name` as essential
    let claims = serde_json::json!({"id_token": {"name": {"essential": true}}, "userinfo": {"name": {"essential": true}}});
    if let Some(f) = login::run_flow(
        cx,
        &FlowOpts {
            extra: vec![("claims".into(), claims.to_string())],
            ..base.clone()
        },
    )
    .await
        && let Some(last) = f.result.last().cloned()
    {
        if f.code().is_none() {
            cx.fail(
                "OIDC-14",
                format!(
                    "the claims parameter broke the flow: {:?}",
                    f.result.param("error")
                ),
                Some(&last),
            );
        } else if let Some(ex) = login::redeem(cx, &f, None, |_| {}).await {
            let in_idt = ex
                .str_field("id_token")
                .and_then(|t| Jwt::decode(&t))
                .is_some_and(|t| t.claims.get("name").is_some());
            let mut in_ui = false;
            if let (Some(ui), Some(at)) = (
                cx.meta_str("userinfo_endpoint").await,
                ex.str_field("access_token"),
            ) {
                let u = cx.http.send(crate::http::Req::get(ui).bearer(&at)).await;
                in_ui = u.field("name").is_some();
            }
            cx.check(
                "OIDC-14",
                in_idt || in_ui,
                "essential `name` was not delivered in the ID token or userinfo",
                &ex,
            );
        }
    }
    // 15: profile/email scopes → userinfo claims
    match (
        cx.user_tokens().await,
        cx.meta_str("userinfo_endpoint").await,
    ) {
        (Some(u), Some(ui)) => {
            let granted = u.scope.clone().unwrap_or_default();
            let ex = cx
                .http
                .send(crate::http::Req::get(ui).bearer(u.access_token.as_deref().unwrap_or("")))
                .await;
            let j = ex.json().unwrap_or_default();
            let mut missing = Vec::new();
            if granted.split_whitespace().any(|s| s == "email") && j.get("email").is_none() {
                missing.push("email");
            }
            if granted.split_whitespace().any(|s| s == "profile")
                && j.get("name").is_none()
                && j.get("given_name").is_none()
            {
                missing.push("name/given_name");
            }
            cx.check(
                "OIDC-15",
                missing.is_empty(),
                format!("userinfo lacks {missing:?} for the granted scopes"),
                &ex,
            );
        }
        _ => cx.skip("OIDC-15", "no userinfo endpoint or tokens"),
    }
}
