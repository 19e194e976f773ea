#!/usr/bin/env bash
# The demo: sets the machine up if needed, brings a 3-host lab up, starts a Shoal cluster on it
# (nats-server and a coordinator on h1, an agent on every host) and deploys examples/demo.yml.
# `cluster bootstrap` over SSH will do the starting part; until then this script does it itself.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "error: the demo makes network namespaces and runs dockerd: run it as root — e.g. sudo npm run demo" >&2
  exit 1
fi
bash scripts/setup.sh
root=$(pwd)
shoal() { node "$root/packages/cli/dist/bin.js" "$@"; }

if shoal lab status >/dev/null 2>&1; then
  echo "demo: the lab is already up; taking it down to start clean"
  shoal lab down
fi
shoal lab up --hosts 3
h1=$(shoal lab status --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).lab.hosts[0].address))')
nats="nats://$h1:4222"

# Daemons run inside the hosts, detached; `shoal lab down` stops them with everything else.
bg() { shoal lab exec "$1" -- setsid sh -c "$2 >> /var/lib/shoal/$3.log 2>&1 < /dev/null &"; }
bg h1 "nats-server -a 0.0.0.0 -p 4222" nats
bg h1 "node $root/packages/coordinator/dist/bin.js --cluster demo --id 1 --peers 1=$h1:7100 --data-dir /var/lib/shoal/coordinator --nats $nats" coordinator
for h in h1 h2 h3; do
  bg "$h" "node $root/packages/agent/dist/bin.js --cluster demo --nats $nats" agent
done

echo "demo: waiting for the three agents to register"
for _ in $(seq 1 60); do
  ready=$(shoal node ls --nats "$nats" --cluster demo --json 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).filter(n=>n.state==="ready").length)}catch{console.log(0)}})')
  [ "$ready" = 3 ] && break
  sleep 1
done
shoal node ls --nats "$nats" --cluster demo
echo
shoal stack deploy -c examples/demo.yml demo --nats "$nats" --cluster demo
echo
shoal network ls --nats "$nats" --cluster demo
cat <<TXT

The stack runs: each host answers on port 8080 with its replica's hostname, e.g.
  node -e 'fetch("http://$h1:8080").then(r=>r.text()).then(console.log)'
and the client (placed on h1) reaches the web tier by its alias, a VIP spread over the replicas:
  node packages/cli/dist/bin.js lab exec h1 -- sh -c 'docker exec \$(docker ps -q -f label=io.shoal.service.name=demo_client) wget -q -O - http://www'
Commands: node packages/cli/dist/bin.js service ls --nats $nats --cluster demo
Remove everything: node packages/cli/dist/bin.js lab down
TXT
