//! The login page in a real headless Chromium, driven from Rust over
//! WebDriver (fantoccini → chromedriver): open the authorize URL, type the
//! user's credentials, submit, land on the redirect URI with a code that
//! redeems.
//!
//! Needs Debian's `chromium` and `chromium-driver` packages
//! (`apt-get install -y chromium chromium-driver`). Without them the test
//! FAILS, saying so; set `MOCK_IDP_SKIP_BROWSER=1` to skip it explicitly.

use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::support::{http, start_with};
use crate::user_support::{USER_ID, USER_LOGIN, USER_PASSWORD};

const CLIENT_ID: &str = "0oa7ms2browser00x7d8";
const CLIENT_SECRET: &str = "mock-idp-browser-secret-Zt6Qw2Lp9Xn4Rb7Kc3Vm";

fn find_program(env: &str, candidates: &[&str]) -> Option<PathBuf> {
    if let Ok(path) = std::env::var(env) {
        let path = PathBuf::from(path);
        return path.exists().then_some(path);
    }
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    for name in candidates {
        let direct = PathBuf::from(name);
        if direct.is_absolute() && direct.exists() {
            return Some(direct);
        }
        for dir in std::env::split_paths(&path_var) {
            let candidate = dir.join(name);
            if candidate.exists() {
                return Some(candidate);
            }
        }
    }
    None
}

/// Kills the spawned chromedriver when the test ends, however it ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits (up to 60 s: a loaded CI machine starts processes slowly) until
/// chromedriver answers `/status` with `ready`, or its process has exited.
async fn wait_until_ready(driver: &mut KillOnDrop, port: u16) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        if driver.0.try_wait().ok().flatten().is_some() {
            return false;
        }
        if let Ok(response) = http()
            .get(format!("http://127.0.0.1:{port}/status"))
            .send()
            .await
            && let Ok(body) = response.json::<Value>().await
            && body["value"]["ready"] == true
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A stand-in client application: answers every request on the redirect URI.
async fn callback_app() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(|| async {
        axum::response::Html("<!DOCTYPE html><title>Callback</title><p>Signed in</p>")
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!(
        "http://127.0.0.1:{}/authorization-code/callback",
        addr.port()
    )
}

/// A mock with the browser test client, redirecting to `redirect_uri`.
async fn mock_with_browser_client(redirect_uri: &str) -> mock_idp::MockIdp {
    start_with(&format!(
        r#"
[[clients]]
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
client_name = "Browser Test App"
grant_types = ["authorization_code"]
redirect_uris = ["{redirect_uri}"]
token_endpoint_auth_method = "client_secret_post"
"#
    ))
    .await
}

/// Redeems the browser test client's `code` (client_secret_post).
async fn redeem(idp: &mock_idp::MockIdp, code: &str, redirect_uri: &str) -> reqwest::Response {
    http()
        .post(idp.token_endpoint())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap()
}

/// A headless Chromium session over WebDriver, and what must be cleaned up.
pub struct Browser {
    pub client: fantoccini::Client,
    _driver: KillOnDrop,
    profile: PathBuf,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session, or None when the
    /// test should be skipped (`MOCK_IDP_SKIP_BROWSER=1`). A missing browser
    /// is a failure that says how to install it.
    pub async fn start() -> Option<Self> {
        if std::env::var("MOCK_IDP_SKIP_BROWSER").is_ok_and(|v| v == "1") {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("SKIPPED: browser test (MOCK_IDP_SKIP_BROWSER=1)");
            }
            return None;
        }
        let Some(chromedriver) =
            find_program("CHROMEDRIVER", &["/usr/bin/chromedriver", "chromedriver"])
        else {
            panic!(
                "chromedriver not found: the browser tests need Debian's `chromium` and \
                 `chromium-driver` packages (apt-get install -y chromium chromium-driver), or \
                 CHROMEDRIVER=/path/to/chromedriver. Set MOCK_IDP_SKIP_BROWSER=1 to skip them."
            );
        };
        let Some(chromium) = find_program(
            "CHROME_BIN",
            &[
                "/usr/bin/chromium",
                "chromium",
                "chromium-browser",
                "google-chrome",
            ],
        ) else {
            panic!(
                "chromium not found: install Debian's `chromium` package (apt-get install -y \
                 chromium chromium-driver) or set CHROME_BIN. Set MOCK_IDP_SKIP_BROWSER=1 to skip."
            );
        };
        // Start chromedriver on a free port; retry on another port if the one
        // picked was taken in between (other tests bind ports concurrently).
        let (port, driver) = {
            let mut started = None;
            for _ in 0..3 {
                let port = free_port();
                let child = Command::new(&chromedriver)
                    .arg(format!("--port={port}"))
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display()));
                let mut driver = KillOnDrop(child);
                if wait_until_ready(&mut driver, port).await {
                    started = Some((port, driver));
                    break;
                }
            }
            started.expect("chromedriver did not become ready (3 attempts)")
        };
        let profile = std::env::temp_dir().join(format!("mock-idp-chromium-{port}"));
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--no-first-run", format!("--user-data-dir={}", profile.display()),
                    "--window-size=900,700",
                ],
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a WebDriver session with headless Chromium");
        Some(Self {
            client,
            _driver: driver,
            profile,
        })
    }

    pub async fn close(self) {
        let _ = self.client.clone().close().await;
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

#[tokio::test]
async fn browser_login_in_headless_chromium_lands_on_the_redirect_uri_with_a_code() {
    let Some(session) = Browser::start().await else {
        return;
    };
    let redirect_uri = callback_app().await;
    let idp = mock_with_browser_client(&redirect_uri).await;
    let browser = session.client.clone();
    let result = drive(&browser, &idp, &redirect_uri).await;
    session.close().await;
    let code = result.unwrap_or_else(|e| panic!("browser flow failed: {e}"));

    let response = redeem(&idp, &code, &redirect_uri).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let claims = crate::support::verify_independently(
        &idp.jwks_uri(),
        body["id_token"].as_str().unwrap(),
        &idp.issuer(),
        CLIENT_ID,
    )
    .await;
    assert_eq!(claims["sub"], USER_ID);
}

async fn drive(
    browser: &fantoccini::Client,
    idp: &mock_idp::MockIdp,
    redirect_uri: &str,
) -> Result<String, String> {
    let err = |e: fantoccini::error::CmdError| e.to_string();
    let mut url = url::Url::parse(&format!("{}/v1/authorize", idp.issuer())).unwrap();
    url.query_pairs_mut().extend_pairs([
        ("client_id", CLIENT_ID),
        ("response_type", "code"),
        ("scope", "openid profile email"),
        ("redirect_uri", redirect_uri),
        ("state", "browser-state"),
    ]);
    browser.goto(url.as_str()).await.map_err(err)?;
    let title = browser.title().await.map_err(err)?;
    if !title.contains("Sign In") {
        return Err(format!("unexpected page title {title:?}"));
    }
    let page = browser.source().await.map_err(err)?;
    if !page.contains("Browser Test App") {
        return Err("the client's name is not on the login page".into());
    }

    // A wrong password first: the page says so.
    browser
        .find(Locator::Css("#username"))
        .await
        .map_err(err)?
        .send_keys(USER_LOGIN)
        .await
        .map_err(err)?;
    browser
        .find(Locator::Css("#password"))
        .await
        .map_err(err)?
        .send_keys("not-the-password")
        .await
        .map_err(err)?;
    browser
        .find(Locator::Css("#sign-in"))
        .await
        .map_err(err)?
        .click()
        .await
        .map_err(err)?;
    // The page after the POST shows the (no longer hidden) alert.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut alert = String::new();
    while std::time::Instant::now() < deadline {
        if let Ok(element) = browser.find(Locator::Css("#error")).await {
            alert = element.text().await.unwrap_or_default();
            if alert.contains("incorrect") {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !alert.contains("incorrect") {
        return Err(format!("no clear error after a bad password: {alert:?}"));
    }

    // Then the right one (the username field kept its value).
    browser
        .find(Locator::Css("#password"))
        .await
        .map_err(err)?
        .send_keys(USER_PASSWORD)
        .await
        .map_err(err)?;
    browser
        .find(Locator::Css("#sign-in"))
        .await
        .map_err(err)?
        .click()
        .await
        .map_err(err)?;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        let current = browser.current_url().await.map_err(err)?;
        if current.as_str().starts_with(redirect_uri) {
            let params: std::collections::HashMap<_, _> =
                current.query_pairs().into_owned().collect();
            if params.get("state").map(String::as_str) != Some("browser-state") {
                return Err(format!("state not echoed: {current}"));
            }
            return params
                .get("code")
                .cloned()
                .ok_or_else(|| format!("no code in {current}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!(
        "never reached the redirect URI; at {}",
        browser.current_url().await.map_err(err)?
    ))
}

#[tokio::test]
async fn the_debugger_page_shows_servers_clients_users_and_requests_in_chromium() {
    let Some(session) = Browser::start().await else {
        return;
    };
    let idp = crate::support::start().await;
    let _ = crate::support::access_token(&idp, "beds.read").await;
    let browser = session.client.clone();
    let result: Result<(String, String), fantoccini::error::CmdError> = async {
        browser.goto(&format!("{}/__mock/", idp.base_url())).await?;
        let title = browser.title().await?;
        let text = browser.find(Locator::Css("body")).await?.text().await?;
        Ok((title, text))
    }
    .await;
    session.close().await;
    let (title, text) = result.unwrap_or_else(|e| panic!("browser failed: {e}"));
    assert_eq!(title, "mock-idp");
    for expected in [
        idp.issuer().as_str(),
        crate::support::SERVICE_CLIENT_ID,
        "OpenIDApp",
        USER_LOGIN,
        "/oauth2/default/v1/token",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} not shown on the page"
        );
    }
    assert!(!text.contains(crate::support::SERVICE_CLIENT_SECRET));
}

/// A stand-in single-page app on its own origin: `/silent?src=URL` frames `URL` and writes
/// every message it receives (origin and data) into `#got`, as okta-auth-js listens for them.
async fn silent_renew_app() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(
        |axum::extract::Query(q): axum::extract::Query<
            std::collections::HashMap<String, String>,
        >| async move {
            let src = q.get("src").cloned().unwrap_or_default();
            let src = src.replace('&', "&amp;").replace('"', "&quot;");
            axum::response::Html(format!(
                "<!DOCTYPE html><title>App</title><pre id=\"got\"></pre>\
                 <script>window.addEventListener('message', function (e) {{\
                 document.getElementById('got').textContent = \
                 JSON.stringify({{origin: e.origin, data: e.data}}); }});</script>\
                 <iframe src=\"{src}\"></iframe>"
            ))
        },
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://127.0.0.1:{}", addr.port())
}

#[tokio::test]
async fn okta_post_message_renews_silently_in_an_iframe_of_the_app() {
    // okta-auth-js's `token.getWithoutPrompt`: with a session at the mock, an iframe of the
    // app loads authorize with prompt=none and response_mode=okta_post_message, and the app's
    // window receives the code from the issuer's origin.
    let Some(session) = Browser::start().await else {
        return;
    };
    let app = silent_renew_app().await;
    let redirect_uri = format!("{app}/authorization-code/callback");
    let idp = mock_with_browser_client(&redirect_uri).await;
    let browser = session.client.clone();
    let result = async {
        drive(&browser, &idp, &redirect_uri).await?;
        let mut authorize = url::Url::parse(&format!("{}/v1/authorize", idp.issuer())).unwrap();
        authorize.query_pairs_mut().extend_pairs([
            ("client_id", CLIENT_ID),
            ("response_type", "code"),
            ("response_mode", "okta_post_message"),
            ("prompt", "none"),
            ("scope", "openid"),
            ("redirect_uri", redirect_uri.as_str()),
            ("state", "silent-state"),
        ]);
        let mut page = url::Url::parse(&format!("{app}/silent")).unwrap();
        page.query_pairs_mut()
            .append_pair("src", authorize.as_str());
        browser
            .goto(page.as_str())
            .await
            .map_err(|e| e.to_string())?;
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while std::time::Instant::now() < deadline {
            let got = browser
                .find(Locator::Css("#got"))
                .await
                .map_err(|e| e.to_string())?
                .text()
                .await
                .map_err(|e| e.to_string())?;
            if !got.is_empty() {
                return serde_json::from_str::<Value>(&got).map_err(|e| e.to_string());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err("no message reached the app".to_owned())
    }
    .await;
    session.close().await;
    let got = result.unwrap_or_else(|e| panic!("silent renew failed: {e}"));
    let issuer_origin = url::Url::parse(&idp.issuer())
        .unwrap()
        .origin()
        .ascii_serialization();
    assert_eq!(got["origin"], issuer_origin.as_str(), "{got}");
    assert_eq!(got["data"]["state"], "silent-state", "{got}");
    let code = got["data"]["code"].as_str().expect("a code");
    let response = redeem(&idp, code, &redirect_uri).await;
    assert_eq!(response.status(), 200);
}
