//! An API's upstream client settings as the configuration gives them (`apis[].upstream_protocol`,
//! `apis[].upstream_tls`), validated once at load with errors that name the key. The TLS client
//! configuration is built here, so a missing or broken certificate file fails `check-config`.

use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::ServerName;
use serde::Deserialize;
use url::Url;

use crate::config::ConfigError;

/// The protocol spoken to an upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpstreamProtocol {
    /// HTTP/1.1 to `http://`; for `https://`, HTTP/2 when the upstream picks it by ALPN.
    #[default]
    Auto,
    /// HTTP/1.1 only.
    Http1,
    /// HTTP/2 in clear text with prior knowledge (`http://` only).
    H2c,
}

/// `apis[].upstream_tls` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUpstreamTls {
    ca_file: Option<String>,
    client_certificate_file: Option<String>,
    client_key_file: Option<String>,
    server_name: Option<String>,
    #[serde(default)]
    insecure_skip_verify: bool,
}

/// How the gateway calls one API's upstream.
#[derive(Debug, Clone)]
pub struct UpstreamClient {
    /// The protocol.
    pub protocol: UpstreamProtocol,
    /// For `https://` upstreams.
    pub tls: Option<UpstreamTls>,
    /// A relayed WebSocket connection with no data either way for this long is closed.
    pub websocket_idle_timeout: Duration,
}

/// `apis[].websocket_idle_timeout_seconds` unless given.
const WEBSOCKET_IDLE_TIMEOUT_SECONDS: u64 = 300;

/// What identifies a TLS client configuration: upstreams whose settings are equal share a pool.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct TlsKey {
    ca_file: Option<String>,
    client_certificate_file: Option<String>,
    pub(super) server_name: String,
    insecure_skip_verify: bool,
}

/// A verified-TLS client configuration for one upstream.
#[derive(Clone)]
pub struct UpstreamTls {
    pub(crate) key: TlsKey,
    pub(crate) server_name: ServerName<'static>,
    pub(crate) config: Arc<rustls::ClientConfig>,
    /// The same offering HTTP/1.1 only (WebSocket handshakes).
    pub(crate) config_http1: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for UpstreamTls {
    // The client configuration holds the client key: only the settings are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamTls")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

fn err(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        message: message.into(),
    }
}

/// Validates API `k`'s upstream settings for `url`. `expand` resolves `${ENV}` in file names.
pub(crate) fn validate(
    url: &Url,
    (protocol, tls): (Option<UpstreamProtocol>, Option<RawUpstreamTls>),
    websocket_idle_timeout_seconds: Option<u64>,
    k: &str,
    expand: &dyn Fn(&str, &str) -> Result<String, ConfigError>,
) -> Result<UpstreamClient, ConfigError> {
    let protocol = protocol.unwrap_or_default();
    let idle = websocket_idle_timeout_seconds.unwrap_or(WEBSOCKET_IDLE_TIMEOUT_SECONDS);
    if !(1..=86_400).contains(&idle) {
        return Err(err(
            format!("{k}.websocket_idle_timeout_seconds"),
            "must be 1–86400",
        ));
    }
    let websocket_idle_timeout = Duration::from_secs(idle);
    match url.scheme() {
        "http" => {
            if tls.is_some() {
                return Err(err(
                    format!("{k}.upstream_tls"),
                    "only for an https:// upstream",
                ));
            }
            Ok(UpstreamClient {
                protocol,
                tls: None,
                websocket_idle_timeout,
            })
        }
        "https" => {
            if protocol == UpstreamProtocol::H2c {
                return Err(err(
                    format!("{k}.upstream_protocol"),
                    "h2c is HTTP/2 in clear text; an https:// upstream offers HTTP/2 by ALPN (`auto`)",
                ));
            }
            let tls = build_tls(url, protocol, tls.unwrap_or_default(), k, expand)?;
            Ok(UpstreamClient {
                protocol,
                tls: Some(tls),
                websocket_idle_timeout,
            })
        }
        _ => Err(err(
            format!("{k}.upstream"),
            "only http:// and https:// upstreams are supported",
        )),
    }
}

fn build_tls(
    url: &Url,
    protocol: UpstreamProtocol,
    raw: RawUpstreamTls,
    k: &str,
    expand: &dyn Fn(&str, &str) -> Result<String, ConfigError>,
) -> Result<UpstreamTls, ConfigError> {
    let tk = format!("{k}.upstream_tls");
    let file = |v: &Option<String>, name: &str| -> Result<Option<String>, ConfigError> {
        v.as_deref()
            .map(|f| expand(f, &format!("{tk}.{name}")))
            .transpose()
    };
    let ca_file = file(&raw.ca_file, "ca_file")?;
    let cert_file = file(&raw.client_certificate_file, "client_certificate_file")?;
    let key_file = file(&raw.client_key_file, "client_key_file")?;
    let name = match &raw.server_name {
        Some(n) => n.clone(),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    // IPv6 hosts come bracketed in a URL; a certificate names the bare address.
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    let server_name = ServerName::try_from(bare.to_owned()).map_err(|_| {
        err(
            format!("{tk}.server_name"),
            format!("`{name}` is neither a DNS name nor an IP address"),
        )
    })?;

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| err(&tk, format!("TLS setup failed: {e}")))?;
    let builder = if raw.insecure_skip_verify {
        if ca_file.is_some() {
            return Err(err(
                format!("{tk}.insecure_skip_verify"),
                "contradicts ca_file: give one or the other",
            ));
        }
        tracing::warn!(
            key = %tk,
            "insecure_skip_verify: the upstream's certificate is not verified"
        );
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(super::tls::NoVerification(provider)))
    } else {
        let roots = match &ca_file {
            Some(f) => super::tls::roots_from_file(f)
                .map_err(|m| err(format!("{tk}.ca_file"), format!("`{f}`: {m}")))?,
            None => super::tls::system_roots().map_err(|m| err(&tk, m))?,
        };
        builder.with_root_certificates(roots)
    };
    let mut config = match (&cert_file, &key_file) {
        (None, None) => builder.with_no_client_auth(),
        (Some(c), Some(key)) => {
            let chain = super::tls::certificates_from_file(c).map_err(|m| {
                err(
                    format!("{tk}.client_certificate_file"),
                    format!("`{c}`: {m}"),
                )
            })?;
            let private = super::tls::key_from_file(key)
                .map_err(|m| err(format!("{tk}.client_key_file"), format!("`{key}`: {m}")))?;
            builder.with_client_auth_cert(chain, private).map_err(|e| {
                err(
                    format!("{tk}.client_key_file"),
                    format!("does not fit the client certificate: {e}"),
                )
            })?
        }
        (Some(_), None) => {
            return Err(err(
                format!("{tk}.client_key_file"),
                "a client certificate needs its key",
            ));
        }
        (None, Some(_)) => {
            return Err(err(
                format!("{tk}.client_certificate_file"),
                "a client key needs its certificate",
            ));
        }
    };
    let mut config_http1 = config.clone();
    config_http1.alpn_protocols = super::tls::alpn(UpstreamProtocol::Http1);
    config.alpn_protocols = super::tls::alpn(protocol);
    Ok(UpstreamTls {
        key: TlsKey {
            ca_file,
            client_certificate_file: cert_file,
            server_name: name,
            insecure_skip_verify: raw.insecure_skip_verify,
        },
        server_name,
        config: Arc::new(config),
        config_http1: Arc::new(config_http1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        upstream: &str,
        protocol: Option<UpstreamProtocol>,
        tls: &str,
    ) -> Result<UpstreamClient, ConfigError> {
        let url = Url::parse(upstream).unwrap();
        let tls = (!tls.is_empty()).then(|| toml::from_str::<RawUpstreamTls>(tls).unwrap());
        validate(&url, (protocol, tls), None, "apis[0]", &|v, _| {
            Ok(v.to_owned())
        })
    }

    fn key_of(r: Result<UpstreamClient, ConfigError>) -> String {
        r.unwrap_err().key
    }

    #[test]
    fn https_upstreams_verify_by_default_and_contradictions_name_their_key() {
        let verified = check("https://beds.example", None, "").unwrap();
        let tls = verified.tls.unwrap();
        assert!(!tls.key.insecure_skip_verify, "verification is the default");
        assert_eq!(tls.key.server_name, "beds.example");
        assert_eq!(
            key_of(check("http://beds.example", None, "server_name = \"x\"")),
            "apis[0].upstream_tls"
        );
        assert_eq!(
            key_of(check(
                "https://beds.example",
                Some(UpstreamProtocol::H2c),
                ""
            )),
            "apis[0].upstream_protocol"
        );
        assert_eq!(
            key_of(check(
                "https://beds.example",
                None,
                "insecure_skip_verify = true\nca_file = \"/etc/hostname\""
            )),
            "apis[0].upstream_tls.insecure_skip_verify"
        );
        assert_eq!(
            key_of(check(
                "https://beds.example",
                None,
                "client_certificate_file = \"/x\""
            )),
            "apis[0].upstream_tls.client_key_file"
        );
        assert_eq!(
            key_of(check(
                "https://beds.example",
                None,
                "ca_file = \"/no/such/ca.pem\""
            )),
            "apis[0].upstream_tls.ca_file"
        );
        assert_eq!(
            key_of(check(
                "https://beds.example",
                None,
                "ca_file = \"/etc/hostname\""
            )),
            "apis[0].upstream_tls.ca_file",
            "a file without certificates"
        );
        let insecure = check("https://beds.example", None, "insecure_skip_verify = true").unwrap();
        assert!(insecure.tls.unwrap().key.insecure_skip_verify);
        assert!(check("http://beds.example", Some(UpstreamProtocol::H2c), "").is_ok());
    }
}
