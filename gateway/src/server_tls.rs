//! A listener's TLS (`[tls]`, `[admin.tls]`): rustls with the aws-lc provider, TLS 1.2 and 1.3
//! only, the provider's AEAD-only suites with ECDHE, ALPN `h2` and `http/1.1`, session tickets;
//! certificates chosen by SNI (the first one by default), re-read on SIGHUP and when their files
//! change, a file that fails to load keeping the certificate it would have replaced; client
//! certificates (mTLS) verified against a CA bundle, `required` or `optional`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::config::{CertificateFiles, ConfigError, TlsConfig};

/// How often certificate files are looked at for changes (their metadata only).
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// The verified client certificate of the connection a request came on, as a request
/// extension (mTLS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    /// Its subject (RFC 4514 form, e.g. `CN=beds-service, O=Hospital`).
    pub subject: String,
    /// The SHA-256 of its DER encoding (RFC 8705's `x5t#S256`, base64url of this).
    pub sha256: [u8; 32],
}

/// A listener's TLS state, shared by its workers.
pub struct ServerTls {
    acceptor: tokio_rustls::TlsAcceptor,
    certs: Arc<Certificates>,
    /// How long a handshake may take.
    pub handshake_timeout: Duration,
    /// For `/metrics`: handshakes failed, by reason, and certificate reloads.
    counters: Counters,
    /// The listener's name in metrics (`proxy`, `admin`).
    listener: &'static str,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("listener", &self.listener)
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct Counters {
    handshakes: AtomicU64,
    timeouts: AtomicU64,
    failures: AtomicU64,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
}

/// The certificates and what SNI name picks which.
#[derive(Debug)]
struct Certificates {
    files: Vec<CertificateFiles>,
    loaded: ArcSwap<Loaded>,
    provider: Arc<CryptoProvider>,
}

#[derive(Debug)]
struct Loaded {
    keys: Vec<Arc<CertifiedKey>>,
    by_name: HashMap<String, usize>,
    /// What the files looked like when last read: (modified, length) per file.
    seen: Vec<Option<(SystemTime, u64)>>,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Reads one certificate: its chain and key, which must match; its names from the
/// configuration, else from the certificate's DNS subject alternative names.
fn load_one(
    files: &CertificateFiles,
    provider: &CryptoProvider,
) -> Result<(CertifiedKey, Vec<String>), String> {
    let chain = CertificateDer::pem_file_iter(&files.cert_file)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| format!("{}: {e}", files.cert_file.display()))?;
    let Some(leaf) = chain.first() else {
        return Err(format!(
            "{}: no PEM certificate in it",
            files.cert_file.display()
        ));
    };
    let names = if files.server_names.is_empty() {
        dns_names(leaf).map_err(|e| format!("{}: {e}", files.cert_file.display()))?
    } else {
        files.server_names.clone()
    };
    let key = PrivateKeyDer::from_pem_file(&files.key_file)
        .map_err(|e| format!("{}: {e}", files.key_file.display()))?;
    let certified = CertifiedKey::from_der(chain, key, provider).map_err(|e| {
        format!(
            "{} and {}: {e}",
            files.cert_file.display(),
            files.key_file.display()
        )
    })?;
    Ok((certified, names))
}

/// The DNS names a certificate is for (its SANs), lower-case.
fn dns_names(cert: &CertificateDer<'_>) -> Result<Vec<String>, String> {
    let (_, parsed) =
        x509_parser::parse_x509_certificate(cert).map_err(|e| format!("not X.509: {e}"))?;
    let mut names = Vec::new();
    if let Ok(Some(san)) = parsed.subject_alternative_name() {
        for n in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::DNSName(d) = n {
                names.push(d.to_ascii_lowercase());
            }
        }
    }
    Ok(names)
}

fn stat(path: &Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

impl Certificates {
    /// Loads every file; at start a failure is an error naming the key.
    fn load(
        files: Vec<CertificateFiles>,
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, ConfigError> {
        let mut keys = Vec::with_capacity(files.len());
        let mut names = Vec::with_capacity(files.len());
        for f in &files {
            let (k, n) = load_one(f, &provider).map_err(|message| ConfigError {
                key: f.key.clone(),
                message,
            })?;
            keys.push(Arc::new(k));
            names.push(n);
        }
        let loaded = Loaded::new(&files, keys, &names);
        Ok(Self {
            files,
            loaded: ArcSwap::from_pointee(loaded),
            provider,
        })
    }

    /// Re-reads every file; one that fails keeps its current certificate (logged, naming the
    /// key). Connections open keep their session; new handshakes get the new certificates.
    fn reload(&self, counters: &Counters) {
        let current = self.loaded.load();
        let mut keys = Vec::with_capacity(self.files.len());
        let mut names = Vec::with_capacity(self.files.len());
        let mut all_ok = true;
        for (i, f) in self.files.iter().enumerate() {
            match load_one(f, &self.provider) {
                Ok((k, n)) => {
                    keys.push(Arc::new(k));
                    names.push(n);
                }
                Err(error) => {
                    all_ok = false;
                    counters.reloads_failed.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(key = %f.key, %error, "the certificate could not be reloaded; the current one stays");
                    keys.push(current.keys[i].clone());
                    names.push(current.names_of(i));
                }
            }
        }
        if all_ok {
            counters.reloads_ok.fetch_add(1, Ordering::Relaxed);
        }
        self.loaded
            .store(Arc::new(Loaded::new(&self.files, keys, &names)));
    }

    /// Whether a file changed since it was last read.
    fn changed(&self) -> bool {
        let loaded = self.loaded.load();
        self.files
            .iter()
            .flat_map(|f| [&f.cert_file, &f.key_file])
            .zip(&loaded.seen)
            .any(|(path, seen)| stat(path) != *seen)
    }
}

impl Loaded {
    fn new(
        files: &[CertificateFiles],
        keys: Vec<Arc<CertifiedKey>>,
        names: &[Vec<String>],
    ) -> Self {
        let mut by_name = HashMap::new();
        for (i, ns) in names.iter().enumerate() {
            for n in ns {
                // The first certificate naming a host wins, as the configuration lists them.
                by_name.entry(n.clone()).or_insert(i);
            }
        }
        let seen = files
            .iter()
            .flat_map(|f| [stat(&f.cert_file), stat(&f.key_file)])
            .collect();
        Self {
            keys,
            by_name,
            seen,
        }
    }

    fn names_of(&self, i: usize) -> Vec<String> {
        self.by_name
            .iter()
            .filter(|(_, v)| **v == i)
            .map(|(k, _)| k.clone())
            .collect()
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let loaded = self.loaded.load();
        let index = hello
            .server_name()
            .map(str::to_ascii_lowercase)
            .and_then(|name| {
                loaded.by_name.get(&name).copied().or_else(|| {
                    let (_, parent) = name.split_once('.')?;
                    loaded.by_name.get(&format!("*.{parent}")).copied()
                })
            })
            .unwrap_or(0);
        loaded.keys.get(index).cloned()
    }
}

/// A connection after its handshake: the stream, whether ALPN chose `h2`, and the client's
/// verified certificate.
pub(crate) struct Established<S> {
    pub stream: tokio_rustls::server::TlsStream<S>,
    pub h2: bool,
    pub client: Option<ClientCertificate>,
}

impl ServerTls {
    /// Loads `config`'s certificates and CA bundle for `listener` (`proxy`: `[tls]`, `admin`:
    /// `[admin.tls]`, the keys errors name).
    pub fn new(config: &TlsConfig, listener: &'static str) -> Result<Arc<Self>, ConfigError> {
        let key = if listener == "proxy" {
            "tls"
        } else {
            "admin.tls"
        };
        let provider = provider();
        let certs = Arc::new(Certificates::load(
            config.certificates.clone(),
            provider.clone(),
        )?);
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| ConfigError {
                key: key.into(),
                message: e.to_string(),
            })?;
        let builder = match &config.client_auth {
            None => builder.with_no_client_auth(),
            Some(auth) => {
                let key = if listener == "proxy" {
                    "tls"
                } else {
                    "admin.tls"
                };
                let e = |message: String| ConfigError {
                    key: format!("{key}.client_ca_file"),
                    message,
                };
                let mut roots = rustls::RootCertStore::empty();
                for c in CertificateDer::pem_file_iter(&auth.ca_file)
                    .map_err(|err| e(format!("{}: {err}", auth.ca_file.display())))?
                {
                    let c = c.map_err(|err| e(format!("{}: {err}", auth.ca_file.display())))?;
                    roots
                        .add(c)
                        .map_err(|err| e(format!("{}: {err}", auth.ca_file.display())))?;
                }
                if roots.is_empty() {
                    return Err(e(format!(
                        "{}: no PEM certificate in it",
                        auth.ca_file.display()
                    )));
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
                let verifier = if auth.required {
                    verifier
                } else {
                    verifier.allow_unauthenticated()
                };
                builder
                    .with_client_cert_verifier(verifier.build().map_err(|err| e(err.to_string()))?)
            }
        };
        let mut server = builder.with_cert_resolver(certs.clone());
        server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        // Resumption: tickets (stateless, keys rotated by the ticketer) and a session cache.
        server.ticketer = rustls::crypto::aws_lc_rs::Ticketer::new().map_err(|e| ConfigError {
            key: key.into(),
            message: e.to_string(),
        })?;
        Ok(Arc::new(Self {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(server)),
            certs,
            handshake_timeout: config.handshake_timeout,
            counters: Counters::default(),
            listener,
        }))
    }

    /// Performs the server side of a handshake, within the handshake timeout; `None` when it
    /// failed or took too long (counted, logged at debug).
    pub(crate) async fn accept<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        stream: S,
    ) -> Option<Established<S>> {
        let result =
            tokio::time::timeout(self.handshake_timeout, self.acceptor.accept(stream)).await;
        let stream = match result {
            Err(_) => {
                self.counters.timeouts.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            Ok(Err(e)) => {
                self.counters.failures.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(error = %e, listener = self.listener, "a TLS handshake failed");
                return None;
            }
            Ok(Ok(s)) => s,
        };
        self.counters.handshakes.fetch_add(1, Ordering::Relaxed);
        let (_, session) = stream.get_ref();
        let h2 = session.alpn_protocol() == Some(b"h2");
        let client = session
            .peer_certificates()
            .and_then(<[_]>::first)
            .map(client_certificate);
        Some(Established { stream, h2, client })
    }

    /// Re-reads the certificate files now (SIGHUP).
    pub fn reload(&self) {
        self.certs.reload(&self.counters);
        tracing::info!(listener = self.listener, "TLS certificates reloaded");
    }

    /// Re-reads the certificate files whenever they change, until the returned task is
    /// aborted.
    pub fn watch(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let tls = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(POLL_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if tls.certs.changed() {
                    tls.reload();
                }
            }
        })
    }

    /// The listener's TLS counters, in Prometheus text.
    pub fn render(&self, out: &mut String) {
        let c = &self.counters;
        let l = self.listener;
        let _ = write!(
            out,
            "# HELP gateway_tls_handshakes_total TLS handshakes by listener and result.\n\
             # TYPE gateway_tls_handshakes_total counter\n\
             gateway_tls_handshakes_total{{listener=\"{l}\",result=\"ok\"}} {}\n\
             gateway_tls_handshakes_total{{listener=\"{l}\",result=\"error\"}} {}\n\
             gateway_tls_handshakes_total{{listener=\"{l}\",result=\"timeout\"}} {}\n\
             # HELP gateway_tls_certificate_reloads_total Certificate reloads; a failed one keeps the current certificate.\n\
             # TYPE gateway_tls_certificate_reloads_total counter\n\
             gateway_tls_certificate_reloads_total{{listener=\"{l}\",result=\"ok\"}} {}\n\
             gateway_tls_certificate_reloads_total{{listener=\"{l}\",result=\"error\"}} {}\n",
            c.handshakes.load(Ordering::Relaxed),
            c.failures.load(Ordering::Relaxed),
            c.timeouts.load(Ordering::Relaxed),
            c.reloads_ok.load(Ordering::Relaxed),
            c.reloads_failed.load(Ordering::Relaxed),
        );
    }
}

/// Loads every listener's certificates and CA bundle, as the gateway would at start
/// (`gateway check-config`).
pub fn check(config: &crate::config::Config) -> Result<(), ConfigError> {
    if let Some(t) = &config.tls {
        ServerTls::new(t, "proxy")?;
    }
    if let Some(t) = config.admin.as_ref().and_then(|a| a.tls.as_ref()) {
        ServerTls::new(t, "admin")?;
    }
    Ok(())
}

fn client_certificate(der: &CertificateDer<'_>) -> ClientCertificate {
    let subject = x509_parser::parse_x509_certificate(der)
        .map(|(_, c)| c.subject().to_string())
        .unwrap_or_default();
    ClientCertificate {
        subject,
        sha256: Sha256::digest(der.as_ref()).into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_certificate_is_known_by_its_subject_and_sha256_thumbprint() {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "beds-service");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Hospital");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let der = CertificateDer::from(cert.der().to_vec());
        let c = client_certificate(&der);
        assert_eq!(c.subject, "CN=beds-service, O=Hospital");
        assert_eq!(c.sha256, <[u8; 32]>::from(Sha256::digest(cert.der())));
    }
}
