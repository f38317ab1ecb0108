//! `mock-idp`: the standalone mock Okta server. A thin shell over the library.
//! It talks to its user on stdout/stderr, so printing is allowed here.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use mock_idp::{Config, MockIdp};

/// A mock Okta authorization server for tests and local development.
#[derive(Debug, Parser)]
#[command(name = "mock-idp", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9400", env = "MOCK_IDP_LISTEN")]
    listen: SocketAddr,
    /// Configuration file (TOML); the embedded default otherwise.
    #[arg(long, env = "MOCK_IDP_CONFIG")]
    config: Option<PathBuf>,
    /// The configuration itself, as TOML text (for containers).
    #[arg(long, env = "MOCK_IDP_CONFIG_TOML", hide_env_values = true)]
    config_toml: Option<String>,
    /// The configuration itself, as JSON text (for containers).
    #[arg(long, env = "MOCK_IDP_CONFIG_JSON", hide_env_values = true)]
    config_json: Option<String>,
    /// Externally visible base URL (behind a proxy or in a container); issuers derive from it.
    #[arg(long, env = "MOCK_IDP_PUBLIC_URL")]
    public_url: Option<String>,
    /// Serve HTTPS: with `server.tls` from the configuration, or a certificate
    /// from a CA the mock makes at start (see --ca-out).
    #[arg(long, env = "MOCK_IDP_TLS")]
    tls: bool,
    /// TLS certificate chain (PEM); replaces `server.tls.cert_file`, needs --tls-key.
    #[arg(long, env = "MOCK_IDP_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM); replaces `server.tls.key_file`, needs --tls-cert.
    #[arg(long, env = "MOCK_IDP_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Write the generated CA certificate (PEM) here, for clients to trust
    /// (e.g. NODE_EXTRA_CA_CERTS for Okta's Node SDKs).
    #[arg(long, env = "MOCK_IDP_CA_OUT", requires = "tls")]
    ca_out: Option<PathBuf>,
    /// Require `Authorization: Bearer <token>` on the control API (`/__mock/`);
    /// overrides `server.control_token`.
    #[arg(long, env = "MOCK_IDP_CONTROL_TOKEN", hide_env_values = true, value_parser = parse_secret)]
    control_token: Option<mock_idp::Secret>,
    /// Print the effective configuration (flags and environment applied) as
    /// TOML and exit; secrets are redacted unless --show-secrets.
    #[arg(long)]
    print_config: bool,
    /// With --print-config: print client secrets, passwords and API tokens too.
    #[arg(long, requires = "print_config")]
    show_secrets: bool,
}

/// The configuration from the one source given: a file, inline TOML, inline
/// JSON, or the embedded default; then the TLS files from flags or environment.
fn load_config(args: &Args) -> Result<Config, String> {
    let mut config = match (&args.config, &args.config_toml, &args.config_json) {
        (None, None, None) => Config::default_config(),
        (Some(path), None, None) => Config::from_file(path).map_err(|e| e.to_string())?,
        (None, Some(text), None) => {
            Config::from_toml(text).map_err(|e| format!("MOCK_IDP_CONFIG_TOML: {e}"))?
        }
        (None, None, Some(text)) => {
            Config::from_json(text).map_err(|e| format!("MOCK_IDP_CONFIG_JSON: {e}"))?
        }
        _ => {
            return Err(
                "give one configuration source: --config (MOCK_IDP_CONFIG), \
                 MOCK_IDP_CONFIG_TOML or MOCK_IDP_CONFIG_JSON"
                    .to_owned(),
            );
        }
    };
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        config.server.tls = Some(mock_idp::config::TlsFiles {
            cert_file: cert.clone(),
            key_file: key.clone(),
        });
    }
    if let Some(token) = args.control_token.clone() {
        config.server.control_token = Some(token);
        config
            .validate()
            .map_err(|error| format!("{error} (from --control-token / MOCK_IDP_CONTROL_TOKEN)"))?;
    }
    Ok(config)
}

fn parse_secret(value: &str) -> Result<mock_idp::Secret, std::convert::Infallible> {
    Ok(mock_idp::Secret::new(value))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let config = match load_config(&args) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("mock-idp: {error}");
            return ExitCode::from(2);
        }
    };
    if args.print_config {
        return match config.to_toml(args.show_secrets) {
            Ok(text) => {
                println!("# mock-idp effective configuration");
                println!("# listen = {}", args.listen);
                if let Some(url) = &args.public_url {
                    println!("# public_url = {url}");
                }
                println!("# tls = {}", args.tls || config.server.tls.is_some());
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("mock-idp: {error}");
                ExitCode::from(1)
            }
        };
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();

    let mut builder = MockIdp::builder()
        .config(config.clone())
        .listen(args.listen);
    if let Some(url) = args.public_url.clone() {
        builder = builder.public_url(url);
    }
    match &config.server.tls {
        Some(files) => {
            builder = builder.tls(mock_idp::tls::TlsMode::Files {
                cert: files.cert_file.clone(),
                key: files.key_file.clone(),
            });
        }
        None if args.tls => builder = builder.tls(mock_idp::tls::TlsMode::Generated),
        None => {}
    }
    let idp = match builder.start().await {
        Ok(idp) => idp,
        Err(error) => {
            eprintln!("mock-idp: {error}");
            return ExitCode::from(1);
        }
    };
    if let (Some(path), Some(ca)) = (&args.ca_out, idp.ca_pem()) {
        if let Err(error) = std::fs::write(path, ca) {
            eprintln!(
                "mock-idp: cannot write the CA certificate to {}: {error}",
                path.display()
            );
            return ExitCode::from(1);
        }
        println!("CA certificate written to {}", path.display());
    }
    print_banner(&idp, &config);
    idp.run_until_signal().await;
    ExitCode::SUCCESS
}

/// What a user needs to start calling the server. The credentials printed are
/// the ones from the configuration the user chose to run (test credentials).
#[allow(clippy::print_stdout)]
fn print_banner(idp: &MockIdp, config: &Config) {
    println!("mock-idp listening on {} ({})", idp.base_url(), idp.addr());
    println!("  org issuer:     {}", idp.org_issuer());
    for server in &config.authorization_servers {
        if let Some(issuer) = idp.issuer_of(&server.id) {
            println!("  issuer ({}): {issuer}", server.id);
            println!("    discovery:    {issuer}/.well-known/openid-configuration");
        }
    }
    for client in &config.clients {
        println!(
            "  client {:<22} {} ({}; grants: {})",
            client.client_id,
            client.client_name.as_deref().unwrap_or(""),
            client.token_endpoint_auth_method,
            client.grant_types.join(", ")
        );
        if let Some(secret) = &client.client_secret {
            println!("    client_secret: {}", secret.expose());
        }
    }
    for user in &config.users {
        println!(
            "  user {} / password {}",
            user.login,
            user.password.expose()
        );
    }
    for token in &config.api_tokens {
        println!("  SSWS API token: {}", token.token.expose());
    }
    if let (Some(server), Some(client)) = (
        config.authorization_servers.first(),
        config
            .clients
            .iter()
            .find(|c| c.grant_types.iter().any(|g| g == "client_credentials")),
    ) && let (Some(issuer), Some(scope)) = (idp.issuer_of(&server.id), server.scopes.first())
    {
        println!("try:");
        println!(
            "  curl -s -u '{}:{}' -d 'grant_type=client_credentials&scope={}' {issuer}/v1/token",
            client.client_id,
            client
                .client_secret
                .as_ref()
                .map(|s| s.expose())
                .unwrap_or_default(),
            scope.name
        );
    }
    // The user flows: a browser login, and the same headless with curl.
    let web = config.clients.iter().find(|c| {
        c.grant_types.iter().any(|g| g == "authorization_code")
            && c.token_endpoint_auth_method != "none"
            && c.auto_login.is_none()
    });
    if let (Some(server), Some(client)) = (config.authorization_servers.first(), web)
        && let (Some(issuer), Some(redirect)) =
            (idp.issuer_of(&server.id), client.redirect_uris.first())
    {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", &client.client_id)
            .append_pair("response_type", "code")
            .append_pair("scope", "openid profile email")
            .append_pair("redirect_uri", redirect)
            .append_pair("state", "demo")
            .finish();
        println!("  open in a browser, log in, and the code arrives at the redirect URI:");
        println!("    {issuer}/v1/authorize?{query}");
        if let Some(user) = config.users.first() {
            println!("  or headless: POST /api/v1/authn, then add &sessionToken=… to that URL:");
            println!(
                "    curl -s -H 'Content-Type: application/json' -d '{{\"username\":\"{}\",\"password\":\"{}\"}}' {}/api/v1/authn",
                user.login,
                user.password.expose(),
                idp.base_url()
            );
        }
    }
}
