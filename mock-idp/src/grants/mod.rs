//! The grant types of the token endpoint, one file each.

pub mod authorization_code;
pub mod client_credentials;
pub mod password;
pub mod refresh_token;
pub mod user_tokens;

/// Grant types this server implements, in the order discovery lists them
/// (`implicit` is served by the authorize endpoint, not the token endpoint).
pub const SUPPORTED: &[&str] = &[
    "authorization_code",
    "implicit",
    "refresh_token",
    "password",
    "client_credentials",
];
