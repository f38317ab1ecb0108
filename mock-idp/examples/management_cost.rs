//! The cost of the management API with a large directory: 100 000 users.
//!
//! `cargo run --release -p mock-idp --example management_cost -- MODE COUNT`
//!
//! - `search COUNT`: builds the directory in process, then runs COUNT times a
//!   `search` that must read every user (`profile.department eq "Ward 977" and
//!   status eq "ACTIVE"`, 100 matches), as `GET /api/v1/users?search=` does.
//! - `http COUNT`: starts the mock with those users and sends COUNT management
//!   calls over loopback HTTP (`GET /api/v1/users/{login}`, one TCP connection).
//!
//! Wall times are printed, but on a shared machine they are noise; for a
//! deterministic number run it under callgrind twice with different COUNTs and
//! divide the difference in instructions by the difference in COUNT:
//! `valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/management_cost search 1`
//! (then `search 11`), and the same with `http 1` / `http 201`.

// A cost measurement: elapsed wall time is what it reports.
#![allow(clippy::disallowed_methods)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Instant;

use mock_idp::config::UserConfig;
use mock_idp::directory::Directory;
use mock_idp::filter_expr::Expr;
use mock_idp::{Config, Secret};

const USERS: usize = 100_000;
const SEARCH: &str = r#"profile.department eq "Ward 977" and status eq "ACTIVE""#;

fn users() -> Vec<UserConfig> {
    (0..USERS)
        .map(|n| {
            let login = format!("user{n:06}@example.com");
            let profile: BTreeMap<String, toml::Value> = [
                ("firstName", format!("First{n}")),
                ("lastName", format!("Last{}", n % 5000)),
                ("email", login.clone()),
                ("department", format!("Ward {}", n % 1000)),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), toml::Value::String(v)))
            .collect();
            UserConfig {
                id: None,
                login,
                password: Secret::new("Passw0rd-Example"),
                groups: vec!["Everyone".to_owned()],
                profile,
                password_expired: false,
                password_expires_in_days: None,
            }
        })
        .collect()
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "search".to_owned());
    let count: usize = args.next().and_then(|c| c.parse().ok()).unwrap_or(10);
    match mode.as_str() {
        "search" => {
            let directory = Directory::seeded(&users(), 0);
            let expr = match Expr::parse(SEARCH) {
                Ok(expr) => expr,
                Err(_) => return ExitCode::FAILURE,
            };
            let started = Instant::now();
            let mut found = 0;
            for _ in 0..count {
                found = directory
                    .users_after(None)
                    .filter(|u| expr.matches(&***u))
                    .count();
            }
            let each = started.elapsed() / u32::try_from(count.max(1)).unwrap_or(1);
            println!("search over {USERS} users: {found} matches, {each:?} per search (wall)");
        }
        "http" => {
            let mut config = Config::default_config();
            config.users.extend(users());
            let idp = match mock_idp::MockIdp::builder().config(config).start().await {
                Ok(idp) => idp,
                Err(error) => {
                    eprintln!("{error}");
                    return ExitCode::FAILURE;
                }
            };
            let client = reqwest::Client::new();
            let token = "SSWS 00mockIdpSswsApiToken7ms2Bx7dY2qLw9ZtR4vNc";
            let started = Instant::now();
            for n in 0..count {
                let url = format!(
                    "{}/api/v1/users/user{:06}@example.com",
                    idp.base_url(),
                    n % USERS
                );
                let response = client.get(url).header("authorization", token).send().await;
                match response {
                    Ok(r) if r.status() == 200 => drop(r.bytes().await),
                    other => {
                        eprintln!("unexpected answer: {other:?}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            let each = started.elapsed() / u32::try_from(count.max(1)).unwrap_or(1);
            println!(
                "GET /api/v1/users/{{login}} with {USERS} users: {each:?} per call (wall, loopback)"
            );
        }
        _ => {
            eprintln!("usage: management_cost search|http COUNT");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}
