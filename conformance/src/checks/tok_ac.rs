//! TOK-AC: the authorization code exchange (RFC 6749 §4.1.3).

use std::time::Duration;

use serde_json::Value;

use super::Ctx;
use crate::login::{self, FlowOpts};

pub const IDS: &[&str] = &[
    "TOK-AC-01",
    "TOK-AC-02",
    "TOK-AC-03",
    "TOK-AC-04",
    "TOK-AC-05",
    "TOK-AC-06",
    "TOK-AC-07",
    "TOK-AC-08",
    "TOK-AC-09",
    "TOK-AC-10",
    "TOK-AC-11",
];

fn set(p: &mut Vec<(String, String)>, k: &str, v: Option<&str>) {
    p.retain(|(n, _)| n != k);
    if let Some(v) = v {
        p.push((k.to_owned(), v.to_owned()));
    }
}

pub async fn run(cx: &mut Ctx) {
    let Some(web) = cx.web() else {
        cx.skip_all(IDS, "no web client");
        return;
    };
    // 09 garbage code (headless)
    let ex = cx
        .token_request(
            &web,
            &[
                ("grant_type", "authorization_code"),
                ("code", "conformance-garbage-code"),
                ("redirect_uri", web.redirect_uri.as_deref().unwrap_or("")),
                ("code_verifier", &crate::jwt::random(32)),
            ],
        )
        .await;
    cx.check(
        "TOK-AC-09",
        ex.status == 400 && ex.error_code().as_deref() == Some("invalid_grant"),
        "a garbage code was not 400 invalid_grant",
        &ex,
    );
    if !login::can_login(cx) {
        for id in IDS.iter().filter(|i| **i != "TOK-AC-09") {
            cx.skip(id, "needs a user login (target has none)");
        }
        return;
    }
    let base = FlowOpts::default();
    // 01, 11, then 02/03 reuse
    let Some(f) = login::run_flow(cx, &base).await else {
        return;
    };
    let Some(ok) = login::redeem(cx, &f, None, |_| {}).await else {
        cx.fail(
            "TOK-AC-01",
            format!("no code: {:?}", f.result.stopped),
            f.result.last(),
        );
        return;
    };
    let j = ok.json().unwrap_or_default();
    let good = ok.status == 200
        && j.get("access_token").is_some_and(Value::is_string)
        && j.get("token_type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("bearer"));
    cx.check(
        "TOK-AC-01",
        good,
        "the code exchange did not return 200 with access_token and token_type Bearer",
        &ok,
    );
    let scope = web.scope.clone().unwrap_or_default();
    if scope.split_whitespace().any(|s| s == "openid") {
        cx.check(
            "TOK-AC-11",
            j.get("id_token").is_some_and(Value::is_string),
            "an openid request yielded no id_token",
            &ok,
        );
        cx.check(
            "TOK-AC-01",
            j.get("id_token").is_some(),
            "no id_token although openid was requested",
            &ok,
        );
    } else {
        cx.skip("TOK-AC-11", "the web client's scope has no openid");
    }
    let again = login::redeem(cx, &f, None, |_| {}).await;
    if let Some(ex) = &again {
        cx.check(
            "TOK-AC-02",
            ex.status == 400 && ex.error_code().as_deref() == Some("invalid_grant"),
            "a second redemption of the code was not 400 invalid_grant",
            ex,
        );
    }
    // 03: tokens from the reused code revoked
    if let Some(at) = j.get("access_token").and_then(Value::as_str) {
        match cx.introspect(at, None).await {
            Some(ix) if ix.field("active").is_some() => {
                if ix.field("active") == Some(Value::Bool(false)) {
                    cx.pass("TOK-AC-03", "");
                } else {
                    cx.fail(
                        "TOK-AC-03",
                        "the access token from a replayed code is still active",
                        Some(&ix),
                    );
                }
            }
            _ => cx.skip("TOK-AC-03", "cannot introspect the access token"),
        }
    }
    // 04: reuse after 30 s (the mock's clock moves; elsewhere only with slow checks)
    if cx.slow_ok() {
        let Some(f) = login::run_flow(cx, &base).await else {
            return;
        };
        let _ = login::redeem(cx, &f, None, |_| {}).await;
        cx.elapse(Duration::from_secs(31)).await;
        if let Some(ex) = login::redeem(cx, &f, None, |_| {}).await {
            cx.check(
                "TOK-AC-04",
                ex.status == 400 && ex.error_code().as_deref() == Some("invalid_grant"),
                "a used code redeemed 30 s later was not invalid_grant",
                &ex,
            );
        }
        cx.restore_time();
        // 08: first redemption after the code's lifetime
        let Some(f) = login::run_flow(cx, &base).await else {
            return;
        };
        cx.elapse(Duration::from_secs(11 * 60)).await;
        if let Some(ex) = login::redeem(cx, &f, None, |_| {}).await {
            cx.check(
                "TOK-AC-08",
                ex.status == 400 && ex.error_code().as_deref() == Some("invalid_grant"),
                "a code redeemed 11 minutes after issue was not invalid_grant",
                &ex,
            );
            cx.check(
                "AUTHZ-17",
                ex.status == 400 && ex.error_code().as_deref() == Some("invalid_grant"),
                "a code was still redeemable 11 minutes after issue (10 minutes or less RECOMMENDED)",
                &ex,
            );
        }
        cx.restore_time();
    } else {
        cx.skip("TOK-AC-04", "slow check: enable server.slow_checks");
        cx.skip("TOK-AC-08", "slow check: enable server.slow_checks");
        cx.skip("AUTHZ-17", "slow check: enable server.slow_checks");
    }
    // 05 different redirect_uri
    let Some(f) = login::run_flow(cx, &base).await else {
        return;
    };
    let other = format!("{}/other", f.redirect_uri);
    if let Some(ex) = login::redeem(cx, &f, None, |p| set(p, "redirect_uri", Some(&other))).await {
        cx.check(
            "TOK-AC-05",
            ex.status == 400 && ex.error_code().as_deref() == Some("invalid_grant"),
            "a different redirect_uri at the token endpoint was not invalid_grant",
            &ex,
        );
    }
    // 06 redirect_uri omitted
    let Some(f) = login::run_flow(cx, &base).await else {
        return;
    };
    if let Some(ex) = login::redeem(cx, &f, None, |p| set(p, "redirect_uri", None)).await {
        cx.check(
            "TOK-AC-06",
            ex.status == 400
                && matches!(
                    ex.error_code().as_deref(),
                    Some("invalid_grant" | "invalid_request")
                ),
            "redirect_uri omitted at the token endpoint was accepted",
            &ex,
        );
    }
    // 07 another client redeems the code
    match cx.other() {
        Some(svc) => {
            let Some(f) = login::run_flow(cx, &base).await else {
                return;
            };
            if let Some(ex) = login::redeem(cx, &f, Some(&svc), |_| {}).await {
                match (ex.status, ex.error_code().as_deref()) {
                    (200, _) => {
                        cx.fail("TOK-AC-07", "client B redeemed client A's code", Some(&ex))
                    }
                    (400, Some("invalid_grant")) => cx.pass("TOK-AC-07", ""),
                    _ => cx.warn(
                        "TOK-AC-07",
                        format!(
                            "client B refused with {} {:?} (expected invalid_grant)",
                            ex.status,
                            ex.error_code()
                        ),
                        Some(&ex),
                    ),
                }
            }
        }
        _ => cx.skip("TOK-AC-07", "needs a second client"),
    }
    tok_ac_10(cx).await;
}

/// Public client: `client_id` in the body is required, and the code is bound to it.
async fn tok_ac_10(cx: &mut Ctx) {
    let Some((public, opts)) = login::public_flow(cx) else {
        cx.skip("TOK-AC-10", "no public client in the target (mode A)");
        return;
    };
    let Some(f) = login::run_flow(cx, &opts).await else {
        return;
    };
    let Some(ok) = login::redeem(cx, &f, Some(&public), |_| {}).await else {
        cx.fail(
            "TOK-AC-10",
            format!("the public client got no code: {:?}", f.result.stopped),
            f.result.last(),
        );
        return;
    };
    cx.check(
        "TOK-AC-10",
        ok.status == 200,
        "the public client's code exchange (client_id in the body) failed",
        &ok,
    );
    // without client_id
    let Some(f) = login::run_flow(cx, &opts).await else {
        return;
    };
    if let (Some(code), Some(url)) = (f.code().map(str::to_owned), cx.token_endpoint().await) {
        let v = f.verifier.clone().unwrap_or_default();
        let ex = cx
            .http
            .send(crate::http::Req::post_form(
                &url,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", &f.redirect_uri),
                    ("code_verifier", &v),
                ],
            ))
            .await;
        cx.check(
            "TOK-AC-10",
            ex.status != 200,
            "a public client's code was redeemed without client_id",
            &ex,
        );
    }
    // with another public client_id: the code belongs to the SPA
    let Some(f) = login::run_flow(cx, &opts).await else {
        return;
    };
    let mut stranger = public.clone();
    stranger.client_id = cx
        .web()
        .map(|w| w.client_id)
        .unwrap_or_else(|| "conformance-other".into());
    if let Some(ex) = login::redeem(cx, &f, Some(&stranger), |_| {}).await {
        cx.check(
            "TOK-AC-10",
            ex.status != 200,
            "a public client's code was redeemed under another client_id",
            &ex,
        );
    }
}
