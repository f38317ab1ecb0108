#!/usr/bin/env bash
# `just bench-peers`: our gateway and mock-idp against real peers on loopback, same load
# generator and settings, interleaved (A B C … A B C) so drift hits everyone alike.
#
# Peers (../shared/peers): static backend :18080, nginx plain proxy :18081 (the floor),
# HAProxy jwt_verify :18082, Apache mod_auth_openidc :18083 (local JWT) / :18084 (introspection,
# cached), oauth2-mock-server :18090, oidc-provider :18091.
# Ours: mock-idp :18100, gateway :18101 (fixtures/gateway/bench.toml).
# TLS: the same gateway configuration with [tls] on :18102, and nginx terminating TLS as a plain
# proxy (no auth) on :18085, both with one ECDSA P-256 certificate made here; the `tls` rows keep
# connections alive, the `tls-handshake` rows send `Connection: close` (a new handshake per request).
# Not a server: raw-rs256-sign-limit, this machine's RS256 signing limit measured in the same run
# (mock-idp/examples/sign_limit.rs: the mock's own signing path on every core for DUR, no HTTP),
# the ceiling for ours-mock-idp-cc-token; the table gives the token rows' ratio to it.
#
# Prerequisite, once per machine: ../shared/peers/install.sh
# Environment: DUR (10s), CONNS (32), RUNS (2), PEER_NICE (e.g. -10), MAXLOAD (1.0), MAXWAIT (120),
# ONLY (a regex of scenario names, e.g. 'nginx|haproxy-jwt-valid|ours-gateway'), WARMUP (2s: one
# unrecorded pass over every scenario first, so no one's first run pays for JIT, caches, pools or
# peers still starting up; 0 skips it).
# Writes bench/results/peers-<stamp>.md (the table) and .tsv (every run); stops what it started.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
peers=${PEERS_DIR:-$root/../shared/peers}
ONLY=${ONLY:-.} DUR=${DUR:-10s} CONNS=${CONNS:-32} RUNS=${RUNS:-2} MAXLOAD=${MAXLOAD:-1.0} MAXWAIT=${MAXWAIT:-120}
WARMUP=${WARMUP:-2s}
P=/tmp/peers
nice_prefix=${PEER_NICE:+nice -n $PEER_NICE}

missing=()
for tool in wrk nginx haproxy apache2 jq node curl python3 openssl; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing+=("$tool")
done
[ -d "$P/node/node_modules/oidc-provider" ] || missing+=("oidc-provider (npm, /tmp/peers/node)")
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench-peers: missing ${missing[*]}: run $peers/install.sh first" >&2
  exit 2
fi

stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=$root/bench/results; mkdir -p "$out"
tsv=$out/peers-$stamp.tsv; md=$out/peers-$stamp.md
work=$(mktemp -d)

echo "== building (release)"
(cd "$root" && cargo build --quiet --release -p gateway -p mock-idp \
  && cargo build --quiet --release -p mock-idp --example sign_limit) || exit 1

started_peers=()
ours=()
cleanup() {
  for pid in "${ours[@]}"; do kill "$pid" 2>/dev/null; done
  [ -f "$work/nginx-tls/nginx.pid" ] && kill "$(cat "$work/nginx-tls/nginx.pid")" 2>/dev/null
  [ ${#started_peers[@]} -gt 0 ] && "$peers/stop.sh" "${started_peers[@]}" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

echo "== peers"
"$peers/gen-keys.sh" >/dev/null
for peer in backend nginx-proxy haproxy apache mock-server oidc-provider; do
  pidfile=$P/$peer.pid
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "   $peer already running (left running)"
  else
    PEER_NICE=${PEER_NICE:-} "$peers/start-$peer.sh" >/dev/null 2>&1 && started_peers+=("$peer") \
      || echo "   $peer failed to start (its rows will show errors)"
  fi
done

echo "== ours"
$nice_prefix "$root/target/release/mock-idp" --listen 127.0.0.1:18100 > "$work/mock-idp.log" 2>&1 &
ours+=($!)
for _ in $(seq 100); do curl -sf http://127.0.0.1:18100/oauth2/default/v1/keys >/dev/null && break; sleep 0.1; done
RUST_LOG=warn $nice_prefix "$root/target/release/gateway" run --config "$root/fixtures/gateway/bench.toml" > "$work/gateway.log" 2>&1 &
ours+=($!)
for _ in $(seq 100); do curl -sf http://127.0.0.1:18101/health >/dev/null && break; sleep 0.1; done

echo "== TLS: ours :18102 and nginx :18085, one ECDSA P-256 certificate"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$work/tls.key" -out "$work/tls.pem" 2>/dev/null
sed 's/^listen = "127.0.0.1:18101"/listen = "127.0.0.1:18102"/' "$root/fixtures/gateway/bench.toml" > "$work/bench-tls.toml"
printf '\n[[tls.certificates]]\ncert_file = "%s"\nkey_file = "%s"\n' "$work/tls.pem" "$work/tls.key" >> "$work/bench-tls.toml"
RUST_LOG=warn $nice_prefix "$root/target/release/gateway" run --config "$work/bench-tls.toml" > "$work/gateway-tls.log" 2>&1 &
ours+=($!)
mkdir -p "$work/nginx-tls/tmp"
cat > "$work/nginx-tls/nginx.conf" <<CONF
worker_processes auto;
pid $work/nginx-tls/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  tcp_nodelay on;
  keepalive_requests 1000000; keepalive_timeout 75s;
  client_body_temp_path $work/nginx-tls/tmp/body; proxy_temp_path $work/nginx-tls/tmp/proxy;
  fastcgi_temp_path $work/nginx-tls/tmp/fcgi; uwsgi_temp_path $work/nginx-tls/tmp/uwsgi;
  scgi_temp_path $work/nginx-tls/tmp/scgi;
  upstream beds { server 127.0.0.1:18080; keepalive 64; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:18085 ssl http2;
    ssl_certificate $work/tls.pem;
    ssl_certificate_key $work/tls.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_tickets on;
    location / {
      proxy_pass http://beds;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering on;
    }
  }
}
CONF
$nice_prefix /usr/sbin/nginx -c "$work/nginx-tls/nginx.conf" -e "$work/nginx-tls/error.log" \
  || echo "   nginx (TLS) failed to start (its rows will show errors)"
for _ in $(seq 100); do curl -sf --cacert "$work/tls.pem" https://127.0.0.1:18102/health >/dev/null && break; sleep 0.1; done

svc=0oa7ms2bedsvc000x7d1:mock-idp-service-secret-Bx7dY2qLw9ZtR4vNc8Hs
OUR_T=$(curl -s -u "$svc" -d 'grant_type=client_credentials&scope=beds.read' \
  http://127.0.0.1:18100/oauth2/default/v1/token | jq -r .access_token)
OUR_BAD="${OUR_T%.*}.$(printf 'AAAA%.0s' $(seq 86))"
OUR_ID=$(python3 - <<'PY'
import base64, hashlib, hmac, json, time
b = lambda d: base64.urlsafe_b64encode(d).rstrip(b"=").decode()
now = int(time.time())
claims = {"iss": "http://127.0.0.1:18100/oauth2/default", "aud": "0oa7ms2bedweb000x7d2",
          "sub": "00u7ms2nurse0000x7d1", "iat": now, "exp": now + 86400, "jti": "ID.bench"}
msg = b(json.dumps({"alg": "HS256"}).encode()) + "." + b(json.dumps(claims).encode())
sig = hmac.new(b"mock-idp-web-secret-Kp3sT8vXq2Lm6Wn9Rc4Jz7Fd", msg.encode(), hashlib.sha256).digest()
print(msg + "." + b(sig))
PY
)
T=$(cat $P/keys/token.jwt); BAD=$(cat $P/keys/token-badsig.jwt)
OT=$(curl -s -u peers-client:peers-secret -d 'grant_type=client_credentials&scope=beds:read' http://127.0.0.1:18091/token | jq -r .access_token)
status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
echo "   smoke: ours local $(status -H "Authorization: Bearer $OUR_T" http://127.0.0.1:18101/local/beds)," \
     "remote $(status -H "Authorization: Bearer $OUR_T" http://127.0.0.1:18101/remote/beds)," \
     "hmac $(status -H "Authorization: Bearer $OUR_ID" http://127.0.0.1:18101/hmac/beds)," \
     "badsig $(status -H "Authorization: Bearer $OUR_BAD" http://127.0.0.1:18101/local/beds);" \
     "haproxy $(status -H "Authorization: Bearer $T" http://127.0.0.1:18082/beds)"

cat > "$work/post-form.lua" <<'LUA'
wrk.method = "POST"
wrk.body = os.getenv("BODY") or ""
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
local basic = os.getenv("BASIC")
if basic and #basic > 0 then wrk.headers["Authorization"] = "Basic " .. basic end
LUA
PEERS_BASIC=$(printf 'peers-client:peers-secret' | base64 -w0)
OUR_BASIC=$(printf '%s' "$svc" | base64 -w0)

# name | group | expected status | env | wrk arguments (or @sign-limit: not wrk, see the loop)
scenarios=(
  "backend-direct|floor|200||http://127.0.0.1:18080/beds"
  "nginx-noauth|gateway|200||http://127.0.0.1:18081/beds"
  "haproxy-jwt-valid|gateway|200||-H|Authorization: Bearer $T|http://127.0.0.1:18082/beds"
  "apache-jwt-valid|gateway|200||-H|Authorization: Bearer $T|http://127.0.0.1:18083/beds"
  "apache-introspect-cached|gateway|200||-H|Authorization: Bearer $OT|http://127.0.0.1:18084/beds"
  "ours-gateway-local-jwt|gateway|200||-H|Authorization: Bearer $OUR_T|http://127.0.0.1:18101/local/beds"
  "ours-gateway-introspect-cached|gateway|200||-H|Authorization: Bearer $OUR_T|http://127.0.0.1:18101/remote/beds"
  "ours-gateway-hmac-idtoken|gateway|200||-H|Authorization: Bearer $OUR_ID|http://127.0.0.1:18101/hmac/beds"
  "nginx-tls-noauth|tls|200||https://127.0.0.1:18085/beds"
  "ours-gateway-tls-local-jwt|tls|200||-H|Authorization: Bearer $OUR_T|https://127.0.0.1:18102/local/beds"
  "nginx-tls-handshakes|tls-handshake|200||-H|Connection: close|https://127.0.0.1:18085/beds"
  "ours-gateway-tls-handshakes|tls-handshake|200||-H|Connection: close|-H|Authorization: Bearer $OUR_T|https://127.0.0.1:18102/local/beds"
  "haproxy-jwt-badsig|reject|401||-H|Authorization: Bearer $BAD|http://127.0.0.1:18082/beds"
  "apache-jwt-badsig|reject|401||-H|Authorization: Bearer $BAD|http://127.0.0.1:18083/beds"
  "ours-gateway-badsig|reject|401||-H|Authorization: Bearer $OUR_BAD|http://127.0.0.1:18101/local/beds"
  "oauth2-mock-server-cc-token|token|200|BODY=grant_type=client_credentials&scope=beds:read&aud=api://beds BASIC=$PEERS_BASIC|-s|$work/post-form.lua|http://127.0.0.1:18090/token"
  "oidc-provider-cc-token-jwt|token|200|BODY=grant_type=client_credentials&scope=beds:read&resource=api://beds BASIC=$PEERS_BASIC|-s|$work/post-form.lua|http://127.0.0.1:18091/token"
  "ours-mock-idp-cc-token|token|200|BODY=grant_type=client_credentials&scope=beds.read BASIC=$OUR_BASIC|-s|$work/post-form.lua|http://127.0.0.1:18100/oauth2/default/v1/token"
  "raw-rs256-sign-limit|token|200||@sign-limit"
  "oauth2-mock-server-discovery|discovery|200||http://127.0.0.1:18090/.well-known/openid-configuration"
  "oidc-provider-discovery|discovery|200||http://127.0.0.1:18091/.well-known/openid-configuration"
  "ours-mock-idp-discovery|discovery|200||http://127.0.0.1:18100/oauth2/default/.well-known/openid-configuration"
  "oauth2-mock-server-jwks|jwks|200||http://127.0.0.1:18090/jwks"
  "oidc-provider-jwks|jwks|200||http://127.0.0.1:18091/jwks"
  "ours-mock-idp-jwks|jwks|200||http://127.0.0.1:18100/oauth2/default/v1/keys"
)

load1() { cut -d' ' -f1 /proc/loadavg; }
busy() { ps -eo comm= | grep -cE '^(rustc|cargo|cc1|cc1plus|ld|clang|gcc)$' || true; }
wait_quiet() {
  local t=0; sleep 2
  while { awk -v l="$(load1)" -v m="$MAXLOAD" 'BEGIN{exit !(l>=m)}' || [ "$(busy)" -gt 0 ]; } && [ $t -lt "$MAXWAIT" ]; do
    sleep 5; t=$((t + 5)); done
}
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.3f", v}'; }

printf 'scenario\tgroup\texpect\trun\treq_per_s\tp50_ms\tp99_ms\tunexpected\ttotal\tload1\tcompilers\n' > "$tsv"
if [ "$WARMUP" != 0 ]; then
  echo "== warm-up ($WARMUP per scenario, not recorded)"
  for line in "${scenarios[@]}"; do
    IFS='|' read -r -a f <<< "$line"
    [[ ${f[0]} =~ $ONLY ]] || continue
    args=("${f[@]:4}")
    [ "${args[0]}" = @sign-limit ] && continue
    env ${f[3]} timeout 60 $nice_prefix wrk -t1 -c"$CONNS" -d"$WARMUP" "${args[@]}" > /dev/null 2>&1
  done
fi
for ((run = 1; run <= RUNS; run++)); do
  for line in "${scenarios[@]}"; do
    IFS='|' read -r -a f <<< "$line"
    name=${f[0]} group=${f[1]} expect=${f[2]} envs=${f[3]}
    [[ $name =~ $ONLY ]] || continue
    args=("${f[@]:4}")
    wait_quiet
    result=$work/$name-$run.txt
    if [ "${args[0]}" = @sign-limit ]; then
      # Tokens signed per second on every core; p50/p99 are per token, "unexpected" signing errors.
      env $envs timeout 60 $nice_prefix "$root/target/release/examples/sign_limit" "$DUR" > "$result" 2>&1
      field() { awk -v k="$1" '{for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) print substr($i, length(k) + 2)}' "$result"; }
      rps=$(field tokens_per_s) p50=$(field p50_ms) p99=$(field p99_ms) total=$(field total) errs=$(field errors)
      non=0 total=${total:-0} errs=${errs:-1}
    else
      env $envs timeout 60 $nice_prefix wrk -t1 -c"$CONNS" -d"$DUR" --latency "${args[@]}" > "$result" 2>&1
      rps=$(awk '/^Requests\/sec/{print $2}' "$result")
      p50=$(awk '$1=="50%"{print $2}' "$result" | to_ms)
      p99=$(awk '$1=="99%"{print $2}' "$result" | to_ms)
      non=$(awk '/Non-2xx or 3xx/{print $NF}' "$result"); non=${non:-0}
      total=$(awk '/requests in/{print $1}' "$result"); total=${total:-0}
      errs=$(awk '/Socket errors/{gsub(",",""); print $4+$6+$8+$10}' "$result"); errs=${errs:-0}
    fi
    # For a 401 scenario the expected answers are the non-2xx ones.
    if [ "$expect" = 401 ]; then unexpected=$((total - non + errs)); else unexpected=$((non + errs)); fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$group" "$expect" "$run" "${rps:-0}" "${p50:-0}" "${p99:-0}" \
      "$unexpected" "$total" "$(load1)" "$(busy)" >> "$tsv"
    printf '   run %s %-32s %9s req/s  p50 %6s ms  p99 %7s ms  unexpected %s/%s\n' "$run" "$name" "${rps:-0}" "${p50:-0}" "${p99:-0}" "$unexpected" "$total"
  done
done

python3 - "$tsv" "$md" "$DUR" "$CONNS" "$RUNS" "${PEER_NICE:-0}" <<'PY'
import csv, statistics, sys, datetime
tsv, md, dur, conns, runs, nice = sys.argv[1:7]
rows = list(csv.DictReader(open(tsv), delimiter="\t"))
by = {}
for r in rows:
    by.setdefault(r["scenario"], []).append(r)
def mean(rs, k): return statistics.mean(float(r[k] or 0) for r in rs)
agg = {n: {"group": rs[0]["group"], "rps": mean(rs, "req_per_s"), "p50": mean(rs, "p50_ms"), "p99": mean(rs, "p99_ms"),
           "unexpected": sum(int(r["unexpected"]) for r in rs), "total": sum(int(r["total"]) for r in rs),
           "runs": " / ".join(f'{float(r["req_per_s"] or 0):,.0f}' for r in rs)} for n, rs in by.items()}
nginx = agg.get("nginx-noauth", {}).get("rps") or None
LIMIT = "raw-rs256-sign-limit"  # not a peer: the signing ceiling of the token rows
limit = agg.get(LIMIT, {}).get("rps") or None
lines = [f"# bench-peers {datetime.datetime.utcnow():%Y-%m-%d %H:%M}Z",
         f"wrk -t1 -c{conns} -d{dur} --latency, {runs} runs per scenario interleaved, PEER_NICE={nice}; mean of runs.", "",
         f"{LIMIT}: tokens signed per second on every core with the mock's signing path, no HTTP (not wrk); "
         "its p50/p99 are per token. × sign limit: ours-mock-idp-cc-token against it (target ≥ 0.70).", "",
         "| scenario | group | req/s (mean) | runs | p50 ms | p99 ms | unexpected / total | × nginx no-auth | × best peer | × sign limit |",
         "|---|---|---:|---|---:|---:|---|---:|---:|---:|"]
for name, a in agg.items():
    peers = [b["rps"] for n, b in agg.items() if b["group"] == a["group"] and not n.startswith("ours") and n not in ("nginx-noauth", "backend-direct", LIMIT)]
    best = max(peers) if peers else None
    xn = f'{a["rps"] / nginx:.2f}' if nginx and a["group"] in ("gateway", "reject") else ""
    xb = f'{a["rps"] / best:.2f}' if best and name.startswith("ours") else ""
    xl = f'{a["rps"] / limit:.2f}' if limit and name.startswith("ours") and a["group"] == "token" else ""
    lines.append(f'| {name} | {a["group"]} | {a["rps"]:,.0f} | {a["runs"]} | {a["p50"]:.2f} | {a["p99"]:.2f} | {a["unexpected"]} / {a["total"]} | {xn} | {xb} | {xl} |')
open(md, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
echo "table: $md"
