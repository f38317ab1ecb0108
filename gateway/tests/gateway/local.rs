//! Local validation against the JWKS, a static PEM key, and HMAC ID tokens.

use serde_json::{Value, json};

use crate::harness::*;

#[tokio::test]
async fn a_valid_access_token_reaches_the_upstream_with_identity_headers() {
    let s = Stack::start().await;
    let token = s
        .idp
        .token(&s.idp.access_claims(OPENID_APP, &["beds.read"], T0));
    let r = s.get("/beds/hospitals?ward=icu", &token).await;
    assert_eq!(r.status(), 200);
    let echo: Value = r.json().await.unwrap();
    assert_eq!(echo["path"], "/hospitals");
    assert_eq!(echo["query"], "ward=icu");
    assert_eq!(
        echo["headers"]["x-gateway-application"],
        json!(["OpenIDApp"])
    );
    assert_eq!(
        echo["headers"]["x-gateway-subject"],
        json!(["nurse@example.org"])
    );
    assert_eq!(echo["headers"]["x-gateway-scopes"], json!(["beds.read"]));
    assert_eq!(
        echo["headers"]["x-gateway-authorization-server"],
        json!(["ExternalOktaServer"])
    );
    assert!(
        echo["headers"].get("authorization").is_none(),
        "the token is not passed upstream"
    );
}

#[tokio::test]
async fn an_expired_token_is_refused_once_the_clock_passes_exp_plus_skew() {
    let s = Stack::start().await;
    let token = s
        .idp
        .token(&s.idp.access_claims(OPENID_APP, &["beds.read"], T0));
    s.clock.advance(3600 + 29);
    assert_eq!(
        s.get("/beds/hospitals", &token).await.status(),
        200,
        "inside the skew"
    );
    s.clock.advance(2);
    let r = s.get("/beds/hospitals", &token).await;
    assert_eq!(r.status(), 401);
    assert!(challenge(&r).contains("error=\"invalid_token\""));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error_description"], "the token has expired");
}

#[tokio::test]
async fn wrong_issuer_audience_and_missing_iat_are_refused() {
    let s = Stack::start().await;
    let base = s.idp.access_claims(OPENID_APP, &["beds.read"], T0);
    let mut cases = Vec::new();
    let mut c = base.clone();
    c["iss"] = json!("https://evil.example/oauth2/default");
    cases.push(c);
    let mut c = base.clone();
    c["aud"] = json!("api://other");
    cases.push(c);
    let mut c = base.clone();
    c["aud"] = json!([]);
    cases.push(c);
    let mut c = base.clone();
    c.as_object_mut().unwrap().remove("iat");
    cases.push(c);
    let mut c = base.clone();
    c["iat"] = json!(T0 + 3600);
    cases.push(c);
    let mut c = base.clone();
    c["exp"] = json!("9999999999");
    cases.push(c);
    for claims in cases {
        let r = s.get("/beds/hospitals", &s.idp.token(&claims)).await;
        assert_eq!(r.status(), 401, "{claims}");
        assert!(challenge(&r).contains("invalid_token"));
    }
}

#[tokio::test]
async fn a_static_pem_key_validates_without_any_jwks() {
    let idp = WireIdp::start().await;
    let echo = Echo::start().await;
    let pem = idp.keys[0].public_pem.replace("\r\n", "\n");
    let toml = format!(
        r#"
[[authorization_servers]]
name = "PinnedServer"
issuer = "{issuer}"
[authorization_servers.local]
audiences = ["{AUDIENCE}"]
public_key_pem = '''
{pem}'''

[[apis]]
name = "CheckBedAvailability"
base_path = "/beds"
upstream = "{upstream}"
identification = ["oauth2_local"]
resources = [{{ path = "/hospitals", methods = ["GET"] }}]

[[applications]]
name = "OpenIDApp"
apis = ["CheckBedAvailability"]
strategies = [{{ name = "OktaStrategy", scheme = "oauth2", authorization_server = "PinnedServer", client_id = "{OPENID_APP}" }}]
"#,
        issuer = idp.issuer(),
        upstream = echo.url()
    );
    let g = start_gateway(&toml, gateway::clock::ManualClock::new(T0)).await;
    let token = idp.token(&idp.access_claims(OPENID_APP, &[], T0));
    let r = reqwest::Client::new()
        .get(format!("{}/beds/hospitals", g.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(idp.calls("/oauth2/default/v1/keys").await, 0);
    // A token signed by another key is refused.
    let other = RsaKey::generate("key-1").sign(&idp.access_claims(OPENID_APP, &[], T0));
    let r = reqwest::Client::new()
        .get(format!("{}/beds/hospitals", g.url()))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn an_rs256_id_token_identifies_the_openid_application() {
    let s = Stack::start().await;
    let token = s.idp.token(&s.idp.id_claims(PLAIN_APP, T0));
    let r = s.get("/profile/me", &token).await;
    assert_eq!(r.status(), 200);
    let echo: Value = r.json().await.unwrap();
    assert_eq!(
        echo["headers"]["x-gateway-application"],
        json!(["PlainApp"])
    );
    assert_eq!(echo["headers"]["x-gateway-subject"], json!(["00u-doctor"]));
}

#[tokio::test]
async fn an_hs256_id_token_passes_only_for_the_strategy_with_hmac_on() {
    let s = Stack::start().await;
    let token = sign_hs256(
        OPENID_APP_SECRET.as_bytes(),
        None,
        &s.idp.id_claims(OPENID_APP, T0),
    );
    let r = s.get("/profile/me", &token).await;
    assert_eq!(r.status(), 200);
    let echo: Value = r.json().await.unwrap();
    assert_eq!(
        echo["headers"]["x-gateway-application"],
        json!(["OpenIDApp"])
    );

    // Signed with a wrong secret.
    let forged = sign_hs256(
        b"not-the-secret-not-the-secret-0000",
        None,
        &s.idp.id_claims(OPENID_APP, T0),
    );
    assert_eq!(s.get("/profile/me", &forged).await.status(), 401);
    // PlainStrategy has hmac off: its own secret does not make an HS256 token acceptable.
    let plain = sign_hs256(
        PLAIN_APP_SECRET.as_bytes(),
        None,
        &s.idp.id_claims(PLAIN_APP, T0),
    );
    assert_eq!(s.get("/profile/me", &plain).await.status(), 401);
    // An HS256 access token is never accepted on an access-token API.
    let at = sign_hs256(
        OPENID_APP_SECRET.as_bytes(),
        None,
        &s.idp.access_claims(OPENID_APP, &["beds.read"], T0),
    );
    assert_eq!(s.get("/beds/hospitals", &at).await.status(), 401);
}

#[tokio::test]
async fn an_es256_token_is_validated_with_an_ec_key_from_the_jwks() {
    let mut s = Stack::start().await;
    let ec = s.idp.rotate_ec("ec-1");
    let claims = s.idp.access_claims(OPENID_APP, &["beds.read"], T0);
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    h.kid = Some("ec-1".into());
    let token = jsonwebtoken::encode(&h, &claims, &ec).unwrap();
    assert_eq!(s.get("/beds/hospitals", &token).await.status(), 200);
    // The EC key does not verify RS256, whatever the token's header says.
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    h.kid = Some("ec-1".into());
    let wrong = jsonwebtoken::encode(&h, &claims, &s.idp.keys[0].encoding).unwrap();
    assert_eq!(s.get("/beds/hospitals", &wrong).await.status(), 401);
}

#[tokio::test]
async fn an_anonymous_api_passes_requests_without_a_token_but_not_with_a_bad_one() {
    let idp = WireIdp::start().await;
    let echo = Echo::start().await;
    let toml = config_toml(&idp.discovery_url(), &echo.url()).replace(
        "[[apis]]\nname = \"Admin\"",
        &format!(
            "[[apis]]\nname = \"Public\"\nbase_path = \"/public\"\nupstream = \"{}\"\nidentification = [\"oauth2_local\"]\nallow_anonymous = true\nresources = [{{ path = \"/*\", methods = [\"GET\"] }}]\n\n[[apis]]\nname = \"Admin\"",
            echo.url()
        ),
    );
    let g = start_gateway(&toml, gateway::clock::ManualClock::new(T0)).await;
    let http = reqwest::Client::new();
    let r = http
        .get(format!("{}/public/notice", g.url()))
        .header("x-gateway-application", "OpenIDApp")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let echo_body: Value = r.json().await.unwrap();
    assert_eq!(
        echo_body["headers"]["x-gateway-application"],
        json!(["anonymous"])
    );
    let r = http
        .get(format!("{}/public/notice", g.url()))
        .bearer_auth("garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn jwt_identification_uses_azp_and_the_upstream_path_prefix_is_kept() {
    let idp = WireIdp::start().await;
    let echo = Echo::start().await;
    let toml = format!(
        r#"
[[authorization_servers]]
name = "ExternalOktaServer"
discovery_url = "{discovery}"
[authorization_servers.local]
audiences = ["{AUDIENCE}"]

[[apis]]
name = "Partners"
base_path = "/partners"
upstream = "{upstream}/internal/v2/"
identification = ["jwt"]
resources = [{{ path = "/orders/{{id}}", methods = ["GET"] }}]

[[applications]]
name = "PartnerApp"
apis = ["Partners"]
strategies = [{{ name = "PartnerJwt", scheme = "jwt", authorization_server = "ExternalOktaServer", client_id = "partner-1" }}]
"#,
        discovery = idp.discovery_url(),
        upstream = echo.url()
    );
    let g = start_gateway(&toml, gateway::clock::ManualClock::new(T0)).await;
    let mut claims = idp.access_claims("ignored", &[], T0);
    claims.as_object_mut().unwrap().remove("cid");
    claims["azp"] = json!("partner-1");
    let r = reqwest::Client::new()
        .get(format!("{}/partners/orders/42?x=1", g.url()))
        .bearer_auth(idp.token(&claims))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let echo_body: Value = r.json().await.unwrap();
    assert_eq!(echo_body["path"], "/internal/v2/orders/42");
    assert_eq!(echo_body["query"], "x=1");
    assert_eq!(
        echo_body["headers"]["x-gateway-application"],
        json!(["PartnerApp"])
    );
}
