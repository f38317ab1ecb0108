//! DCR: dynamic client registration (RFC 7591/7592; Okta's `/oauth2/v1/clients`
//! with an SSWS API token), where the target offers it.

use serde_json::{Value, json};

use super::Ctx;
use crate::http::{Exchange, Req};
use crate::target::Client;

pub const IDS: &[&str] = &[
    "DCR-01", "DCR-02", "DCR-03", "DCR-04", "DCR-05", "DCR-06", "DCR-07", "DCR-08", "DCR-09",
    "DCR-10", "DCR-12", "DCR-13", "DCR-14", "DCR-15", "DCR-16", "DCR-17", "DCR-18", "DCR-19",
];

fn metadata(name: &str) -> Value {
    json!({
        "client_name": name,
        "application_type": "service",
        "grant_types": ["client_credentials"],
        "response_types": [],
        "redirect_uris": [],
        "token_endpoint_auth_method": "client_secret_basic",
    })
}

fn web_metadata(redirect: &str) -> Value {
    json!({
        "client_name": "conformance web",
        "application_type": "web",
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "redirect_uris": [redirect],
        "token_endpoint_auth_method": "client_secret_basic",
    })
}

struct Reg {
    url: String,
    auth: Option<String>,
    /// `application_type` for service clients (Okta: `service`; OIDC servers: `web`).
    app_type: String,
}

impl Reg {
    fn post(&self, body: &Value) -> Req {
        let mut body = body.clone();
        if body.get("application_type").and_then(Value::as_str) == Some("service") {
            body["application_type"] = json!(self.app_type);
        }
        let r = Req::new("POST", &self.url)
            .header("Accept", "application/json")
            .body("application/json", body.to_string());
        match &self.auth {
            Some(a) => r.header("Authorization", a.clone()),
            None => r,
        }
    }
}

fn rejected(ex: &Exchange) -> bool {
    ex.status == 400
        && matches!(
            ex.error_code().as_deref(),
            Some("invalid_redirect_uri" | "invalid_client_metadata")
        )
}

pub async fn run(cx: &mut Ctx) {
    let reg = cx.target.registration.clone();
    let endpoint = match reg.as_ref().and_then(|r| r.endpoint.clone()) {
        Some(e) => Some(e),
        None => cx.meta_str("registration_endpoint").await,
    };
    let Some(url) = endpoint else {
        cx.skip_all(IDS, "the target offers no registration endpoint");
        return;
    };
    let auth = reg.as_ref().and_then(|r| {
        r.ssws_token
            .as_ref()
            .filter(|t| !t.is_empty())
            .map(|t| format!("SSWS {t}"))
            .or_else(|| {
                r.initial_access_token
                    .as_ref()
                    .filter(|t| !t.is_empty())
                    .map(|t| format!("Bearer {t}"))
            })
    });
    if reg.is_none() || auth.is_none() {
        cx.skip_all(
            IDS,
            "no SSWS API token or initial access token in the target: registration not tested",
        );
        return;
    }
    let app_type = reg
        .as_ref()
        .and_then(|r| r.application_type.clone())
        .unwrap_or_else(|| "service".into());
    let wrong = format!(
        "{} conformance-wrong-token",
        auth.as_deref()
            .and_then(|a| a.split(' ').next())
            .unwrap_or("Bearer")
    );
    let r = Reg {
        url: url.clone(),
        auth,
        app_type: app_type.clone(),
    };
    // 14: no / bad credentials
    let ex = cx
        .http
        .send(
            Reg {
                url: url.clone(),
                auth: None,
                app_type: app_type.clone(),
            }
            .post(&metadata("conformance no auth")),
        )
        .await;
    cx.check(
        "DCR-14",
        ex.status == 401,
        "registration without credentials was not 401",
        &ex,
    );
    let ex = cx
        .http
        .send(
            Reg {
                url: url.clone(),
                auth: Some(wrong.clone()),
                app_type: app_type.clone(),
            }
            .post(&metadata("conformance bad auth")),
        )
        .await;
    cx.check(
        "DCR-14",
        ex.status == 401,
        "registration with a wrong token was not 401",
        &ex,
    );
    // 01 success
    let ex = cx.http.send(r.post(&metadata("conformance service"))).await;
    let j = ex.json().unwrap_or_default();
    let ok = ex.status == 201
        && ex.is_json_content_type()
        && j.get("client_id").is_some_and(Value::is_string);
    cx.check(
        "DCR-01",
        ok,
        "registration is not 201 JSON with client_id",
        &ex,
    );
    if !ok {
        for id in [
            "DCR-02", "DCR-03", "DCR-04", "DCR-16", "DCR-17", "DCR-18", "DCR-19",
        ] {
            cx.skip(id, "registration failed");
        }
        return;
    }
    let echoed = ["client_name", "grant_types", "token_endpoint_auth_method"]
        .iter()
        .all(|k| j.get(*k).is_some());
    cx.check("DCR-01", echoed, "registered metadata not echoed", &ex);
    cx.check(
        "DCR-04",
        j.get("token_endpoint_auth_method").is_some() && j.get("grant_types").is_some(),
        "defaulted values are missing from the response",
        &ex,
    );
    let secret = j
        .get("client_secret")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if secret.is_some() {
        cx.check(
            "DCR-02",
            j.get("client_secret_expires_at").is_some(),
            "client_secret without client_secret_expires_at",
            &ex,
        );
    } else {
        cx.pass("DCR-02", "no client_secret issued");
    }
    let rat = j.get("registration_access_token").is_some();
    let rcu = j.get("registration_client_uri").and_then(Value::as_str);
    let https = rcu.is_none_or(|u| super::disc::acceptable_url(u, cx.allow_http_loopback()));
    cx.check(
        "DCR-03",
        rat == rcu.is_some() && https,
        "registration_access_token and registration_client_uri not together, or the URI not https",
        &ex,
    );
    // 16: the new client can get a token
    let client_id = j
        .get("client_id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let scope = cx.service().and_then(|s| s.scope).unwrap_or_default();
    let c = Client {
        client_id: client_id.clone(),
        client_secret: secret.clone(),
        auth_method: "client_secret_basic".into(),
        scope: Some(scope.clone()),
        resource: None,
        redirect_uri: None,
        several_redirect_uris: false,
        authorize_params: Vec::new(),
    };
    let mut p = vec![("grant_type", "client_credentials")];
    if !scope.is_empty() {
        p.push(("scope", scope.as_str()));
    }
    let tok = cx.token_request(&c, &p).await;
    if tok.status == 200 {
        cx.pass("DCR-16", "");
    } else {
        // Okta needs the new app granted in an access policy: a real finding only when the policy covers ALL_CLIENTS.
        cx.fail(
            "DCR-16",
            format!(
                "the freshly registered client could not use client_credentials ({} {:?})",
                tok.status,
                tok.error_code()
            ),
            Some(&tok),
        );
    }
    // 17 distinct secrets; 19 requested client_id ignored
    let mut m = metadata("conformance second");
    m["client_id"] = json!("conformance-chosen-id");
    let ex2 = cx.http.send(r.post(&m)).await;
    let j2 = ex2.json().unwrap_or_default();
    let s2 = j2.get("client_secret").and_then(Value::as_str);
    cx.check(
        "DCR-17",
        s2.is_none() || s2 != secret.as_deref(),
        "two clients received the same client_secret",
        &ex2,
    );
    let chosen = j2.get("client_id").and_then(Value::as_str) == Some("conformance-chosen-id");
    cx.check(
        "DCR-19",
        !chosen,
        "the client chose its own client_id",
        &ex2,
    );
    // 18 management: GET / DELETE (Okta: /oauth2/v1/clients/{id} with the API token)
    let mgmt = rcu
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{}/{client_id}", url.trim_end_matches('/')));
    // RFC 7592 servers manage a client with its registration_access_token; Okta with the API token.
    let mgmt_auth = j
        .get("registration_access_token")
        .and_then(Value::as_str)
        .map(|t| format!("Bearer {t}"))
        .or_else(|| r.auth.clone());
    let with_auth = |q: Req| match &mgmt_auth {
        Some(a) => q.header("Authorization", a.clone()),
        None => q,
    };
    let g = cx
        .http
        .send(with_auth(
            Req::get(&mgmt).header("Accept", "application/json"),
        ))
        .await;
    let same = g.status == 200 && g.str_field("client_id").as_deref() == Some(client_id.as_str());
    cx.check(
        "DCR-18",
        same,
        "GET on the registered client did not return it",
        &g,
    );
    let bad = cx
        .http
        .send(Req::get(&mgmt).header("Authorization", wrong.clone()))
        .await;
    cx.check(
        "DCR-18",
        bad.status == 401,
        "GET with a bad token was not 401",
        &bad,
    );
    let d = cx.http.send(with_auth(Req::new("DELETE", &mgmt))).await;
    cx.check("DCR-18", d.status == 204, "DELETE was not 204", &d);
    let after = cx.token_request(&c, &p).await;
    cx.check(
        "DCR-18",
        after.status != 200,
        "a deleted client can still authenticate",
        &after,
    );
    if let Some(id2) = j2.get("client_id").and_then(Value::as_str) {
        let u2 = j2
            .get("registration_client_uri")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| format!("{}/{id2}", url.trim_end_matches('/')));
        let auth2 = j2
            .get("registration_access_token")
            .and_then(Value::as_str)
            .map(|t| format!("Bearer {t}"))
            .or_else(|| r.auth.clone())
            .unwrap_or_default();
        let _ = cx
            .http
            .send(Req::new("DELETE", u2).header("Authorization", auth2))
            .await;
    }
    // 05..08, 15: bad metadata
    let cases: Vec<(&'static str, &str, Value)> = vec![
        (
            "DCR-05",
            "a redirect URI with a fragment",
            web_metadata("https://app.example/cb#frag"),
        ),
        (
            "DCR-06",
            "a non-loopback http redirect URI",
            web_metadata("http://app.example/cb"),
        ),
        ("DCR-07", "a relative redirect URI", web_metadata("/cb")),
        ("DCR-08", "authorization_code without redirect_uris", {
            let mut m = web_metadata("https://app.example/cb");
            m.as_object_mut().map(|o| o.remove("redirect_uris"));
            m
        }),
    ];
    let mut cases = cases;
    let mut m9 = metadata("conformance jwks+jwks_uri");
    m9["jwks"] = json!({"keys": []});
    m9["jwks_uri"] = json!("https://app.example/jwks.json");
    cases.push(("DCR-09", "jwks and jwks_uri together", m9));
    let mut m12 = web_metadata("https://app.example/cb");
    m12["initiate_login_uri"] = json!("http://app.example/login");
    cases.push(("DCR-12", "an http initiate_login_uri", m12));
    let mut m13 = web_metadata("https://app.example/cb");
    m13["response_types"] = json!(["id_token"]);
    m13["grant_types"] = json!(["implicit"]);
    m13["id_token_signed_response_alg"] = json!("none");
    cases.push((
        "DCR-13",
        "id_token_signed_response_alg=none with response_type id_token",
        m13,
    ));
    // 10: an unsupported auth method is refused, or a corrected value echoed
    let mut m10 = metadata("conformance bad auth method");
    m10["token_endpoint_auth_method"] = json!("conformance_unknown_method");
    let ex = cx.http.send(r.post(&m10)).await;
    let ok10 = if ex.status == 201 {
        let echoed = ex.str_field("token_endpoint_auth_method");
        if let Some(cid) = ex.str_field("client_id") {
            let _ = cx
                .http
                .send(with_auth(Req::new(
                    "DELETE",
                    format!("{}/{cid}", url.trim_end_matches('/')),
                )))
                .await;
        }
        echoed.is_some_and(|m| m != "conformance_unknown_method")
    } else {
        ex.status == 400 && ex.error_code().as_deref() == Some("invalid_client_metadata")
    };
    cx.check(
        "DCR-10",
        ok10,
        format!(
            "an unknown token_endpoint_auth_method: {} {:?}",
            ex.status,
            ex.error_code()
        ),
        &ex,
    );
    for (id, what, body) in cases {
        let ex = cx.http.send(r.post(&body)).await;
        if ex.status == 201
            && let Some(cid) = ex.str_field("client_id")
        {
            let _ = cx
                .http
                .send(with_auth(Req::new(
                    "DELETE",
                    format!("{}/{cid}", url.trim_end_matches('/')),
                )))
                .await;
        }
        cx.check(
            id,
            rejected(&ex),
            format!(
                "{what}: {} {:?} (want 400 invalid_redirect_uri / invalid_client_metadata)",
                ex.status,
                ex.error_code()
            ),
            &ex,
        );
        if ex.status >= 400 {
            cx.check(
                "DCR-15",
                ex.is_json_content_type() && ex.error_code().is_some(),
                format!("{what}: the error body is not JSON with `error`"),
                &ex,
            );
        }
    }
}
