//! `gateway demo`: the mock Okta server, the bed-availability backend and the gateway in one
//! process, configured from `fixtures/gateway/demo.toml`.

use std::net::SocketAddr;

/// Runs the demo until `signal` completes.
pub async fn run(
    _listen: SocketAddr,
    _signal: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    anyhow::bail!("the demo needs the mock-idp crate")
}
