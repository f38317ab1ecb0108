//! PKCE: RFC 7636 and the BCP's PKCE rules.

use super::Ctx;
use crate::jwt;
use crate::login::{self, Flow, FlowOpts};

pub const IDS: &[&str] = &[
    "PKCE-01", "PKCE-02", "PKCE-03", "PKCE-04", "PKCE-05", "PKCE-06", "PKCE-07", "PKCE-08",
    "PKCE-09", "PKCE-10", "PKCE-11",
];

fn set(p: &mut Vec<(String, String)>, k: &str, v: Option<&str>) {
    p.retain(|(n, _)| n != k);
    if let Some(v) = v {
        p.push((k.to_owned(), v.to_owned()));
    }
}

/// True when the authorization request itself was refused (error redirect or error page).
fn authz_refused(f: &Flow) -> bool {
    f.code().is_none()
}

pub async fn run(cx: &mut Ctx) {
    if !login::can_login(cx) {
        cx.skip_all(IDS, "needs a user login (target has none)");
        return;
    }
    let base = FlowOpts::default();
    // 01 happy path
    let Some(f) = login::run_flow(cx, &base).await else {
        return;
    };
    let Some(last) = f.result.last().cloned() else {
        return;
    };
    if f.code().is_none() {
        cx.fail(
            "PKCE-01",
            format!("no code for an S256 request: {:?}", f.result.stopped),
            Some(&last),
        );
        return;
    }
    // 02 wrong verifier (on a fresh code, then the same code must still be unusable)
    let wrong = login::redeem(cx, &f, None, |p| {
        set(p, "code_verifier", Some(&jwt::random(32)))
    })
    .await;
    if let Some(ex) = &wrong {
        cx.check(
            "PKCE-02",
            ex.status == 400 && ex.error_code().as_deref() == Some("invalid_grant"),
            "a wrong code_verifier was not 400 invalid_grant",
            ex,
        );
    }
    let Some(f) = login::run_flow(cx, &base).await else {
        return;
    };
    if let Some(ex) = login::redeem(cx, &f, None, |_| {}).await {
        cx.check(
            "PKCE-01",
            ex.status == 200 && ex.field("access_token").is_some(),
            "the matching S256 verifier did not yield tokens",
            &ex,
        );
    }
    // 03 verifier missing
    let Some(f) = login::run_flow(cx, &base).await else {
        return;
    };
    if let Some(ex) = login::redeem(cx, &f, None, |p| set(p, "code_verifier", None)).await {
        let ok = ex.status == 400
            && matches!(
                ex.error_code().as_deref(),
                Some("invalid_grant" | "invalid_request")
            );
        cx.check(
            "PKCE-03",
            ok,
            "a challenge was sent but no verifier: not refused with invalid_grant/invalid_request",
            &ex,
        );
    }
    // 04 downgrade
    let Some(f) = login::run_flow(
        cx,
        &FlowOpts {
            pkce: None,
            ..base.clone()
        },
    )
    .await
    else {
        return;
    };
    if authz_refused(&f) {
        cx.pass(
            "PKCE-04",
            "the AS requires PKCE at the authorization endpoint",
        );
    } else if let Some(ex) = login::redeem(cx, &f, None, |p| {
        set(p, "code_verifier", Some(&jwt::random(32)))
    })
    .await
    {
        cx.check(
            "PKCE-04",
            ex.status != 200,
            "a code_verifier without an earlier challenge was accepted (PKCE downgrade)",
            &ex,
        );
    }
    // 05 public client without challenge
    match cx.target.clients.public.clone() {
        None => cx.skip("PKCE-05", "no public client in the target (mode A)"),
        Some(p) => {
            let Some(f) = login::run_flow(
                cx,
                &FlowOpts {
                    pkce: None,
                    client_id: Some(p.client_id.clone()),
                    redirect_uri: p.redirect_uri.clone(),
                    scope: p.scope.clone(),
                    ..base.clone()
                },
            )
            .await
            else {
                return;
            };
            if let Some(last) = f.result.last().cloned() {
                cx.check(
                    "PKCE-05",
                    f.code().is_none() && f.result.param("error") == Some("invalid_request"),
                    "a public client without code_challenge was not refused with invalid_request",
                    &last,
                );
            }
        }
    }
    // 06 unsupported method
    let v = jwt::random(32);
    let ch = jwt::s256(&v);
    let Some(f) = login::run_flow(
        cx,
        &FlowOpts {
            pkce: None,
            extra: vec![
                ("code_challenge".into(), ch.clone()),
                ("code_challenge_method".into(), "S512".into()),
            ],
            ..base.clone()
        },
    )
    .await
    else {
        return;
    };
    if let Some(last) = f.result.last().cloned() {
        cx.check(
            "PKCE-06",
            f.code().is_none() && f.result.param("error") == Some("invalid_request"),
            format!(
                "code_challenge_method=S512: error {:?}",
                f.result.param("error")
            ),
            &last,
        );
    }
    // 07 method omitted = plain
    let plain_v = jwt::random(32);
    let Some(mut f) = login::run_flow(
        cx,
        &FlowOpts {
            pkce: None,
            extra: vec![("code_challenge".into(), plain_v.clone())],
            ..base.clone()
        },
    )
    .await
    else {
        return;
    };
    if let Some(last) = f.result.last().cloned() {
        if authz_refused(&f) {
            cx.check(
                "PKCE-07",
                f.result.param("error") == Some("invalid_request"),
                "method omitted: refused, but not with invalid_request",
                &last,
            );
        } else {
            // An S256-style verifier against the plain-stored challenge must fail; the plain one must work.
            f.verifier = Some(plain_v.clone());
            let s256_style = login::redeem(cx, &f, None, |p| {
                set(p, "code_verifier", Some(&jwt::s256(&plain_v)))
            })
            .await;
            if let Some(ex) = s256_style {
                cx.check(
                    "PKCE-07",
                    ex.status != 200,
                    "a plain challenge accepted a different verifier",
                    &ex,
                );
            }
        }
    }
    // 08 plain refused under the default profile
    let Some(f) = login::run_flow(
        cx,
        &FlowOpts {
            pkce: Some("plain"),
            ..base.clone()
        },
    )
    .await
    else {
        return;
    };
    if let Some(last) = f.result.last().cloned() {
        cx.check(
            "PKCE-08",
            authz_refused(&f) && f.result.param("error") == Some("invalid_request"),
            "code_challenge_method=plain was accepted",
            &last,
        );
    }
    // 09 verifier of 42 characters (challenge computed from it)
    let short_v: String = jwt::random(32).chars().take(42).collect();
    let Some(mut f) = login::run_flow(
        cx,
        &FlowOpts {
            pkce: None,
            extra: vec![
                ("code_challenge".into(), jwt::s256(&short_v)),
                ("code_challenge_method".into(), "S256".into()),
            ],
            ..base.clone()
        },
    )
    .await
    else {
        return;
    };
    if let Some(last) = f.result.last().cloned() {
        if f.code().is_none() {
            cx.pass("PKCE-09", "refused at the authorization endpoint");
        } else {
            f.verifier = Some(short_v.clone());
            match login::redeem(cx, &f, None, |_| {}).await {
                Some(ex) => {
                    cx.check(
                        "PKCE-09",
                        ex.status != 200,
                        "a 42-character code_verifier was accepted",
                        &ex,
                    );
                }
                None => cx.fail("PKCE-09", "no redemption", Some(&last)),
            }
        }
    }
    // 10 challenge of the wrong length
    let Some(f) = login::run_flow(
        cx,
        &FlowOpts {
            pkce: None,
            extra: vec![
                ("code_challenge".into(), "tooshort".into()),
                ("code_challenge_method".into(), "S256".into()),
            ],
            ..base.clone()
        },
    )
    .await
    else {
        return;
    };
    if let Some(last) = f.result.last().cloned() {
        cx.check(
            "PKCE-10",
            f.code().is_none() && f.result.param("error") == Some("invalid_request"),
            "an 8-character code_challenge was not refused with invalid_request",
            &last,
        );
    }
    // 11 verifier from flow A with the code of flow B
    let (Some(a), Some(b)) = (
        login::run_flow(cx, &base).await,
        login::run_flow(cx, &base).await,
    ) else {
        return;
    };
    let va = a.verifier.clone().unwrap_or_default();
    if let Some(ex) = login::redeem(cx, &b, None, |p| set(p, "code_verifier", Some(&va))).await {
        cx.check(
            "PKCE-11",
            ex.status == 400 && ex.error_code().as_deref() == Some("invalid_grant"),
            "flow A's verifier redeemed flow B's code",
            &ex,
        );
    }
}
