//! The servers the runner starts in its own process (`in_process = "mock"`, `[gateway]
//! in_process = true`): the mock, `gateway demo`'s wiring, or a gateway in front of a remote
//! target. Behind the `in-process` feature (on by default), so a build of the suite for judging
//! remote servers only links neither the mock nor the gateway.

use crate::checks::{ClockHook, MintHook, RotateHook};
use crate::target::Target;

/// What was started for the run, and the hooks into it.
#[derive(Default)]
pub(crate) struct Started {
    /// Kept alive until the run ends.
    pub env: Environment,
    /// The started server's issuer (`None`: the target's `issuer`).
    pub issuer: Option<String>,
    /// The started gateway's URL (`None`: the target's `[gateway] url`).
    pub gateway_url: Option<String>,
    pub clock: Option<ClockHook>,
    pub rotate: Option<RotateHook>,
    pub mint: Option<MintHook>,
}

/// In-process servers kept alive for the run.
#[derive(Debug, Default)]
pub struct Environment {
    #[cfg(feature = "in-process")]
    pub mock: Option<std::sync::Arc<mock_idp::MockIdp>>,
    #[cfg(feature = "in-process")]
    pub gateway: Option<gateway::GatewayHandle>,
    #[cfg(feature = "in-process")]
    pub beds: Option<gateway::beds::BedsHandle>,
}

/// Without the feature: a target that asks for in-process servers is refused by name.
#[cfg(not(feature = "in-process"))]
pub(crate) async fn start(target: &Target) -> anyhow::Result<Started> {
    let wants_gateway = target.gateway.as_ref().is_some_and(|g| g.in_process);
    if target.server.in_process.is_some() || wants_gateway {
        anyhow::bail!(
            "target `{}` asks for in-process servers (`in_process`), but this build of \
             conformance has no `in-process` feature",
            target.name
        );
    }
    Ok(Started::default())
}

/// Starts the mock (and `gateway demo`'s wiring when the target wants a gateway too), or a
/// gateway in front of a remote target.
#[cfg(feature = "in-process")]
pub(crate) async fn start(target: &Target) -> anyhow::Result<Started> {
    use std::sync::Arc;

    use crate::target::InProcess;

    let mut started = Started::default();
    let wants_gateway = target.gateway.as_ref().is_some_and(|g| g.in_process);
    match target.server.in_process {
        Some(InProcess::Mock) => {
            let idp = if wants_gateway {
                // `gateway demo`: the mock, the beds backend and the gateway, wired together.
                let demo = gateway::demo::start("127.0.0.1:0".parse()?).await?;
                started.env.gateway = Some(demo.gateway);
                started.env.beds = Some(demo.beds);
                Arc::new(demo.idp)
            } else if let Some(path) = &target.server.mock_config {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                let builder = mock_idp::MockIdp::builder()
                    .config_toml(&text)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                Arc::new(builder.start().await?)
            } else {
                Arc::new(mock_idp::MockIdp::start().await?)
            };
            started.issuer = Some(idp.issuer());
            let clock = idp.clock().clone();
            started.clock = Some(Arc::new(move |d: Option<std::time::Duration>| match d {
                Some(d) => clock.advance(d),
                None => clock.reset(),
            }));
            let handle = idp.clone();
            started.rotate = Some(Arc::new(move || {
                let h = handle.clone();
                Box::pin(async move {
                    let _ = h.rotate_keys().await;
                })
            }));
            let minter = idp.clone();
            started.mint = Some(Arc::new(move |req: serde_json::Value| {
                let req: mock_idp::test_tokens::TestTokenRequest =
                    serde_json::from_value(req).ok()?;
                minter.mint_test_token(&req).ok()
            }));
            started.env.mock = Some(idp);
        }
        // A gateway in front of the demo backend, pointed at a remote target (`just e2e`):
        // fixtures/gateway/demo.toml with the target's issuer and clients.
        None if wants_gateway => {
            let issuer = target.server.issuer.clone().unwrap_or_default();
            let (gw, beds) = start_gateway_for(target, &issuer).await?;
            started.env.gateway = Some(gw);
            started.env.beds = Some(beds);
        }
        None => {}
    }
    started.gateway_url = started.env.gateway.as_ref().map(|g| g.url());
    Ok(started)
}

/// Starts the beds backend and a gateway configured by `gateway::demo::DEMO_CONFIG`
/// for `issuer` and the target's clients.
#[cfg(feature = "in-process")]
async fn start_gateway_for(
    target: &Target,
    issuer: &str,
) -> anyhow::Result<(gateway::GatewayHandle, gateway::beds::BedsHandle)> {
    let beds = gateway::beds::start(tokio::net::TcpListener::bind("127.0.0.1:0").await?)?;
    let svc = target.clients.service.clone();
    let web = target.clients.web.clone();
    let vars: Vec<(&str, String)> = vec![
        ("OKTA_ISSUER", issuer.to_owned()),
        ("BEDS_URL", beds.url()),
        (
            "OKTA_CLIENT_ID",
            svc.as_ref()
                .map(|c| c.client_id.clone())
                .unwrap_or_default(),
        ),
        (
            "OKTA_CLIENT_SECRET",
            svc.as_ref()
                .and_then(|c| c.client_secret.clone())
                .unwrap_or_default(),
        ),
        (
            "OKTA_WEB_CLIENT_ID",
            web.as_ref()
                .map(|c| c.client_id.clone())
                .unwrap_or_default(),
        ),
        (
            "OKTA_WEB_CLIENT_SECRET",
            web.as_ref()
                .and_then(|c| c.client_secret.clone())
                .unwrap_or_default(),
        ),
    ];
    let lookup = move |name: &str| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    };
    let config = gateway::config::Config::from_toml(gateway::demo::DEMO_CONFIG, &lookup)
        .map_err(|e| anyhow::anyhow!("fixtures/gateway/demo.toml: {e}"))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let gw = gateway::Gateway::builder(config).build(listener).await?;
    Ok((gw, beds))
}
