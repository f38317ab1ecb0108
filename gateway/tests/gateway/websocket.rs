//! WebSockets through the gateway, with the `websockets` package as server and client: the
//! handshake passes the pipeline like any request (valid token: upgraded and relayed both ways;
//! none: 401 and nothing reaches the upstream), either side may close cleanly, and a resource
//! without `websocket = true` never upgrades (`Upgrade` stays stripped).

use gateway::GatewayHandle;
use mock_idp::MockIdp;
use serde_json::Value;

use super::faults::{build_from, config_with_api};
use super::peers::{PyServer, peer_present, py_json, python_has};

const SERVICE: &str = "0oa7ms2bedsvc000x7d1";

async fn stack() -> (PyServer, MockIdp, GatewayHandle) {
    let server = PyServer::start("ws_echo_server.py", &[]);
    let idp = MockIdp::builder().start().await.unwrap();
    let api = format!(
        r#"base_path = "/beds"
upstream = "http://127.0.0.1:{}"
websocket_idle_timeout_seconds = 30
identification = ["oauth2_local"]
resources = [{{ path = "/live", methods = ["GET"], websocket = true }}, {{ path = "/plain", methods = ["GET"] }}]
scopes = [{{ name = "Read", resources = [{{ path = "/live", methods = ["GET"] }}, {{ path = "/plain", methods = ["GET"] }}] }}]"#,
        server.port
    );
    let gateway = build_from(&idp, &config_with_api(&idp.discovery_url(), &api))
        .await
        .unwrap();
    (server, idp, gateway)
}

async fn client(gateway: &GatewayHandle, path: &str, token: &str, closer: &str) -> Value {
    let url = format!("ws://{}{path}", gateway.local_addr());
    py_json("ws_client.py", &[&url, token, closer]).await
}

macro_rules! need_websockets {
    ($test:literal) => {
        if !peer_present(
            $test,
            "Python websockets (TEST_PYTHON)",
            python_has("websockets"),
        ) {
            return;
        }
    };
}

#[tokio::test]
async fn a_websocket_with_a_valid_token_echoes_and_either_side_closes_cleanly() {
    need_websockets!("a_websocket_with_a_valid_token_echoes_and_either_side_closes_cleanly");
    let (_server, idp, gateway) = stack().await;
    let token = idp.mint_access_token(SERVICE, &["beds.read"]).unwrap();
    let r = client(&gateway, "/beds/live", &token, "client").await;
    assert_eq!(r["answer"], "echo:hi app=ServiceApp", "{r}");
    assert_eq!(
        (&r["close_code"], &r["close_reason"]),
        (&1000.into(), &"client done".into()),
        "{r}"
    );
    let r = client(&gateway, "/beds/live", &token, "server").await;
    assert_eq!(r["answer"], "echo:hi app=ServiceApp", "{r}");
    assert_eq!(
        (&r["close_code"], &r["close_reason"]),
        (&1000.into(), &"server done".into()),
        "{r}"
    );
}

#[tokio::test]
async fn a_websocket_handshake_without_a_token_is_refused_with_401() {
    need_websockets!("a_websocket_handshake_without_a_token_is_refused_with_401");
    let (_server, idp, gateway) = stack().await;
    assert_eq!(
        client(&gateway, "/beds/live", "-", "client").await["status"],
        401
    );
    let other = idp.mint_access_token(SERVICE, &["beds.write"]).unwrap();
    assert_eq!(
        client(&gateway, "/beds/live", &other, "client").await["status"],
        403
    );
}

#[tokio::test]
async fn a_resource_without_websocket_never_upgrades() {
    need_websockets!("a_resource_without_websocket_never_upgrades");
    let (_server, idp, gateway) = stack().await;
    let token = idp.mint_access_token(SERVICE, &["beds.read"]).unwrap();
    // The upstream is asked a plain GET (Upgrade stripped), which the websockets server
    // refuses: its refusal comes back, not a switch.
    let r = client(&gateway, "/beds/plain", &token, "client").await;
    assert_eq!(r["status"], 426, "{r}");
}
