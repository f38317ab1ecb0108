//! TOK-GEN: token endpoint behaviour common to every grant (RFC 6749 §3.2, §5).

use std::collections::HashSet;

use serde_json::Value;

use super::Ctx;
use crate::http::{Exchange, Req};

pub const IDS: &[&str] = &[
    "TOK-GEN-01",
    "TOK-GEN-02",
    "TOK-GEN-03",
    "TOK-GEN-04",
    "TOK-GEN-05",
    "TOK-GEN-06",
    "TOK-GEN-07",
    "TOK-GEN-08",
    "TOK-GEN-09",
    "TOK-GEN-10",
    "TOK-GEN-11",
    "TOK-GEN-12",
    "TOK-GEN-13",
];

const ERRORS: &[&str] = &[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
];

/// RFC 6749 §5.1 success: 200, JSON, access_token, token_type, sane expires_in.
pub fn success_problems(ex: &Exchange) -> Vec<String> {
    let mut p = Vec::new();
    if ex.status != 200 {
        p.push(format!("status {}", ex.status));
    }
    if !ex.is_json_content_type() {
        p.push("not application/json".into());
    }
    let Some(j) = ex.json() else {
        p.push("body is not JSON".into());
        return p;
    };
    if !j.get("access_token").is_some_and(Value::is_string) {
        p.push("no access_token".into());
    }
    match j.get("token_type").and_then(Value::as_str) {
        Some(t)
            if t.eq_ignore_ascii_case("bearer")
                || t.eq_ignore_ascii_case("dpop")
                || t.eq_ignore_ascii_case("n_a") => {}
        other => p.push(format!("token_type {other:?}")),
    }
    if let Some(e) = j.get("expires_in") {
        match e.as_i64() {
            Some(n) if n > 0 && n <= 366 * 86400 => {}
            _ => p.push(format!(
                "expires_in {e} is not a positive integer of a year or less"
            )),
        }
    }
    p
}

/// RFC 6749 §5.2 error: 400 (401 for invalid_client), JSON, registered code, charset.
pub fn error_problems(ex: &Exchange) -> Vec<String> {
    let mut p = Vec::new();
    let code = ex.error_code();
    let status_ok = match code.as_deref() {
        Some("invalid_client") => ex.status == 400 || ex.status == 401,
        _ => ex.status == 400,
    };
    if !status_ok {
        p.push(format!("status {} for error {code:?}", ex.status));
    }
    if !ex.is_json_content_type() {
        p.push("not application/json".into());
    }
    match code.as_deref() {
        Some(c) if ERRORS.contains(&c) => {}
        other => p.push(format!(
            "error {other:?} is not a registered token-endpoint error"
        )),
    }
    if let Some(d) = ex.str_field("error_description")
        && !d.bytes().all(|b| {
            b == 0x20 || b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b)
        })
    {
        p.push("error_description has characters outside %x20-21 / %x23-5B / %x5D-7E".into());
    }
    p
}

pub fn vschar(s: &str) -> bool {
    s.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

pub async fn run(cx: &mut Ctx) {
    let Some(client) = cx.service() else {
        cx.skip_all(IDS, "no service client in the target");
        return;
    };
    let Some(url) = cx.token_endpoint().await else {
        cx.skip_all(IDS, "no token_endpoint");
        return;
    };
    // 01: GET
    let ex = cx
        .http
        .send(
            Req::get(&url)
                .query(&[("grant_type", "client_credentials")])
                .basic(
                    &client.client_id,
                    client.client_secret.as_deref().unwrap_or(""),
                ),
        )
        .await;
    cx.check(
        "TOK-GEN-01",
        (400..500).contains(&ex.status) && ex.field("access_token").is_none(),
        "GET on the token endpoint was not refused with a 4xx",
        &ex,
    );
    // 02/03/10 on a normal success
    let Some(ok) = cx.cc_exchange().await else {
        return;
    };
    let p = success_problems(&ok);
    cx.check("TOK-GEN-02", p.is_empty(), p.join("; "), &ok);
    let cc = ok
        .header("cache-control")
        .unwrap_or("")
        .to_ascii_lowercase();
    cx.check(
        "TOK-GEN-03",
        cc.contains("no-store"),
        "no Cache-Control: no-store on a token response",
        &ok,
    );
    if ok
        .header("pragma")
        .is_none_or(|p| !p.eq_ignore_ascii_case("no-cache"))
    {
        cx.warn(
            "TOK-GEN-03",
            "no Pragma: no-cache (legacy header 6749 still asks for)",
            Some(&ok),
        );
    }
    let at = ok.str_field("access_token").unwrap_or_default();
    cx.check(
        "TOK-GEN-10",
        vschar(&at) && !at.is_empty(),
        "access_token has non-VSCHAR characters",
        &ok,
    );
    // 05 unknown grant
    let ex = cx
        .token_request(&client, &[("grant_type", "urn:example:unknown-grant")])
        .await;
    let mut p = error_problems(&ex);
    if ex.error_code().as_deref() != Some("unsupported_grant_type") {
        p.push(format!(
            "error {:?} (want unsupported_grant_type)",
            ex.error_code()
        ));
    }
    cx.check("TOK-GEN-05", p.is_empty(), p.join("; "), &ex);
    let p4 = error_problems(&ex);
    cx.check("TOK-GEN-04", p4.is_empty(), p4.join("; "), &ex);
    // 06 missing grant_type; missing code
    let ex = cx
        .token_request(&client, &[("scope", client.scope.as_deref().unwrap_or(""))])
        .await;
    cx.check(
        "TOK-GEN-06",
        ex.status == 400 && ex.error_code().as_deref() == Some("invalid_request"),
        "missing grant_type is not 400 invalid_request",
        &ex,
    );
    let p4 = error_problems(&ex);
    cx.check("TOK-GEN-04", p4.is_empty(), p4.join("; "), &ex);
    if let Some(web) = cx.web() {
        let ex = cx
            .token_request(
                &web,
                &[
                    ("grant_type", "authorization_code"),
                    ("redirect_uri", web.redirect_uri.as_deref().unwrap_or("")),
                ],
            )
            .await;
        cx.check(
            "TOK-GEN-06",
            ex.status == 400 && ex.error_code().as_deref() == Some("invalid_request"),
            "authorization_code without `code` is not 400 invalid_request",
            &ex,
        );
    }
    // 07 repeated parameter
    let scope = client.scope.clone().unwrap_or_default();
    let ex = cx
        .token_request(
            &client,
            &[
                ("grant_type", "client_credentials"),
                ("grant_type", "client_credentials"),
                ("scope", &scope),
            ],
        )
        .await;
    cx.check(
        "TOK-GEN-07",
        ex.status == 400 && ex.error_code().as_deref() == Some("invalid_request"),
        "a repeated parameter is not 400 invalid_request",
        &ex,
    );
    // 08 unknown extra parameter ignored
    let mut params = vec![
        ("grant_type", "client_credentials"),
        ("x_unknown_param", "foobar"),
    ];
    if !scope.is_empty() {
        params.push(("scope", &scope));
    }
    if let Some(r) = &client.resource {
        params.push(("resource", r));
    }
    let ex = cx.token_request(&client, &params).await;
    cx.check(
        "TOK-GEN-08",
        ex.status == 200 && ex.field("access_token").is_some(),
        "an unknown parameter was not ignored",
        &ex,
    );
    // 09 empty value = absent: an empty scope behaves like no scope
    let mut p_empty = vec![("grant_type", "client_credentials"), ("scope", "")];
    let mut p_absent = vec![("grant_type", "client_credentials")];
    if let Some(r) = &client.resource {
        p_empty.push(("resource", r));
        p_absent.push(("resource", r));
    }
    let e1 = cx.token_request(&client, &p_empty).await;
    let e2 = cx.token_request(&client, &p_absent).await;
    let same = e1.status == e2.status && e1.error_code() == e2.error_code();
    cx.check(
        "TOK-GEN-09",
        same,
        format!(
            "empty scope gave {} {:?}, absent scope gave {} {:?}",
            e1.status,
            e1.error_code(),
            e2.status,
            e2.error_code()
        ),
        &e1,
    );
    // 11 unguessable: 8 samples, no collisions, at least 128 bits of characters
    let mut seen = HashSet::new();
    let mut short = false;
    for _ in 0..8 {
        if let Some(e) = cx.client_credentials().await
            && let Some(t) = e.str_field("access_token")
        {
            short |= t.len() < 22;
            seen.insert(t);
        }
    }
    cx.check(
        "TOK-GEN-11",
        seen.len() == 8 && !short,
        format!("{} distinct tokens of 8, short: {short}", seen.len()),
        &ok,
    );
    // 12 scope reported when it differs
    let requested: HashSet<&str> = scope.split_whitespace().collect();
    match ok.str_field("scope") {
        Some(s) => {
            let granted: HashSet<&str> = s.split_whitespace().collect();
            cx.pass(
                "TOK-GEN-12",
                if granted == requested {
                    "scope echoed"
                } else {
                    "narrower scope reported"
                },
            );
        }
        None if !requested.is_empty() => {
            cx.pass("TOK-GEN-12", "scope omitted: granted = requested")
        }
        None => cx.fail(
            "TOK-GEN-12",
            "no scope requested and none reported (the default grant is unknown to the client)",
            Some(&ok),
        ),
    }
    // 13 https
    cx.check(
        "TOK-GEN-13",
        super::disc::acceptable_url(&url, cx.allow_http_loopback()),
        "token endpoint is not https",
        &ok,
    );
}
