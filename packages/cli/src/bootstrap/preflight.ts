import { ShoalError } from '@shoal/core';
import { REMOTE, type ClusterFile } from './plan.js';

/** What a host says about itself before anything is installed on it. */
export interface HostFacts {
  os: string;
  nodePath?: string;
  nodeVersion?: string;
  natsServerPath?: string;
  systemd: boolean;
  /** Docker's version, or why it cannot be reached. */
  docker: { ok: true; version: string } | { ok: false; reason: string };
  vxlan: { ok: true } | { ok: false; reason: string };
  /** Remote time minus local time, ms (corrected by half the round trip). */
  clockSkewMs: number;
  listening: Set<number>;
  clusterFile?: ClusterFile;
  secret?: string;
}

/**
 * One round trip: everything preflight needs, as `key=value` lines. Docker is asked through
 * its socket with node (the one runtime Shoal requires), so the docker CLI need not be there.
 */
export const PREFLIGHT_SCRIPT = `
echo "os=$(uname -s)"
n=$(command -v node 2>/dev/null || true)
echo "node=$n"
[ -n "$n" ] && echo "nodeversion=$("$n" --version 2>/dev/null)"
echo "nats=$(command -v nats-server 2>/dev/null || ls ${REMOTE.binDir}/nats-server 2>/dev/null || true)"
if [ -d /run/systemd/system ]; then echo systemd=yes; else echo systemd=no; fi
if [ ! -S /var/run/docker.sock ]; then echo "docker=error:no socket at /var/run/docker.sock"
elif [ -n "$n" ]; then echo "docker=$("$n" -e "require('http').get({socketPath:'/var/run/docker.sock',path:'/version',timeout:5000},r=>{let s='';r.on('data',d=>s+=d);r.on('end',()=>{try{console.log(JSON.parse(s).Version)}catch{console.log('error:'+r.statusCode)}})}).on('error',e=>console.log('error:'+e.code))" 2>&1)"
else echo "docker=socket"; fi
ip link del shoal-pf0 2>/dev/null
if out=$(ip link add shoal-pf0 type vxlan id 4242 dstport 4789 nolearning 2>&1); then ip link del shoal-pf0; echo vxlan=yes; else echo "vxlan=no:$out"; fi
echo "listen=$(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk '$4=="0A"{print $2}' | sed 's/.*://' | sort -u | tr '\\n' ' ')"
[ -f ${REMOTE.clusterFile} ] && echo "clusterfile=$(base64 -w0 ${REMOTE.clusterFile})"
[ -f ${REMOTE.secret} ] && echo "secret=$(cat ${REMOTE.secret})"
echo "time=$(date +%s%N)"
`;

export function parsePreflight(out: string, sentAt: number, receivedAt: number): HostFacts {
  const kv = new Map<string, string>();
  for (const line of out.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) kv.set(line.slice(0, eq), line.slice(eq + 1).trim());
  }
  const docker = kv.get('docker') ?? 'error:unknown';
  const vxlan = kv.get('vxlan') ?? 'no:unknown';
  const remoteNs = Number(kv.get('time') ?? NaN);
  const listening = new Set((kv.get('listen') ?? '').split(/\s+/).filter(Boolean).map((h) => parseInt(h, 16)));
  let clusterFile: ClusterFile | undefined;
  const cf = kv.get('clusterfile');
  if (cf) {
    try {
      clusterFile = JSON.parse(Buffer.from(cf, 'base64').toString('utf8')) as ClusterFile;
    } catch {
      clusterFile = undefined;
    }
  }
  const get = (k: string): string | undefined => (kv.get(k) ? kv.get(k) : undefined);
  const nodePath = get('node');
  const nodeVersion = get('nodeversion');
  const natsServerPath = get('nats');
  const secret = get('secret');
  return {
    os: kv.get('os') ?? '',
    ...(nodePath ? { nodePath } : {}),
    ...(nodeVersion ? { nodeVersion } : {}),
    ...(natsServerPath ? { natsServerPath } : {}),
    systemd: kv.get('systemd') === 'yes',
    docker: docker.startsWith('error:') ? { ok: false, reason: docker.slice(6) } : { ok: true, version: docker },
    vxlan: vxlan === 'yes' ? { ok: true } : { ok: false, reason: vxlan.replace(/^no:/, '') },
    clockSkewMs: Number.isFinite(remoteNs) ? remoteNs / 1e6 - (sentAt + receivedAt) / 2 : 0,
    listening,
    ...(clusterFile ? { clusterFile } : {}),
    ...(secret ? { secret } : {}),
  };
}

export const MIN_NODE_MAJOR = 20;
/** Beyond this, logs and heartbeat ages across hosts stop making sense. */
export const MAX_CLOCK_SKEW_MS = 30_000;

/**
 * What must hold before Shoal goes on a host: the first problem found, as an error naming the
 * host. `ports` are those its daemons will listen on, when they are not running yet.
 */
export function checkFacts(host: string, f: HostFacts, ports: readonly number[]): void {
  const fail = (code: string, what: string, todo: string): never => {
    throw new ShoalError(code, `${host}: ${what}`, todo);
  };
  if (f.os !== 'Linux') fail('not_linux', `runs ${f.os || 'an unknown system'}, not Linux`, 'Shoal needs Linux hosts (VXLAN, network namespaces)');
  if (!f.nodePath) fail('no_node', 'has no Node.js runtime (node is not on the PATH)', `install Node.js ${MIN_NODE_MAJOR} or newer (e.g. apt-get install nodejs) and run again`);
  const major = Number(/^v(\d+)/.exec(f.nodeVersion ?? '')?.[1] ?? 0);
  if (major < MIN_NODE_MAJOR) fail('old_node', `has Node.js ${f.nodeVersion ?? '(unknown version)'}, older than ${MIN_NODE_MAJOR}`, `install Node.js ${MIN_NODE_MAJOR} or newer and run again`);
  if (!f.docker.ok) fail('no_docker', `Docker is not reachable (${f.docker.reason})`, 'install Docker and start dockerd, then run again');
  if (!f.vxlan.ok) fail('no_vxlan', `cannot make a VXLAN device (${f.vxlan.reason})`, 'load the vxlan kernel module (modprobe vxlan) and run again');
  const taken = ports.filter((p) => f.listening.has(p));
  if (taken.length > 0) fail('port_taken', `port${taken.length > 1 ? 's' : ''} ${taken.join(', ')} already in use by another program`, 'stop that program or use another host');
  if (Math.abs(f.clockSkewMs) > MAX_CLOCK_SKEW_MS) {
    fail('clock_skew', `its clock is ${(f.clockSkewMs / 1000).toFixed(0)} s off this machine's`, 'set the time right (e.g. run an NTP client) and run again');
  }
}
