#!/usr/bin/env bash
# Plays labs (default: getting-started) with "drover lab run", on
# embedded agents (a dev agent, or a server and two clients, in one
# process) with real Docker containers. Every step checks the outcome it
# expects; the script exits non-zero if one does not hold.
# Usage: scripts/lab.sh [lab ...]    ("drover lab list" names them)
#
# The labs use the tutorials' images, redis:3.2 and redis:4.0. Where they
# are absent (no registry is reachable here), the script builds a tiny
# stand-in for Redis (testutil/tinyredis, FROM scratch) and tags it with
# those names; images already present are left alone. Needs go and docker.
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -gt 0 ] || set -- getting-started
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

go build -o "$work/drover" ./cmd/drover
missing=()
for tag in redis:3.2 redis:4.0; do
  docker image inspect "$tag" >/dev/null 2>&1 || missing+=("$tag")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> Building a stand-in for ${missing[*]} (no registry needed)"
  mkdir -p "$work/image"
  CGO_ENABLED=0 go build -o "$work/image/tinyredis" ./testutil/tinyredis
  printf 'FROM scratch\nCOPY tinyredis /tinyredis\nENTRYPOINT ["/tinyredis"]\n' > "$work/image/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q -t drover-lab/tinyredis:latest "$work/image" >/dev/null 2>&1 ||
    docker build -q -t drover-lab/tinyredis:latest "$work/image" >/dev/null
  for tag in "${missing[@]}"; do docker tag drover-lab/tinyredis:latest "$tag"; done
fi

for lab in "$@"; do
  "$work/drover" lab run "$lab"
done
