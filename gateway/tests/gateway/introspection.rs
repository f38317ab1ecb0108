//! Remote validation (RFC 7662): cache hits and misses, revocation, and failing closed.

use serde_json::{Value, json};

use crate::harness::*;

const INTROSPECT: &str = "/oauth2/default/v1/introspect";

fn active(cid: &str, scope: &str, exp: u64) -> Value {
    json!({ "active": true, "scope": scope, "client_id": cid, "sub": "nurse@example.org", "exp": exp, "iat": T0, "token_type": "Bearer", "aud": AUDIENCE })
}

#[tokio::test]
async fn an_opaque_token_is_introspected_once_and_then_served_from_cache() {
    let s = Stack::start().await;
    let token = "opaque-token-0001";
    s.idp
        .activate(token, active(OPENID_APP, "beds.read", T0 + 3600));
    for _ in 0..3 {
        let r = s.get("/beds/hospitals", token).await;
        assert_eq!(r.status(), 200);
    }
    assert_eq!(s.idp.calls(INTROSPECT).await, 1);
    let m = metrics(&s.gateway).await;
    assert!(
        m.contains("gateway_cache_lookups_total{cache=\"introspection\",result=\"hit\"} 2"),
        "{m}"
    );
    assert!(m.contains("kind=\"introspection\",result=\"ok\"} 1"), "{m}");
    // The cached answer is re-authorized per route: reading is fine, reserving is not.
    let r = s
        .http
        .post(s.url("/beds/hospitals/st-marys/wards/icu/reservations"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn concurrent_misses_for_one_token_make_one_call() {
    let s = Stack::start().await;
    let token = "opaque-token-concurrent";
    s.idp
        .activate(token, active(OPENID_APP, "beds.read", T0 + 3600));
    let calls: Vec<_> = (0..16)
        .map(|_| Box::pin(s.get("/beds/hospitals", token)))
        .collect();
    let results = join_all(calls).await;
    assert!(results.iter().all(|r| r.status() == 200));
    assert_eq!(s.idp.calls(INTROSPECT).await, 1);
}

async fn join_all<F: std::future::Future + Unpin>(mut fs: Vec<F>) -> Vec<F::Output> {
    use std::task::Poll;
    let mut outputs: Vec<Option<F::Output>> = fs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in fs.iter_mut().enumerate() {
            if outputs[i].is_none() {
                match std::pin::Pin::new(f).poll(cx) {
                    Poll::Ready(v) => outputs[i] = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().map(Option::unwrap).collect()
}

#[tokio::test]
async fn a_revoked_token_fails_once_the_cache_cap_passes() {
    let s = Stack::start().await;
    let token = "opaque-token-revoked";
    s.idp
        .activate(token, active(OPENID_APP, "beds.read", T0 + 3600));
    assert_eq!(s.get("/beds/hospitals", token).await.status(), 200);
    s.idp.revoke(token);
    // Within the cap (60 s) the cached answer is used.
    s.clock.advance(59);
    assert_eq!(s.get("/beds/hospitals", token).await.status(), 200);
    s.clock.advance(2);
    let r = s.get("/beds/hospitals", token).await;
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error_description"], "the token is not active");
}

#[tokio::test]
async fn the_cache_never_outlives_the_tokens_exp() {
    let s = Stack::start().await;
    let token = "opaque-token-short";
    s.idp
        .activate(token, active(OPENID_APP, "beds.read", T0 + 10));
    assert_eq!(s.get("/beds/hospitals", token).await.status(), 200);
    s.clock.advance(11);
    assert_eq!(s.get("/beds/hospitals", token).await.status(), 401);
}

#[tokio::test]
async fn an_unknown_token_is_invalid_and_an_unreachable_server_is_503() {
    let s = Stack::start().await;
    let r = s.get("/beds/hospitals", "never-issued").await;
    assert_eq!(r.status(), 401);
    assert!(challenge(&r).contains("invalid_token"));

    // The AS goes away: fail closed with a clear 503, never allow.
    let token = "opaque-token-down";
    s.idp
        .activate(token, active(OPENID_APP, "beds.read", T0 + 3600));
    s.idp.server.reset().await;
    let r = s.get("/beds/hospitals", token).await;
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
}

#[tokio::test]
async fn introspection_answers_with_a_string_active_are_refused() {
    let s = Stack::start().await;
    let token = "opaque-token-string-active";
    s.idp.activate(
        token,
        json!({ "active": "true", "client_id": OPENID_APP, "scope": "beds.read", "exp": T0 + 60 }),
    );
    assert_eq!(s.get("/beds/hospitals", token).await.status(), 401);
}

#[tokio::test]
async fn scopes_are_qualified_by_the_authorization_server_that_vouched_for_the_token() {
    let tenant1 = WireIdp::start().await;
    let tenant2 = WireIdp::start().await;
    let echo = Echo::start().await;
    let server = |name: &str, idp: &WireIdp| {
        format!(
            r#"
[[authorization_servers]]
name = "{name}"
discovery_url = "{}"
[authorization_servers.remote]
client_id = "{INTROSPECT_CLIENT}"
client_secret = "{INTROSPECT_SECRET}"
"#,
            idp.discovery_url()
        )
    };
    let toml = format!(
        r#"{}{}
[[apis]]
name = "CheckBedAvailability"
base_path = "/beds"
upstream = "{}"
identification = ["oauth2_remote"]
resources = [{{ path = "/hospitals", methods = ["GET"] }}]
scopes = [{{ name = "CheckBedAvailibiltyScopeV3", resources = [{{ path = "/hospitals", methods = ["GET"] }}] }}]

[[scope_mappings]]
authorization_server = "OktaTenant2"
scope = "beds.read"
api_scopes = ["CheckBedAvailibiltyScopeV3"]

[[applications]]
name = "OpenIDApp"
apis = ["CheckBedAvailability"]
strategies = [
  {{ name = "Tenant1Strategy", scheme = "oauth2", authorization_server = "OktaTenant1", client_id = "{OPENID_APP}" }},
  {{ name = "Tenant2Strategy", scheme = "oauth2", authorization_server = "OktaTenant2", client_id = "{OPENID_APP}" }},
]
"#,
        server("OktaTenant1", &tenant1),
        server("OktaTenant2", &tenant2),
        echo.url()
    );
    let g = start_gateway(&toml, gateway::clock::ManualClock::new(T0)).await;
    let http = reqwest::Client::new();
    let call = |token: &'static str| {
        http.get(format!("{}/beds/hospitals", g.url()))
            .bearer_auth(token)
            .send()
    };
    // Tenant 1's `beds.read` is not mapped: refused, with tenant 1's answer.
    tenant1.activate("tenant1-token", active(OPENID_APP, "beds.read", T0 + 3600));
    assert_eq!(call("tenant1-token").await.unwrap().status(), 403);
    // Tenant 2's `beds.read` is mapped.
    tenant2.activate("tenant2-token", active(OPENID_APP, "beds.read", T0 + 3600));
    let r = call("tenant2-token").await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["headers"]["x-gateway-authorization-server"],
        json!(["OktaTenant2"])
    );
    // Each tenant's answers are cached apart: tenant 1 was asked once per token (its cached
    // answer for tenant1-token was reused), tenant 2 only about the token tenant 1 did not know.
    assert_eq!(call("tenant1-token").await.unwrap().status(), 403);
    assert_eq!(tenant1.calls(INTROSPECT).await, 2);
    assert_eq!(tenant2.calls(INTROSPECT).await, 1);
}

/// Unique opaque tokens from one client are not a 1:1 amplifier onto the authorization server:
/// tokens of no issued shape cost no call, and after `client_miss_budget` (30) not-active answers
/// in a minute that client's unknown tokens are refused without one, while a fresh valid token
/// from another client address is introspected and passes.
#[tokio::test]
async fn unique_opaque_tokens_from_one_client_cause_a_bounded_number_of_introspection_calls() {
    let s = Stack::start().await;
    for i in 0..200 {
        let r = s
            .get("/beds/hospitals", &format!("junk-token-{i:05}"))
            .await;
        assert_eq!(r.status(), 401, "{i}");
    }
    let calls = s.idp.calls(INTROSPECT).await;
    assert!(
        (1..=30).contains(&calls),
        "{calls} introspection calls for 200 junk tokens"
    );
    // No issued shape (too short, too long, not base64url): no call at all.
    for junk in ["short", &"x".repeat(600), "has~tilde-000", "has+plus-0000"] {
        assert_eq!(s.get("/beds/hospitals", junk).await.status(), 401);
    }
    assert_eq!(s.idp.calls(INTROSPECT).await, calls);

    let fresh = "fresh-valid-opaque-token-0001";
    s.idp
        .activate(fresh, active(OPENID_APP, "beds.read", T0 + 3600));
    let other = crate::harness::client_from("127.0.0.2");
    let r = other
        .get(s.url("/beds/hospitals"))
        .bearer_auth(fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "another client's valid token passes");
    let m = metrics(&s.gateway).await;
    assert!(
        m.contains("gateway_introspection_skipped_total{reason=\"client_budget\"} "),
        "{m}"
    );
    assert!(
        !m.contains("gateway_introspection_skipped_total{reason=\"client_budget\"} 0\n"),
        "{m}"
    );
    assert!(
        m.contains("gateway_introspection_skipped_total{reason=\"shape\"} 4\n"),
        "{m}"
    );
}
