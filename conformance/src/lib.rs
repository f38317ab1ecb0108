//! `conformance`: replays the article's OAuth 2.0 / OpenID Connect flows
//! against any authorization server (the mock, oidc-provider, a real Okta
//! tenant) and the gateway, and checks every raw response against the specs,
//! by catalogue id.
//!
//! Checks read status, headers and bodies (`serde_json::Value`), never the
//! mock's own types, so a shared mistake cannot pass unnoticed.

pub mod checks;
pub mod clock;
pub mod expectations;
pub mod http;
pub(crate) mod in_process;
pub mod jwt;
pub mod login;
pub mod report;
pub mod runner;
pub mod target;

pub use runner::{Report, Selection, run};
pub use target::Target;
