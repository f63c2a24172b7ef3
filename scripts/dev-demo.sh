#!/usr/bin/env bash
# The first tutorial, end to end, on an embedded dev agent (server and
# client in one process) with real Docker containers, through the /v1
# HTTP API: job init; job run; job plan with count = 3 and run
# -check-index; a rolling image update redis:3.2 -> redis:4.0 with
# max_parallel 1; alloc logs; job stop. Each step checks the allocation
# outcome it expects and prints the scheduler's reasons.
#
# No registry is reachable here, so the script builds a tiny stand-in for
# Redis (testutil/tinyredis, FROM scratch) and tags it redis:3.2 and
# redis:4.0 when those images are not already present. To keep the demo
# short, min_healthy_time is lowered from 10s to 2s. Needs go, docker,
# curl and jq.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

work=$(mktemp -d)
port=${DROVER_DEMO_PORT:-24646}
addr="http://127.0.0.1:$port"
fail() { echo "FAILED: $*" >&2; echo "--- agent log ---" >&2; tail -40 "$work/agent.log" >&2 || true; exit 1; }

echo "== building drover and the stand-in redis image"
go build -o "$work/drover" ./cmd/drover
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
"$work/drover" agent -dev -config "$work/ports.hcl" > "$work/agent.log" 2>&1 &
agent=$!
cleanup() {
  kill -INT "$agent" 2>/dev/null || true
  wait "$agent" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 150); do
  curl -sf "$addr/v1/status/leader" >/dev/null && break
  sleep 0.2
done
curl -sf "$addr/v1/status/leader" >/dev/null || fail "the agent did not start"
echo "== dev agent up at $addr"

cd "$work"
./drover job init
sed -i 's/min_healthy_time  = "10s"/min_healthy_time  = "2s"/' example.nomad

parse() { jq -Rs '{JobHCL: ., Canonicalize: true}' example.nomad | curl -sf -XPOST "$addr/v1/jobs/parse" -d @-; }
register() { parse | jq --argjson i "$1" '{Job: ., EnforceIndex: true, JobModifyIndex: $i}' | curl -sf -XPOST "$addr/v1/jobs" -d @-; }
show_eval() {
  for _ in $(seq 100); do
    [ "$(curl -s "$addr/v1/evaluation/$1" | jq -r .Status)" = complete ] && break
    sleep 0.1
  done
  curl -s "$addr/v1/evaluation/$1" | jq -r '"==> Evaluation \"\(.ID[0:8])\" (\(.TriggeredBy)) finished with status \"\(.Status)\"",
      (.Decisions[]? | "    \(.Name) \(.Action): \(.Reason)")'
}
# wait_for <description> <jq filter over the job's allocations that must be true>
wait_for() {
  for _ in $(seq 300); do
    curl -s "$addr/v1/job/example/allocations" | jq -e "$2" >/dev/null && return 0
    sleep 0.2
  done
  fail "$1"
}
allocs() {
  curl -s "$addr/v1/job/example/allocations" |
    jq -r 'sort_by(.Name, -.CreateIndex)[] | "    \(.ID[0:8])  \(.Name)  version \(.JobVersion)  \(.DesiredStatus)/\(.ClientStatus)"'
}
running='[.[] | select(.DesiredStatus == "run" and .ClientStatus == "running")]'

echo "== job run example.nomad"
show_eval "$(register 0 | jq -r .EvalID)"
wait_for "one running allocation" "$running | length == 1"
allocs

echo "== job plan (count = 3)"
sed -i 's/count = 1/count = 3/' example.nomad
plan=$(parse | jq '{Job: ., Diff: true}' | curl -sf -XPOST "$addr/v1/job/example/plan" -d @-)
echo "$plan" | jq -r '.Annotations.DesiredTGUpdates.cache | "    cache: \(.Place) create, \(.InPlaceUpdate) in-place update"'
[ "$(echo "$plan" | jq '.Annotations.DesiredTGUpdates.cache | [.Place, .InPlaceUpdate]')" = "$(jq -n '[2,1]')" ] ||
  fail "plan: want 2 create, 1 in-place update"
index=$(echo "$plan" | jq .JobModifyIndex)
echo "== job run -check-index $index example.nomad"
show_eval "$(register "$index" | jq -r .EvalID)"
wait_for "three running allocations of version 1" "$running | length == 3 and all(.JobVersion == 1)"
allocs

echo "== job plan (image redis:3.2 -> redis:4.0)"
sed -i 's/redis:3.2/redis:4.0/' example.nomad
plan=$(parse | jq '{Job: ., Diff: true}' | curl -sf -XPOST "$addr/v1/job/example/plan" -d @-)
echo "$plan" | jq -r '.Annotations.DesiredTGUpdates.cache | "    cache: \(.DestructiveUpdate) create/destroy update, \(.Ignore) ignore"'
[ "$(echo "$plan" | jq '.Annotations.DesiredTGUpdates.cache | [.DestructiveUpdate, .Ignore]')" = "$(jq -n '[1,2]')" ] ||
  fail "plan: want 1 create/destroy update, 2 ignore"
index=$(echo "$plan" | jq .JobModifyIndex)
echo "== job run -check-index $index example.nomad (a rolling update, one at a time)"
show_eval "$(register "$index" | jq -r .EvalID)"
wait_for "three running allocations of version 2" "$running | length == 3 and all(.JobVersion == 2)"
allocs
for _ in $(seq 100); do
  [ "$(curl -s "$addr/v1/job/example/deployment" | jq -r .Status)" = successful ] && break
  sleep 0.2
done
curl -s "$addr/v1/job/example/deployment" |
  jq -e -r '"    deployment \(.ID[0:8]): \(.Status) - \(.StatusDescription)", if .Status != "successful" then error("deployment not successful") else empty end' ||
  fail "the rolling update's deployment did not succeed"

first=$(curl -s "$addr/v1/job/example/allocations" | jq -r "$running | .[0].ID")
echo "== alloc logs ${first:0:8} redis"
curl -s "$addr/v1/client/fs/logs/$first?task=redis&type=stdout&plain=true" | sed 's/^/    /'

echo "== job stop example"
show_eval "$(curl -sf -XDELETE "$addr/v1/job/example" | jq -r .EvalID)"
wait_for "every allocation complete" '[.[] | select(.ClientStatus != "complete")] | length == 0'
curl -s "$addr/v1/job/example" | jq -r '"    Status = \(.Status)\(if .Stop then " (stopped)" else "" end)"'
allocs
echo "== done"
