#!/usr/bin/env bash
# `just conformance-peer`: the suite against panva's oidc-provider (../shared/peers), recorded in
# fixtures/conformance/oidc-provider.{json,md}. Fails when anything but a documented deviation fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
PEERS=${PEERS:-../shared/peers}
[ -x /tmp/peers/node/node_modules/.bin/newman ] || "$PEERS/install.sh"
[ -s /tmp/peers/keys/private.jwk.json ] || "$PEERS/gen-keys.sh"
"$PEERS/start-oidc-provider.sh"
T=fixtures/targets/oidc-provider.toml
cargo run -q -p conformance -- run --target $T --report json --out fixtures/conformance/oidc-provider.json || true
cargo run -q -p conformance -- run --target $T --report markdown --out fixtures/conformance/oidc-provider.md || true
exec cargo run -q -p conformance -- run --target $T
