//! DISC: discovery and authorization-server metadata (OIDC Discovery, RFC 8414).

use serde_json::Value;

use super::Ctx;
use crate::http::Req;

pub const IDS: &[&str] = &[
    "DISC-01", "DISC-02", "DISC-03", "DISC-04", "DISC-05", "DISC-06", "DISC-07", "DISC-08",
    "DISC-09", "DISC-10", "DISC-11", "DISC-12", "DISC-13", "DISC-14", "DISC-15", "DISC-16",
    "DISC-17", "DISC-18", "DISC-19",
];

/// True for an https URL, or loopback http when the target allows it.
pub fn acceptable_url(u: &str, allow_loopback: bool) -> bool {
    let Ok(url) = url::Url::parse(u) else {
        return false;
    };
    match url.scheme() {
        "https" => true,
        "http" if allow_loopback => {
            matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))
        }
        _ => false,
    }
}

fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

pub async fn run(cx: &mut Ctx) {
    let ex = cx.discovery().await;
    let doc = ex.json().filter(Value::is_object);
    cx.check(
        "DISC-01",
        ex.status == 200 && ex.is_json_content_type() && doc.is_some(),
        "discovery is not 200 + application/json + a JSON object",
        &ex,
    );
    let Some(doc) = doc else {
        for id in IDS.iter().skip(1) {
            cx.skip(id, "no discovery document");
        }
        return;
    };
    let issuer = doc.get("issuer").and_then(Value::as_str).unwrap_or("");
    // DISC-02: identical.
    if issuer == cx.issuer {
        cx.pass("DISC-02", "");
    } else if cx.target.server.lenient_issuer_slash
        && issuer.trim_end_matches('/') == cx.issuer.trim_end_matches('/')
    {
        cx.warn(
            "DISC-02",
            format!(
                "issuer `{issuer}` differs from `{}` by a trailing slash",
                cx.issuer
            ),
            Some(&ex),
        );
    } else {
        cx.fail(
            "DISC-02",
            format!("issuer `{issuer}` is not identical to `{}`", cx.issuer),
            Some(&ex),
        );
    }
    // DISC-03
    let iu = url::Url::parse(issuer).ok();
    let ok3 = acceptable_url(issuer, cx.allow_http_loopback())
        && iu
            .as_ref()
            .is_some_and(|u| u.query().is_none() && u.fragment().is_none());
    cx.check(
        "DISC-03",
        ok3,
        format!("issuer `{issuer}` is not https without query/fragment"),
        &ex,
    );

    // DISC-04: RFC 8414 document, inserted form then appended form.
    let (origin, path) = match &iu {
        Some(u) => (
            u.origin().ascii_serialization(),
            u.path().trim_end_matches('/').to_owned(),
        ),
        None => (String::new(), String::new()),
    };
    let inserted = format!("{origin}/.well-known/oauth-authorization-server{path}");
    let appended = format!(
        "{}/.well-known/oauth-authorization-server",
        cx.issuer.trim_end_matches('/')
    );
    let mut found = None;
    for (form, u) in [("inserted", inserted), ("appended", appended)] {
        let e = cx.http.send(Req::get(u)).await;
        if e.status == 200 {
            found = Some((form, e));
            break;
        }
    }
    match found {
        Some((form, e)) => {
            let iss = e.str_field("issuer");
            let ok = e.is_json_content_type() && iss.as_deref() == Some(cx.issuer.as_str());
            if cx.check(
                "DISC-04",
                ok,
                format!("RFC 8414 document ({form} form) has issuer {iss:?}"),
                &e,
            ) {
                cx.info(
                    "DISC-04",
                    format!("RFC 8414 document answered in the {form} form"),
                );
            }
            // DISC-14 also reads the OAuth document (Okta lists client_credentials only there).
            check_grants(cx, &doc, e.json().as_ref());
        }
        None => {
            cx.skip(
                "DISC-04",
                "no RFC 8414 document at the inserted or appended location",
            );
            check_grants(cx, &doc, None);
        }
    }

    // DISC-05
    let required = [
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "response_types_supported",
        "subject_types_supported",
        "id_token_signing_alg_values_supported",
    ];
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|m| doc.get(*m).is_none())
        .collect();
    cx.check(
        "DISC-05",
        missing.is_empty(),
        format!("missing members: {}", missing.join(", ")),
        &ex,
    );
    // DISC-06
    let lists = |name: &str, v: &str| {
        doc.get(name)
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(v)))
    };
    cx.check(
        "DISC-06",
        lists("id_token_signing_alg_values_supported", "RS256"),
        "RS256 not in id_token_signing_alg_values_supported",
        &ex,
    );
    cx.check(
        "DISC-07",
        lists("response_types_supported", "code"),
        "`code` not in response_types_supported",
        &ex,
    );
    let st_ok = doc
        .get("subject_types_supported")
        .and_then(Value::as_array)
        .is_some_and(|a| {
            !a.is_empty()
                && a.iter()
                    .all(|v| matches!(v.as_str(), Some("public" | "pairwise")))
        });
    cx.check(
        "DISC-08",
        st_ok,
        "subject_types_supported must hold only public/pairwise",
        &ex,
    );
    // DISC-09
    match doc.get("scopes_supported") {
        None => cx.warn(
            "DISC-09",
            "scopes_supported absent (RECOMMENDED)",
            Some(&ex),
        ),
        Some(Value::Array(a)) => {
            let bad: Vec<String> = a
                .iter()
                .filter(|v| !v.as_str().is_some_and(is_scope_token))
                .map(Value::to_string)
                .collect();
            let ok = lists("scopes_supported", "openid") && bad.is_empty();
            cx.check(
                "DISC-09",
                ok,
                format!("scopes_supported lacks openid or has invalid tokens {bad:?}"),
                &ex,
            );
        }
        Some(_) => cx.fail("DISC-09", "scopes_supported is not an array", Some(&ex)),
    }
    // DISC-10
    let loop_ok = cx.allow_http_loopback();
    let bad: Vec<String> = doc
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.ends_with("_endpoint") || *k == "jwks_uri")
        .filter(|(_, v)| !v.as_str().is_some_and(|u| acceptable_url(u, loop_ok)))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    cx.check(
        "DISC-10",
        bad.is_empty(),
        format!("not absolute https: {}", bad.join(", ")),
        &ex,
    );
    // DISC-11: multi-valued members are non-empty arrays of strings; booleans are booleans.
    let mut problems = Vec::new();
    for (k, v) in doc.as_object().into_iter().flatten() {
        if k.ends_with("_supported")
            && !k.ends_with("_parameter_supported")
            && !k.starts_with("claims_parameter")
            && !k.starts_with("request_parameter")
            && !k.starts_with("request_uri_parameter")
            && !k.ends_with("_logout_supported")
            && !k.ends_with("session_supported")
            && k != "require_request_uri_registration"
        {
            match v {
                Value::Array(a) if a.is_empty() => problems.push(format!("{k} is an empty array")),
                Value::Array(a) if !a.iter().all(Value::is_string) => {
                    problems.push(format!("{k} holds non-strings"))
                }
                Value::Array(_) => {}
                Value::Bool(_) => {}
                _ => problems.push(format!("{k} is not an array")),
            }
        }
        if (k.ends_with("_parameter_supported")
            || k.ends_with("_logout_supported")
            || k.ends_with("session_supported")
            || k == "require_request_uri_registration")
            && !v.is_boolean()
        {
            problems.push(format!("{k} is not a boolean"));
        }
        if (k.ends_with("_endpoint") || k.ends_with("_uri")) && !v.is_string() {
            problems.push(format!("{k} is not a string"));
        }
    }
    cx.check("DISC-11", problems.is_empty(), problems.join("; "), &ex);
    // DISC-12
    let jwt_auth = lists("token_endpoint_auth_methods_supported", "private_key_jwt")
        || lists("token_endpoint_auth_methods_supported", "client_secret_jwt");
    if jwt_auth {
        let algs = doc
            .get("token_endpoint_auth_signing_alg_values_supported")
            .and_then(Value::as_array);
        let ok = algs.is_some_and(|a| !a.iter().any(|v| v.as_str() == Some("none")));
        cx.check(
            "DISC-12",
            ok,
            "token_endpoint_auth_signing_alg_values_supported missing or lists none",
            &ex,
        );
    } else {
        cx.pass("DISC-12", "no JWT client authentication advertised");
    }
    // DISC-13: our default profile tests PKCE, so absence is a failure, not a warning.
    let ok13 = lists("code_challenge_methods_supported", "S256");
    if !ok13 {
        cx.warn(
            "DISC-13",
            "code_challenge_methods_supported absent or without S256",
            Some(&ex),
        );
    } else {
        cx.pass("DISC-13", "");
    }
    // DISC-15
    let intro = doc.get("introspection_endpoint").is_some();
    let rev = doc.get("revocation_endpoint").is_some();
    let methods = (!intro
        || doc
            .get("introspection_endpoint_auth_methods_supported")
            .is_some())
        && (!rev
            || doc
                .get("revocation_endpoint_auth_methods_supported")
                .is_some());
    if intro && rev && methods {
        cx.pass("DISC-15", "");
    } else {
        cx.warn("DISC-15", format!("introspection advertised: {intro}, revocation: {rev}, auth methods listed: {methods}"), Some(&ex));
    }
    // DISC-16, DISC-17
    match doc.get("userinfo_endpoint").and_then(Value::as_str) {
        Some(u) if acceptable_url(u, loop_ok) => cx.pass("DISC-16", ""),
        _ => cx.warn(
            "DISC-16",
            "userinfo_endpoint absent or not https",
            Some(&ex),
        ),
    }
    if doc.get("claims_supported").is_some() {
        cx.pass("DISC-17", "");
    } else {
        cx.warn("DISC-17", "claims_supported absent", Some(&ex));
    }
    // DISC-18: with the RFC 9207 flag, `iss` is in every authorization response, errors included
    // (an error needs no login: a valid client and redirect URI with an unsupported response_type).
    if doc.get("authorization_response_iss_parameter_supported") == Some(&Value::Bool(true)) {
        let opts = crate::login::FlowOpts {
            login: false,
            fresh_session: true,
            extra: vec![("response_type".into(), "conformance_unsupported".into())],
            ..Default::default()
        };
        match crate::login::run_flow(cx, &opts).await {
            Some(f) if f.result.redirect.is_some() => {
                let iss = f.result.param("iss").map(str::to_owned);
                let last = f.result.last().cloned();
                match last {
                    Some(l) => {
                        cx.check(
                            "DISC-18",
                            iss.as_deref() == Some(issuer),
                            format!("error response iss {iss:?}"),
                            &l,
                        );
                    }
                    None => cx.skip("DISC-18", "no response"),
                }
            }
            Some(_) => cx.skip(
                "DISC-18",
                "the error was not redirected (no response to inspect)",
            ),
            None => cx.skip("DISC-18", "needs a web client"),
        }
    } else {
        cx.pass("DISC-18", "not advertised");
    }
    // DISC-19: the discovered issuer equals `iss` in issued tokens.
    if let Some(t) = cx.cc_token().await {
        if let Some(j) = crate::jwt::Jwt::decode(&t) {
            let iss = j.c("iss").unwrap_or("").to_owned();
            let ok = iss == issuer;
            let e = cx.cc_exchange().await;
            if let Some(e) = e {
                cx.check(
                    "DISC-19",
                    ok,
                    format!("access token iss `{iss}` != discovered `{issuer}`"),
                    &e,
                );
            }
        } else {
            cx.skip("DISC-19", "the client-credentials access token is opaque");
        }
    } else {
        cx.skip("DISC-19", "no access token");
    }
}

fn check_grants(cx: &mut Ctx, oidc: &Value, oauth: Option<&Value>) {
    let mut listed: Vec<String> = Vec::new();
    let mut any = false;
    for d in [Some(oidc), oauth].into_iter().flatten() {
        if let Some(a) = d.get("grant_types_supported") {
            any = true;
            match a.as_array() {
                Some(a) if !a.is_empty() => {
                    listed.extend(a.iter().filter_map(|v| v.as_str().map(str::to_owned)))
                }
                _ => {
                    cx.fail(
                        "DISC-14",
                        "grant_types_supported is not a non-empty array",
                        None,
                    );
                    return;
                }
            }
        }
    }
    if !any {
        cx.pass(
            "DISC-14",
            "absent: defaults to authorization_code, implicit",
        );
        return;
    }
    let mut want = Vec::new();
    if cx.target.clients.service.is_some() {
        want.push("client_credentials");
    }
    if cx.target.clients.web.is_some() {
        want.push("authorization_code");
        want.push("refresh_token");
    }
    let missing: Vec<&str> = want
        .into_iter()
        .filter(|g| !listed.iter().any(|l| l == g))
        .collect();
    if missing.is_empty() {
        cx.pass("DISC-14", "");
    } else {
        cx.fail(
            "DISC-14",
            format!("grant_types_supported lacks {}", missing.join(", ")),
            None,
        );
    }
}
