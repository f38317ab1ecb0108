//! REV: token revocation (RFC 7009).

use serde_json::Value;

use super::Ctx;
use crate::http::Req;
use crate::login;
use crate::target::Client;

pub const IDS: &[&str] = &[
    "REV-01", "REV-02", "REV-03", "REV-04", "REV-05", "REV-06", "REV-07", "REV-08", "REV-09",
    "REV-10", "REV-11",
];

async fn revoke(
    cx: &mut Ctx,
    url: &str,
    c: &Client,
    token: &str,
    hint: Option<&str>,
) -> crate::http::Exchange {
    let mut p = vec![("token", token)];
    if let Some(h) = hint {
        p.push(("token_type_hint", h));
    }
    cx.http.send(Ctx::authenticated(url, c, &p)).await
}

async fn active(cx: &mut Ctx, token: &str) -> Option<bool> {
    let ex = cx.introspect(token, None).await?;
    ex.field("active").and_then(|v| v.as_bool())
}

pub async fn run(cx: &mut Ctx) {
    let Some(url) = cx.revocation_endpoint().await else {
        cx.skip_all(IDS, "the target offers no revocation endpoint");
        return;
    };
    let Some(caller) = cx.introspect_client() else {
        cx.skip_all(IDS, "no client");
        return;
    };
    // 05 unknown / garbage → 200
    let ex = revoke(cx, &url, &caller, "conformance-garbage-token-0000", None).await;
    cx.check(
        "REV-05",
        ex.status == 200,
        "revoking an unknown token is not 200",
        &ex,
    );
    // 06 invalid hint ignored
    let ex = revoke(
        cx,
        &url,
        &caller,
        "conformance-garbage-token-0001",
        Some("conformance_hint"),
    )
    .await;
    cx.check(
        "REV-06",
        ex.status == 200,
        "an unknown token_type_hint was not ignored",
        &ex,
    );
    // 07 missing / invalid client authentication
    let ex = cx.http.send(Req::post_form(&url, &[("token", "x")])).await;
    cx.check(
        "REV-07",
        ex.status == 401 && ex.error_code().as_deref() == Some("invalid_client"),
        "revocation without client authentication was not 401 invalid_client",
        &ex,
    );
    let ex = cx
        .http
        .send(Req::post_form(&url, &[("token", "x")]).basic(&caller.client_id, "wrong-secret"))
        .await;
    cx.check(
        "REV-07",
        ex.status == 401 && ex.error_code().as_deref() == Some("invalid_client"),
        "revocation with a wrong secret was not 401 invalid_client",
        &ex,
    );
    // 09 missing token
    let ex = cx
        .http
        .send(Ctx::authenticated(
            &url,
            &caller,
            &[("token_type_hint", "access_token")],
        ))
        .await;
    cx.check(
        "REV-09",
        ex.status == 400 && ex.error_code().as_deref() == Some("invalid_request"),
        "a missing token parameter was not 400 invalid_request",
        &ex,
    );
    // 10 GET
    let ex = cx
        .http
        .send(Req::get(&url).query(&[("token", "x")]).basic(
            &caller.client_id,
            caller.client_secret.as_deref().unwrap_or(""),
        ))
        .await;
    cx.check(
        "REV-10",
        ex.status != 200,
        "GET on the revocation endpoint was accepted",
        &ex,
    );
    let can_introspect = cx.introspection_endpoint().await.is_some();
    // 04 revoke an access token; 06 wrong hint still revokes; 05 already revoked → 200
    if let Some(t) = cx.introspectable_token().await {
        let before = active(cx, &t).await;
        let ex = revoke(cx, &url, &caller, &t, Some("refresh_token")).await;
        if ex.status == 400 && ex.error_code().as_deref() == Some("unsupported_token_type") {
            cx.pass(
                "REV-04",
                "access-token revocation unsupported, answered unsupported_token_type",
            );
        } else if before != Some(true) || !can_introspect {
            cx.check(
                "REV-04",
                ex.status == 200,
                "revoking an access token was not 200",
                &ex,
            );
            cx.skip(
                "REV-06",
                "cannot observe the token state through introspection",
            );
        } else {
            let after = active(cx, &t).await;
            cx.check(
                "REV-04",
                ex.status == 200 && after == Some(false),
                format!("after revocation introspection says active = {after:?}"),
                &ex,
            );
            cx.check(
                "REV-06",
                after == Some(false),
                "a wrong hint (refresh_token for an access token) did not revoke",
                &ex,
            );
        }
        if ex.status == 200 {
            let again = revoke(cx, &url, &caller, &t, None).await;
            cx.check(
                "REV-05",
                again.status == 200,
                "revoking an already-revoked token is not 200",
                &again,
            );
        }
    }
    // 08 client B revoking A's token
    match (cx.not_service(), cx.service()) {
        (Some(w), Some(_)) if can_introspect => {
            if let Some(t) = cx.introspectable_token().await {
                let ex = revoke(cx, &url, &w, &t, None).await;
                let still = active(cx, &t).await;
                if still == Some(true) {
                    cx.pass("REV-08", "");
                    if ex.status == 200 {
                        cx.warn("REV-08", "client B got 200 for revoking client A's token (an error is expected, though the token stayed active)", Some(&ex));
                    }
                } else if still.is_none() {
                    cx.skip("REV-08", "cannot observe the token state");
                } else {
                    cx.fail("REV-08", "client B revoked client A's token", Some(&ex));
                }
            }
        }
        _ => cx.skip("REV-08", "needs two clients and introspection"),
    }
    // 01, 02, 03, 11: refresh tokens from a fresh user flow
    if !login::can_login(cx) {
        for id in ["REV-01", "REV-02", "REV-03", "REV-11"] {
            cx.skip(id, "needs a user login");
        }
        return;
    }
    let Some(web) = cx.web() else { return };
    match login::code_flow_tokens(cx).await {
        Some(u) if u.refresh_token.is_some() => {
            let rt = u.refresh_token.clone().unwrap_or_default();
            let ex = revoke(cx, &url, &web, &rt, Some("refresh_token")).await;
            cx.check(
                "REV-01",
                ex.status == 200,
                "revoking a refresh token was not 200",
                &ex,
            );
            let r = cx
                .token_request(
                    &web,
                    &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
                )
                .await;
            cx.check(
                "REV-02",
                r.status == 400 && r.error_code().as_deref() == Some("invalid_grant"),
                "a revoked refresh token still refreshes (or not with invalid_grant)",
                &r,
            );
            match (&u.access_token, can_introspect) {
                (Some(at), true) => match active(cx, at).await {
                    Some(false) => cx.pass("REV-03", ""),
                    Some(true) => cx.fail(
                        "REV-03",
                        "the access token of the revoked grant is still active",
                        Some(&ex),
                    ),
                    None => cx.skip("REV-03", "the AS does not introspect this access token"),
                },
                _ => cx.skip("REV-03", "no introspection"),
            }
        }
        Some(_) => {
            for id in ["REV-01", "REV-02", "REV-03"] {
                cx.skip(id, "the code flow issued no refresh token");
            }
        }
        None => {
            for id in ["REV-01", "REV-02", "REV-03"] {
                cx.skip(id, "the code flow failed");
            }
        }
    }
    // 11: revoking the access token, does the refresh token survive?
    match login::code_flow_tokens(cx).await {
        Some(u) if u.refresh_token.is_some() && u.access_token.is_some() => {
            let at = u.access_token.clone().unwrap_or_default();
            let rt = u.refresh_token.clone().unwrap_or_default();
            let _ = revoke(cx, &url, &web, &at, Some("access_token")).await;
            let r = cx
                .token_request(
                    &web,
                    &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
                )
                .await;
            cx.info(
                "REV-11",
                format!(
                    "after revoking the access token, the refresh token {}",
                    if r.status == 200 {
                        "still works"
                    } else {
                        "was revoked too"
                    }
                ),
            );
            let _ = Value::Null;
        }
        _ => cx.skip("REV-11", "no access + refresh token pair"),
    }
}
