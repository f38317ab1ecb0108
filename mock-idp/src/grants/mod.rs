//! The grant types of the token endpoint, one file each.

pub mod client_credentials;

/// Grant types this server implements, in the order discovery lists them.
pub const SUPPORTED: &[&str] = &["client_credentials"];
