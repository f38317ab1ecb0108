use super::*;

fn env(name: &str) -> Option<String> {
    (name == "SECRET").then(|| "s3cret-value-that-is-long-enough-for-hmac".to_owned())
}

const BASE: &str = r#"
[[authorization_servers]]
name = "ExternalOktaServer"
issuer = "https://example.okta.com/oauth2/default"
jwks_uri = "https://example.okta.com/oauth2/default/v1/keys"
[authorization_servers.local]
audiences = ["api://default"]

[[apis]]
name = "CheckBedAvailability"
base_path = "/beds"
upstream = "http://127.0.0.1:9000"
identification = ["oauth2_local"]
[[apis.resources]]
path = "/hospitals"
methods = ["GET"]
[[apis.resources]]
path = "/hospitals/{id}"
methods = ["GET", "PUT"]
[[apis.scopes]]
name = "CheckBedAvailibiltyScopeV3"
resources = [{ path = "/hospitals", methods = ["GET"] }]

[[scope_mappings]]
authorization_server = "ExternalOktaServer"
scope = "beds.read"
api_scopes = ["CheckBedAvailibiltyScopeV3"]

[[applications]]
name = "OpenIDApp"
apis = ["CheckBedAvailability"]
[[applications.strategies]]
name = "OktaStrategy"
scheme = "openid"
authorization_server = "ExternalOktaServer"
client_id = "0oa1"
client_secret = "${SECRET}"
hmac = true
"#;

fn error_key(toml: &str) -> String {
    Config::from_toml(toml, &env).unwrap_err().key
}

#[test]
fn the_article_configuration_is_accepted() {
    let c = Config::from_toml(BASE, &env).unwrap();
    assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
    assert_eq!(
        c.apis[0].resources[1].methods,
        vec![Method::GET, Method::PUT]
    );
    assert_eq!(c.scope_mappings[0].api_scopes, vec![(0, 0)]);
    let s = &c.applications[0].strategies[0];
    assert_eq!(
        s.client_secret.as_ref().unwrap().expose(),
        "s3cret-value-that-is-long-enough-for-hmac"
    );
    assert!(
        !format!("{c:?}").contains("s3cret"),
        "Debug never shows secrets"
    );
}

#[test]
fn errors_name_the_key() {
    for workers in ["0", "257"] {
        assert_eq!(
            error_key(&format!("workers = {workers}\n{BASE}")),
            "workers"
        );
    }
    // `/{kind}/wards` and `/hospitals/{id}` both match `/hospitals/wards`, each more specific
    // in one segment.
    let ambiguous = BASE.replacen(
        "path = \"/hospitals\"\nmethods",
        "path = \"/{kind}/wards\"\nmethods",
        1,
    );
    assert_eq!(error_key(&ambiguous), "apis[0].resources[1].path");
    for path in ["/caf\u{e9}", "/caf%C3%A9", "/a;b"] {
        assert_eq!(
            error_key(&BASE.replacen(r#"path = "/hospitals""#, &format!(r#"path = "{path}""#), 1)),
            "apis[0].resources[0].path",
            "{path}"
        );
    }
    assert_eq!(
        error_key(&format!("max_connections = 0\n{BASE}")),
        "max_connections"
    );
    for key in [
        "client_header_timeout_seconds",
        "client_send_timeout_seconds",
    ] {
        for seconds in ["0", "3601"] {
            assert_eq!(error_key(&format!("{key} = {seconds}\n{BASE}")), key);
        }
    }
    assert_eq!(
        error_key(&BASE.replace(
            r#"methods = ["GET", "PUT"]"#,
            r#"methods = ["GET", "FETCH"]"#
        )),
        "apis[0].resources[1].methods[1]"
    );
    assert_eq!(
        error_key(&BASE.replace(
            r#"api_scopes = ["CheckBedAvailibiltyScopeV3"]"#,
            r#"api_scopes = ["Nope"]"#
        )),
        "scope_mappings[0].api_scopes[0]"
    );
    assert_eq!(
        error_key(&BASE.replace(r#"apis = ["CheckBedAvailability"]"#, r#"apis = ["Other"]"#)),
        "applications[0].apis[0]"
    );
    assert_eq!(
        error_key(&BASE.replace(r#"base_path = "/beds""#, r#"base_path = "beds/""#)),
        "apis[0].base_path"
    );
    assert_eq!(
        error_key(&BASE.replace("${SECRET}", "${MISSING}")),
        "applications[0].strategies[0].client_secret"
    );
    assert_eq!(
        error_key(&BASE.replace("${SECRET}", "short")),
        "applications[0].strategies[0].client_secret"
    );
    assert_eq!(
        error_key(&BASE.replace(
            r#"resources = [{ path = "/hospitals", methods = ["GET"] }]"#,
            r#"resources = [{ path = "/hospitals", methods = ["POST"] }]"#
        )),
        "apis[0].scopes[0].resources[0].methods[0]"
    );
    assert_eq!(
        error_key(&BASE.replace(
            r#"identification = ["oauth2_local"]"#,
            r#"identification = ["oauth2_remote"]"#
        )),
        "apis[0].identification[0]"
    );
    assert_eq!(
        error_key(&BASE.replace(r#"audiences = ["api://default"]"#, "audiences = []")),
        "authorization_servers[0].local.audiences"
    );
}

#[test]
fn unknown_keys_are_rejected_with_their_line() {
    let e = Config::from_toml(
        &BASE.replace("hmac = true", "hmac = true\nhmca = false"),
        &env,
    )
    .unwrap_err();
    assert!(e.message.contains("hmca"), "{e}");
    assert!(e.key.starts_with("line "), "{e}");
}

#[test]
fn the_demo_fixture_is_valid() {
    let env = |name: &str| -> Option<String> {
        Some(match name {
            "OKTA_ISSUER" => "https://example.okta.com/oauth2/default".into(),
            "BEDS_URL" => "http://127.0.0.1:9000".into(),
            _ => format!("{name}-value-long-enough-0123456789"),
        })
    };
    let c = Config::from_toml(include_str!("../../../fixtures/gateway/demo.toml"), &env).unwrap();
    assert_eq!(c.authorization_servers[0].name, "ExternalOktaServer");
    assert_eq!(c.apis[0].name, "CheckBedAvailability");
    assert_eq!(c.apis[0].scopes[0].name, "CheckBedAvailibiltyScopeV3");
    assert_eq!(c.applications[0].name, "OpenIDApp");
    assert_eq!(c.applications[0].strategies[0].name, "OktaStrategy");
}

/// The file and the admin API share one compile (`policy::compile`): what the admin API refuses,
/// the file refuses too (an API listed twice, a strategy name used twice).
#[test]
fn the_file_refuses_what_the_admin_api_refuses() {
    assert_eq!(
        error_key(&BASE.replace(
            r#"apis = ["CheckBedAvailability"]"#,
            r#"apis = ["CheckBedAvailability", "CheckBedAvailability"]"#
        )),
        "applications[0].apis[1]"
    );
    assert_eq!(
        error_key(&BASE.replace(r#"name = "OpenIDApp""#, r#"name = "anonymous""#)),
        "applications[0].name"
    );
}
