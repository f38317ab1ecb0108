# The front door. `just` lists the recipes.

default:
    @just --list

# Run the mock Okta server with its built-in configuration.
mock-idp *ARGS:
    cargo run --release -p mock-idp -- {{ARGS}}

# Every test, offline (the README's test command).
test:
    cargo test --workspace

fmt:
    cargo fmt --all

lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# What CI runs.
ci:
    bash .ci/run

# The article's scenario in one process: mock Okta + CheckBedAvailability backend + gateway.
demo:
    cargo run --release -p gateway -- demo

# Criterion micro-benchmarks of the hot paths.
bench:
    cargo bench -p gateway
    cargo bench -p mock-idp

# Fuzz the mock with schemathesis against its OpenAPI document (pip install schemathesis).
fuzz-mock EXAMPLES="50":
    mock-idp/fuzz/schemathesis.sh {{EXAMPLES}}

# The conformance suite against the in-process mock + gateway (nothing else needs to run).
conformance *ARGS:
    cargo run -q -p conformance -- run --target fixtures/targets/mock.toml {{ARGS}}

# The suite against panva's oidc-provider: the shared peer (:18091, ../shared/peers) and a richer
# instance of the same package (:18093, extra clients + registration); records fixtures/conformance/.
conformance-peer:
    conformance/scripts/conformance-peer.sh

# The suite + the gateway in front of the demo backend against a real Okta tenant.
# Reads OKTA_* from the environment or .env; prints exactly which are missing and fails.
e2e *ARGS:
    conformance/scripts/e2e.sh {{ARGS}}

# The article's Postman test (fixtures/postman/) with newman against `gateway demo`.
postman:
    conformance/scripts/postman.sh

# The suite against an already-running oidc-provider pair, as a test (fails on an undocumented deviation).
conformance-peer-test:
    CONFORMANCE_PEERS=1 cargo test -p conformance oidc_provider -- --nocapture

# Reports for CI artefacts (JUnit for the test tab, Markdown for the PR comment).
conformance-reports:
    mkdir -p target/conformance
    cargo run -q -p conformance -- run --target fixtures/targets/mock.toml --report junit --out target/conformance/mock.junit.xml
    cargo run -q -p conformance -- run --target fixtures/targets/mock.toml --report markdown --out target/conformance/mock.md

# Property tests over the gateway's token parser, header extraction and admission path: a long
# proptest campaign (CASES per property, release build).
fuzz CASES="200000":
    GATEWAY_FUZZ_CASES={{CASES}} cargo test --release -p gateway --test gateway fuzz:: -- --test-threads=2

# Coverage-guided fuzzing with libFuzzer on the stable toolchain (`cargo install cargo-fuzz`):
# TARGET is one of `cargo fuzz list` (token, authorization_header, route, upstream_response,
# gateway_config, mock_form, mock_config), for SECONDS. New inputs go to fuzz/corpus/TARGET;
# see fuzz/README.md for minimising them and keeping a crash as a regression.
fuzz-cov TARGET SECONDS="60":
    RUSTC_BOOTSTRAP=1 cargo fuzz run -s none {{TARGET}} -- -max_total_time={{SECONDS}}

# Our gateway and mock against nginx, HAProxy, Apache mod_auth_openidc, oauth2-mock-server and
# oidc-provider on loopback (after ../shared/peers/install.sh); writes bench/results/peers-*.md.
bench-peers:
    bench/peers.sh
