//! A deliberately broken authorization server (a few axum handlers) to show
//! the checks bite: wrong issuer, private key material in the JWKS, no
//! `Cache-Control`, `active: "true"` as a string, unauthenticated
//! introspection, revocation that refuses unknown tokens.

use std::path::Path;

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use conformance::checks::Status;
use conformance::runner::{self, Selection};
use conformance::target::Target;
use serde_json::json;

async fn start() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let b = base.clone();
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || {
                let b = b.clone();
                async move {
                    Json(json!({
                        "issuer": "https://evil.example",
                        "authorization_endpoint": format!("{b}/authorize"),
                        "token_endpoint": format!("{b}/token"),
                        "jwks_uri": format!("{b}/jwks"),
                        "introspection_endpoint": format!("{b}/introspect"),
                        "revocation_endpoint": format!("{b}/revoke"),
                        "response_types_supported": ["code"],
                        "subject_types_supported": ["public"],
                        "id_token_signing_alg_values_supported": ["RS256"],
                    }))
                }
            }),
        )
        .route(
            "/jwks",
            get(|| async {
                Json(json!({"keys": [
                    {"kty": "RSA", "kid": "k1", "n": "AQAB", "e": "AQAB", "d": "AQAB"},
                    {"kty": "oct", "kid": "k1", "k": "c2VjcmV0"}
                ]}))
            }),
        )
        .route(
            "/token",
            post(|| async {
                Json(json!({"access_token": "opaque-token-0123456789abcdef", "token_type": "Bearer", "expires_in": 3600}))
            }),
        )
        .route("/introspect", post(|| async { Json(json!({"active": "true"})) }))
        .route(
            "/revoke",
            post(|| async { (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_token"}))) }),
        );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_fails_a_broken_server() {
    let base = start().await;
    let toml = format!(
        r#"
name = "broken"
[server]
issuer = "{base}"
allow_http_loopback = true
jwt_access_tokens = false
[clients.service]
client_id = "svc"
client_secret = "secret"
scope = "beds.read"
"#
    );
    let target = Target::parse(&toml, Path::new("broken.toml")).expect("target");
    let sel = Selection {
        only: ["DISC", "JWKS", "TOK-GEN", "INTRO", "REV"]
            .map(String::from)
            .to_vec(),
    };
    let rep = runner::run(target, &sel).await.expect("run");
    for id in [
        "DISC-02",    // issuer differs
        "JWKS-03",    // private and symmetric key material
        "TOK-GEN-03", // no Cache-Control: no-store
        "TOK-GEN-05", // unknown grant answered with a token
        "INTRO-02",   // no caller authentication needed
        "INTRO-04",   // garbage token not active:false
        "INTRO-08",   // active is a string
        "REV-05",     // unknown token refused
    ] {
        let r = rep.get(id).unwrap_or_else(|| panic!("{id} missing"));
        assert_eq!(r.status, Status::Fail, "{id} should fail: {}", r.message);
        assert!(!r.message.is_empty(), "{id} has no finding");
    }
    assert_eq!(
        rep.get("JWKS-05").map(|r| r.status),
        Some(Status::Warn),
        "duplicate kid is a SHOULD"
    );
    assert!(!rep.ok());
    let md = conformance::report::render(&rep, conformance::report::Format::Markdown);
    assert!(md.contains("Failures (MUST)") && md.contains("INTRO-08"));
}
