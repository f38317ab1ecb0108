//! gRPC through the gateway, with real grpcio on both sides: a grpcio server behind it (h2c,
//! `upstream_protocol = "h2c"`) and a grpcio client in front of it. Calls with a valid token
//! pass (unary and server-streaming, trailers and all); the gateway's own refusals come back
//! as gRPC statuses (UNAUTHENTICATED, PERMISSION_DENIED, UNAVAILABLE), not as HTTP errors.

use gateway::GatewayHandle;
use mock_idp::MockIdp;
use serde_json::Value;

use super::faults::{build_from, config_with_api};
use super::peers::{PyServer, peer_present, py_json, python_has};

const SERVICE: &str = "0oa7ms2bedsvc000x7d1";

async fn gateway_for(idp: &MockIdp, upstream: &str) -> GatewayHandle {
    let api = format!(
        r#"base_path = "/echo.Echo"
upstream = "{upstream}/echo.Echo"
upstream_protocol = "h2c"
identification = ["oauth2_local"]
resources = [{{ path = "/Unary", methods = ["POST"] }}, {{ path = "/Stream", methods = ["POST"] }}]
scopes = [{{ name = "Read", resources = [{{ path = "/Unary", methods = ["POST"] }}, {{ path = "/Stream", methods = ["POST"] }}] }}]"#
    );
    build_from(idp, &config_with_api(&idp.discovery_url(), &api))
        .await
        .unwrap()
}

async fn call(gateway: &GatewayHandle, kind: &str, token: &str) -> Value {
    let target = gateway.local_addr().to_string();
    py_json("grpc_call.py", &[&target, kind, token]).await
}

macro_rules! need_grpcio {
    ($test:literal) => {
        if !peer_present($test, "Python grpcio (TEST_PYTHON)", python_has("grpc")) {
            return;
        }
    };
}

#[tokio::test]
async fn grpc_calls_with_a_valid_token_pass_unary_and_server_streaming() {
    need_grpcio!("grpc_calls_with_a_valid_token_pass_unary_and_server_streaming");
    let server = PyServer::start("grpc_echo_server.py", &[]);
    let idp = MockIdp::builder().start().await.unwrap();
    let gateway = gateway_for(&idp, &format!("http://127.0.0.1:{}", server.port)).await;
    let token = idp.mint_access_token(SERVICE, &["beds.read"]).unwrap();
    let unary = call(&gateway, "unary", &token).await;
    assert_eq!(unary["code"], "OK", "{unary}");
    assert_eq!(unary["replies"][0], "echo:hi app=ServiceApp", "{unary}");
    assert_eq!(
        unary["trailers"]["x-echo-trailer"], "done",
        "trailers relayed: {unary}"
    );
    let stream = call(&gateway, "stream", &token).await;
    assert_eq!(stream["code"], "OK", "{stream}");
    assert_eq!(
        stream["replies"],
        serde_json::json!(["hi#0", "hi#1", "hi#2"]),
        "{stream}"
    );
}

#[tokio::test]
async fn grpc_calls_without_a_valid_token_are_unauthenticated() {
    need_grpcio!("grpc_calls_without_a_valid_token_are_unauthenticated");
    let server = PyServer::start("grpc_echo_server.py", &[]);
    let idp = MockIdp::builder().start().await.unwrap();
    let gateway = gateway_for(&idp, &format!("http://127.0.0.1:{}", server.port)).await;
    for (kind, token) in [("unary", "-"), ("stream", "-"), ("unary", "not.a.token")] {
        let r = call(&gateway, kind, token).await;
        assert_eq!(r["code"], "UNAUTHENTICATED", "{kind} {token}: {r}");
        let details = r["details"].as_str().unwrap();
        assert!(details.contains("token"), "the gateway's grpc-message: {r}");
    }
}

#[tokio::test]
async fn grpc_calls_with_too_few_scopes_are_permission_denied() {
    need_grpcio!("grpc_calls_with_too_few_scopes_are_permission_denied");
    let server = PyServer::start("grpc_echo_server.py", &[]);
    let idp = MockIdp::builder().start().await.unwrap();
    let gateway = gateway_for(&idp, &format!("http://127.0.0.1:{}", server.port)).await;
    let token = idp.mint_access_token(SERVICE, &["beds.write"]).unwrap();
    for kind in ["unary", "stream"] {
        let r = call(&gateway, kind, &token).await;
        assert_eq!(r["code"], "PERMISSION_DENIED", "{kind}: {r}");
        // The gateway's own status (grpc-message), not a client's reading of an HTTP 403.
        assert_eq!(
            r["details"], "the token's scopes do not open this resource and method",
            "{r}"
        );
    }
}

#[tokio::test]
async fn a_grpc_upstream_that_is_down_is_unavailable_and_http_clients_still_get_a_502() {
    need_grpcio!("a_grpc_upstream_that_is_down_is_unavailable_and_http_clients_still_get_a_502");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let idp = MockIdp::builder().start().await.unwrap();
    let gateway = gateway_for(&idp, &format!("http://127.0.0.1:{port}")).await;
    let token = idp.mint_access_token(SERVICE, &["beds.read"]).unwrap();
    let r = call(&gateway, "unary", &token).await;
    assert_eq!(r["code"], "UNAVAILABLE", "{r}");
    assert_eq!(r["details"], "the upstream service is unavailable", "{r}");
    // A client that is not gRPC gets the HTTP answers of today.
    let http = reqwest::Client::new();
    let url = format!("{}/echo.Echo/Unary", gateway.url());
    let r = http.post(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 502);
    let r = http.post(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
}
