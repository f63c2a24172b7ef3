#!/usr/bin/env bash
# Compatibility suite: runs a Nomad-compatible CLI (by default the official
# `nomad` binary) against a Drover agent, replaying the commands of the
# getting-started tutorials and the cluster operations guide that Drover
# reproduces (job init, plan, run, run -check-index, status, alloc status,
# logs, eval status, deployment status, node status/-self, node-status,
# server members, node drain/node-drain, job stop), and checks each step's
# exit code and key output lines. It prints PASS or FAIL per step and a
# summary, and exits non-zero if any step failed.
#
# Usage: scripts/compat-cli.sh [-cli PATH]
#   -cli PATH     the CLI under test (default: $COMPAT_CLI, else `nomad` on PATH)
#   -cli drover   the drover binary this script has just built (what CI runs)
#
# How it runs: it builds drover (go build ./cmd/drover), starts a Drover dev
# agent (server and client in one process) on free loopback ports with its
# data in a temp dir, waits for /v1/agent/health, points NOMAD_ADDR at it and
# plays the steps in that temp dir. The agent is always stopped (by its PID)
# when the script exits, whether the steps passed or not. Only loopback is
# used, and no Docker: the example job that `job init` writes runs Redis in a
# Docker image that no registry here can provide, so the script replaces it
# with its own job of the same shape (job "example", group "cache" with a
# network port "db" mapped to 6379, task "redis") run by the raw_exec driver
# as a shell loop that writes a line to stdout and one to stderr every second.
#
# Why the official CLI is not built here: the machine's Go package policy
# (/work/.library/env/packages/go-partial.tsv) marks the module
# github.com/hashicorp/nomad as "not-to-use" ("not an open-source licence
# from v1.7.0 on"); only github.com/hashicorp/nomad/api is cleared. So the
# suite takes a binary the user supplies. With an official binary at hand:
#
#   scripts/compat-cli.sh -cli /path/to/nomad
#
# CI runs `scripts/compat-cli.sh -cli drover`, with Drover's own CLI (which
# takes the same commands) standing in for the official one, so that the
# harness itself is proven on every change.
#
# The expected exit codes and output lines follow the transcripts in the
# tutorials (Nomad 0.9 to 1.1) and what newer releases print; the patterns
# allow the differences between them (timestamps before the eval monitor's
# lines, `Task Resources` with or without a colon, the file name `job init`
# writes). Needs go, curl, and bash 4.
set -uo pipefail

usage() {
  echo "Usage: scripts/compat-cli.sh [-cli PATH|drover]" >&2
  exit 2
}
die() {
  echo "compat-cli: $*" >&2
  exit 1
}

cli=${COMPAT_CLI:-}
while [ $# -gt 0 ]; do
  case $1 in
    -cli | --cli)
      [ $# -ge 2 ] || usage
      cli=$2
      shift 2
      ;;
    -cli=* | --cli=*)
      cli=${1#*=}
      shift
      ;;
    -h | -help | --help)
      sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//;p}' "$0"
      exit 0
      ;;
    *) usage ;;
  esac
done

# Resolved before the cd below, so that a relative path means the caller's.
if [ -z "$cli" ]; then
  cli=$(command -v nomad) || die "no nomad on PATH: pass -cli /path/to/nomad (or -cli drover)"
elif [ "$cli" != drover ] && [[ $cli != */* ]]; then
  cli=$(command -v "$cli") || die "$cli: not found on PATH"
fi
if [ "$cli" != drover ]; then
  { [ -f "$cli" ] && [ -x "$cli" ]; } || die "$cli: not an executable file"
  cli=$(cd "$(dirname "$cli")" && pwd)/$(basename "$cli")
fi
cd "$(dirname "$0")/.." || exit 1

command -v go >/dev/null || die "go is not installed"
command -v curl >/dev/null || die "curl is not installed"

tmp=$(mktemp -d)
agent_pid=
# stop_agent stops the agent by its PID: TERM (a dev agent then stops its
# tasks), and KILL if it has not exited within 10 s.
stop_agent() {
  if [ -n "$agent_pid" ] && kill -0 "$agent_pid" 2>/dev/null; then
    kill "$agent_pid" 2>/dev/null
    for _ in $(seq 1 100); do
      kill -0 "$agent_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$agent_pid" 2>/dev/null && kill -KILL "$agent_pid" 2>/dev/null
    wait "$agent_pid" 2>/dev/null
  fi
  agent_pid=
}
cleanup() {
  # The jobs go first, through the API, so their raw_exec processes stop
  # even if the agent has to be killed.
  if [ -n "$agent_pid" ] && [ -n "${NOMAD_ADDR:-}" ]; then
    for job in example partial; do
      curl -fsS -m 5 -X DELETE "$NOMAD_ADDR/v1/job/$job?purge=true" >/dev/null 2>&1
    done
  fi
  stop_agent
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "==> Building drover"
go build -o "$tmp/drover" ./cmd/drover || die "go build failed"

[ "$cli" = drover ] && cli=$tmp/drover
echo "==> CLI under test: $cli"
"$cli" version 2>&1 | head -1 | sed 's/^/    /'

# --- the agent ----------------------------------------------------------

# free_port sets $port to a TCP port on 127.0.0.1 that nothing listens on,
# outside the range the agent hands out to tasks (20000-32000), and not in
# $taken (the ones picked before).
taken=" "
port=
free_port() {
  for _ in $(seq 1 200); do
    port=$((40000 + RANDOM % 20000))
    case $taken in *" $port "*) continue ;; esac
    if command -v ss >/dev/null; then
      ss -Htan "sport = :$port" 2>/dev/null | grep -q . && continue
    fi
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue
    taken="$taken$port "
    return 0
  done
  return 1
}

# start_agent starts the dev agent and waits until it is healthy and its
# node is ready; it fails if the agent exits (say, a port was taken in the
# meantime) or is not ready within 30 seconds.
start_agent() {
  local http rpc serf
  free_port && http=$port || return 1
  free_port && rpc=$port || return 1
  free_port && serf=$port || return 1
  rm -rf "$tmp/data"
  cat >"$tmp/agent.hcl" <<EOF
data_dir = "$tmp/data"
bind_addr = "127.0.0.1"
ports {
  http = $http
  rpc  = $rpc
  serf = $serf
}
EOF
  "$tmp/drover" agent -dev -config "$tmp/agent.hcl" >"$tmp/agent.log" 2>&1 &
  agent_pid=$!
  addr="http://127.0.0.1:$http"
  local end=$((SECONDS + 30))
  while [ $SECONDS -lt $end ]; do
    kill -0 "$agent_pid" 2>/dev/null || {
      wait "$agent_pid" 2>/dev/null
      agent_pid=
      return 1
    }
    if curl -fsS -m 2 "$addr/v1/agent/health" >/dev/null 2>&1 &&
      curl -fsS -m 2 "$addr/v1/nodes" 2>/dev/null | grep -q '"Status": *"ready"'; then
      return 0
    fi
    sleep 0.2
  done
  return 1
}

echo "==> Starting a Drover dev agent on loopback"
addr=''
started=
for _ in 1 2 3; do
  if start_agent; then
    started=1
    break
  fi
  stop_agent
done
if [ -z "$started" ]; then
  tail -n 30 "$tmp/agent.log" >&2
  die "the dev agent did not become healthy"
fi
echo "    NOMAD_ADDR=$addr (agent PID $agent_pid, data in $tmp/data)"

# Nothing from the caller's environment may point the CLI elsewhere.
for v in ADDR REGION NAMESPACE TOKEN CACERT CAPATH CLIENT_CERT CLIENT_KEY TLS_SERVER_NAME SKIP_VERIFY; do
  unset "NOMAD_$v" "DROVER_$v"
done
export NOMAD_ADDR="$addr" NOMAD_CLI_NO_COLOR=1 NOMAD_CLI_SHOW_HINTS=false
cd "$tmp" || die "cd $tmp"

# --- steps ----------------------------------------------------------------

pass=0
failed=()
name='' shown='' out='' errs=()

# run_cli runs the CLI under test, cut off after 60 seconds (exit 124).
run_cli() { timeout 60 "$cli" "$@"; }

# step NAME WANT-EXIT ARGS... runs the CLI with ARGS, keeps its stdout and
# stderr in $out, and checks the exit code and that no line starts with
# "Error". want/wantnot/count then check lines; done_step reports.
step() {
  name=$1
  local want=$2 rc=0
  shift 2
  shown="$(basename "$cli") $*"
  errs=()
  out=$(run_cli "$@" 2>&1) || rc=$?
  [ "$rc" = "$want" ] || errs+=("exit code $rc, want $want")
  if grep -q '^Error' <<<"$out"; then errs+=("a line starts with \"Error\""); fi
}
# probe NAME SHOWN OUTPUT: a step whose output is a direct API call's, for
# what the official CLI asks the agent but drover's own CLI does not.
probe() {
  name=$1 shown=$2 out=$3
  errs=()
}
want() { grep -Eq -- "$1" <<<"$out" || errs+=("no line matches /$1/"); }
wantnot() { if grep -Eq -- "$1" <<<"$out"; then errs+=("a line matches /$1/"); fi; }
# count N REGEX: exactly N lines match.
count() {
  local n
  n=$(grep -Ec -- "$2" <<<"$out")
  [ "$n" = "$1" ] || errs+=("$n lines match /$2/, want $1")
}
# capture REGEX-WITH-ONE-GROUP prints the group of the first matching line.
capture() { sed -nE "s/.*$1.*/\\1/p" <<<"$out" | head -n 1; }
fail_check() { errs+=("$*"); }
done_step() {
  if [ ${#errs[@]} -eq 0 ]; then
    printf 'PASS  %-34s $ %s\n' "$name" "$shown"
    pass=$((pass + 1))
    return
  fi
  printf 'FAIL  %-34s $ %s\n' "$name" "$shown"
  local e
  for e in "${errs[@]}"; do echo "        - $e"; done
  while IFS= read -r line; do echo "        | $line"; done <<<"$out"
  failed+=("$name")
}

# wait_until SECONDS WHAT COMMAND... reruns COMMAND until it succeeds; on a
# time-out it adds a failure to the current step.
wait_until() {
  local secs=$1 what=$2
  shift 2
  local end=$((SECONDS + secs))
  until "$@"; do
    if [ $SECONDS -ge $end ]; then
      errs+=("timed out after ${secs}s waiting for $what")
      return 1
    fi
    sleep 0.5
  done
}
# allocs_running N: the job's status lists exactly N running allocations.
allocs_running() {
  local n
  n=$(run_cli job status example 2>/dev/null | awk '/^Allocations/ {a = 1; next} a && $6 == "running"' | wc -l)
  [ "$n" -eq "$1" ]
}
allocs_none_running() { allocs_running 0; }
# cli_matches REGEX ARGS...: the CLI's output for ARGS has a line matching REGEX.
cli_matches() {
  local re=$1
  shift
  local got
  got=$(run_cli "$@" 2>&1)
  grep -Eq -- "$re" <<<"$got"
}

id8='[0-9a-f]{8}'
monitor_done='Evaluation "[0-9a-f]{8}" finished with status "complete"'

# 1. job init, then our raw_exec job in its place.
step "job init" 0 job init
want '^Example job file written to '
jobfile=$(capture '^Example job file written to (.+)$')
if [ -z "$jobfile" ] || [ ! -f "$jobfile" ]; then
  fail_check "no job file written"
  jobfile=example.nomad
else
  grep -Eq 'job "example"' "$jobfile" || fail_check "$jobfile has no job \"example\""
  grep -Eq 'group "cache"' "$jobfile" || fail_check "$jobfile has no group \"cache\""
  grep -Eq 'task "redis"' "$jobfile" || fail_check "$jobfile has no task \"redis\""
fi
done_step
if grep -Eq 'driver *= *"docker"' "$jobfile" 2>/dev/null; then
  echo "      note: $jobfile runs a Docker image, which no registry here provides; the steps run"
  echo "            the same job shape with the raw_exec driver instead"
fi
# A partial update block (only min_healthy_time, to keep the deployments
# short): the rest comes from the defaults, progress_deadline 10m included.
cat >"$jobfile" <<'EOF'
job "example" {
  datacenters = ["dc1"]

  update {
    min_healthy_time = "1s"
  }

  group "cache" {
    count = 1

    network {
      port "db" {
        to = 6379
      }
    }

    task "redis" {
      driver = "raw_exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "while true; do echo hi; echo err >&2; sleep 1; done"]
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
EOF

# 2. plan a new job: allocations would be created, so exit 1.
step "job plan (new job)" 1 job plan "$jobfile"
want '^\+ Job: "example"'
want '^\+ Task Group: "cache" \(1 create\)'
want '^- All tasks successfully allocated\.'
want '^Job Modify Index: 0$'
want "job run -check-index 0 $jobfile"
done_step

# 3. run it.
step "job run" 0 job run "$jobfile"
want "Monitoring evaluation \"$id8\""
want "Evaluation triggered by job \"example\""
count 1 "Allocation \"$id8\" created: node \"$id8\", group \"cache\""
want "$monitor_done"
first_eval=$(capture "Monitoring evaluation \"($id8)\"")
wait_until 30 "1 running allocation" allocs_running 1
done_step

# 4. count 1 -> 3: plan (exit 1, 2 create + 1 in-place), then run with its index.
sed -i 's/count = 1/count = 3/' "$jobfile"
step "job plan (count 1 -> 3)" 1 job plan "$jobfile"
want '^\+/- Job: "example"'
want '^\+/- Task Group: "cache" \(2 create, 1 in-place update\)'
want '^  \+/- Count: "1" => "3" \(forces create\)'
want '^- All tasks successfully allocated\.'
index=$(capture '^Job Modify Index: ([0-9]+)$')
[ -n "$index" ] || fail_check "no Job Modify Index"
want "job run -check-index $index $jobfile"
done_step
index=${index:-0}

step "job run -check-index <index>" 0 job run -check-index "$index" "$jobfile"
count 2 "Allocation \"$id8\" created: node \"$id8\", group \"cache\""
count 1 "Allocation \"$id8\" modified: node \"$id8\", group \"cache\""
want "$monitor_done"
deployment=$(capture "Evaluation within deployment: \"($id8)\"")
[ -n "$deployment" ] || fail_check "no \"Evaluation within deployment\" line"
wait_until 30 "3 running allocations" allocs_running 3
done_step

# 5. the same index again is stale now: refused, exit 1.
step "job run -check-index (stale)" 1 job run -check-index "$index" "$jobfile"
want "Enforcing job modify index $index: job exists with conflicting job modify index: [0-9]+"
want '^Job not updated'
done_step

# 6. nothing changed: plan exits 0.
step "job plan (unchanged)" 0 job plan "$jobfile"
want '^Job: "example"'
want '^Task Group: "cache" \(3 ignore\)'
done_step

# 7. the job list, then the job.
step "status" 0 status
want '^ID +Type +Priority +Status +Submit Date'
want '^example +service +50 +running '
done_step

job_status_checks() {
  want '^ID += example$'
  want '^Status += running$'
  want '^Summary'
  want '^cache +0 +0 +3 +0 +0 +0'
  want '^Latest Deployment'
  want '^Task Group +Desired +Placed +Healthy +Unhealthy +Progress Deadline'
  want '^Allocations'
  count 3 "^$id8 +$id8 +cache +1 +run +running "
}
step "status example" 0 status example
job_status_checks
done_step

# What the official CLI's `status <id>` asks the agent first (drover's own
# CLI resolves the ID without it).
probe "api: search for status <id>" \
  "curl -X PUT \$NOMAD_ADDR/v1/search -d '{\"Prefix\":\"example\",\"Context\":\"all\"}'" \
  "$(curl -sS -m 10 -X PUT -d '{"Prefix":"example","Context":"all"}' "$NOMAD_ADDR/v1/search" 2>&1)"
want '"jobs": *\[ *"example" *\]'
done_step

step "job status example" 0 job status example
job_status_checks
alloc=$(awk '/^Allocations/ {a = 1; next} a && $6 == "running" {print $1; exit}' <<<"$out")
[ -n "$alloc" ] || fail_check "no running allocation listed"
done_step
alloc=${alloc:-none}

# 8. the allocation.
step "alloc status <alloc>" 0 alloc status "$alloc"
want '^ID +=  ?[0-9a-f]{8}-'
want '^Name += example\.cache\[[0-2]\]$'
want '^Job ID += example$'
want '^Client Status += running$'
want '^Desired Status += run$'
want "^Deployment ID += $id8"
want '^Allocation Addresses'
want '^\*db +yes +127\.0\.0\.1:[0-9]+ -> 6379$'
want '^Task "redis" is "running"$'
want '^Task Resources:?$'
want '^CPU +Memory +Disk +Addresses'
want '^Task Events:'
want '^Recent Events:'
want 'Started +Task started by client'
done_step

has_line() { cli_matches "^$1\$" "${@:2}"; }
step "alloc logs <alloc> redis" 0 alloc logs "$alloc" redis
if ! grep -q '^hi$' <<<"$out"; then
  wait_until 15 "a line \"hi\" in the log" has_line hi alloc logs "$alloc" redis
  out=$(run_cli alloc logs "$alloc" redis 2>&1)
fi
want '^hi$'
wantnot '^err$'
done_step

step "logs -stderr <alloc>" 0 logs -stderr "$alloc"
want '^err$'
wantnot '^hi$'
done_step

step "logs -job -stderr example" 0 logs -job -stderr example
want '^err$'
wantnot '^hi$'
done_step

# 9. the first evaluation, the count-3 deployment.
first_eval=${first_eval:-none}
step "eval status <eval>" 0 eval status "$first_eval"
want "^ID += $first_eval"
want '^Status += complete$'
want '^Type += service$'
want '^TriggeredBy += job-register$'
want '^Job ID += example$'
want '^Priority += 50$'
want '^Placement Failures += false$'
done_step

deployment=${deployment:-none}
deployment_successful() { cli_matches '^Status += successful$' deployment status "$deployment"; }
step "deployment status <deployment>" 0 deployment status "$deployment"
if ! grep -Eq '^Status += successful$' <<<"$out"; then
  wait_until 30 "deployment $deployment to succeed" deployment_successful
  out=$(run_cli deployment status "$deployment" 2>&1)
fi
want "^ID += $deployment"
want '^Job ID += example$'
want '^Job Version += 1$'
want '^Status += successful$'
want '^Description += Deployment completed successfully$'
want '^Task Group +Desired +Placed +Healthy +Unhealthy +Progress Deadline$'
want '^cache +3 +3 +3 +0 +[0-9]{4}-[0-9]{2}-[0-9]{2}T'
done_step

# 10. the node, spaced and hyphenated.
node_list_checks() {
  want '^ID +.*DC +Name +Class +Drain +Eligibility +Status$'
  count 1 "^$id8 .* false +eligible +ready$"
}
node_self_checks() {
  want '^ID += [0-9a-f]{8}-'
  want '^Status += ready$'
  want '^Drain += false$'
  want '^Eligibility += eligible$'
  want '^Driver Status += .*raw_exec'
  want '^Allocated Resources'
  want '^Allocations'
}
step "node status" 0 node status
node_list_checks
done_step
step "node status -self" 0 node status -self
node_self_checks
node=$(capture '^ID += ([0-9a-f-]{36})$')
[ -n "$node" ] || fail_check "no node ID"
done_step
node=${node:-none}
step "node-status" 0 node-status
node_list_checks
done_step
step "node-status -self" 0 node-status -self
node_self_checks
done_step

# 11. the servers.
step "server members" 0 server members
want '^Name +Address +Port +Status +Leader +Raft Version +Build +Datacenter +Region$'
count 1 '^[^ ]+\.global +127\.0\.0\.1 +[0-9]+ +alive +true +[0-9]+ +[^ ]+ +dc1 +global$'
done_step

# 12. drain the node. A one-node cluster has nowhere to move the
# allocations, so the drain gets a short deadline, after which they are
# stopped and the drain completes (with the default 1h the monitor waits an hour).
step "node drain -self -enable -yes" 0 node drain -self -enable -yes -deadline 3s
want "Node \"$node\" drain strategy set"
want "Drain complete for node $node"
want "All allocations on node \"$node\" have stopped"
done_step

step "node-status -self (drained)" 0 node-status -self
want '^Status += ready$'
want '^Eligibility += ineligible$'
done_step

eligible_again() { cli_matches '^Eligibility += eligible$' node status -self; }
step "node-drain -disable -yes <node>" 0 node-drain -disable -yes "$node"
want "^Node \"$node\" drain strategy unset$"
wait_until 15 "the node to be eligible" eligible_again
wait_until 30 "3 running allocations again" allocs_running 3
done_step

# The operations guide's remote form; -detach, as the monitor would wait the
# default deadline out (1h).
step "node-drain -enable -yes -detach <node>" 0 node-drain -enable -yes -detach "$node"
want "^Node \"$node\" drain strategy set$"
done_step

step "node-status -self (draining)" 0 node-status -self
want '^Drain += true'
want '^Eligibility += ineligible$'
done_step

step "node drain -self -disable -yes" 0 node drain -self -disable -yes
want "^Node \"$node\" drain strategy unset$"
wait_until 15 "the node to be eligible" eligible_again
done_step

# 13. stop the job.
step "job stop example" 0 job stop example
want "Monitoring evaluation \"$id8\""
want "$monitor_done"
wait_until 30 "no running allocation" allocs_none_running
done_step

step "status example (stopped)" 0 status example
want '^Status += dead \(stopped\)$'
wantnot "^$id8 +$id8 +cache +[0-9]+ +run "
done_step

# 14. What the official CLI sends for a job with a partial update block:
# it parses the file itself and posts the blocks as written, so the agent
# fills in the rest (max_parallel 1, progress_deadline 10m, ...) and the
# job gets a deployment with a progress deadline. (The same job file run
# by drover's own CLI reaches the agent with the defaults filled in.)
cat >partial.json <<'EOF'
{"Job": {"ID": "partial", "Name": "partial", "Datacenters": ["dc1"],
  "Update": {"MinHealthyTime": 1000000000},
  "TaskGroups": [{"Name": "cache", "Count": 1,
    "Networks": [{"DynamicPorts": [{"Label": "db", "To": 6379}]}],
    "Tasks": [{"Name": "redis", "Driver": "raw_exec",
      "Config": {"command": "/bin/sh", "args": ["-c", "while true; do echo hi; sleep 1; done"]},
      "Resources": {"CPU": 100, "MemoryMB": 64}}]}]}}
EOF
probe "api: job with a partial update" "curl -X PUT \$NOMAD_ADDR/v1/jobs -d @partial.json" \
  "$(curl -sS -m 10 -X PUT -d @partial.json "$NOMAD_ADDR/v1/jobs" 2>&1)"
want '"EvalID": *"[0-9a-f-]{36}"'
partial_running() { cli_matches "^$id8 +$id8 +cache +0 +run +running " job status partial; }
wait_until 30 "job partial's allocation to run" partial_running
done_step

deployed_row='^cache +1 +1 +1 +0 +[0-9]{4}-[0-9]{2}-[0-9]{2}T'
partial_deployed() { cli_matches "$deployed_row" job status partial; }
step "job status partial" 0 job status partial
if ! grep -Eq "$deployed_row" <<<"$out"; then
  wait_until 15 "a successful deployment with a progress deadline" partial_deployed
  out=$(run_cli job status partial 2>&1)
fi
want '^Status += running$'
want '^Latest Deployment'
want '^Task Group +Desired +Placed +Healthy +Unhealthy +Progress Deadline$'
want "$deployed_row"
done_step

echo
echo "==> ${pass} passed, ${#failed[@]} failed ($(basename "$cli") against the Drover agent at $NOMAD_ADDR)"
if [ ${#failed[@]} -gt 0 ]; then
  printf '    FAILED: %s\n' "${failed[@]}"
  exit 1
fi
