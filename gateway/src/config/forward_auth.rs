//! `[forward_auth]`: the decision endpoint's path on the proxy port and the proxies it answers.

use std::net::IpAddr;

use serde::Deserialize;

use super::{ApiConfig, ConfigError, err};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawForwardAuth {
    path: Option<String>,
    trusted_proxies: Vec<String>,
}

/// The forward-auth decision endpoint (`[forward_auth]`), served by `crate::forward_auth`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardAuthConfig {
    /// Where on the proxy port decisions are asked for (default `/_gateway/auth`); the path
    /// itself (nginx, Traefik: the original request in headers) and anything under it (Envoy:
    /// the original path appended).
    pub path: String,
    /// The proxies whose requests to `path` are decisions, and whose `X-Original-*` and
    /// `X-Forwarded-*` headers are believed; to anyone else `path` is an ordinary path.
    pub trusted_proxies: Vec<IpNet>,
}

/// An address block: `10.0.0.0/8`, `::1/128`, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    fn parse(s: &str) -> Option<Self> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => p.parse().ok().filter(|p| *p <= max)?,
        };
        Some(Self { addr, prefix })
    }

    /// Whether `ip` (an IPv4-mapped IPv6 address as its IPv4 one) is in the block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        fn masked(bits: u128, width: u8, prefix: u8) -> u128 {
            if prefix == 0 {
                0
            } else {
                bits >> (width - prefix)
            }
        }
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u32::from(net).into(), 32, self.prefix)
                    == masked(u32::from(ip).into(), 32, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(net.into(), 128, self.prefix) == masked(ip.into(), 128, self.prefix)
            }
            _ => false,
        }
    }
}

/// The path when `path` is unset.
pub const DEFAULT_FORWARD_AUTH_PATH: &str = "/_gateway/auth";

pub(super) fn forward_auth(
    raw: Option<RawForwardAuth>,
    apis: &[ApiConfig],
) -> Result<Option<ForwardAuthConfig>, ConfigError> {
    let Some(raw) = raw else { return Ok(None) };
    let path = raw
        .path
        .unwrap_or_else(|| DEFAULT_FORWARD_AUTH_PATH.to_owned());
    if !path.starts_with('/')
        || path.len() < 2
        || path.ends_with('/')
        || path.contains("//")
        || !path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-._~".contains(&b))
    {
        return Err(err(
            "forward_auth.path",
            "must be an absolute path of letters, digits and -._~ without a trailing slash",
        ));
    }
    let under = |base: &str| {
        let base = base.trim_end_matches('/');
        base.is_empty() || path == base || path.starts_with(&format!("{base}/"))
    };
    if ["/health", "/metrics"].contains(&path.as_str()) || apis.iter().any(|a| under(&a.base_path))
    {
        return Err(err(
            "forward_auth.path",
            "must not be /health, /metrics or under an API's base_path",
        ));
    }
    if raw.trusted_proxies.is_empty() {
        return Err(err(
            "forward_auth.trusted_proxies",
            "must name at least one proxy address (e.g. \"127.0.0.1\")",
        ));
    }
    let trusted_proxies = raw
        .trusted_proxies
        .iter()
        .enumerate()
        .map(|(i, s)| {
            IpNet::parse(s).ok_or_else(|| {
                err(
                    format!("forward_auth.trusted_proxies[{i}]"),
                    "must be an IP address or a block like 10.0.0.0/8",
                )
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Some(ForwardAuthConfig {
        path,
        trusted_proxies,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_blocks_contain_their_addresses_only() {
        let net = IpNet::parse("10.1.0.0/16").unwrap();
        assert!(net.contains("10.1.200.3".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.0.9".parse().unwrap()));
        let one = IpNet::parse("::1").unwrap();
        assert!(one.contains("::1".parse().unwrap()));
        assert!(!one.contains("::2".parse().unwrap()));
        assert!(
            IpNet::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        for bad in ["10.0.0.0/33", "localhost", "::1/129", "1.2.3.4/"] {
            assert!(IpNet::parse(bad).is_none(), "{bad}");
        }
    }
}
