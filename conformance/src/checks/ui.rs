//! UI: the userinfo endpoint (OIDC Core §5.3, RFC 6750 errors).

use super::Ctx;
use crate::http::{Req, challenge_param, parse_challenge};
use crate::jwt::Jwt;

pub const IDS: &[&str] = &[
    "UI-01", "UI-02", "UI-03", "UI-04", "UI-05", "UI-06", "UI-07", "UI-08", "UI-10",
];

pub async fn run(cx: &mut Ctx) {
    let Some(url) = cx.meta_str("userinfo_endpoint").await else {
        cx.skip_all(IDS, "no userinfo_endpoint");
        return;
    };
    // 06 no token
    let ex = cx.http.send(Req::get(&url)).await;
    match ex.header("www-authenticate").map(parse_challenge) {
        Some(Ok((scheme, params))) if scheme.eq_ignore_ascii_case("bearer") => {
            cx.check(
                "UI-06",
                ex.status == 401,
                format!("status {} (want 401)", ex.status),
                &ex,
            );
            if challenge_param(&params, "error").is_some() {
                cx.warn(
                    "UI-06",
                    "an error attribute on a request without credentials",
                    Some(&ex),
                );
            }
        }
        other => cx.fail(
            "UI-06",
            format!("no Bearer challenge: {other:?}"),
            Some(&ex),
        ),
    }
    // 07 invalid token
    let ex = cx
        .http
        .send(Req::get(&url).bearer("conformance-invalid-token"))
        .await;
    match ex.header("www-authenticate").map(parse_challenge) {
        Some(Ok((scheme, params))) => {
            let ok = scheme.eq_ignore_ascii_case("bearer")
                && challenge_param(&params, "error") == Some("invalid_token");
            cx.check(
                "UI-07",
                ok,
                "an invalid token did not get a Bearer error=\"invalid_token\" challenge",
                &ex,
            );
            if ex.status != 401 {
                cx.warn(
                    "UI-07",
                    format!("status {} (want 401)", ex.status),
                    Some(&ex),
                );
            }
        }
        other => cx.fail(
            "UI-07",
            format!("no parseable challenge: {other:?}"),
            Some(&ex),
        ),
    }
    // 08 a client-credentials token (no openid)
    match cx.cc_token().await {
        Some(t) => {
            let ex = cx.http.send(Req::get(&url).bearer(&t)).await;
            let err = ex
                .header("www-authenticate")
                .and_then(|h| parse_challenge(h).ok())
                .and_then(|(_, p)| challenge_param(&p, "error").map(str::to_owned));
            let ok = (ex.status == 403 && err.as_deref() == Some("insufficient_scope"))
                || (ex.status == 401 && err.as_deref() == Some("invalid_token"));
            cx.check(
                "UI-08",
                ok,
                format!("a token without openid: {} {err:?}", ex.status),
                &ex,
            );
        }
        None => cx.skip("UI-08", "no client-credentials token"),
    }
    let Some(u) = cx.user_tokens().await else {
        for id in ["UI-01", "UI-02", "UI-03", "UI-04", "UI-05", "UI-10"] {
            cx.skip(id, "needs a user login");
        }
        return;
    };
    let at = u.access_token.clone().unwrap_or_default();
    // 01 GET
    let ex = cx.http.send(Req::get(&url).bearer(&at)).await;
    let j = ex.json().unwrap_or_default();
    cx.check(
        "UI-01",
        ex.status == 200 && ex.is_json_content_type() && j.get("sub").is_some(),
        "GET userinfo is not 200 JSON with sub",
        &ex,
    );
    let id_sub = u
        .id_token
        .as_deref()
        .and_then(Jwt::decode)
        .and_then(|t| t.c("sub").map(str::to_owned));
    cx.check(
        "UI-04",
        j.get("sub").and_then(|v| v.as_str()) == id_sub.as_deref(),
        format!("userinfo sub {:?} != ID token sub {id_sub:?}", j.get("sub")),
        &ex,
    );
    let types = super::idt::claim_types(&j);
    cx.check("UI-05", types.is_ok(), types.err().unwrap_or_default(), &ex);
    // 10: granted-scope claims present
    let granted = u.scope.clone().unwrap_or_default();
    let mut missing = Vec::new();
    if granted.split_whitespace().any(|s| s == "email") && j.get("email").is_none() {
        missing.push("email");
    }
    if !granted.split_whitespace().any(|s| s == "email") && j.get("email").is_some() {
        missing.push("(email without the email scope)");
    }
    cx.check(
        "UI-10",
        missing.is_empty(),
        format!("claims vs granted scope: {missing:?}"),
        &ex,
    );
    // 02 POST with the header
    let ex = cx.http.send(Req::new("POST", &url).bearer(&at)).await;
    cx.check(
        "UI-02",
        ex.status == 200 && ex.field("sub").is_some(),
        "POST userinfo with the Authorization header is not 200",
        &ex,
    );
    // 03 POST with the token in the body
    let ex = cx
        .http
        .send(Req::post_form(&url, &[("access_token", &at)]))
        .await;
    if ex.status == 200 {
        cx.pass("UI-03", "form-body token accepted");
    } else {
        let bearer = ex
            .header("www-authenticate")
            .is_some_and(|h| h.to_ascii_lowercase().starts_with("bearer"));
        if bearer && (400..500).contains(&ex.status) {
            cx.info(
                "UI-03",
                format!("form-body token refused cleanly ({})", ex.status),
            );
        } else {
            cx.fail(
                "UI-03",
                format!("form-body token: {} without a Bearer challenge", ex.status),
                Some(&ex),
            );
        }
    }
}
