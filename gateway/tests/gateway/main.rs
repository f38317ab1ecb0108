//! The gateway's integration tests: real servers on port 0, a manual clock, no sleeps for time.

// Tests read the wall clock to bound how long they poll real servers and to name scratch files;
// what the lint guards is the product's time.
#![allow(clippy::disallowed_methods)]

mod access_log;
mod admin;
mod attacks;
mod authorization;
mod cert_bound;
mod claims;
mod cli;
mod dpop;
mod faults;
mod forward_auth;
mod fuzz;
mod grpc;
mod harness;
mod introspection;
mod keys;
mod listener;
mod local;
mod okta;
mod operations;
mod peers;
mod reload;
mod rfc6750;
mod tls;
mod upstream;
mod upstream_tls;
mod websocket;
