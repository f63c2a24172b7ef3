#!/usr/bin/env bash
# Runs the first tutorial's server-side story on an embedded dev agent,
# through the /v1 HTTP API: run the example job, plan and apply a scale
# from 1 to 3 with -check-index, then stop it. It prints the scheduler's
# decisions and why it made each. (This build has no client, so the
# allocations are placed but not started.) Needs go, curl and jq.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
port=${DROVER_DEMO_PORT:-24646}
addr="http://127.0.0.1:$port"
go build -o "$work/drover" ./cmd/drover
cat > "$work/ports.hcl" <<HCL
ports {
  http = $port
  rpc  = $((port + 1))
  serf = $((port + 2))
}
HCL

"$work/drover" agent -dev -config "$work/ports.hcl" > "$work/agent.log" 2>&1 &
agent=$!
trap 'kill -INT $agent 2>/dev/null; wait $agent 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do
  curl -sf "$addr/v1/status/leader" >/dev/null && break
  sleep 0.1
done
echo "== agent is up at $addr (leader $(curl -s "$addr/v1/status/leader"))"

cd "$work"
./drover job init -short
parse() { jq -Rs '{JobHCL: ., Canonicalize: true}' "$1" | curl -sf -XPOST "$addr/v1/jobs/parse" -d @-; }
wait_eval() {
  for _ in $(seq 100); do
    status=$(curl -s "$addr/v1/evaluation/$1" | jq -r .Status)
    [ "$status" = complete ] && break
    sleep 0.1
  done
  curl -s "$addr/v1/evaluation/$1" |
    jq -r '"   eval \(.ID[0:8]) \(.TriggeredBy): \(.Status), deployment \(.DeploymentID[0:8])",
           (.Decisions[]? | "     \(.Name) \(.Action): \(.Reason)")'
}

echo "== job run example.nomad"
eval_id=$(parse example.nomad | jq '{Job: ., EnforceIndex: true, JobModifyIndex: 0}' |
  curl -sf -XPOST "$addr/v1/jobs" -d @- | jq -r .EvalID)
wait_eval "$eval_id"

echo "== job plan with count = 3"
sed -i 's/group "cache" {/group "cache" {\n    count = 3/' example.nomad
plan=$(parse example.nomad | jq '{Job: ., Diff: true}' | curl -sf -XPOST "$addr/v1/job/example/plan" -d @-)
echo "$plan" | jq -r '"   Job Modify Index: \(.JobModifyIndex)",
  (.Annotations.DesiredTGUpdates | to_entries[] | "   group \(.key): \(.value | to_entries | map(select(.value > 0)) | map("\(.value) \(.key)") | join(", "))")'
index=$(echo "$plan" | jq .JobModifyIndex)

echo "== job run -check-index $index example.nomad"
eval_id=$(parse example.nomad | jq --argjson i "$index" '{Job: ., EnforceIndex: true, JobModifyIndex: $i}' |
  curl -sf -XPOST "$addr/v1/jobs" -d @- | jq -r .EvalID)
wait_eval "$eval_id"

echo "== job run -check-index $index example.nomad (again: the index moved on)"
parse example.nomad | jq --argjson i "$index" '{Job: ., EnforceIndex: true, JobModifyIndex: $i}' |
  curl -s -XPOST "$addr/v1/jobs" -d @- | sed 's/^/   refused: /'
echo

echo "== job stop example"
eval_id=$(curl -sf -XDELETE "$addr/v1/job/example" | jq -r .EvalID)
wait_eval "$eval_id"
curl -s "$addr/v1/job/example" | jq -r '"   job example: status \(.Status), stop \(.Stop), version \(.Version)"'
curl -s "$addr/v1/job/example/allocations" | jq -r '.[] | "   \(.ID[0:8]) \(.Name) version \(.JobVersion) desired \(.DesiredStatus)"'
