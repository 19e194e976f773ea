#!/usr/bin/env bash
# The demo: sets the machine up if needed, then brings a 3-host lab up and shows its status.
# (Later: bootstrap a Shoal cluster on it over SSH and deploy the example stack.)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "error: the demo makes network namespaces and runs dockerd: run it as root — e.g. sudo npm run demo" >&2
  exit 1
fi
bash scripts/setup.sh
shoal() { node packages/cli/dist/bin.js "$@"; }

if shoal lab status >/dev/null 2>&1; then
  echo "demo: the lab is already up"
else
  shoal lab up --hosts 3
fi
echo
shoal lab status
cat <<'TXT'

Try:
  node packages/cli/dist/bin.js lab exec h1 -- docker run --rm shoal/busybox hostname
  node packages/cli/dist/bin.js lab ssh-config > /tmp/shoal-ssh && ssh -F /tmp/shoal-ssh h2
  node packages/cli/dist/bin.js lab partition h1,h2 h3     # then: lab heal
  node packages/cli/dist/bin.js lab down                   # removes everything
TXT
