//! CAUTH: client authentication at the token endpoint (RFC 6749 §2.3, §5.2).

use super::Ctx;
use crate::http::Req;
use crate::target::Client;

pub const IDS: &[&str] = &[
    "CAUTH-01", "CAUTH-02", "CAUTH-03", "CAUTH-04", "CAUTH-05", "CAUTH-06", "CAUTH-07", "CAUTH-08",
    "CAUTH-09",
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
    // CAUTH-10..13 (private_key_jwt) and CAUTH-14 (brute force, manual judgement) are not implemented.
}
