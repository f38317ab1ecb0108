#!/usr/bin/env bash
# User-space instructions per proxied request, by callgrind: the gateway (fixtures/gateway/bench.toml)
# under valgrind, N keep-alive requests on 4 connections after a warm-up, counters zeroed in between.
# Needs the mock-idp on :18100 and the peers' backend on :18080 (as bench/peers.sh starts them) and
# a token in $T. Valgrind has no SHA-NI: SHA-256 shows up as software rounds (~45k per request).
# Usage: T=<access token> N=2000 bench/callgrind-gateway.sh   → Ir/request and /tmp/gateway.callgrind
# CONFIG=FILE measures another configuration (e.g. bench.toml plus [access_log] or
# [[claims_rules]]); PORT=PORT is its `listen` port when that is not 18101.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-2000}
CONFIG=${CONFIG:-$root/fixtures/gateway/bench.toml}
PORT=${PORT:-18101}
out=/tmp/gateway.callgrind
rm -f "$out"*
RUST_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$out" --compress-strings=no --compress-pos=no \
  "$root/target/release/gateway" run --config "$CONFIG" > /tmp/gateway.callgrind.log 2>&1 &
vp=$!
trap 'kill $vp 2>/dev/null' EXIT
for _ in $(seq 300); do curl -sf http://127.0.0.1:$PORT/health >/dev/null && break; sleep 0.2; done
wrk -t1 -c4 -d3s -H "Authorization: Bearer $T" http://127.0.0.1:$PORT/local/beds > /dev/null
callgrind_control -z $vp > /dev/null
python3 - "$T" "$N" "$PORT" <<'PY'
import socket, sys
token, n, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
req = f"GET /local/beds HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
for _ in range(n // 4):
    for s in socks:
        s.sendall(req)
    for s in socks:
        buf = b""
        while True:
            buf += s.recv(65536)
            head, sep, body = buf.partition(b"\r\n\r\n")
            if not sep:
                continue
            length = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")]
            if (length and len(body) >= length[0]) or (not length and body.endswith(b"\r\n0\r\n\r\n")):
                break
PY
callgrind_control -d $vp > /dev/null
dump=$(ls "$out".* | sort | head -1)
total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1; exit}')
echo "Ir/request: $((total / N))   (profile: callgrind_annotate --inclusive=yes $dump)"
