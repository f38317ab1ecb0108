#!/usr/bin/env bash
# The article's Postman test (fixtures/postman/) with newman against `gateway demo`.
# Starts the demo on 127.0.0.1:${PORT:-8080}, reads the mock's issuer from its banner, runs newman,
# stops the demo (its pid only). NEWMAN overrides the newman binary (default: PATH, then /tmp/peers).
set -euo pipefail
cd "$(dirname "$0")/../.."
PORT=${PORT:-8080}
NEWMAN=${NEWMAN:-$(command -v newman || echo /tmp/peers/node/node_modules/.bin/newman)}
[ -x "$NEWMAN" ] || { echo "newman not found: npm i -g newman, or ../shared/peers/install.sh" >&2; exit 1; }
if [ -z "${GATEWAY_BIN:-}" ]; then
  cargo build -q -p gateway
  GATEWAY_BIN=${CARGO_TARGET_DIR:-target}/debug/gateway
fi
log=$(mktemp)
"$GATEWAY_BIN" demo --listen "127.0.0.1:$PORT" >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -f "$log"' EXIT
issuer=""
for _ in $(seq 100); do
  issuer=$(sed -n 's/^ *mock Okta (ExternalOktaServer) *//p' "$log" | tr -d '[:space:]')
  [ -n "$issuer" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.2
done
[ -n "$issuer" ] || { echo "gateway demo did not start:" >&2; cat "$log" >&2; exit 1; }
echo "gateway demo: issuer $issuer, gateway http://127.0.0.1:$PORT"
"$NEWMAN" run fixtures/postman/article.postman_collection.json \
  -e fixtures/postman/gateway-demo.postman_environment.json \
  --env-var "issuer=$issuer" --env-var "gateway_url=http://127.0.0.1:$PORT" \
  --reporters cli${NEWMAN_REPORTERS:+,$NEWMAN_REPORTERS} "$@"
