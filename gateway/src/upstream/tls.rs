//! TLS to `https://` upstreams: rustls with the aws-lc provider (the one already in the tree;
//! no OpenSSL). The certificate and host name are verified against the system's roots (read
//! once with `rustls-native-certs`: `/etc/ssl/certs` on Debian, `SSL_CERT_FILE`/`SSL_CERT_DIR`
//! honoured; nothing is fetched) or an API's own CA bundle; SNI is sent for DNS names.

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use super::settings::UpstreamProtocol;

/// The ALPN protocols offered: HTTP/2 first unless HTTP/1.1 is configured.
pub(super) fn alpn(protocol: UpstreamProtocol) -> Vec<Vec<u8>> {
    match protocol {
        UpstreamProtocol::Http1 => vec![b"http/1.1".to_vec()],
        _ => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
    }
}

/// The system's trusted roots, read once per process.
pub(super) fn system_roots() -> Result<RootCertStore, String> {
    static ROOTS: OnceLock<Result<RootCertStore, String>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = RootCertStore::empty();
            let (_, unparsable) = roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                let why = found.errors.first().map(ToString::to_string);
                return Err(format!(
                    "no system root certificates could be read ({}); give upstream_tls.ca_file",
                    why.unwrap_or_else(|| format!("{unparsable} unparsable"))
                ));
            }
            Ok(roots)
        })
        .clone()
}

/// A CA bundle (PEM): the only roots trusted for this upstream.
pub(super) fn roots_from_file(path: &str) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for cert in certificates_from_file(path)? {
        roots
            .add(cert)
            .map_err(|e| format!("not a CA certificate: {e}"))?;
    }
    Ok(roots)
}

/// The certificates of a PEM file, at least one.
pub(super) fn certificates_from_file(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not PEM certificates: {e}"))?;
    if certs.is_empty() {
        return Err("holds no certificate".into());
    }
    Ok(certs)
}

/// The private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
pub(super) fn key_from_file(path: &str) -> Result<PrivateKeyDer<'static>, String> {
    // The error names the file, never its content.
    PrivateKeyDer::from_pem_file(path).map_err(|e| match e {
        rustls_pki_types::pem::Error::Io(e) => format!("cannot read: {e}"),
        _ => "holds no PEM private key".into(),
    })
}

/// Opens TLS over `tcp` to the upstream named `name`.
pub(super) async fn connect(
    config: &Arc<rustls::ClientConfig>,
    name: &ServerName<'static>,
    tcp: tokio::net::TcpStream,
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    tokio_rustls::TlsConnector::from(config.clone())
        .connect(name.clone(), tcp)
        .await
}

/// `insecure_skip_verify = true`: any certificate is taken (signatures are still checked, so
/// the handshake stays well-formed). Only ever chosen by that key spelled out.
#[derive(Debug)]
pub(super) struct NoVerification(pub(super) Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
