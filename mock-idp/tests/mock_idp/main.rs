//! mock-idp integration tests: one binary, modules by area, named by the
//! conformance catalogue's check ids. Every test starts a real server on
//! port 0 and talks HTTP to it.

mod support;

mod client_auth;
mod client_credentials;
mod discovery;
mod introspect;
mod jwks;
mod revoke;
mod robustness;
