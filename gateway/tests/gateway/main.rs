//! The gateway's integration tests: real servers on port 0, a manual clock, no sleeps for time.

mod admin;
mod attacks;
mod authorization;
mod cli;
mod dpop;
mod faults;
mod fuzz;
mod harness;
mod introspection;
mod keys;
mod listener;
mod local;
mod okta;
mod operations;
mod reload;
mod rfc6750;
mod tls;
mod upstream;
mod upstream_tls;
