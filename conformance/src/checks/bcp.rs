//! BCP: RFC 9700 items not covered elsewhere.

use super::Ctx;
use crate::http::Req;
use crate::login::{self, FlowOpts};

pub const IDS: &[&str] = &["BCP-02", "BCP-03", "BCP-04", "BCP-05"];

pub async fn run(cx: &mut Ctx) {
    // 02 is judged at the gateway by the RS area (a token for another resource server).
    // 03: RFC 8414 metadata published (inserted or appended form).
    let issuer = cx.issuer.clone();
    let (origin, path) = match url::Url::parse(&issuer) {
        Ok(u) => (
            u.origin().ascii_serialization(),
            u.path().trim_end_matches('/').to_owned(),
        ),
        Err(_) => (String::new(), String::new()),
    };
    let mut found = None;
    for u in [
        format!("{origin}/.well-known/oauth-authorization-server{path}"),
        format!(
            "{}/.well-known/oauth-authorization-server",
            issuer.trim_end_matches('/')
        ),
    ] {
        let ex = cx.http.send(Req::get(u)).await;
        if ex.status == 200 && ex.json().is_some() {
            found = Some(ex);
            break;
        }
    }
    match found {
        Some(_) => cx.pass("BCP-03", ""),
        None => {
            let d = cx.discovery().await;
            cx.warn(
                "BCP-03",
                "no RFC 8414 document (OIDC discovery only)",
                Some(&d),
            );
        }
    }
    // 04: CORS on the token and JWKS endpoints (recorded).
    let mut notes = Vec::new();
    for (what, u) in [
        ("token", cx.token_endpoint().await),
        ("jwks", cx.meta_str("jwks_uri").await),
    ] {
        if let Some(u) = u {
            let ex = cx
                .http
                .send(
                    Req::new("OPTIONS", u)
                        .header("Origin", "https://spa.example")
                        .header("Access-Control-Request-Method", "POST"),
                )
                .await;
            notes.push(format!(
                "{what}: Access-Control-Allow-Origin {:?}",
                ex.header("access-control-allow-origin")
            ));
        }
    }
    cx.info("BCP-04", notes.join("; "));
    // 05: a mix-up defence: the RFC 9207 `iss` response parameter.
    let advertised = cx
        .meta()
        .await
        .get("authorization_response_iss_parameter_supported")
        .and_then(serde_json::Value::as_bool)
        == Some(true);
    if advertised {
        cx.pass("BCP-05", "authorization_response_iss_parameter_supported");
    } else if login::can_login(cx) {
        let f = login::run_flow(cx, &FlowOpts::default()).await;
        match f {
            Some(f) if f.result.param("iss").is_some() => cx.pass("BCP-05", "iss in the response"),
            Some(f) => cx.warn(
                "BCP-05",
                "no RFC 9207 iss parameter (clients must use distinct redirect URIs per AS)",
                f.result.last(),
            ),
            None => cx.skip("BCP-05", "no web client"),
        }
    } else {
        cx.warn("BCP-05", "RFC 9207 iss parameter not advertised", None);
    }
}
