//! `conformance run --target FILE [--only AREA|ID…] [--report FORMAT] [--out FILE]`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use conformance::report::{self, Format};
use conformance::{Selection, Target};

#[derive(Debug, Parser)]
#[command(
    name = "conformance",
    version,
    about = "OAuth 2.0 / OIDC conformance checks against any authorization server and the gateway"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run the checks against a target.
    Run {
        /// The target file (TOML).
        #[arg(long)]
        target: PathBuf,
        /// Areas (DISC, TOK-CC, …) or check ids (DISC-02, …); repeatable or comma-separated.
        #[arg(long, value_delimiter = ',', num_args = 1..)]
        only: Vec<String>,
        /// Report format.
        #[arg(long, value_enum, default_value = "terminal")]
        report: Format,
        /// Write the report here instead of stdout (a terminal summary is still printed).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Run the slow checks (waiting for expiry) against a real clock; on the in-process
        /// mock they always run, moving its clock instead of sleeping.
        #[arg(long)]
        slow: bool,
    },
    /// List the catalogue: id, area, level, mode, implemented, assertion.
    List,
    /// Check a target file (and its `${VAR}`s) without running anything.
    CheckTarget {
        #[arg(long)]
        target: PathBuf,
    },
}

#[allow(clippy::print_stdout, clippy::print_stderr)]
#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::List => {
            for d in conformance::checks::catalogue::CATALOGUE {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    d.id,
                    d.area,
                    d.level.as_str(),
                    d.mode,
                    if conformance::checks::is_implemented(d.id) {
                        "yes"
                    } else {
                        "-"
                    },
                    d.assertion
                );
            }
            ExitCode::SUCCESS
        }
        Cmd::CheckTarget { target } => match Target::load(&target) {
            Ok(t) => {
                println!("{}: ok ({})", target.display(), t.name);
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Cmd::Run {
            target,
            only,
            report: format,
            out,
            slow,
        } => {
            let t = match Target::load(&target) {
                Ok(mut t) => {
                    t.server.slow_checks |= slow;
                    t
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let sel = Selection { only };
            let unknown = sel.unknown();
            if !unknown.is_empty() {
                eprintln!("error: unknown area or check id: {}", unknown.join(", "));
                return ExitCode::from(2);
            }
            let rep = match conformance::run(t, &sel).await {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    return ExitCode::from(2);
                }
            };
            let text = report::render(&rep, format);
            match out {
                Some(path) => {
                    if let Err(e) = std::fs::write(&path, text) {
                        eprintln!("error: cannot write {}: {e}", path.display());
                        return ExitCode::from(2);
                    }
                    let t = rep.totals();
                    println!(
                        "{}: {} pass, {} fail, {} warn, {} deviation, {} skip -> {}",
                        rep.target,
                        t.pass,
                        t.fail,
                        t.warn,
                        t.deviation,
                        t.skip,
                        path.display()
                    );
                }
                None => print!("{text}"),
            }
            if rep.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
