#!/usr/bin/env bash
# Cross-builds the static drover binary for the lab machines into bin/
# (the folder Vagrant syncs to /vagrant): bin/drover-linux-amd64 and
# bin/drover-linux-arm64 (Apple Silicon hosts run arm64 VMs). Static
# (CGO_ENABLED=0), so the same file runs on any Linux box and FROM scratch.
# Usage: scripts/build.sh [GOARCH ...]    (default: amd64 arm64)
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -gt 0 ] || set -- amd64 arm64
mkdir -p bin
for arch in "$@"; do
  out="bin/drover-linux-$arch"
  CGO_ENABLED=0 GOOS=linux GOARCH="$arch" go build -trimpath \
    -ldflags "-s -w" -o "$out.tmp" ./cmd/drover
  mv "$out.tmp" "$out"
  echo "==> $out"
done
