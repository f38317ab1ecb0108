//! The forward-auth decision endpoint (`[forward_auth]`): Debian's nginx with `auth_request`
//! in front of a backend, asking the gateway; and the Traefik and Envoy request shapes.

use serde_json::Value;

use super::harness::*;
use super::peers::peer_present;
use super::upstream_tls::{Nginx, nginx_binary};

const ENDPOINT: &str = "/_gateway/auth";

fn forward_auth_toml(trusted: &str) -> String {
    format!("\n[forward_auth]\npath = \"{ENDPOINT}\"\ntrusted_proxies = [{trusted}]\n")
}

/// The wiremock IdP, the echo backend and a gateway with `[forward_auth]` for 127.0.0.1.
async fn stack() -> Stack {
    super::attacks::stack_with(|toml| toml + &forward_auth_toml("\"127.0.0.1\"")).await
}

/// nginx on a free port: `location /` asks the gateway by `auth_request`, copies the identity
/// headers to the echo backend, and passes the gateway's challenge to the client.
fn nginx_in_front(s: &Stack) -> (Nginx, u16) {
    let port = free_port();
    let gateway = s.gateway.url().trim_start_matches("http://").to_owned();
    let echo = s.echo.addr;
    let server = format!(
        r#"  server {{
    listen 127.0.0.1:{port};
    location / {{
      auth_request /_auth;
      auth_request_set $gw_app $upstream_http_x_gateway_application;
      auth_request_set $gw_sub $upstream_http_x_gateway_subject;
      auth_request_set $gw_scopes $upstream_http_x_gateway_scopes;
      auth_request_set $auth_www_authenticate $upstream_http_www_authenticate;
      error_page 403 = @forbidden;
      proxy_set_header X-Gateway-Application $gw_app;
      proxy_set_header X-Gateway-Subject $gw_sub;
      proxy_set_header X-Gateway-Scopes $gw_scopes;
      proxy_pass http://{echo};
    }}
    location @forbidden {{
      add_header WWW-Authenticate $auth_www_authenticate always;
      return 403;
    }}
    location = /_auth {{
      internal;
      proxy_pass http://{gateway}{ENDPOINT};
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Original-Method $request_method;
    }}
  }}
"#
    );
    (Nginx::start(&[], &server, &[port]), port)
}

fn nginx_here(test: &str) -> bool {
    peer_present(test, "nginx (/usr/sbin/nginx)", nginx_binary().is_some())
}

#[tokio::test]
async fn nginx_auth_request_passes_a_valid_token_with_the_identity_headers() {
    if !nginx_here("nginx_auth_request_passes_a_valid_token_with_the_identity_headers") {
        return;
    }
    let s = stack().await;
    let (nginx, port) = nginx_in_front(&s);
    let token = s
        .idp
        .token(&s.idp.access_claims(OPENID_APP, &["beds.read"], T0));
    let r = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/beds/hospitals?ward=3"))
        .bearer_auth(&token)
        // A client's own claim is overwritten by the gateway's answer.
        .header("x-gateway-application", "AdminApp")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", nginx.log());
    let echoed: Value = r.json().await.unwrap();
    let h = &echoed["headers"];
    assert_eq!(h["x-gateway-application"], serde_json::json!(["OpenIDApp"]));
    assert_eq!(
        h["x-gateway-subject"],
        serde_json::json!(["nurse@example.org"])
    );
    assert_eq!(h["x-gateway-scopes"], serde_json::json!(["beds.read"]));
    assert_eq!(echoed["path"], "/beds/hospitals");
    let m = metrics(&s.gateway).await;
    assert!(
        m.contains(r#"api="CheckBedAvailability",application="OpenIDApp",outcome="allowed"} 1"#),
        "{m}"
    );
}

#[tokio::test]
async fn nginx_auth_request_refuses_missing_forged_and_insufficient_tokens_with_the_challenge() {
    if !nginx_here(
        "nginx_auth_request_refuses_missing_forged_and_insufficient_tokens_with_the_challenge",
    ) {
        return;
    }
    let s = stack().await;
    let (nginx, port) = nginx_in_front(&s);
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");

    let missing = http
        .get(format!("{base}/beds/hospitals"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 401, "{}", nginx.log());
    assert_eq!(challenge(&missing), r#"Bearer realm="test""#);
    assert_eq!(
        missing.headers().get_all("www-authenticate").iter().count(),
        1
    );

    let other = RsaKey::generate("key-1");
    let forged = other.sign(&s.idp.access_claims(OPENID_APP, &["beds.read"], T0));
    let r = http
        .get(format!("{base}/beds/hospitals"))
        .bearer_auth(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        challenge(&r).starts_with(r#"Bearer realm="test", error="invalid_token""#),
        "{}",
        challenge(&r)
    );

    let read_only = s
        .idp
        .token(&s.idp.access_claims(OPENID_APP, &["beds.read"], T0));
    let r = http
        .post(format!("{base}/beds/hospitals/1/wards/2/reservations"))
        .bearer_auth(&read_only)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "{}", nginx.log());
    let c = challenge(&r);
    assert_eq!(r.headers().get_all("www-authenticate").iter().count(), 1);
    assert!(c.contains(r#"error="insufficient_scope""#), "{c}");
    assert!(c.contains(r#"scope="beds.reserve""#), "{c}");

    assert_eq!(
        s.echo.received.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "no refused request reaches the backend"
    );
}

#[tokio::test]
async fn traefik_and_envoy_shapes_name_the_original_request() {
    let s = stack().await;
    let token = s
        .idp
        .token(&s.idp.access_claims(OPENID_APP, &["beds.read"], T0));
    // Traefik forwardAuth: the original request in X-Forwarded-*.
    let r = s
        .http
        .get(s.url(ENDPOINT))
        .bearer_auth(&token)
        .header("x-forwarded-method", "GET")
        .header("x-forwarded-uri", "/beds/hospitals?x=1")
        .header("x-forwarded-host", "beds.example")
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-gateway-application"], "OpenIDApp");
    assert_eq!(r.headers()["x-gateway-client-id"], OPENID_APP);
    // The same token is not enough to reserve.
    let r = s
        .http
        .get(s.url(ENDPOINT))
        .bearer_auth(&token)
        .header("x-forwarded-method", "POST")
        .header("x-forwarded-uri", "/beds/hospitals/1/wards/2/reservations")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(challenge(&r).contains("insufficient_scope"));
    // Envoy ext_authz: the original path after the endpoint's, the original method as is.
    let r = s
        .http
        .get(s.url(&format!("{ENDPOINT}/beds/hospitals")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-gateway-subject"], "nurse@example.org");
    // The route rules are the proxy port's: a non-canonical original path is refused.
    let r = s
        .http
        .get(s.url(ENDPOINT))
        .bearer_auth(&token)
        .header("x-original-uri", "/beds/HOSPITALS")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Naming no original request is a clear 400, not an allow.
    let r = s
        .http
        .get(s.url(ENDPOINT))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(s.echo.received.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_endpoint_answers_only_trusted_proxies() {
    let s = stack().await;
    let token = s
        .idp
        .token(&s.idp.access_claims(OPENID_APP, &["beds.read"], T0));
    // 127.0.0.2 is not in trusted_proxies: its X-Original-URI is not believed, and the path
    // is an ordinary one of the proxy port (no API there).
    let r = client_from("127.0.0.2")
        .get(s.url(ENDPOINT))
        .bearer_auth(&token)
        .header("x-original-uri", "/beds/hospitals")
        .header("x-original-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.headers().get("x-gateway-application").is_none());
}

#[test]
fn a_forward_auth_path_under_an_api_or_without_proxies_is_refused_naming_the_key() {
    let base = config_toml(
        "http://127.0.0.1:9/.well-known/openid-configuration",
        "http://127.0.0.1:9",
    );
    let under_api = base.clone()
        + "\n[forward_auth]\npath = \"/beds/auth\"\ntrusted_proxies = [\"127.0.0.1\"]\n";
    let e = gateway::config::Config::from_toml(&under_api, &test_env).unwrap_err();
    assert_eq!(e.key, "forward_auth.path");
    let e = gateway::config::Config::from_toml(&(base.clone() + &forward_auth_toml("")), &test_env)
        .unwrap_err();
    assert_eq!(e.key, "forward_auth.trusted_proxies");
    let e = gateway::config::Config::from_toml(
        &(base + &forward_auth_toml("\"127.0.0.1\", \"10.0.0.0/40\"")),
        &test_env,
    )
    .unwrap_err();
    assert_eq!(e.key, "forward_auth.trusted_proxies[1]");
}
