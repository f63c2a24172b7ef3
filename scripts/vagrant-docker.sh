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
# With KIT_SECURITY=acl or acl+tls, the kit comes up from a copy of
# cluster.yaml with that security line (DROVER_CLUSTER names it to the
# Vagrantfile), and also:
#   - the server keeps the management token in /etc/drover.d/bootstrap.token,
#     root's alone
#   - from the host, a request without a token is refused (403), and with
#     acl+tls one without the student's CLI certificate is refused at the
#     TLS handshake; with the token and the certificate (.drover/pki, where
#     provisioning made it) the checks above pass over HTTPS
# Needs root (debootstrap, once), docker, vagrant. Run by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

security=${KIT_SECURITY:-none}
case $security in
  none | acl | acl+tls) ;;
  *) echo "vagrant-docker: KIT_SECURITY must be none, acl or acl+tls, not $security" >&2; exit 2 ;;
esac

log=$(mktemp -d)
fail() { echo "vagrant-docker: FAIL: $*" >&2; exit 1; }
cluster=cluster.yaml
pki_made=no
cleanup() {
  vagrant destroy -f >"$log/destroy-trap" 2>&1 || cat "$log/destroy-trap" >&2
  rm -rf "$log"
  if [ "$cluster" != cluster.yaml ]; then
    rm -f "$cluster"
    # The lab CA this run made (an earlier one is the student's: kept).
    [ "$pki_made" = no ] || rm -rf "$pki_made"
  fi
}
trap cleanup EXIT

if [ "$security" != none ]; then
  # The copy sits beside cluster.yaml: the machines read it, and make the
  # lab CA beside it, through the synced folder, the project's directory.
  cluster=$(mktemp --suffix=.yaml .cluster-ci-XXXXXX)
  if [ ! -d .drover ]; then pki_made=.drover; elif [ ! -d .drover/pki ]; then pki_made=.drover/pki; fi
  grep -v '^security:' cluster.yaml >"$cluster"
  printf '\n# KIT_SECURITY, for scripts/vagrant-docker.sh\nsecurity: %s\n' "$security" >>"$cluster"
  export DROVER_CLUSTER=$cluster
fi

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

"$drover" cluster validate -f "$cluster" >/dev/null || fail "$cluster is not valid"

echo "==> vagrant up --provider=docker (security: $security, API on 127.0.0.1:$port)"
start=$SECONDS
vagrant up --provider=docker --no-parallel 2>&1 | tee "$log/up"
[ "${PIPESTATUS[0]}" -eq 0 ] || fail "vagrant up"
echo "==> up in $((SECONDS - start))s"

echo "==> the machines are cluster.yaml's"
# name hostname ip ram, servers first, from the cluster file itself.
"$drover" cluster validate -f "$cluster" | awk 'NR > 2 {print $1, $3, $4, $5}' >"$log/want"
while read -r name _; do
  docker inspect -f "$name {{.Config.Hostname}} {{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}{{.HostConfig.Memory}} {{.Created}}" "drover-$name"
done <"$log/want" >"$log/got.raw"
# IPs: keep the lab network's (not the default bridge's); memory in MiB.
awk '{for (i = 3; i < NF - 1; i++) if ($i !~ /^172\.17\./) ip = $i; print $1, $2, ip, $(NF-1) / 1048576, $NF}' "$log/got.raw" >"$log/got"
diff <(cut -d' ' -f1-4 "$log/want") <(cut -d' ' -f1-4 "$log/got") || fail "machines differ from cluster.yaml (want, got above)"
sort -k5 "$log/got" | awk '{print $1}' >"$log/created"
diff <(awk '{print $1}' "$log/want") "$log/created" || fail "machines were not created in cluster.yaml's order, server first"
cat "$log/got"

# The CLI's flags to reach the server from the host, as the student would.
api=(-address "http://127.0.0.1:$port")
if [ "$security" != none ]; then
  echo "==> security $security: the server keeps the management token"
  server=$(awk 'NR == 1 {print $1}' "$log/want")
  kept=$(docker exec "drover-$server" stat -c '%a %U' /etc/drover.d/bootstrap.token) || fail "the server keeps no /etc/drover.d/bootstrap.token"
  [ "$kept" = "600 root" ] || fail "/etc/drover.d/bootstrap.token is $kept, want 600 root"
  token=$(docker exec "drover-$server" cat /etc/drover.d/bootstrap.token)
  [ -n "$token" ] || fail "/etc/drover.d/bootstrap.token is empty"
  grep -q 'export NOMAD_TOKEN=' "$log/up" || fail "provisioning did not print the management token once"
  if [ "$security" = acl+tls ]; then
    api=(-address "https://127.0.0.1:$port" -ca-cert .drover/pki/ca.pem)
    echo "==> without the CLI certificate: refused at the handshake"
    if "$drover" node status "${api[@]}" -token "$token" >"$log/nocert" 2>&1; then fail "a request without a client certificate succeeded"; fi
    cat "$log/nocert"
    grep -q 'certificate' "$log/nocert" || fail "a request without a client certificate failed otherwise"
    api+=(-client-cert .drover/pki/cli.pem -client-key .drover/pki/cli-key.pem)
  fi
  echo "==> without a token: 403"
  if "$drover" node status "${api[@]}" >"$log/anonymous" 2>&1; then fail "an anonymous request succeeded"; fi
  cat "$log/anonymous"
  grep -q '403 (Permission denied)' "$log/anonymous" || fail "an anonymous request failed otherwise"
  api+=(-token "$token")
fi

echo "==> one server, two ready clients"
"$drover" server members "${api[@]}" | tee "$log/members"
[ "$(grep -c ' alive .* true ' "$log/members")" -eq 1 ] || fail "no single alive leader"
# With ACLs on, provisioning a client waits for its agent, not its node.
deadline=$((SECONDS + 60))
for client in client-one client-two; do
  until "$drover" node status "${api[@]}" >"$log/nodes" 2>&1 &&
    awk -v c="$client" '$3 == c && $NF == "ready" {ok = 1} END {exit !ok}' "$log/nodes"; do
    [ $SECONDS -lt $deadline ] || { cat "$log/nodes"; fail "$client is not ready"; }
    sleep 1
  done
done
cat "$log/nodes"

echo "==> vagrant provision again: no change"
vagrant provision 2>&1 | tee "$log/provision"
[ "${PIPESTATUS[0]}" -eq 0 ] || fail "vagrant provision"
[ "$(grep -c 'provision: no change' "$log/provision")" -eq 3 ] || fail "a second provision changed something"
if grep -E 'provision: (installed|wrote|started|restarted|enabled|created|removed|bootstrapped)' "$log/provision"; then
  fail "a second provision changed something"
fi
if grep -q 'export NOMAD_TOKEN=' "$log/provision"; then fail "a second provision printed the management token again"; fi

echo "==> vagrant destroy -f"
vagrant destroy -f 2>&1 | tee "$log/destroy"
[ "${PIPESTATUS[0]}" -eq 0 ] || fail "vagrant destroy"
left=$(docker ps -aq --filter label=io.drover.vagrant)
[ -z "$left" ] || fail "machines left: $left"
if docker network ls --format '{{.Name}}' | grep -q '^vagrant_network_'; then fail "a vagrant network is left"; fi
echo "vagrant-docker: PASS (security: $security; 3 machines up in $((SECONDS - start))s including checks; provision idempotent; destroy clean)"
