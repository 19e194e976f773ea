#!/usr/bin/env bash
# The demo, Shoal's whole mission on one machine: sets the machine up if needed, brings a 3-host
# lab up, stands a cluster up on it over real SSH (shoal cluster bootstrap: one coordinator, two
# workers), deploys the example stack (examples/stack.yml) and shows how to reach it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "error: the demo makes network namespaces and runs dockerd: run it as root — e.g. sudo npm run demo" >&2
  exit 1
fi
start=$(date +%s)
bash scripts/setup.sh
root=$(pwd)
shoal() { node "$root/packages/cli/dist/bin.js" "$@"; }

if shoal lab status >/dev/null 2>&1; then
  echo "demo: the lab is already up; taking it down to start clean"
  shoal lab down
fi
shoal lab up --hosts 3
addr() { shoal lab status --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).lab.hosts.find(h=>h.name===process.argv[1]).address))' "$1"; }

# The lab's hosts are reached as h1, h2, h3 through an ssh_config of their own (address, key,
# known_hosts), kept where bootstrap and remove-host can find it again.
conf_dir="${XDG_CONFIG_HOME:-$HOME/.config}/shoal"
mkdir -p "$conf_dir"
ssh_conf="$conf_dir/lab-ssh.conf"
shoal lab ssh-config > "$ssh_conf"

echo
echo "demo: shoal cluster bootstrap -i examples/lab-inventory.yaml --ssh-config $ssh_conf"
shoal cluster bootstrap -i examples/lab-inventory.yaml --ssh-config "$ssh_conf"
echo
echo "demo: shoal stack deploy -c examples/stack.yml shop"
shoal stack deploy -c examples/stack.yml shop
echo
shoal network ls
h1=$(addr h1)
h3=$(addr h3)
cat <<TXT

The cluster runs (demo took $(( $(date +%s) - start )) s). The web tier publishes port 8080 on the hosts it runs on (h1, h3):
  node -e 'fetch("http://$h1:8080").then(r=>r.text()).then(console.log)'
  node -e 'fetch("http://$h3:8080").then(r=>r.text()).then(console.log)'
Workers (on h2) reach the web tier and the database by name across hosts:
  node packages/cli/dist/bin.js lab exec h2 -- sh -c 'docker exec \$(docker ps -q -f label=io.shoal.service.name=shop_worker | head -1) sh -c "wget -q -O - http://web; nc -w 2 database 5432"'
Commands need no flags now (bootstrap saved the context): node packages/cli/dist/bin.js node ls, service ls, stack rm shop
Run bootstrap again: it says "unchanged" per host. Remove everything: node packages/cli/dist/bin.js lab down
TXT
