#!/usr/bin/env bash
# The first tutorial, end to end, with the drover CLI against an embedded
# dev agent (server and client in one process) running real Docker
# containers: job init; job run; job plan with count = 3 and job run
# -check-index; a rolling image update redis:3.2 -> redis:4.0 with
# max_parallel 1; status; alloc status; alloc logs; job stop. Each step
# checks the outcome it expects, and the scheduler explains its decisions
# (-explain).
#
# No registry is reachable here, so the script builds a tiny stand-in for
# Redis (testutil/tinyredis, FROM scratch) and tags it redis:3.2 and
# redis:4.0 when those images are not already present. To keep the demo
# short, min_healthy_time is lowered from 10s to 2s. Needs go and docker.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
port=${DROVER_DEMO_PORT:-24646}
export DROVER_ADDR="http://127.0.0.1:$port"
fail() { echo "FAILED: $*" >&2; echo "--- agent log ---" >&2; tail -40 "$work/agent.log" >&2 || true; exit 1; }
step() { echo; echo "\$ drover $*"; }

echo "== building drover and the stand-in redis image"
go build -o "$work/drover" ./cmd/drover
drover() { "$work/drover" "$@"; }
mkdir -p "$work/image"
CGO_ENABLED=0 go build -o "$work/image/tinyredis" ./testutil/tinyredis
printf 'FROM scratch\nCOPY tinyredis /tinyredis\nENTRYPOINT ["/tinyredis"]\n' > "$work/image/Dockerfile"
DOCKER_BUILDKIT=0 docker build -q -t drover-demo/tinyredis:latest "$work/image" >/dev/null 2>&1 ||
  docker build -q -t drover-demo/tinyredis:latest "$work/image" >/dev/null
for tag in redis:3.2 redis:4.0; do
  docker image inspect "$tag" >/dev/null 2>&1 || docker tag drover-demo/tinyredis:latest "$tag"
done

cat > "$work/ports.hcl" <<HCL
ports {
  http = $port
  rpc  = $((port + 1))
  serf = $((port + 2))
}
HCL
# The binary itself, not the drover function: $! must be the agent's pid
# for the interrupt below to reach it.
"$work/drover" agent -dev -config "$work/ports.hcl" > "$work/agent.log" 2>&1 &
agent=$!
cleanup() {
  kill -INT "$agent" 2>/dev/null || true
  wait "$agent" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 150); do
  drover status >/dev/null 2>&1 && break
  sleep 0.2
done
drover status >/dev/null 2>&1 || fail "the agent did not start"
echo "== dev agent up at $DROVER_ADDR"

cd "$work"
# wait_until <description> <command...>: retry until the command succeeds.
wait_until() {
  local what=$1; shift
  for _ in $(seq 300); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  fail "$what"
}
running() { [ "$(drover job status example | grep -c " run      running ")" = "$1" ]; }

step job init
drover job init
sed -i 's/min_healthy_time  = "10s"/min_healthy_time  = "2s"/' example.nomad

step job run example.nomad
drover job run example.nomad
wait_until "one running allocation" running 1

sed -i 's/count = 1/count = 3/' example.nomad
step job plan example.nomad "   (count = 3)"
plan=$(drover job plan example.nomad || true)
echo "$plan"
echo "$plan" | grep -q '(2 create, 1 in-place update)' || fail "plan: want 2 create, 1 in-place update"
index=$(echo "$plan" | sed -n 's/^Job Modify Index: //p')
step job run -check-index "$index" example.nomad
drover job run -check-index "$index" example.nomad
wait_until "three running allocations" running 3

sed -i 's/redis:3.2/redis:4.0/' example.nomad
step job plan -explain example.nomad "   (image redis:4.0)"
plan=$(drover job plan -explain example.nomad || true)
echo "$plan"
echo "$plan" | grep -q '(1 create/destroy update, 2 ignore)' || fail "plan: want 1 create/destroy update, 2 ignore"
index=$(echo "$plan" | sed -n 's/^Job Modify Index: //p')
step job run -check-index "$index" example.nomad
drover job run -check-index "$index" example.nomad
deployed() { drover job status example | grep -q 'Description = Deployment completed successfully' &&
  [ "$(drover job status example | grep -c '  2        run      running ')" = 3 ]; }
wait_until "the rolling update to finish" deployed

step status example
drover status example
first=$(drover job status example | awk '/  2        run      running /{print $1; exit}')
step alloc status "$first"
drover alloc status "$first"
step alloc logs "$first" redis
drover alloc logs "$first" redis

step job stop example
drover job stop example
wait_until "dead (stopped)" sh -c "'$work/drover' status | grep -q 'dead (stopped)'"
step status
drover status
echo
echo "== done"
