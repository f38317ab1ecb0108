//! RT: refresh tokens (RFC 6749 §6, OIDC Core §12).

use std::collections::HashSet;
use std::time::Duration;

use super::Ctx;
use super::tok_gen::vschar;
use crate::jwt::Jwt;
use crate::login;

pub const IDS: &[&str] = &[
    "RT-01", "RT-02", "RT-03", "RT-04", "RT-05", "RT-06", "RT-07", "RT-08", "RT-09", "RT-10",
    "RT-11",
];

pub async fn run(cx: &mut Ctx) {
    let Some(web) = cx.web() else {
        cx.skip_all(IDS, "no web client");
        return;
    };
    // 10 garbage refresh token (headless)
    let ex = cx
        .token_request(
            &web,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", "conformance-garbage-refresh-token"),
            ],
        )
        .await;
    cx.check(
        "RT-10",
        ex.status == 400 && ex.error_code().as_deref() == Some("invalid_grant"),
        "a garbage refresh token was not 400 invalid_grant",
        &ex,
    );
    if !login::can_login(cx) {
        for id in IDS.iter().filter(|i| **i != "RT-10") {
            cx.skip(id, "needs a user login (target has none)");
        }
        return;
    }
    let Some(u) = login::code_flow_tokens(cx).await else {
        return;
    };
    let Some(rt) = u.refresh_token.clone() else {
        for id in IDS.iter().filter(|i| **i != "RT-10") {
            cx.skip(
                id,
                "the code flow issued no refresh token (offline_access not granted)",
            );
        }
        return;
    };
    let first = u.exchange.clone().unwrap_or_else(|| unreachable!());
    // 11 VSCHAR, length, uniqueness
    let second = login::code_flow_tokens(cx)
        .await
        .and_then(|t| t.refresh_token);
    let distinct: HashSet<&str> = [Some(rt.as_str()), second.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    cx.check(
        "RT-11",
        vschar(&rt) && rt.len() >= 22 && distinct.len() == 2,
        "refresh token not VSCHAR, shorter than 128 bits, or repeated",
        &first,
    );
    let granted = u.scope.clone().unwrap_or_default();
    // 01 + 08 + 09: a plain refresh
    let ex = cx
        .token_request(
            &web,
            &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
        )
        .await;
    let cc = ex
        .header("cache-control")
        .unwrap_or("")
        .to_ascii_lowercase();
    cx.check(
        "RT-01",
        ex.status == 200 && ex.field("access_token").is_some() && cc.contains("no-store"),
        "refresh: not 200 with access_token and Cache-Control: no-store",
        &ex,
    );
    let new_rt = ex.str_field("refresh_token");
    let cur_rt = new_rt.clone().unwrap_or(rt.clone());
    let scope_after = ex.str_field("scope");
    let same_scope = scope_after.as_deref().is_none_or(|s| {
        let a: HashSet<&str> = s.split_whitespace().collect();
        let b: HashSet<&str> = granted.split_whitespace().collect();
        a == b
    });
    cx.check(
        "RT-08",
        same_scope,
        format!("refreshed scope {scope_after:?} != original {granted}"),
        &ex,
    );
    cx.check(
        "RT-05",
        same_scope,
        "with scope omitted the original scope was not kept",
        &ex,
    );
    match new_rt {
        Some(n) if n != rt => cx.info("RT-06", "the refresh token rotates (a confidential client)"),
        _ => cx.info(
            "RT-06",
            "the refresh token does not rotate for this confidential client (MAY)",
        ),
    }
    match (
        u.id_token.as_deref().and_then(Jwt::decode),
        ex.str_field("id_token").and_then(|t| Jwt::decode(&t)),
    ) {
        (Some(a), Some(b)) => {
            let mut p = Vec::new();
            for c in ["iss", "sub", "aud", "auth_time", "azp"] {
                if a.claims.get(c) != b.claims.get(c) {
                    p.push(format!("{c} changed"));
                }
            }
            if b.n("iat") < a.n("iat") {
                p.push("iat went backwards".into());
            }
            if let Some(n) = b.c("nonce")
                && Some(n) != a.c("nonce")
            {
                p.push("a different nonce".into());
            }
            cx.check("RT-09", p.is_empty(), p.join("; "), &ex);
        }
        (Some(_), None) => cx.pass("RT-09", "no ID token on refresh"),
        _ => cx.skip("RT-09", "no ID token"),
    }
    // 02 no client authentication
    let url = cx.token_endpoint().await.unwrap_or_default();
    let ex = cx
        .http
        .send(crate::http::Req::post_form(
            &url,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &cur_rt),
                ("client_id", &web.client_id),
            ],
        ))
        .await;
    cx.check(
        "RT-02",
        ex.status != 200
            && matches!(
                ex.error_code().as_deref(),
                Some("invalid_client" | "invalid_grant" | "invalid_request")
            ),
        "a refresh without client authentication was accepted",
        &ex,
    );
    // 03 another client
    if let Some(svc) = cx.other() {
        let ex = cx
            .token_request(
                &svc,
                &[("grant_type", "refresh_token"), ("refresh_token", &cur_rt)],
            )
            .await;
        match (ex.status, ex.error_code().as_deref()) {
            (200, _) => cx.fail(
                "RT-03",
                "client B refreshed with client A's refresh token",
                Some(&ex),
            ),
            (400, Some("invalid_grant")) => cx.pass("RT-03", ""),
            _ => cx.warn(
                "RT-03",
                format!(
                    "refused with {} {:?} (expected invalid_grant)",
                    ex.status,
                    ex.error_code()
                ),
                Some(&ex),
            ),
        }
    } else {
        cx.skip("RT-03", "needs a second client");
    }
    // 04 broader scope
    let ex = cx
        .token_request(
            &web,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &cur_rt),
                ("scope", &format!("{granted} conformance.extra")),
            ],
        )
        .await;
    cx.check(
        "RT-04",
        ex.status == 400 && ex.error_code().as_deref() == Some("invalid_scope"),
        "a refresh asking for more scope was not invalid_scope",
        &ex,
    );
    // 05 subset scope
    let subset: Vec<&str> = granted
        .split_whitespace()
        .filter(|s| *s != "offline_access")
        .take(2)
        .collect();
    if !subset.is_empty() {
        let sub = subset.join(" ");
        let ex = cx
            .token_request(
                &web,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &cur_rt),
                    ("scope", &sub),
                ],
            )
            .await;
        let ok = ex.status == 200
            && ex
                .str_field("scope")
                .is_none_or(|s| s.split_whitespace().all(|x| subset.contains(&x)));
        cx.check(
            "RT-05",
            ok,
            format!(
                "a subset scope refresh: {} scope {:?}",
                ex.status,
                ex.str_field("scope")
            ),
            &ex,
        );
    }
    rotation(cx).await;
}

/// RT-06 / RT-07 for a public client: rotation, then replay of a rotated-out token after the leeway.
async fn rotation(cx: &mut Ctx) {
    let Some((public, opts)) = login::public_flow(cx) else {
        cx.skip("RT-07", "no public client in the target (mode A)");
        return;
    };
    let Some(f) = login::run_flow(cx, &opts).await else {
        return;
    };
    let Some(ex) = login::redeem(cx, &f, Some(&public), |_| {}).await else {
        return;
    };
    let Some(rt0) = ex.str_field("refresh_token") else {
        cx.skip("RT-06", "the public client got no refresh token");
        cx.skip("RT-07", "the public client got no refresh token");
        return;
    };
    let r1 = cx
        .token_request(
            &public,
            &[("grant_type", "refresh_token"), ("refresh_token", &rt0)],
        )
        .await;
    let rt1 = r1.str_field("refresh_token");
    let rotated = r1.status == 200 && rt1.as_deref().is_some_and(|n| n != rt0);
    cx.check(
        "RT-06",
        rotated,
        "a public client's refresh did not return a new refresh token",
        &r1,
    );
    if !cx.slow_ok() {
        cx.skip(
            "RT-07",
            "slow check (waits past the rotation leeway): enable server.slow_checks",
        );
        return;
    }
    let Some(rt1) = rt1 else { return };
    cx.elapse(Duration::from_secs(61)).await;
    let old = cx
        .token_request(
            &public,
            &[("grant_type", "refresh_token"), ("refresh_token", &rt0)],
        )
        .await;
    cx.check(
        "RT-06",
        old.status == 400 && old.error_code().as_deref() == Some("invalid_grant"),
        "a rotated-out refresh token still worked after the leeway",
        &old,
    );
    let cur = cx
        .token_request(
            &public,
            &[("grant_type", "refresh_token"), ("refresh_token", &rt1)],
        )
        .await;
    cx.check(
        "RT-07",
        cur.status == 400 && cur.error_code().as_deref() == Some("invalid_grant"),
        "replaying a rotated-out refresh token did not revoke the current one",
        &cur,
    );
    cx.restore_time();
}
