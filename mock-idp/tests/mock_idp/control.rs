//! The control API (`/__mock/`) and its Rust-handle equivalents: keys, clock,
//! faults, claims, test tokens and inspection.

use std::time::Duration;

use mock_idp::control::{ClaimRule, ClaimTarget, Endpoint, FaultKind, FaultSpec, TokenKind};
use serde_json::{Value, json};

use crate::support::{
    SERVICE_CLIENT_ID, SERVICE_CLIENT_SECRET, access_token, client_credentials, decode_parts,
    get_json, http, introspect, post_json, start, verify_independently,
};

fn control(idp: &mock_idp::MockIdp, path: &str) -> String {
    format!("{}/__mock/{path}", idp.base_url())
}

#[tokio::test]
async fn keys_rotate_over_http_and_list_shows_the_active_key() {
    let idp = start().await;
    let before = access_token(&idp, "beds.read").await;
    let rotated: Value = http()
        .post(control(&idp, "keys/rotate"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new_kid = rotated["kid"].as_str().unwrap();
    let listed: Value = get_json(&control(&idp, "keys")).await;
    let default = listed["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["server"] == "default")
        .unwrap();
    let active: Vec<&Value> = default["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["active"] == true)
        .collect();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0]["kid"], new_kid);
    assert_eq!(
        default["keys"].as_array().unwrap().len(),
        2,
        "the old key stays published"
    );
    let after = access_token(&idp, "beds.read").await;
    assert_eq!(decode_parts(&after).0["kid"], new_kid);
    assert_eq!(introspect(&idp, &before).await["active"], true);
}

#[tokio::test]
async fn a_fixed_key_can_be_loaded_and_signs_from_then_on() {
    let idp = start().await;
    let key = tokio::task::spawn_blocking(mock_idp::SigningKey::generate)
        .await
        .unwrap()
        .unwrap();
    let response = http()
        .post(control(&idp, "keys/rotate"))
        .json(&json!({"server": "default", "private_key_pem": key.private_key_pem()}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let token = access_token(&idp, "beds.read").await;
    assert_eq!(decode_parts(&token).0["kid"], key.kid());
    let bad = http()
        .post(control(&idp, "keys/rotate"))
        .json(&json!({"private_key_pem": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn the_clock_moves_over_http_and_tokens_expire_with_it() {
    let idp = start().await;
    let token = access_token(&idp, "beds.read").await;
    let clock: Value = post_json(&control(&idp, "clock"), &json!({"advance": 3601})).await;
    assert!(clock["now"].as_i64().unwrap() > 0);
    assert_eq!(introspect(&idp, &token).await, json!({"active": false}));
    let frozen: Value = post_json(
        &control(&idp, "clock"),
        &json!({"set": 2_000_000_000, "freeze": true}),
    )
    .await;
    assert_eq!(frozen, json!({"now": 2_000_000_000, "frozen": true}));
    let claims = decode_parts(&access_token(&idp, "beds.read").await).1;
    assert_eq!(claims["iat"], 2_000_000_000);
}

#[tokio::test]
async fn a_status_fault_answers_n_times_then_goes_away() {
    let idp = start().await;
    let created = http()
        .post(control(&idp, "faults"))
        .json(&json!({"endpoint": "token", "kind": "status", "status": 503, "body": {"error": "temporarily_unavailable", "error_description": "down for a test"}, "times": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    for _ in 0..2 {
        let response = client_credentials(&idp, "beds.read").await;
        assert_eq!(response.status(), 503);
        assert_eq!(
            response.json::<Value>().await.unwrap()["error"],
            "temporarily_unavailable"
        );
    }
    assert_eq!(client_credentials(&idp, "beds.read").await.status(), 200);
    let listed: Value = get_json(&control(&idp, "faults")).await;
    assert_eq!(listed["faults"], json!([]));
}

#[tokio::test]
async fn faults_are_scoped_to_their_endpoint_and_removable() {
    let idp = start().await;
    let created: Value = post_json(
        &control(&idp, "faults"),
        &json!({"endpoint": "keys", "kind": "rate_limit"}),
    )
    .await;
    let limited = http().get(idp.jwks_uri()).send().await.unwrap();
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["x-rate-limit-remaining"], "0");
    assert_eq!(
        limited.json::<Value>().await.unwrap()["errorCode"],
        "E0000047"
    );
    assert_eq!(
        client_credentials(&idp, "beds.read").await.status(),
        200,
        "other endpoints unaffected"
    );
    let id = created["id"].as_u64().unwrap();
    let deleted = http()
        .delete(control(&idp, &format!("faults/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        http().get(idp.jwks_uri()).send().await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn jwks_faults_serve_stale_or_broken_key_sets() {
    let idp = start().await;
    {
        let _stale = idp.fault(FaultSpec::new(Endpoint::Keys, FaultKind::StaleJwks));
        let jwks: Value = get_json(&idp.jwks_uri()).await;
        let kids: Vec<&Value> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| &k["kid"])
            .collect();
        assert!(
            !kids.contains(&&json!(idp.signing_key().kid())),
            "the active key is missing"
        );
    }
    {
        let _broken = idp.fault(FaultSpec::new(Endpoint::Keys, FaultKind::BrokenJwks));
        let response = http().get(idp.jwks_uri()).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(serde_json::from_str::<Value>(&response.text().await.unwrap()).is_err());
    }
    // Guards dropped: the real key set is back.
    verify_independently(
        &idp.jwks_uri(),
        &access_token(&idp, "beds.read").await,
        &idp.issuer(),
        "api://default",
    )
    .await;
}

#[tokio::test]
async fn drop_and_latency_faults() {
    let idp = start().await;
    {
        let _drop = idp.fault(FaultSpec::new(Endpoint::Introspect, FaultKind::Drop).times(1));
        let result = http()
            .post(format!("{}/v1/introspect", idp.issuer()))
            .basic_auth(SERVICE_CLIENT_ID, Some(SERVICE_CLIENT_SECRET))
            .form(&[("token", "x")])
            .send()
            .await;
        let failed = match result {
            Err(_) => true,
            Ok(response) => response.bytes().await.is_err(),
        };
        assert!(failed, "the connection is cut");
    }
    let _slow = idp.fault(FaultSpec::new(
        Endpoint::Discovery,
        FaultKind::Latency { ms: 300 },
    ));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let error = client.get(idp.discovery_url()).send().await.unwrap_err();
    assert!(error.is_timeout());
}

#[tokio::test]
async fn bad_fault_requests_name_the_field() {
    let idp = start().await;
    let response = http()
        .post(control(&idp, "faults"))
        .json(&json!({"endpoint": "token", "kind": "status", "status": 42}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errorCode"], "E0000001");
    assert!(
        body["errorCauses"][0]["errorSummary"]
            .as_str()
            .unwrap()
            .contains("status")
    );
    let unknown = http()
        .post(control(&idp, "faults"))
        .json(&json!({"endpoint": "nowhere", "kind": "drop"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400);
}

#[tokio::test]
async fn custom_claims_per_client_and_for_the_next_token_only() {
    let idp = start().await;
    let created = http()
        .post(control(&idp, "claims"))
        .json(&json!({"target": {"client_id": SERVICE_CLIENT_ID}, "claims": {"ward": "ICU", "groups": ["Nurses"]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let claims = decode_parts(&access_token(&idp, "beds.read").await).1;
    assert_eq!(claims["ward"], "ICU");
    assert_eq!(claims["groups"], json!(["Nurses"]));

    let _once = idp.claims(ClaimRule {
        target: ClaimTarget::default(),
        token: TokenKind::Access,
        claims: serde_json::from_value(json!({"aud": "api://overridden"})).unwrap(),
        once: true,
    });
    let overridden = decode_parts(&access_token(&idp, "beds.read").await).1;
    assert_eq!(overridden["aud"], "api://overridden");
    let next = decode_parts(&access_token(&idp, "beds.read").await).1;
    assert_eq!(next["aud"], "api://default");
}

#[tokio::test]
async fn test_tokens_valid_and_deliberately_bad() {
    let idp = start().await;
    let mint = |flavor: &'static str| {
        let body = json!({"client_id": SERVICE_CLIENT_ID, "scopes": ["beds.read"], "flavor": flavor, "claims": {"ward": "ICU"}});
        let url = control(&idp, "tokens");
        async move {
            let response = http().post(url).json(&body).send().await.unwrap();
            assert_eq!(response.status(), 200, "{flavor}");
            response.json::<Value>().await.unwrap()["token"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let valid = mint("valid").await;
    let claims =
        verify_independently(&idp.jwks_uri(), &valid, &idp.issuer(), "api://default").await;
    assert_eq!(claims["ward"], "ICU");
    assert_eq!(introspect(&idp, &valid).await["active"], true);
    for flavor in [
        "expired",
        "wrong_issuer",
        "alg_none",
        "hs256_public_key",
        "unknown_kid",
        "bad_signature",
    ] {
        let token = mint(flavor).await;
        assert_eq!(
            introspect(&idp, &token).await,
            json!({"active": false}),
            "{flavor}"
        );
    }
    let wrong_aud = mint("wrong_audience").await;
    assert_eq!(decode_parts(&wrong_aud).1["aud"], "api://someone-else");
    assert_eq!(decode_parts(&mint("alg_none").await).0["alg"], "none");
    assert_eq!(
        decode_parts(&mint("hs256_public_key").await).0["alg"],
        "HS256"
    );

    let id_token = http()
        .post(control(&idp, "tokens"))
        .json(&json!({"kind": "id", "client_id": crate::support::WEB_CLIENT_ID, "user": "alex.nurse@example.com"}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let claims = verify_independently(
        &idp.jwks_uri(),
        id_token["token"].as_str().unwrap(),
        &idp.issuer(),
        crate::support::WEB_CLIENT_ID,
    )
    .await;
    assert!(claims["sub"].as_str().unwrap().starts_with("00u"));
    assert!(claims["jti"].as_str().unwrap().starts_with("ID."));

    let refused = http()
        .post(control(&idp, "tokens"))
        .json(&json!({"kind": "id", "client_id": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
}

#[tokio::test]
async fn requests_are_recorded_without_secrets_and_the_page_lists_everything() {
    let idp = start().await;
    let _ = access_token(&idp, "beds.read").await;
    let recorded: Value = get_json(&control(&idp, "requests")).await;
    let text = recorded.to_string();
    assert!(text.contains("/oauth2/default/v1/token"));
    assert!(text.contains(SERVICE_CLIENT_ID));
    assert!(
        !text.contains(SERVICE_CLIENT_SECRET),
        "secrets never recorded"
    );
    assert_eq!(idp.requests().last().unwrap().status, 200);

    let page = http().get(control(&idp, "")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    for expected in [
        idp.issuer().as_str(),
        SERVICE_CLIENT_ID,
        "alex.nurse@example.com",
        "/oauth2/default/v1/token",
    ] {
        assert!(html.contains(expected), "{expected}");
    }
    assert!(!html.contains(SERVICE_CLIENT_SECRET));
}

#[tokio::test]
async fn custom_claims_per_user_reach_access_and_id_tokens() {
    let idp = start().await;
    let _guard = idp.claims(ClaimRule {
        target: ClaimTarget {
            client_id: None,
            user: Some("alex.nurse@example.com".into()),
        },
        token: TokenKind::Both,
        claims: serde_json::from_value(json!({"ward": "Maternity"})).unwrap(),
        once: false,
    });
    let response = crate::support::post_basic(
        &idp.token_endpoint(),
        "0oa7ms2bedtst000x7d4",
        "mock-idp-test-secret-Hq5wZ2nLp8Xc4Tv7Mb3Rk9Gs",
        &[
            ("grant_type", "password"),
            ("username", "alex.nurse@example.com"),
            ("password", "CorrectHorse!2026"),
            ("scope", "openid profile"),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        decode_parts(body["access_token"].as_str().unwrap()).1["ward"],
        "Maternity"
    );
    assert_eq!(
        decode_parts(body["id_token"].as_str().unwrap()).1["ward"],
        "Maternity"
    );
    // Another client's service token is untouched.
    assert!(
        decode_parts(&access_token(&idp, "beds.read").await)
            .1
            .get("ward")
            .is_none()
    );
}

#[tokio::test]
async fn claims_declared_in_config_reach_the_right_tokens() {
    let idp = crate::support::start_with(
        r#"
[[authorization_servers]]
id = "wards"
[[authorization_servers.scopes]]
name = "beds.read"
[[authorization_servers.claims]]
name = "hospital"
value = "St Mary's"
token = "both"
[[authorization_servers.claims]]
name = "groups"
value_from = "groups"
token = "id"
[[authorization_servers.claims]]
name = "given"
value_from = "profile.firstName"
token = "access"
clients = ["0oa7ms2bedtst000x7d4"]
"#,
    )
    .await;
    let issuer = idp.issuer_of("wards").unwrap();
    let service = crate::support::post_basic(
        &format!("{issuer}/v1/token"),
        SERVICE_CLIENT_ID,
        SERVICE_CLIENT_SECRET,
        &[("grant_type", "client_credentials"), ("scope", "beds.read")],
    )
    .await
    .json::<Value>()
    .await
    .unwrap();
    let claims = decode_parts(service["access_token"].as_str().unwrap()).1;
    assert_eq!(claims["hospital"], "St Mary's");
    assert!(claims.get("given").is_none(), "limited to another client");

    let user = crate::support::post_basic(
        &format!("{issuer}/v1/token"),
        "0oa7ms2bedtst000x7d4",
        "mock-idp-test-secret-Hq5wZ2nLp8Xc4Tv7Mb3Rk9Gs",
        &[
            ("grant_type", "password"),
            ("username", "alex.nurse@example.com"),
            ("password", "CorrectHorse!2026"),
            ("scope", "openid beds.read"),
        ],
    )
    .await
    .json::<Value>()
    .await
    .unwrap();
    let access = decode_parts(user["access_token"].as_str().unwrap()).1;
    let id = decode_parts(user["id_token"].as_str().unwrap()).1;
    assert_eq!(access["given"], "Alex");
    assert_eq!(access["hospital"], "St Mary's");
    assert!(access.get("groups").is_none());
    assert_eq!(id["groups"], json!(["Everyone", "Nurses"]));
    assert_eq!(id["hospital"], "St Mary's");

    let bad = mock_idp::Config::from_toml(
        "[[authorization_servers]]\nid = \"x\"\n[[authorization_servers.claims]]\nname = \"sub\"\nvalue = 1\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        bad.contains("authorization_servers[0].claims[0].name"),
        "{bad}"
    );
}

#[tokio::test]
async fn issued_tokens_and_sessions_can_be_inspected_without_the_tokens() {
    let idp = start().await;
    let token = access_token(&idp, "beds.read").await;
    let jti = decode_parts(&token).1["jti"].as_str().unwrap().to_owned();
    crate::support::post_basic(
        &format!("{}/v1/revoke", idp.issuer()),
        SERVICE_CLIENT_ID,
        SERVICE_CLIENT_SECRET,
        &[("token", token.as_str())],
    )
    .await;
    let inspected: Value = get_json(&control(&idp, "issued")).await;
    let entry = inspected["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["jti"] == jti.as_str())
        .unwrap();
    assert_eq!(entry["status"], "revoked");
    assert_eq!(entry["client_id"], SERVICE_CLIENT_ID);
    assert_eq!(entry["kind"], "access");
    assert!(
        !inspected.to_string().contains(&token),
        "never the token itself"
    );
}

/// An HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`) as Unix seconds.
fn http_date_seconds(response: &reqwest::Response, name: &str) -> i64 {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let value = response.headers()[name].to_str().unwrap();
    time::PrimitiveDateTime::parse(value, format)
        .unwrap_or_else(|e| panic!("{name}: {value}: {e}"))
        .assume_utc()
        .unix_timestamp()
}

fn header_i64(response: &reqwest::Response, name: &str) -> i64 {
    response.headers()[name].to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn injected_429_and_5xx_carry_oktas_rate_limit_headers_and_a_date() {
    let idp = start().await;
    for (fault, status) in [
        (
            json!({"endpoint": "token", "kind": "rate_limit", "times": 1}),
            429,
        ),
        (
            json!({"endpoint": "token", "kind": "status", "status": 503, "times": 1}),
            503,
        ),
        (
            json!({"endpoint": "token", "kind": "status", "status": 504, "times": 1}),
            504,
        ),
    ] {
        let created = http()
            .post(control(&idp, "faults"))
            .json(&fault)
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        let response = client_credentials(&idp, "beds.read").await;
        assert_eq!(response.status(), status);
        // okta-sdk-python retries only with both, after `Reset - Date + 1` seconds.
        let date = http_date_seconds(&response, "date");
        let reset = header_i64(&response, "x-rate-limit-reset");
        assert!(
            (1..=60).contains(&(reset - date)),
            "{status}: reset {reset}, date {date}"
        );
        assert!(header_i64(&response, "x-rate-limit-limit") > 0);
        let remaining = header_i64(&response, "x-rate-limit-remaining");
        if status == 429 {
            assert_eq!(remaining, 0);
            assert_eq!(
                response.json::<Value>().await.unwrap()["errorCode"],
                "E0000047"
            );
        }
    }
    let recorded: Value = get_json(&control(&idp, "requests")).await;
    let statuses: Vec<u64> = recorded["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"].as_str().unwrap().ends_with("/v1/token"))
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [429, 503, 504]);
}

#[tokio::test]
async fn the_date_header_follows_the_mock_clock_like_expires_and_the_rate_limit_reset() {
    let idp = mock_idp::MockIdp::builder()
        .clock(mock_idp::Clock::frozen_at(2_000_000_000))
        .start()
        .await
        .unwrap();
    let response = http().get(idp.jwks_uri()).send().await.unwrap();
    assert_eq!(response.headers()["date"], "Wed, 18 May 2033 03:33:20 GMT");
    idp.clock().advance(Duration::from_secs(7200));
    let response = http().get(idp.jwks_uri()).send().await.unwrap();
    let date = http_date_seconds(&response, "date");
    assert_eq!(date, 2_000_007_200);
    // max-age=300 in the default config.
    assert_eq!(http_date_seconds(&response, "expires") - date, 300);
    let reset = header_i64(&response, "x-rate-limit-reset");
    assert!((1..=60).contains(&(reset - date)), "{reset} vs {date}");
    // Every response, errors and the control API included.
    for url in [
        format!("{}/nowhere", idp.base_url()),
        control(&idp, "clock"),
    ] {
        let response = http().get(&url).send().await.unwrap();
        assert_eq!(http_date_seconds(&response, "date"), 2_000_007_200, "{url}");
    }
}

/// A 400 in Okta's validation shape whose cause names `field`.
async fn expect_invalid_field(response: reqwest::Response, field: &str) {
    assert_eq!(response.status(), 400, "{field}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errorCode"], "E0000001", "{body}");
    let cause = body["errorCauses"][0]["errorSummary"].as_str().unwrap();
    assert!(cause.starts_with(&format!("{field}:")), "{cause}");
}

#[tokio::test]
async fn test_token_expires_in_near_i64_max_is_a_400_naming_the_field() {
    let idp = start().await;
    for expires_in in [
        i64::MAX,
        i64::MAX - 1,
        10 * 365 * 24 * 3600 + 1,
        0,
        -1,
        i64::MIN,
    ] {
        let response = http()
            .post(control(&idp, "tokens"))
            .json(&json!({"client_id": SERVICE_CLIENT_ID, "expires_in": expires_in}))
            .send()
            .await
            .unwrap();
        expect_invalid_field(response, "expires_in").await;
    }
    let longest: Value = post_json(
        &control(&idp, "tokens"),
        &json!({"client_id": SERVICE_CLIENT_ID, "expires_in": 10 * 365 * 24 * 3600}),
    )
    .await;
    let (_, claims) = decode_parts(longest["token"].as_str().unwrap());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        10 * 365 * 24 * 3600
    );
}

#[tokio::test]
async fn clock_set_or_advanced_past_year_9999_is_a_400_naming_the_field() {
    let idp = start().await;
    let before = idp.clock().now();
    for (request, field) in [
        (json!({"set": i64::MAX}), "set"),
        (json!({"set": 253_402_300_800_i64}), "set"),
        (json!({"set": -1}), "set"),
        (json!({"advance": u64::MAX}), "advance"),
        (json!({"advance": i64::MAX}), "advance"),
        (
            json!({"set": 253_402_300_000_i64, "advance": 800}),
            "advance",
        ),
    ] {
        let response = http()
            .post(control(&idp, "clock"))
            .json(&request)
            .send()
            .await
            .unwrap();
        expect_invalid_field(response, field).await;
    }
    let now = idp.clock().now();
    assert!(
        (before..before + 5).contains(&now),
        "a refused request leaves the clock alone: {now}"
    );
    // The latest allowed time still mints tokens whose exp does not wrap.
    let response = post_json(
        &control(&idp, "clock"),
        &json!({"set": 253_402_300_799_i64, "freeze": true}),
    )
    .await;
    assert_eq!(response["now"], 253_402_300_799_i64);
    let token = access_token(&idp, "beds.read").await;
    let (_, claims) = decode_parts(&token);
    assert_eq!(claims["exp"], 253_402_300_799_i64 + 3600);
}

async fn start_with_control_token() -> mock_idp::MockIdp {
    crate::support::start_with_server_settings(
        r#"control_token = "control-token-0123456789abcdef""#,
    )
    .await
}

#[tokio::test]
async fn control_api_needs_no_credentials_by_default() {
    let idp = start().await;
    for path in [
        "",
        "clock",
        "keys",
        "faults",
        "requests",
        "issued",
        "openapi.json",
    ] {
        let response = http().get(control(&idp, path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "/__mock/{path}");
    }
}

#[tokio::test]
async fn control_token_when_configured_is_required_on_every_control_route() {
    let idp = start_with_control_token().await;
    for path in [
        "",
        "clock",
        "keys",
        "faults",
        "claims",
        "requests",
        "issued",
        "openapi.json",
    ] {
        for authorization in [
            None,
            Some("Bearer wrong-token-0123456789ab"),
            Some("SSWS control-token-0123456789abcdef"),
            Some("Bearer control-token-0123456789abcde"),
        ] {
            let mut request = http().get(control(&idp, path));
            if let Some(value) = authorization {
                request = request.header("authorization", value);
            }
            let response = request.send().await.unwrap();
            assert_eq!(
                response.status(),
                401,
                "/__mock/{path} with {authorization:?}"
            );
            assert_eq!(
                response.headers()["www-authenticate"],
                "Bearer realm=\"mock-idp control API\""
            );
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["errorCode"], "E0000011");
            assert!(!body.to_string().contains("control-token"), "{body}");
        }
        let allowed = http()
            .get(control(&idp, path))
            .header("authorization", "Bearer control-token-0123456789abcdef")
            .send()
            .await
            .unwrap();
        assert_eq!(allowed.status(), 200, "/__mock/{path}");
    }
    let before = idp.clock().now();
    let refused = http()
        .post(control(&idp, "clock"))
        .json(&json!({"advance": 3600}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert!(
        idp.clock().now() < before + 60,
        "an unauthenticated change is not made"
    );
    // Okta's own endpoints stay as open as Okta's.
    assert_eq!(client_credentials(&idp, "beds.read").await.status(), 200);
}

#[tokio::test]
async fn control_token_shorter_than_16_characters_is_refused_naming_the_key() {
    let text = crate::support::default_config_with_server_settings(r#"control_token = "short""#);
    let error = mock_idp::Config::from_toml(&text).unwrap_err().to_string();
    assert!(error.contains("server.control_token"), "{error}");
    assert!(
        !error.contains("short\""),
        "the token is not echoed: {error}"
    );
}
