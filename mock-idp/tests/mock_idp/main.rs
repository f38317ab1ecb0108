//! mock-idp integration tests: one binary, modules by area, named by the
//! conformance catalogue's check ids. Every test starts a real server on
//! port 0 and talks HTTP to it.

// Tests read the wall clock to bound how long they poll real servers (the browser test); what
// the lint guards is the product's time.
#![allow(clippy::disallowed_methods)]

mod support;
mod user_support;

mod cli;
mod client_auth;
mod client_credentials;
mod control;
mod cors;
mod device;
mod discovery;
mod dpop;
mod encrypted_id_token;
mod exchange;
mod fuzz;
mod introspect;
mod jwks;
mod okta_extras;
mod okta_sdks;
mod openapi;
mod par;
mod registration;
mod revoke;
mod robustness;
mod service;
mod tls;

// User flows (issue 3): authorize, login page, code + PKCE, ID tokens, refresh.
mod authn;
mod authorize;
mod authorize_proptest;
mod browser;
mod code_flow;
mod id_token;
mod lockout;
mod login_page;
mod logout;
mod management_apps;
mod management_groups;
mod management_support;
mod management_users;
mod password_expiry;
mod refresh;
mod sessions;
mod step_up;
mod userinfo;
