#!/usr/bin/env bash
# Makes a Debian machine ready to run and test Shoal: the system packages the lab and the tests
# use, the npm dependencies, and a build. Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*"; }

# Debian package per purpose. The lab: a dockerd, sshd, busybox for the test image, iperf3,
# and the kernel tools; the agent: nats-server; the tests: dig; the bench: dnsperf;
# `npm run bench:raft`: etcd (the peer raft-ts is measured against).
PACKAGES=(docker.io nats-server openssh-server openssh-client iproute2 iptables nftables
  busybox-static iperf3 dnsutils dnsperf util-linux mount procps tar docker-compose etcd-server)

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "error: packages ${missing[*]} are not installed — run this as root, or: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  say "installing ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v node >/dev/null 2>&1 || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "error: Node.js 20 or newer is needed — install it (e.g. apt-get install nodejs npm)" >&2
  exit 1
fi

# npm ci only when the lock file changed since the last install.
stamp=node_modules/.shoal-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

say "build"
npm run --silent build
chmod +x packages/cli/dist/bin.js packages/agent/dist/bin.js packages/coordinator/dist/bin.js
