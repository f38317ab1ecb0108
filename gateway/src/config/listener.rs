//! The listeners' connection limits: `max_connections`, `max_connections_per_client`,
//! `[admin] max_connections`, and the descriptor budget they must fit in; `[tls]` and
//! `[admin.tls]`.

use std::path::PathBuf;
use std::time::Duration;

use super::{ConfigError, err};

/// The largest `max_connections`.
pub const MAX_CONNECTIONS: u64 = 1_000_000;

/// `max_connections_per_client` when unset: enough for a browser's or a busy service's pool,
/// a small share of the default `max_connections`, so one address (an IPv6 /64) cannot hold
/// the listener.
pub const DEFAULT_MAX_CONNECTIONS_PER_CLIENT: usize = 128;

/// `[admin] max_connections` when unset: the admin API has few clients.
pub const DEFAULT_ADMIN_MAX_CONNECTIONS: usize = 32;

/// Descriptors kept for everything but client and upstream connections: the listeners, the
/// store, the authorization servers' clients, logs, certificate files.
pub const RESERVED_DESCRIPTORS: usize = 64;

/// The connection caps, checked against the process's open-file limit.
#[derive(Debug, Clone, Copy)]
pub(super) struct Caps {
    pub max_connections: usize,
    pub max_connections_per_client: usize,
    pub admin_max_connections: Option<usize>,
}

/// The soft open-file limit (`ulimit -n`), as `/proc/self/limits` states it.
fn open_file_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
            match line.split_whitespace().nth(3)? {
                "unlimited" => Some(usize::MAX),
                n => n.parse::<usize>().ok(),
            }
        })
        .unwrap_or(1024)
}

/// One key's count in `1..=max`.
fn count(raw: Option<u64>, key: &str, max: u64) -> Result<Option<usize>, ConfigError> {
    match raw {
        None => Ok(None),
        Some(n @ 1..=MAX_CONNECTIONS) if n <= max => Ok(Some(n as usize)),
        Some(_) => Err(err(key, format!("must be between 1 and {max}"))),
    }
}

impl Caps {
    /// Validates the raw keys. Every client connection may hold an upstream connection, so the
    /// budget is `2 × max_connections + [admin] max_connections + RESERVED_DESCRIPTORS`
    /// descriptors; unset, `max_connections` takes what is left of the open-file limit.
    pub(super) fn from_raw(
        max_connections: Option<u64>,
        per_client: Option<u64>,
        admin: Option<Option<u64>>,
    ) -> Result<Self, ConfigError> {
        Self::within(max_connections, per_client, admin, open_file_limit())
    }

    fn within(
        max_connections: Option<u64>,
        per_client: Option<u64>,
        admin: Option<Option<u64>>,
        limit: usize,
    ) -> Result<Self, ConfigError> {
        let admin_max_connections = match admin {
            None => None,
            Some(raw) => Some(
                count(raw, "admin.max_connections", MAX_CONNECTIONS)?
                    .unwrap_or(DEFAULT_ADMIN_MAX_CONNECTIONS),
            ),
        };
        let fixed = RESERVED_DESCRIPTORS + admin_max_connections.unwrap_or(0);
        let max_connections = match count(max_connections, "max_connections", MAX_CONNECTIONS)? {
            Some(n) => {
                let needed = n.saturating_mul(2).saturating_add(fixed);
                if needed > limit {
                    return Err(err(
                        "max_connections",
                        format!(
                            "{n} client connections (each with an upstream one), the admin \
                             API's and {RESERVED_DESCRIPTORS} reserved need {needed} file \
                             descriptors, but the open-file limit is {limit}: lower it, or \
                             raise the limit (ulimit -n, systemd's LimitNOFILE=)"
                        ),
                    ));
                }
                n
            }
            None => (limit.saturating_sub(fixed) / 2).clamp(1, MAX_CONNECTIONS as usize),
        };
        let max_connections_per_client = count(
            per_client,
            "max_connections_per_client",
            max_connections as u64,
        )?
        .unwrap_or(DEFAULT_MAX_CONNECTIONS_PER_CLIENT.min(max_connections));
        Ok(Self {
            max_connections,
            max_connections_per_client,
            admin_max_connections,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_caps_leave_room_for_upstream_and_admin_connections() {
        let c = Caps::within(None, None, Some(None), 1024).unwrap();
        assert_eq!(c.max_connections, (1024 - 64 - 32) / 2);
        assert_eq!(c.admin_max_connections, Some(32));
        assert_eq!(c.max_connections_per_client, 128);
        assert!(Caps::within(Some(464), None, Some(None), 1024).is_ok());
        let e = Caps::within(Some(465), None, Some(None), 1024).unwrap_err();
        assert_eq!(e.key, "max_connections");
        assert!(
            e.message.contains("open-file limit is 1024"),
            "{}",
            e.message
        );
        let e = Caps::within(Some(100), Some(101), None, 1024).unwrap_err();
        assert_eq!(e.key, "max_connections_per_client");
        let e = Caps::within(None, None, Some(Some(0)), 1024).unwrap_err();
        assert_eq!(e.key, "admin.max_connections");
        let c = Caps::within(None, None, None, 200).unwrap();
        assert_eq!((c.max_connections, c.max_connections_per_client), (68, 68));
    }
}

/// `[tls]` (the proxy port) or `[admin.tls]`, as written.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    certificates: Vec<RawCertificate>,
    handshake_timeout_seconds: Option<u64>,
    client_auth: Option<String>,
    client_ca_file: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCertificate {
    cert_file: String,
    key_file: String,
    #[serde(default)]
    server_names: Vec<String>,
}

/// A listener's TLS: it serves HTTPS only (never plain HTTP on the same port).
#[derive(Debug, Clone)]
pub struct TlsConfig {
    /// Chosen by SNI; the first one for clients that send no name or an unknown one.
    pub certificates: Vec<CertificateFiles>,
    /// How long a client may take to finish its handshake (default 10 s).
    pub handshake_timeout: Duration,
    /// Client certificates (mTLS), when asked for.
    pub client_auth: Option<ClientAuth>,
}

/// One certificate: PEM files (re-read on SIGHUP and when they change).
#[derive(Debug, Clone)]
pub struct CertificateFiles {
    /// The chain, leaf first.
    pub cert_file: PathBuf,
    /// Its private key (PKCS#8, PKCS#1 or SEC1; RSA, ECDSA or Ed25519).
    pub key_file: PathBuf,
    /// The SNI names it answers; empty: the DNS names in the certificate.
    pub server_names: Vec<String>,
    /// Its key in the configuration, for errors and logs (`tls.certificates[0]`).
    pub key: String,
}

/// Client certificates verified against a CA bundle.
#[derive(Debug, Clone)]
pub struct ClientAuth {
    /// `required`: a client without a valid certificate fails the handshake; `optional`: it
    /// may connect without one (an API can still demand one).
    pub required: bool,
    /// The CAs client certificates must chain to (PEM).
    pub ca_file: PathBuf,
}

/// An API that requires client certificates needs a listener that asks for them.
pub(super) fn check_client_certificates(
    apis: &[super::ApiConfig],
    tls: Option<&TlsConfig>,
) -> Result<(), ConfigError> {
    for (i, a) in apis.iter().enumerate() {
        if a.require_client_certificate && tls.and_then(|t| t.client_auth.as_ref()).is_none() {
            return Err(err(
                format!("apis[{i}].require_client_certificate"),
                "needs client certificates on the listener: [tls] with client_auth",
            ));
        }
    }
    Ok(())
}

/// `tls.handshake_timeout_seconds` when unset.
pub const DEFAULT_TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Validates `[tls]` (or `[admin.tls]`, `key` naming which).
pub(super) fn tls_of(raw: Option<RawTls>, key: &str) -> Result<Option<TlsConfig>, ConfigError> {
    let Some(raw) = raw else { return Ok(None) };
    if raw.certificates.is_empty() {
        return Err(err(
            format!("{key}.certificates"),
            "needs at least one certificate",
        ));
    }
    let mut certificates = Vec::with_capacity(raw.certificates.len());
    for (i, c) in raw.certificates.into_iter().enumerate() {
        let k = format!("{key}.certificates[{i}]");
        for (field, v) in [("cert_file", &c.cert_file), ("key_file", &c.key_file)] {
            if v.is_empty() {
                return Err(err(format!("{k}.{field}"), "must name a PEM file"));
            }
        }
        let mut server_names = Vec::with_capacity(c.server_names.len());
        for (j, n) in c.server_names.into_iter().enumerate() {
            let name = n.to_ascii_lowercase();
            let bare = name.strip_prefix("*.").unwrap_or(&name);
            if bare.is_empty()
                || !bare.split('.').all(|l| {
                    !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                })
            {
                return Err(err(
                    format!("{k}.server_names[{j}]"),
                    "must be a DNS name (`*.` allowed as its first label)",
                ));
            }
            server_names.push(name);
        }
        certificates.push(CertificateFiles {
            cert_file: c.cert_file.into(),
            key_file: c.key_file.into(),
            server_names,
            key: k,
        });
    }
    let handshake_timeout = match raw.handshake_timeout_seconds {
        None => DEFAULT_TLS_HANDSHAKE_TIMEOUT,
        Some(n @ 1..=300) => Duration::from_secs(n),
        Some(_) => {
            return Err(err(
                format!("{key}.handshake_timeout_seconds"),
                "must be between 1 and 300",
            ));
        }
    };
    let client_auth = match (raw.client_auth.as_deref(), raw.client_ca_file) {
        (None, None) => None,
        (Some(mode @ ("required" | "optional")), Some(ca)) => Some(ClientAuth {
            required: mode == "required",
            ca_file: ca.into(),
        }),
        (Some("required" | "optional"), None) => {
            return Err(err(
                format!("{key}.client_ca_file"),
                "client certificates need a CA bundle to verify them against",
            ));
        }
        (None, Some(_)) => {
            return Err(err(
                format!("{key}.client_auth"),
                "`required` or `optional` must be given with client_ca_file",
            ));
        }
        (Some(_), _) => {
            return Err(err(
                format!("{key}.client_auth"),
                "must be `required` or `optional`",
            ));
        }
    };
    Ok(Some(TlsConfig {
        certificates,
        handshake_timeout,
        client_auth,
    }))
}
