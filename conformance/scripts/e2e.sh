#!/usr/bin/env bash
# `just e2e`: the conformance suite and the gateway (in front of the demo backend) against a real
# Okta tenant described by fixtures/targets/okta.example.toml. Reads the environment and .env;
# prints exactly which variables are missing and stops non-zero when any is.
set -euo pipefail
cd "$(dirname "$0")/../.."
required=(OKTA_DOMAIN OKTA_AUTH_SERVER_ID OKTA_CLIENT_ID OKTA_CLIENT_SECRET OKTA_WEB_CLIENT_ID OKTA_WEB_CLIENT_SECRET OKTA_TEST_USERNAME OKTA_TEST_PASSWORD)
optional=(OKTA_API_TOKEN OKTA_AUDIENCE OKTA_WEB_AUTH_METHOD OKTA_REDIRECT_URI OKTA_SLOW_CHECKS)
if [ -f .env ]; then set -a; . ./.env; set +a; fi
missing=()
for v in "${required[@]}"; do [ -n "${!v:-}" ] || missing+=("$v"); done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "just e2e: missing environment variables (export them or put them in .env):" >&2
  for v in "${missing[@]}"; do echo "  $v" >&2; done
  echo "optional: ${optional[*]} (OKTA_API_TOKEN enables the registration checks)" >&2
  echo "tenant set-up: see the comments in fixtures/targets/okta.example.toml" >&2
  exit 2
fi
[ -n "${OKTA_API_TOKEN:-}" ] || echo "note: OKTA_API_TOKEN not set, DCR checks are skipped" >&2
mkdir -p target/conformance
cargo run -q -p conformance -- run --target fixtures/targets/okta.example.toml --report junit --out target/conformance/okta.junit.xml "$@" || true
cargo run -q -p conformance -- run --target fixtures/targets/okta.example.toml --report markdown --out target/conformance/okta.md "$@" || true
exec cargo run -q -p conformance -- run --target fixtures/targets/okta.example.toml "$@"
