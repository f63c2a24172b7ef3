#!/usr/bin/env bash
# Provisions one machine of the Drover lab cluster; Vagrant runs it as
# root on every machine (vagrant up, vagrant provision). It is idempotent:
# each step changes only what differs, and a run that changes nothing
# ends with "provision: no change".
#
#   provision.sh <machine name> [cluster.yaml]
#
# 1. installs /usr/local/bin/drover from bin/ (scripts/build.sh on the host)
# 2. renders /etc/drover.d/<role>.hcl with `drover cluster render`: the
#    machine's own address, name and network interface; data in /opt/drover
#    (DROVER_DATA_DIR and DROVER_TASK_NETWORK override the data directory and
#    make tasks use the host's Docker, for machines that are containers)
# 3. on clients, installs Docker from the distribution's packages, its
#    bridge and address pools kept off the lab network
# 4. installs and starts the drover systemd unit (where systemd is not
#    PID 1, a plain background process with a pid file)
# 5. waits until the agent answers and, on a client, until its node is ready
set -euo pipefail

machine=${1:?usage: provision.sh <machine name> [cluster.yaml]}
cluster=${2:-/vagrant/cluster.yaml}
src=$(dirname "$cluster")
# Docker's own bridge inside the machine; never the lab network, and never
# 172.17.0.0/16, which the host's Docker may use for the machines themselves.
docker_bip=${DROVER_DOCKER_BIP:-10.251.0.1/24}
docker_pool=${DROVER_DOCKER_POOL:-10.252.0.0/16}

changes=0
changed() { changes=$((changes + 1)); echo "provision: $*"; }
die() { echo "provision: $*" >&2; exit 1; }
have_systemd() { [ -d /run/systemd/system ]; }

# --- 1. the drover binary ---------------------------------------------------
case $(uname -m) in
  x86_64 | amd64) goarch=amd64 ;;
  aarch64 | arm64) goarch=arm64 ;;
  *) die "no drover build for $(uname -m)" ;;
esac
bin="$src/bin/drover-linux-$goarch"
[ -x "$bin" ] || die "$bin is missing: run scripts/build.sh on the host, then vagrant provision"
restart=no
if ! cmp -s "$bin" /usr/local/bin/drover; then
  install -m 0755 "$bin" /usr/local/bin/drover.new
  mv /usr/local/bin/drover.new /usr/local/bin/drover
  changed "installed $(/usr/local/bin/drover version) as /usr/local/bin/drover"
  restart=yes
fi

# --- 2. the agent's configuration -------------------------------------------
data_dir=${DROVER_DATA_DIR:-/opt/drover}
rendered=$(/usr/local/bin/drover cluster render -f "$cluster" -node "$machine" -interface auto \
  -data-dir "$data_dir" -task-network "${DROVER_TASK_NETWORK:-}" -out /etc/drover.d)
case $rendered in
  *wrote*) changed "$rendered"; restart=yes ;;
esac
# The first line is the agent's file; with security: acl+tls the lab CA's
# files follow it (made in $src/.drover/pki, shared by every machine).
role=$(printf '%s\n' "$rendered" | head -n 1)
role=${role##*/}
role=${role%.hcl}
for other in server client; do
  # A machine whose role changed in cluster.yaml keeps only the new file.
  if [ "$other" != "$role" ] && [ -f "/etc/drover.d/$other.hcl" ]; then
    rm -f "/etc/drover.d/$other.hcl"
    changed "removed /etc/drover.d/$other.hcl"
    restart=yes
  fi
done
if [ ! -d "$data_dir" ]; then
  install -d -m 0700 "$data_dir"
  changed "created $data_dir"
fi
checked=$(/usr/local/bin/drover config validate /etc/drover.d 2>&1) || die "the rendered configuration is not valid: $checked"
ip=$(sed -n 's/^bind_addr = "\(.*\)"$/\1/p' "/etc/drover.d/$role.hcl")

# --- 3. Docker, on clients (servers run no tasks) ---------------------------
# A machine that is itself a container (the docker provider) has the host's
# Docker socket instead: nothing to install or start.
setup_docker() {
  if ! command -v dockerd >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
    changed "installed docker.io"
  fi
  mkdir -p /etc/docker
  daemon_json=$(printf '{\n  "bip": "%s",\n  "default-address-pools": [{"base": "%s", "size": 24}]\n}\n' "$docker_bip" "$docker_pool")
  docker_restart=no
  if [ "$(cat /etc/docker/daemon.json 2>/dev/null)" != "$daemon_json" ]; then
    printf '%s\n' "$daemon_json" >/etc/docker/daemon.json
    changed "wrote /etc/docker/daemon.json (bridge $docker_bip, pools $docker_pool)"
    docker_restart=yes
  fi
  if have_systemd; then
    for unit in containerd docker; do
      if [ "$(systemctl is-enabled "$unit" 2>/dev/null)" = masked ]; then
        systemctl unmask "$unit" >/dev/null 2>&1
        changed "unmasked $unit"
      fi
      if ! systemctl is-enabled --quiet "$unit" 2>/dev/null; then
        systemctl enable "$unit" >/dev/null 2>&1
        changed "enabled $unit"
      fi
    done
    if ! systemctl is-active --quiet docker; then
      systemctl start docker || die "docker did not start: $(journalctl -u docker --no-pager -n 20 2>/dev/null)"
      changed "started docker"
    elif [ "$docker_restart" = yes ]; then
      systemctl restart docker
      changed "restarted docker"
    fi
  fi
}
if [ "$role" = server ]; then
  :
elif [ -n "${DROVER_TASK_NETWORK:-}" ]; then
  [ -S /var/run/docker.sock ] || die "DROVER_TASK_NETWORK is set but /var/run/docker.sock is not mounted"
else
  setup_docker
fi

# --- 4. the service ---------------------------------------------------------
# $MAINPID is systemd's, not the shell's.
# shellcheck disable=SC2016
unit='[Unit]
Description=Drover agent (Nomad-compatible)
Documentation=file:///vagrant/README.md
Wants=network-online.target
After=network-online.target docker.service

[Service]
ExecStart=/usr/local/bin/drover agent -config /etc/drover.d
ExecReload=/bin/kill -HUP $MAINPID
KillMode=process
KillSignal=SIGINT
Restart=on-failure
RestartSec=2
LimitNOFILE=65536
StandardOutput=append:/var/log/drover.log
StandardError=append:/var/log/drover.log

[Install]
WantedBy=multi-user.target'
if have_systemd; then
  if [ "$(cat /etc/systemd/system/drover.service 2>/dev/null)" != "$unit" ]; then
    printf '%s\n' "$unit" >/etc/systemd/system/drover.service
    systemctl daemon-reload
    changed "installed /etc/systemd/system/drover.service"
  fi
  if ! systemctl is-enabled --quiet drover; then
    systemctl enable drover >/dev/null 2>&1
    changed "enabled drover"
  fi
  if ! systemctl is-active --quiet drover; then
    systemctl start drover
    changed "started drover"
  elif [ "$restart" = yes ]; then
    systemctl restart drover
    changed "restarted drover"
  fi
else
  # No systemd (a plain container): a background process and a pid file.
  pid=$(cat /run/drover.pid 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ "$restart" = yes ]; then
    kill -INT "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    pid=
  fi
  if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
    nohup /usr/local/bin/drover agent -config /etc/drover.d >>/var/log/drover.log 2>&1 &
    echo $! >/run/drover.pid
    changed "started drover (pid $!, no systemd)"
  fi
fi

# --- 5. wait until it works -------------------------------------------------
wait_for() { # <what> <command...>
  local what=$1 deadline=$((SECONDS + ${DROVER_WAIT:-120}))
  shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "$what: still not after ${DROVER_WAIT:-120}s; see /var/log/drover.log"
    sleep 1
  done
}
name=$(sed -n 's/^name = "\(.*\)"$/\1/p' "/etc/drover.d/$role.hcl")
# cluster.yaml's security: the agent's own certificate opens its HTTPS API.
scheme=http
tls_flags=()
if grep -q '^tls {' "/etc/drover.d/$role.hcl"; then
  scheme=https
  tls_flags=(-ca-cert /etc/drover.d/tls/ca.pem -client-cert /etc/drover.d/tls/agent.pem -client-key /etc/drover.d/tls/agent-key.pem)
fi
acl=no
grep -q '^acl {' "/etc/drover.d/$role.hcl" && acl=yes
token_file=/etc/drover.d/bootstrap.token
# bootstrap_once: the management token, made once and kept in $token_file
# (root only). A second bootstrap is refused by the cluster: the kept token
# is reused.
bootstrap_once() {
  [ -s "$token_file" ] && return 0
  local out
  if out=$(/usr/local/bin/drover acl bootstrap -address "$scheme://$ip:4646" "${tls_flags[@]}" 2>&1); then
    (umask 077 && printf '%s\n' "$out" | sed -n 's/^Secret ID *= *//p' >"$token_file")
    changed "bootstrapped ACLs; the management token is kept in $token_file"
    bootstrapped=yes
    return 0
  fi
  case $out in
    *"bootstrap already done"*) die "ACLs were bootstrapped already, but $token_file is missing: see the README's access control section to reset the bootstrap" ;;
  esac
  return 1
}
bootstrapped=no
if [ "$role" = server ]; then
  if [ "$acl" = yes ]; then
    wait_for "ACL bootstrap on the server at $ip" bootstrap_once
    NOMAD_TOKEN=$(cat "$token_file")
    export NOMAD_TOKEN
  fi
  wait_for "the server at $ip answers with a leader" \
    sh -c "/usr/local/bin/drover server members -address $scheme://$ip:4646 ${tls_flags[*]} | grep -q ' alive .* true '"
  state="server $name answers at $scheme://$ip:4646"
  if [ "$bootstrapped" = yes ]; then
    echo "provision: the management token (shown this once; the server keeps it in $token_file):"
    echo "    export NOMAD_TOKEN=$NOMAD_TOKEN"
    echo "    export NOMAD_ADDR=$scheme://$ip:4646"
    if [ "$scheme" = https ]; then
      echo "    export NOMAD_CACERT=\$PWD/.drover/pki/ca.pem"
      echo "    export NOMAD_CLIENT_CERT=\$PWD/.drover/pki/cli.pem"
      echo "    export NOMAD_CLIENT_KEY=\$PWD/.drover/pki/cli-key.pem"
      echo "  (\$PWD: the kit's folder on your machine, where the Vagrantfile is)"
    fi
  fi
elif [ "$acl" = yes ]; then
  # Only the server holds a token: a client waits until its own agent
  # answers and sees a leader, which needs none.
  leader_check=(curl -sf "$scheme://$ip:4646/v1/status/leader")
  [ "$scheme" = https ] && leader_check+=(--cacert /etc/drover.d/tls/ca.pem --cert /etc/drover.d/tls/agent.pem --key /etc/drover.d/tls/agent-key.pem)
  wait_for "client $name answers and sees a leader" sh -c "${leader_check[*]} | grep -q 4647"
  state="client $name answers (ACLs on: check readiness with the management token)"
else
  server=$(sed -n 's/^ *servers = \["\([0-9.]*\):4647".*/\1/p' /etc/drover.d/client.hcl)
  wait_for "client $name is ready" \
    sh -c "/usr/local/bin/drover node status -address http://$server:4646 | awk '\$3 == \"$name\" && \$NF == \"ready\" {ok=1} END {exit !ok}'"
  state="client $name is ready"
fi

if [ $changes -eq 0 ]; then
  echo "provision: no change ($state)"
else
  echo "provision: $changes change(s) ($state)"
fi
