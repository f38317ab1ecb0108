#!/usr/bin/env bash
# `just conformance-peer`: the suite against panva's oidc-provider (../shared/peers), recorded in
# fixtures/conformance/oidc-provider.{json,md}. Fails when anything but a documented deviation fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
PEERS=${PEERS:-../shared/peers}
[ -x /tmp/peers/node/node_modules/.bin/newman ] || "$PEERS/install.sh"
[ -s /tmp/peers/keys/private.jwk.json ] || "$PEERS/gen-keys.sh"
"$PEERS/start-oidc-provider.sh"
PEERS=$PEERS conformance/scripts/start-oidc-provider-full.sh
status=0
for t in oidc-provider oidc-provider-full; do
  T=fixtures/targets/$t.toml
  cargo run -q -p conformance -- run --target $T --report json --out fixtures/conformance/$t.json || true
  cargo run -q -p conformance -- run --target $T --report markdown --out fixtures/conformance/$t.md || true
  cargo run -q -p conformance -- run --target $T || status=1
done
exit $status
