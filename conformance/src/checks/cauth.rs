//! CAUTH: client authentication at the token endpoint (RFC 6749 §2.3, §5.2).

use super::Ctx;
use crate::http::Req;
use crate::target::Client;

pub const IDS: &[&str] = &[
    "CAUTH-01", "CAUTH-02", "CAUTH-03", "CAUTH-04", "CAUTH-05", "CAUTH-06", "CAUTH-07", "CAUTH-08",
    "CAUTH-09", "CAUTH-10", "CAUTH-11", "CAUTH-12", "CAUTH-13",
];

fn cc_params(c: &Client) -> Vec<(String, String)> {
    let mut p = vec![("grant_type".to_owned(), "client_credentials".to_owned())];
    if let Some(s) = &c.scope {
        p.push(("scope".into(), s.clone()));
    }
    if let Some(r) = &c.resource {
        p.push(("resource".into(), r.clone()));
    }
    p
}

pub async fn run(cx: &mut Ctx) {
    let Some(svc) = cx.service() else {
        cx.skip_all(IDS, "no service client in the target");
        return;
    };
    let url = cx.token_endpoint().await.unwrap_or_default();
    let secret = svc.client_secret.clone().unwrap_or_default();
    let p = cc_params(&svc);
    let pairs: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let with = |extra: &[(&'static str, String)]| {
        let mut v: Vec<(String, String)> = p.clone();
        v.extend(extra.iter().map(|(k, s)| ((*k).to_owned(), s.clone())));
        v
    };
    let send_form = |v: &[(String, String)]| {
        let pairs: Vec<(&str, &str)> = v.iter().map(|(k, s)| (k.as_str(), s.as_str())).collect();
        Req::post_form(&url, &pairs)
    };

    // 01 basic
    let ex = cx
        .http
        .send(Req::post_form(&url, &pairs).basic(&svc.client_id, &secret))
        .await;
    cx.check(
        "CAUTH-01",
        ex.status == 200,
        "client_secret_basic did not work",
        &ex,
    );
    // 02 special characters: only meaningful when the secret has them
    if secret.contains([':', '%', '+', ' ']) {
        cx.check(
            "CAUTH-02",
            ex.status == 200,
            "a secret with reserved characters fails with form-urlencoded Basic",
            &ex,
        );
    } else {
        cx.skip(
            "CAUTH-02",
            "needs a client whose secret contains `:`, `%`, `+` or a space (mode A)",
        );
    }
    // 03 wrong basic secret
    let ex = cx
        .http
        .send(Req::post_form(&url, &pairs).basic(&svc.client_id, "not-the-secret"))
        .await;
    let wa = ex.header("www-authenticate").unwrap_or("");
    let ok3 = ex.status == 401
        && ex.error_code().as_deref() == Some("invalid_client")
        && wa.to_ascii_lowercase().starts_with("basic");
    cx.check("CAUTH-03", ok3, format!("wrong Basic secret: status {}, error {:?}, WWW-Authenticate {wa:?} (want 401, invalid_client, Basic challenge)", ex.status, ex.error_code()), &ex);
    // 04 wrong secret in the body
    let ex = cx
        .http
        .send(send_form(&with(&[
            ("client_id", svc.client_id.clone()),
            ("client_secret", "not-the-secret".into()),
        ])))
        .await;
    cx.check(
        "CAUTH-04",
        (ex.status == 400 || ex.status == 401)
            && ex.error_code().as_deref() == Some("invalid_client"),
        "wrong body secret is not 400/401 invalid_client",
        &ex,
    );
    // 05 client_secret_post works when advertised
    let post_advertised = cx
        .meta_lists(
            "token_endpoint_auth_methods_supported",
            "client_secret_post",
        )
        .await;
    let post_client = [cx.web(), cx.service()]
        .into_iter()
        .flatten()
        .find(|c| c.auth_method == "client_secret_post");
    match (post_advertised, post_client) {
        (false, _) => cx.skip("CAUTH-05", "client_secret_post is not advertised"),
        (true, Some(c))
            if c.redirect_uri.is_some()
                && cx
                    .target
                    .clients
                    .service
                    .as_ref()
                    .is_none_or(|s| s.client_id != c.client_id) =>
        {
            // A code-flow client: prove the method with a garbage code (invalid_grant, not invalid_client).
            let ex = cx
                .token_request(
                    &c,
                    &[
                        ("grant_type", "authorization_code"),
                        ("code", "conformance-garbage-code"),
                        ("redirect_uri", c.redirect_uri.as_deref().unwrap_or("")),
                    ],
                )
                .await;
            let ok = ex.error_code().as_deref() == Some("invalid_grant") || ex.status == 200;
            cx.check("CAUTH-05", ok, "client_secret_post was not accepted (the garbage code should fail as invalid_grant, not invalid_client)", &ex);
        }
        (true, Some(c)) => {
            let ex = cx.token_request(&c, &pairs).await;
            cx.check(
                "CAUTH-05",
                ex.status == 200,
                "client_secret_post did not work",
                &ex,
            );
        }
        (true, None) => cx.skip("CAUTH-05", "no client registered for client_secret_post"),
    }
    // 06 credentials in the URL query
    let ex = cx
        .http
        .send(
            Req::post_form(&url, &pairs)
                .query(&[("client_id", &svc.client_id), ("client_secret", &secret)]),
        )
        .await;
    cx.check(
        "CAUTH-06",
        ex.status != 200,
        "client credentials in the URL query were accepted",
        &ex,
    );
    // 07 two methods at once
    let ex = cx
        .http
        .send(
            send_form(&with(&[
                ("client_id", svc.client_id.clone()),
                ("client_secret", secret.clone()),
            ]))
            .basic(&svc.client_id, &secret),
        )
        .await;
    let ok7 = ex.status != 200
        && matches!(
            ex.error_code().as_deref(),
            Some("invalid_request" | "invalid_client")
        );
    cx.check(
        "CAUTH-07",
        ok7,
        "Basic plus client_secret in the body was not refused with invalid_request/invalid_client",
        &ex,
    );
    // 08 no authentication
    let ex = cx.http.send(Req::post_form(&url, &pairs)).await;
    cx.check(
        "CAUTH-08",
        (ex.status == 400 || ex.status == 401)
            && ex.error_code().as_deref() == Some("invalid_client"),
        "no client authentication was not invalid_client",
        &ex,
    );
    let ex = cx
        .http
        .send(send_form(&with(&[("client_id", svc.client_id.clone())])))
        .await;
    cx.check(
        "CAUTH-08",
        ex.status != 200 && ex.error_code().as_deref() == Some("invalid_client"),
        "a confidential client_id without a secret was not invalid_client",
        &ex,
    );
    // 09 the registered method is enforced (a basic client sending its secret in the body)
    if svc.auth_method == "client_secret_basic" {
        let ex = cx
            .http
            .send(send_form(&with(&[
                ("client_id", svc.client_id.clone()),
                ("client_secret", secret.clone()),
            ])))
            .await;
        cx.check(
            "CAUTH-09",
            ex.status != 200 && ex.error_code().as_deref() == Some("invalid_client"),
            "a client_secret_basic client was accepted with client_secret_post",
            &ex,
        );
    } else {
        cx.skip(
            "CAUTH-09",
            "the service client is not registered for client_secret_basic",
        );
    }
    private_key_jwt(cx).await;
    // CAUTH-14 (brute force, manual judgement) is not implemented.
}

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// CAUTH-10..13: registers a `private_key_jwt` client holding a key the suite generates
/// (dynamic registration), then authenticates with good and bad client assertions.
async fn private_key_jwt(cx: &mut Ctx) {
    let ids = ["CAUTH-10", "CAUTH-11", "CAUTH-12", "CAUTH-13"];
    if !cx
        .meta_lists("token_endpoint_auth_methods_supported", "private_key_jwt")
        .await
    {
        cx.skip_all(&ids, "private_key_jwt is not advertised");
        return;
    }
    let reg = cx.target.registration.clone();
    let endpoint = match reg.as_ref().and_then(|r| r.endpoint.clone()) {
        Some(e) => Some(e),
        None => cx.meta_str("registration_endpoint").await,
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
    let (Some(endpoint), Some(auth)) = (endpoint, auth) else {
        cx.skip_all(
            &ids,
            "needs dynamic registration to create a private_key_jwt client (mode A)",
        );
        return;
    };
    let Some(key) = crate::jwt::AttackerKey::generate() else {
        return;
    };
    let app_type = reg
        .as_ref()
        .and_then(|r| r.application_type.clone())
        .unwrap_or_else(|| "service".into());
    let body = serde_json::json!({
        "client_name": "conformance private_key_jwt",
        "application_type": app_type,
        "grant_types": ["client_credentials"],
        "response_types": [],
        "redirect_uris": [],
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": {"keys": [key.jwk()]},
    });
    let reg_ex = cx
        .http
        .send(
            Req::new("POST", &endpoint)
                .header("Accept", "application/json")
                .header("Authorization", auth.clone())
                .body("application/json", body.to_string()),
        )
        .await;
    let Some(client_id) = reg_ex
        .str_field("client_id")
        .filter(|_| reg_ex.status == 201)
    else {
        cx.skip_all(
            &ids,
            format!(
                "could not register a private_key_jwt client ({} {:?})",
                reg_ex.status,
                reg_ex.error_code()
            )
            .as_str(),
        );
        return;
    };
    let token_url = cx.token_endpoint().await.unwrap_or_default();
    let issuer = cx.issuer.clone();
    let scope = cx.service().and_then(|s| s.scope).unwrap_or_default();
    let now = crate::clock::unix_now();
    let claims = |aud: &str, iss: &str, exp: i64, jti: &str| serde_json::json!({"iss": iss, "sub": client_id, "aud": aud, "iat": now, "exp": exp, "jti": jti});
    let header = serde_json::json!({"alg": "RS256", "kid": key.kid});
    let send = async |cx: &mut Ctx, assertion: String| {
        let mut p = vec![
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion.as_str()),
        ];
        if !scope.is_empty() {
            p.push(("scope", scope.as_str()));
        }
        cx.http.send(Req::post_form(&token_url, &p)).await
    };
    // 10 a good assertion; 13 its replay
    let good = key.sign(
        &header,
        &claims(&token_url, &client_id, now + 300, &crate::jwt::random(12)),
    );
    let ex = send(cx, good.clone()).await;
    cx.check(
        "CAUTH-10",
        ex.status == 200 && ex.field("access_token").is_some(),
        "a valid private_key_jwt assertion did not authenticate",
        &ex,
    );
    let ex = send(cx, good).await;
    cx.check(
        "CAUTH-13",
        ex.status != 200 && ex.error_code().as_deref() == Some("invalid_client"),
        "a replayed assertion (same jti) was accepted",
        &ex,
    );
    // 11 aud = the issuer
    let ex = send(
        cx,
        key.sign(
            &header,
            &claims(&issuer, &client_id, now + 300, &crate::jwt::random(12)),
        ),
    )
    .await;
    if ex.status == 200 {
        cx.pass("CAUTH-11", "aud = issuer accepted");
    } else {
        cx.check(
            "CAUTH-11",
            ex.error_code().as_deref() == Some("invalid_client"),
            "aud = issuer refused, but not cleanly with invalid_client",
            &ex,
        );
    }
    // 12 bad assertions
    let other = crate::jwt::AttackerKey::generate();
    let mut bad: Vec<(&str, String)> = vec![
        (
            "an expired assertion",
            key.sign(
                &header,
                &claims(&token_url, &client_id, now - 600, &crate::jwt::random(12)),
            ),
        ),
        (
            "a wrong aud",
            key.sign(
                &header,
                &claims(
                    "https://evil.example/token",
                    &client_id,
                    now + 300,
                    &crate::jwt::random(12),
                ),
            ),
        ),
        (
            "iss != sub",
            key.sign(
                &header,
                &claims(
                    &token_url,
                    "someone-else",
                    now + 300,
                    &crate::jwt::random(12),
                ),
            ),
        ),
        (
            "alg none",
            crate::jwt::forge(
                &serde_json::json!({"alg": "none"}),
                &claims(&token_url, &client_id, now + 300, &crate::jwt::random(12)),
                "",
            ),
        ),
        (
            "HS256 keyed with the registered public key",
            crate::jwt::sign_hs256(
                &serde_json::json!({"alg": "HS256", "kid": key.kid}),
                &claims(&token_url, &client_id, now + 300, &crate::jwt::random(12)),
                key.jwk().to_string().as_bytes(),
            ),
        ),
    ];
    if let Some(o) = &other {
        bad.push((
            "a signature by another key",
            o.sign(
                &header,
                &claims(&token_url, &client_id, now + 300, &crate::jwt::random(12)),
            ),
        ));
    }
    for (what, a) in bad {
        let ex = send(cx, a).await;
        cx.check(
            "CAUTH-12",
            ex.status != 200 && ex.error_code().as_deref() == Some("invalid_client"),
            format!(
                "{what}: {} {:?} (want invalid_client)",
                ex.status,
                ex.error_code()
            ),
            &ex,
        );
    }
    // clean up (Okta: /clients/{id} with the API token; RFC 7592: registration_client_uri + its token)
    let uri = reg_ex
        .str_field("registration_client_uri")
        .unwrap_or_else(|| format!("{}/{client_id}", endpoint.trim_end_matches('/')));
    let tok = reg_ex
        .str_field("registration_access_token")
        .map(|t| format!("Bearer {t}"))
        .unwrap_or(auth);
    let _ = cx
        .http
        .send(Req::new("DELETE", uri).header("Authorization", tok))
        .await;
}
