//! `gateway`: run, check-config, discover, demo. A thin layer over the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gateway::config::{Config, ProcessEnv};

/// Exit code for a configuration error.
const EXIT_CONFIG: u8 = 78;

#[derive(Debug, Parser)]
#[command(
    name = "gateway",
    version,
    about = "OpenID Connect / OAuth2 identify-and-authorize gateway"
)]
struct Cli {
    /// Log as JSON.
    #[arg(long, global = true)]
    json_logs: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve with the given configuration.
    Run {
        /// The TOML configuration.
        #[arg(long)]
        config: PathBuf,
        /// Overrides `listen` from the file (default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Validate a configuration file and exit.
    CheckConfig {
        /// The TOML configuration.
        file: PathBuf,
    },
    /// Fetch a discovery document and print it as a configuration snippet.
    Discover {
        /// e.g. https://dev-123.okta.com/oauth2/default/.well-known/openid-configuration
        url: url::Url,
    },
    /// Start the mock Okta server, the bed-availability backend and the gateway in one process.
    Demo {
        /// Where the gateway listens.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
    },
}

#[allow(clippy::print_stdout, clippy::print_stderr)]
#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    gateway::telemetry::init_tracing(cli.json_logs);
    match cli.command {
        Command::CheckConfig { file } => match Config::from_file(&file, &ProcessEnv) {
            Ok(c) => {
                println!(
                    "{}: ok ({} authorization servers, {} APIs, {} applications)",
                    file.display(),
                    c.authorization_servers.len(),
                    c.apis.len(),
                    c.applications.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                ExitCode::from(EXIT_CONFIG)
            }
        },
        Command::Run { config, listen } => {
            let mut cfg = match Config::from_file(&config, &ProcessEnv) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("{}: {e}", config.display());
                    return ExitCode::from(EXIT_CONFIG);
                }
            };
            if let Some(l) = listen {
                cfg.listen = l;
            }
            let listener = match tokio::net::TcpListener::bind(cfg.listen).await {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("cannot listen on {}: {e}", cfg.listen);
                    return ExitCode::FAILURE;
                }
            };
            match gateway::Gateway::build(cfg, listener).await {
                Ok(handle) => {
                    let _ = handle.run_until(shutdown_signal()).await;
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::from(EXIT_CONFIG)
                }
            }
        }
        Command::Discover { url } => {
            let client = gateway::discovery::as_client();
            match gateway::discovery::fetch(&client, &url).await {
                Ok(m) => {
                    print!("{}", gateway::discovery::snippet(&url, &m));
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Demo { listen } => match gateway::demo::run(listen, shutdown_signal()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("demo failed: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
