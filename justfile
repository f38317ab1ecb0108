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

# Fuzz the mock with schemathesis against its OpenAPI document (pip install schemathesis).
fuzz-mock EXAMPLES="50":
    mock-idp/fuzz/schemathesis.sh {{EXAMPLES}}
