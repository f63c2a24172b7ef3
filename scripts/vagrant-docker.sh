#!/usr/bin/env bash
# The kit's `vagrant up` for real, without VirtualBox: the shipped
# Vagrantfile and cluster.yaml with Vagrant's docker provider, each machine
# a container booting systemd and sshd from a box image built here
# (scripts/box/build.sh: debootstrap + docker import, cached), provisioned
# by scripts/provision.sh. Checks, then cleans up whatever happens:
#   - three machines, created server first, with cluster.yaml's hostnames,
#     addresses and memory; one server, two ready clients
#   - a second `vagrant provision` reports no change on every machine
#   - `vagrant destroy -f` leaves no machine, task or network behind
# Needs root (debootstrap, once), docker, vagrant. Run by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp -d)
fail() { echo "vagrant-docker: FAIL: $*" >&2; exit 1; }
cleanup() {
  vagrant destroy -f >"$log/destroy-trap" 2>&1 || cat "$log/destroy-trap" >&2
  rm -rf "$log"
}
trap cleanup EXIT

# The API port forwarded to the host: the first one nothing answers on.
port=14646
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
# The default provider too, so that the cleanup's destroy needs no VirtualBox.
export DROVER_HTTP_PORT=$port VAGRANT_DEFAULT_PROVIDER=docker VAGRANT_CHECKPOINT_DISABLE=1 VAGRANT_NO_COLOR=1

echo "==> Box image"
bash scripts/box/build.sh
echo "==> drover for the machines"
case $(uname -m) in aarch64 | arm64) arch=arm64 ;; *) arch=amd64 ;; esac
bash scripts/build.sh "$arch"
drover=bin/drover-linux-$arch

echo "==> vagrant up --provider=docker (API on 127.0.0.1:$port)"
start=$SECONDS
vagrant up --provider=docker --no-parallel 2>&1 | tee "$log/up"
[ "${PIPESTATUS[0]}" -eq 0 ] || fail "vagrant up"
echo "==> up in $((SECONDS - start))s"

echo "==> the machines are cluster.yaml's"
# name hostname ip ram, servers first, from the cluster file itself.
"$drover" cluster validate | awk 'NR > 2 {print $1, $3, $4, $5}' >"$log/want"
while read -r name _; do
  docker inspect -f "$name {{.Config.Hostname}} {{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}{{.HostConfig.Memory}} {{.Created}}" "drover-$name"
done <"$log/want" >"$log/got.raw"
# IPs: keep the lab network's (not the default bridge's); memory in MiB.
awk '{for (i = 3; i < NF - 1; i++) if ($i !~ /^172\.17\./) ip = $i; print $1, $2, ip, $(NF-1) / 1048576, $NF}' "$log/got.raw" >"$log/got"
diff <(cut -d' ' -f1-4 "$log/want") <(cut -d' ' -f1-4 "$log/got") || fail "machines differ from cluster.yaml (want, got above)"
sort -k5 "$log/got" | awk '{print $1}' >"$log/created"
diff <(awk '{print $1}' "$log/want") "$log/created" || fail "machines were not created in cluster.yaml's order, server first"
cat "$log/got"

echo "==> one server, two ready clients"
"$drover" server members -address "http://127.0.0.1:$port" | tee "$log/members"
[ "$(grep -c ' alive .* true ' "$log/members")" -eq 1 ] || fail "no single alive leader"
"$drover" node status -address "http://127.0.0.1:$port" | tee "$log/nodes"
for client in client-one client-two; do
  awk -v c="$client" '$3 == c && $NF == "ready" {ok = 1} END {exit !ok}' "$log/nodes" || fail "$client is not ready"
done

echo "==> vagrant provision again: no change"
vagrant provision 2>&1 | tee "$log/provision"
[ "${PIPESTATUS[0]}" -eq 0 ] || fail "vagrant provision"
[ "$(grep -c 'provision: no change' "$log/provision")" -eq 3 ] || fail "a second provision changed something"
if grep -E 'provision: (installed|wrote|started|restarted|enabled|created|removed)' "$log/provision"; then
  fail "a second provision changed something"
fi

echo "==> vagrant destroy -f"
vagrant destroy -f 2>&1 | tee "$log/destroy"
[ "${PIPESTATUS[0]}" -eq 0 ] || fail "vagrant destroy"
left=$(docker ps -aq --filter label=io.drover.vagrant)
[ -z "$left" ] || fail "machines left: $left"
if docker network ls --format '{{.Name}}' | grep -q '^vagrant_network_'; then fail "a vagrant network is left"; fi
echo "vagrant-docker: PASS (3 machines up in $((SECONDS - start))s including checks; provision idempotent; destroy clean)"
