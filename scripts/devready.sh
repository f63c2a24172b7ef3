#!/usr/bin/env bash
# Measures a dev agent's start from outside: starts "BINARY agent -dev" on
# the ports PORT (http), PORT+1 (rpc) and PORT+2 (serf), polls /v1/nodes
# with curl every 5 ms until a node is ready, waits 3 s and reads the idle
# agent's RSS, then stops it by its PID. Runs RUNS times (default 5) and
# prints each run and the medians. Each curl is a new process, so under
# load the poll itself adds tens of milliseconds.
# Usage: scripts/devready.sh BINARY PORT [RUNS]
#   go build -o /tmp/drover ./cmd/drover && scripts/devready.sh /tmp/drover 13110
set -euo pipefail

bin=$1 port=$2 runs=${3:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'ports {\n  http = %d\n  rpc = %d\n  serf = %d\n}\n' "$port" $((port + 1)) $((port + 2)) >"$work/dev.hcl"

readys=() rsss=()
for ((i = 1; i <= runs; i++)); do
  start=$(date +%s%N)
  "$bin" agent -dev -config "$work/dev.hcl" >"$work/agent.log" 2>&1 &
  pid=$!
  until curl -s --max-time 1 "http://127.0.0.1:$port/v1/nodes" 2>/dev/null | grep -q '"Status":"ready"'; do
    if (($(date +%s%N) - start > 20000000000)); then
      echo "run $i: no ready node after 20 s; agent log: $work/agent.log" >&2
      kill "$pid"
      exit 1
    fi
    sleep 0.005
  done
  ms=$((($(date +%s%N) - start) / 1000000))
  sleep 3
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  echo "run $i: ready in ${ms} ms, idle RSS ${rss} kB"
  readys+=("$ms") rsss+=("$rss")
done
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
echo "median: ready in $(median "${readys[@]}") ms, idle RSS $(median "${rsss[@]}") kB"
