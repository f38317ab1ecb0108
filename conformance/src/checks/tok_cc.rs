//! TOK-CC: the client credentials grant (RFC 6749 §4.4).

use serde_json::Value;

use super::Ctx;
use crate::jwt::Jwt;

pub const IDS: &[&str] = &[
    "TOK-CC-01",
    "TOK-CC-02",
    "TOK-CC-03",
    "TOK-CC-04",
    "TOK-CC-05",
    "TOK-CC-06",
    "TOK-CC-07",
    "TOK-CC-08",
    "TOK-CC-09",
];

pub async fn run(cx: &mut Ctx) {
    let Some(client) = cx.service() else {
        cx.skip_all(IDS, "no service client in the target");
        return;
    };
    let Some(ok) = cx.cc_exchange().await else {
        return;
    };
    let j = ok.json().unwrap_or_default();
    let good = ok.status == 200
        && j.get("access_token").is_some_and(Value::is_string)
        && j.get("token_type").is_some()
        && j.get("expires_in").is_some();
    cx.check(
        "TOK-CC-01",
        good,
        "no 200 with access_token, token_type and expires_in",
        &ok,
    );
    cx.check(
        "TOK-CC-02",
        j.get("refresh_token").is_none(),
        "a refresh_token came with client credentials",
        &ok,
    );
    // 03: openid
    let ex = cx
        .token_request(
            &client,
            &[("grant_type", "client_credentials"), ("scope", "openid")],
        )
        .await;
    let ok3 = ex.field("id_token").is_none()
        && (ex.status == 200 || ex.error_code().as_deref() == Some("invalid_scope"));
    cx.check("TOK-CC-03", ok3, "scope=openid with client credentials did not give invalid_scope or a token without id_token", &ex);
    // 04: public client
    match cx.target.clients.public.clone() {
        Some(p) => {
            let ex = cx
                .token_request(&p, &[("grant_type", "client_credentials")])
                .await;
            let ok = matches!(
                ex.error_code().as_deref(),
                Some("invalid_client" | "unauthorized_client")
            );
            cx.check(
                "TOK-CC-04",
                ok,
                "a public client attempting client credentials was not refused with invalid_client / unauthorized_client",
                &ex,
            );
        }
        None => cx.skip("TOK-CC-04", "no public client in the target (mode A)"),
    }
    // 05: missing / invalid authentication
    let url = cx.token_endpoint().await.unwrap_or_default();
    let scope = client.scope.clone().unwrap_or_default();
    let ex = cx
        .http
        .send(crate::http::Req::post_form(
            &url,
            &[("grant_type", "client_credentials"), ("scope", &scope)],
        ))
        .await;
    cx.check(
        "TOK-CC-05",
        (ex.status == 400 || ex.status == 401)
            && ex.error_code().as_deref() == Some("invalid_client"),
        "no client authentication was not 400/401 invalid_client",
        &ex,
    );
    let ex = cx
        .http
        .send(
            crate::http::Req::post_form(
                &url,
                &[("grant_type", "client_credentials"), ("scope", &scope)],
            )
            .basic(&client.client_id, "wrong-secret"),
        )
        .await;
    cx.check(
        "TOK-CC-05",
        ex.status == 401 && ex.error_code().as_deref() == Some("invalid_client"),
        "a wrong Basic secret was not 401 invalid_client",
        &ex,
    );
    // 06: a client not allowed the grant (the web client)
    match cx.not_service() {
        Some(w) => {
            let mut p = vec![("grant_type", "client_credentials")];
            if !scope.is_empty() {
                p.push(("scope", &scope));
            }
            let ex = cx.token_request(&w, &p).await;
            if ex.status == 200 {
                cx.skip(
                    "TOK-CC-06",
                    "the web client is allowed client credentials on this target",
                );
            } else {
                cx.check(
                    "TOK-CC-06",
                    ex.status == 400 && ex.error_code().as_deref() == Some("unauthorized_client"),
                    "a client without the grant did not get 400 unauthorized_client",
                    &ex,
                );
            }
        }
        None => cx.skip("TOK-CC-06", "no second client"),
    }
    // 07: a scope the client may not have
    let ex = cx
        .token_request(
            &client,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "conformance.not-a-scope"),
            ],
        )
        .await;
    let ok7 = ex.error_code().as_deref() == Some("invalid_scope")
        || (ex.status == 200
            && !ex
                .str_field("scope")
                .unwrap_or_default()
                .contains("conformance.not-a-scope"));
    cx.check(
        "TOK-CC-07",
        ok7,
        "an unknown scope was neither refused with invalid_scope nor narrowed",
        &ex,
    );
    // 08: scope omitted
    let mut p = vec![("grant_type", "client_credentials")];
    if let Some(r) = &client.resource {
        p.push(("resource", r));
    }
    let ex = cx.token_request(&client, &p).await;
    let ok8 = ex.status == 200 || ex.error_code().as_deref() == Some("invalid_scope");
    cx.check(
        "TOK-CC-08",
        ok8,
        "scope omitted: neither a default grant nor invalid_scope",
        &ex,
    );
    // 09: JWT profile of a client token
    match ok.str_field("access_token").and_then(|t| Jwt::decode(&t)) {
        Some(t) => {
            let cid = t.c("client_id").or_else(|| t.c("cid"));
            let mut p = Vec::new();
            if cid != Some(client.client_id.as_str()) {
                p.push(format!("client_id/cid {cid:?}"));
            }
            for c in ["email", "name", "given_name", "family_name", "uid"] {
                if t.claims.get(c).is_some() {
                    p.push(format!("end-user claim `{c}` present"));
                }
            }
            if t.c("sub").is_none() {
                p.push("no sub".into());
            }
            cx.check("TOK-CC-09", p.is_empty(), p.join("; "), &ok);
        }
        None => cx.skip("TOK-CC-09", "opaque access token"),
    }
}
