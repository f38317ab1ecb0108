//! `gateway`: run, check-config, discover, demo. A thin layer over the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gateway::config::{Config, ProcessEnv};

// The proxy allocates a few small buffers per request (headers, claims); mimalloc's per-thread
// free lists serve them without glibc malloc's locking and consolidation passes.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Manage applications through a running gateway's admin API.
    Apps {
        #[command(flatten)]
        admin: AdminArgs,
        #[command(subcommand)]
        command: AppsCommand,
    },
    /// Reconcile the store with a file of `[[applications]]` and `[[scope_mappings]]` through
    /// the admin API: prints the plan, then applies it (unless `--dry-run`).
    Apply {
        /// The TOML file.
        file: PathBuf,
        /// Print the plan only.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Start the mock Okta server, the bed-availability backend and the gateway in one process.
    #[cfg(feature = "demo")]
    Demo {
        /// Where the gateway listens.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Serve HTTPS with a certificate from a local CA made for this run (printed curl
        /// lines pass `--cacert`).
        #[arg(long)]
        tls: bool,
    },
}

#[derive(Debug, clap::Args)]
struct AdminArgs {
    /// The admin API.
    #[arg(
        long,
        global = true,
        env = "GATEWAY_ADMIN_URL",
        default_value = "http://127.0.0.1:8081"
    )]
    admin_url: String,
    /// The admin token.
    #[arg(
        long,
        global = true,
        env = "GATEWAY_ADMIN_TOKEN",
        hide_env_values = true
    )]
    admin_token: Option<String>,
}

impl AdminArgs {
    #[allow(clippy::print_stderr)]
    fn client(self) -> Option<gateway::admin::client::AdminClient> {
        let Some(token) = self.admin_token else {
            eprintln!("the admin token is required: --admin-token or GATEWAY_ADMIN_TOKEN");
            return None;
        };
        Some(gateway::admin::client::AdminClient::new(
            &self.admin_url,
            gateway::secret::Secret::new(token),
        ))
    }
}

#[derive(Debug, Subcommand)]
enum AppsCommand {
    /// List the applications.
    List,
    /// Show one application.
    Show {
        /// Its name.
        name: String,
    },
    /// Create an application from a JSON document (`-` reads standard input).
    Create {
        /// The JSON file.
        file: PathBuf,
    },
    /// Replace an application with a JSON document (`-` reads standard input).
    Update {
        /// Its name.
        name: String,
        /// The JSON file.
        file: PathBuf,
    },
    /// Delete an application (and its registered clients at the AS).
    Delete {
        /// Its name.
        name: String,
    },
    /// Rotate a registered client's secret at the AS.
    RotateSecret {
        /// The application.
        name: String,
        /// The strategy.
        strategy: String,
    },
}

fn read_input(file: &std::path::Path) -> std::io::Result<String> {
    if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(file)
    }
}

#[allow(clippy::print_stdout, clippy::print_stderr)]
async fn apps(admin: AdminArgs, command: AppsCommand) -> ExitCode {
    use reqwest::Method;
    let Some(client) = admin.client() else {
        return ExitCode::from(EXIT_CONFIG);
    };
    let doc = |file: &std::path::Path| -> Result<serde_json::Value, String> {
        let text = read_input(file).map_err(|e| format!("{}: {e}", file.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))
    };
    let call = match command {
        AppsCommand::List => Ok((Method::GET, "/admin/v1/applications".to_owned(), None)),
        AppsCommand::Show { name } => Ok((
            Method::GET,
            format!(
                "/admin/v1/applications/{}",
                gateway::admin::client::path_segment(&name)
            ),
            None,
        )),
        AppsCommand::Create { file } => {
            doc(&file).map(|d| (Method::POST, "/admin/v1/applications".to_owned(), Some(d)))
        }
        AppsCommand::Update { name, file } => doc(&file).map(|d| {
            (
                Method::PUT,
                format!(
                    "/admin/v1/applications/{}",
                    gateway::admin::client::path_segment(&name)
                ),
                Some(d),
            )
        }),
        AppsCommand::Delete { name } => Ok((
            Method::DELETE,
            format!(
                "/admin/v1/applications/{}",
                gateway::admin::client::path_segment(&name)
            ),
            None,
        )),
        AppsCommand::RotateSecret { name, strategy } => Ok((
            Method::POST,
            format!(
                "/admin/v1/applications/{}/strategies/{}/new-secret",
                gateway::admin::client::path_segment(&name),
                gateway::admin::client::path_segment(&strategy)
            ),
            None,
        )),
    };
    let (method, path, body) = match call {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match client.call(method, &path, body.as_ref()).await {
        Ok((status, v)) => {
            if !v.is_null() {
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            }
            if (200..300).contains(&status) {
                ExitCode::SUCCESS
            } else {
                eprintln!("admin API answered {status}");
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

#[allow(clippy::print_stdout, clippy::print_stderr)]
async fn apply(file: PathBuf, dry_run: bool, admin: AdminArgs) -> ExitCode {
    use gateway::admin::client::{ApplyFile, execute, plan};
    let parsed = std::fs::read_to_string(&file)
        .map_err(|e| e.to_string())
        .and_then(|t| ApplyFile::from_toml(&t));
    let f = match parsed {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let Some(client) = admin.client() else {
        return ExitCode::from(EXIT_CONFIG);
    };
    let steps = match plan(&client, &f).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if steps.is_empty() {
        println!("up to date");
        return ExitCode::SUCCESS;
    }
    for s in &steps {
        println!("{}{s}", if dry_run { "would " } else { "" });
    }
    if dry_run {
        return ExitCode::SUCCESS;
    }
    match execute(&client, &steps).await {
        Ok(created) => {
            for c in created {
                if c["registered_credentials"]
                    .as_array()
                    .is_some_and(|a| !a.is_empty())
                {
                    println!(
                        "{}: {}",
                        c["name"].as_str().unwrap_or_default(),
                        c["registered_credentials"]
                    );
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// The store and admin listener of `gateway run`, from `[store]` and `[admin]`.
#[allow(clippy::print_stderr)]
async fn runtime_options(cfg: &Config) -> Result<Option<gateway::admin::RuntimeOptions>, String> {
    if cfg.admin.is_none() && cfg.store.is_none() {
        return Ok(None);
    }
    let sealer = gateway::store::Sealer::from_env(&ProcessEnv).map_err(|e| e.to_string())?;
    if !sealer.has_key() {
        tracing::warn!(
            "{} is not set: client secrets are stored unencrypted",
            gateway::store::seal::KEY_ENV
        );
    }
    let url = cfg
        .store
        .as_ref()
        .map_or("sqlite:gateway-state.db", |s| s.url.as_str());
    let store = gateway::store::Store::open(url, sealer)
        .await
        .map_err(|e| e.to_string())?;
    let mut opts = gateway::admin::RuntimeOptions::new(std::sync::Arc::new(store));
    if let Some(s) = &cfg.store {
        opts.poll_interval = s.poll_interval;
    }
    if let Some(a) = &cfg.admin {
        let l = tokio::net::TcpListener::bind(a.listen)
            .await
            .map_err(|e| format!("cannot listen on {} (admin): {e}", a.listen))?;
        opts.admin = Some((l, a.token.clone()));
    }
    Ok(Some(opts))
}

#[allow(clippy::print_stdout, clippy::print_stderr)]
#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    gateway::telemetry::init_tracing(cli.json_logs);
    match cli.command {
        // The certificate files are loaded too, as `run` would.
        Command::CheckConfig { file } => match Config::from_file(&file, &ProcessEnv)
            .and_then(|c| gateway::server_tls::check(&c).map(|()| c))
        {
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
            let mut builder = gateway::Gateway::builder(cfg.clone());
            match runtime_options(&cfg).await {
                Ok(Some(opts)) => builder = builder.runtime(opts),
                Ok(None) => {}
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(EXIT_CONFIG);
                }
            }
            // Listen for SIGHUP before serving: a SIGHUP that arrives before its handler is
            // installed would end the process (the default action).
            let hangups = hangup_signals();
            let usr1 = usr1_signals();
            match builder.build(listener).await {
                Ok(handle) => {
                    reload_on_hangup(hangups, handle.reloader(), config.clone());
                    reopen_on_usr1(usr1, handle.access_log());
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
        Command::Apps { admin, command } => apps(admin, command).await,
        Command::Apply {
            file,
            dry_run,
            admin,
        } => apply(file, dry_run, admin).await,
        #[cfg(feature = "demo")]
        Command::Demo { listen, tls } => {
            match gateway::demo::run(listen, tls, shutdown_signal()).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("demo failed: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// SIGHUP: re-read the configuration file and swap it in; a bad file or an unreachable
/// authorization server keeps the current configuration (and says why).
#[cfg(unix)]
type Hangups = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangups = ();

/// The SIGUSR1 stream, installed now (its default action would end the process).
fn usr1_signals() -> Hangups {
    #[cfg(unix)]
    return tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1()).ok();
    #[cfg(not(unix))]
    ()
}

/// SIGUSR1: reopen the access log file (after logrotate renamed it).
fn reopen_on_usr1(signals: Hangups, log: Option<std::sync::Arc<gateway::access_log::AccessLog>>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Some(mut usr1) = signals else {
            return;
        };
        while usr1.recv().await.is_some() {
            if let Some(log) = &log {
                log.reopen();
            }
        }
    });
    #[cfg(not(unix))]
    let _ = (signals, log);
}

/// The SIGHUP stream, installed now.
fn hangup_signals() -> Hangups {
    #[cfg(unix)]
    return tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    #[cfg(not(unix))]
    ()
}

fn reload_on_hangup(hangups: Hangups, reloader: gateway::Reloader, path: std::path::PathBuf) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Some(mut hup) = hangups else {
            return;
        };
        while hup.recv().await.is_some() {
            let result = match Config::from_file(&path, &ProcessEnv) {
                Ok(cfg) => reloader.reload(cfg).await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match result {
                Ok(()) => tracing::info!(config = %path.display(), "reloaded on SIGHUP"),
                Err(e) => tracing::error!(
                    config = %path.display(),
                    error = %e,
                    "reload failed; the current configuration stays"
                ),
            }
        }
    });
    #[cfg(not(unix))]
    let _ = (hangups, reloader, path);
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
