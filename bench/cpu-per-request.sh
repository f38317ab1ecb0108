#!/usr/bin/env bash
# CPU time a server spends per request (user and system µs), from /proc around one wrk run.
# Usage: bench/cpu-per-request.sh "<pids>" <wrk arguments...>
#   e.g. bench/cpu-per-request.sh "$(pgrep -f 'gateway run')" -H "Authorization: Bearer $T" http://127.0.0.1:18101/local/beds
# Start the servers first (e.g. as bench/peers.sh does); every thread of each pid is counted.
set -euo pipefail
pids="$1"; shift
hz=$(getconf CLK_TCK)
ticks() {
  local u=0 s=0 a b
  for p in $pids; do for t in /proc/"$p"/task/*/stat; do
    read -r a b < <(awk '{print $14, $15}' "$t"); u=$((u + a)); s=$((s + b)); done; done
  echo "$u $s"
}
read -r u0 s0 < <(ticks)
out=$(wrk -t1 -c"${CONNS:-32}" -d"${DUR:-5s}" "$@")
read -r u1 s1 < <(ticks)
n=$(awk '/requests in/{print $1}' <<< "$out")
rps=$(awk '/Requests\/sec/{print $2}' <<< "$out")
echo "req/s $rps  user µs/req $(( (u1 - u0) * 1000000 / hz / n ))  sys µs/req $(( (s1 - s0) * 1000000 / hz / n ))"
