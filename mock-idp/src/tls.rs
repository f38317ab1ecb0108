//! HTTPS for the standalone server: a certificate from a CA the mock makes
//! (its PEM handed to clients such as Okta's SDKs, which demand an https
//! issuer), or a certificate and key given in the configuration.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

use crate::secret::Secret;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    #[error("cannot create a TLS certificate: {0}")]
    Generate(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// How the server gets its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsMode {
    /// Make a CA and a server certificate for these host names and addresses.
    Generated,
    /// Use this certificate chain and private key (PEM files).
    Files { cert: PathBuf, key: PathBuf },
}

/// The certificate chain and key to serve with, and the CA to trust (when generated).
#[derive(Debug, Clone)]
pub struct TlsMaterial {
    pub ca_pem: Option<String>,
    pub cert_chain_pem: String,
    pub key_pem: Secret,
}

impl TlsMaterial {
    pub fn load(mode: &TlsMode, hosts: &[String]) -> Result<Self, TlsError> {
        match mode {
            TlsMode::Generated => generate(hosts),
            TlsMode::Files { cert, key } => Ok(Self {
                ca_pem: None,
                cert_chain_pem: read(cert)?,
                key_pem: Secret::new(read(key)?),
            }),
        }
    }
}

fn read(path: &Path) -> Result<String, TlsError> {
    std::fs::read_to_string(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

/// A CA ("mock-idp test CA") and a server certificate for `hosts`.
pub fn generate(hosts: &[String]) -> Result<TlsMaterial, TlsError> {
    let error = |e: rcgen::Error| TlsError::Generate(e.to_string());
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(error)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "mock-idp test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().map_err(error)?)
        .map_err(error)?;

    let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    for host in hosts {
        if !names.contains(host) {
            names.push(host.clone());
        }
    }
    let mut params = CertificateParams::new(names).map_err(error)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "mock-idp");
    let key = KeyPair::generate().map_err(error)?;
    let cert = params.signed_by(&key, &ca).map_err(error)?;
    Ok(TlsMaterial {
        ca_pem: Some(ca.pem()),
        cert_chain_pem: format!("{}{}", cert.pem(), ca.pem()),
        key_pem: Secret::new(key.serialize_pem()),
    })
}
