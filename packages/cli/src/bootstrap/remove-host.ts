import { ShoalError, isShoalError } from '@shoal/core';
import { ApiClient } from '../client.js';
import { EXIT_FAILED, EXIT_OK } from '../output.js';
import { buildBundle } from './bundle.js';
import { adminTarget, clusterAddress, connectAndCheck, loadInventory, settleSecret, type BootstrapOptions } from './bootstrap.js';
import { installHost } from './install-host.js';
import { REMOTE, clusterFile } from './plan.js';
import { HostProgress } from './progress.js';
import { stopScript, unitName } from './services.js';

/** Docker over its socket with node, so the docker CLI need not be on the host. */
const REMOVE_CONTAINERS = `node -e "
const http=require('http');const call=(m,p)=>new Promise((ok,no)=>{const r=http.request({socketPath:'/var/run/docker.sock',method:m,path:p},res=>{let s='';res.on('data',d=>s+=d);res.on('end',()=>ok(s))});r.on('error',no);r.end()});
(async()=>{const list=JSON.parse(await call('GET','/containers/json?all=1&filters='+encodeURIComponent(JSON.stringify({label:['io.shoal.task.id']}))));
for(const c of list)await call('DELETE','/containers/'+c.Id+'?force=1');
await call('DELETE','/networks/shoal_gwbridge');console.log(list.length)})().catch(e=>{console.error(e.message);process.exit(1)})"`;

/**
 * `shoal cluster remove-host NAME`: drains the node where the API can, stops and removes Shoal
 * from the host (its daemons, containers, overlay namespaces and files), then takes the node's
 * NATS user off the coordinators. Coordinators are refused: that is a Raft membership change.
 */
export async function removeHost(o: BootstrapOptions & { name: string }): Promise<number> {
  const t0 = Date.now();
  const env = o.env ?? process.env;
  const l = await loadInventory(o.inventoryFile, o.sshConfig);
  const h = l.inv.hosts.find((x) => x.name === o.name);
  if (!h) throw new ShoalError('no_such_host', `${o.name} is not in ${o.inventoryFile}`, 'remove-host reaches the host with the inventory\'s SSH settings: keep it listed until it is removed');
  if (h.role === 'coordinator') throw new ShoalError('remove_coordinator', `${o.name} is a coordinator`, 'removing a coordinator needs a Raft membership change, which is not supported yet');
  const coordinators = l.inv.hosts.filter((x) => x.role === 'coordinator');
  const scope = [h, ...coordinators];
  const progress = new HostProgress(o.io, o.tty, scope.map((x) => x.name));
  const failures = new Map<string, string>();
  const connected = await connectAndCheck(l, scope, { acceptNewHostKeys: o.acceptNewHostKeys, env, progress, failures, checkPorts: false, strict: false });
  // an open NATS connection would keep the process alive after an error
  let client: ApiClient | undefined;
  try {
    const self = connected.find((c) => c.h.name === o.name);
    if (!self) throw new ShoalError('unreachable', `cannot reach ${o.name}: ${failures.get(o.name) ?? 'unknown'}`, 'fix the connection and run again');
    const cf = clusterFile(l.inv, (x) => clusterAddress(l, x, env));
    const secret = await settleSecret(l.inv.cluster, connected, env);
    const notes: string[] = [];
    try {
      client = await ApiClient.open(adminTarget(cf, secret));
    } catch {
      notes.push('the cluster API did not answer: the node was not drained nor removed from its list');
    }
    const api = async (what: string, fn: (c: ApiClient) => Promise<unknown>): Promise<boolean> => {
      if (!client) return false;
      try {
        await fn(client);
        return true;
      } catch (err) {
        notes.push(isShoalError(err, 'not_implemented') ? `${what} is not served by the coordinators yet` : `${what} failed: ${isShoalError(err) ? err.what : String(err)}`);
        return false;
      }
    };
    progress.step(o.name, 'draining');
    await api('drain (node.update)', async (c) => {
      const node = (await c.call('node.inspect', { node: o.name })) as { meta: { version: number } };
      await c.call('node.update', { node: o.name, version: node.meta.version, availability: 'drain' });
    });
    progress.step(o.name, 'stopping the agent');
    const manager = self.facts.systemd ? 'systemd' : 'supervisor';
    await self.host.must('stopping the agent', stopScript(manager, 'agent'));
    progress.step(o.name, 'removing containers, networks and files');
    await self.host.sh(REMOVE_CONTAINERS);
    await self.host.must(
      'removing Shoal',
      [
        'for ns in $(ip netns list 2>/dev/null | awk \'{print $1}\' | grep \'^shoal-ov-\'); do ip netns del "$ns"; done',
        ...(manager === 'systemd' ? [`rm -f /etc/systemd/system/${unitName('agent')}`, 'systemctl daemon-reload'] : []),
        // the folders themselves may be mount points (they are on the lab's hosts): empty them
        `for d in ${REMOTE.etc} ${REMOTE.run}; do [ -d $d ] && find $d -mindepth 1 -delete; done`,
        `rm -rf ${REMOTE.bundleDir} ${REMOTE.binDir} ${REMOTE.agentData}`,
      ].join('\n'),
    );
    const removed = await api('node.rm', (c) => c.call('node.rm', { node: o.name, force: true }));
    if (!removed) notes.push(`node ${o.name} stays in the cluster's node list (down) until node.rm exists`);
    progress.done(o.name, 'removed');
    await client?.close().catch(() => undefined);
    client = undefined;

    // the coordinators' NATS servers forget the node's user
    const rest = { ...l.inv, hosts: l.inv.hosts.filter((x) => x.name !== o.name) };
    const bundle = await buildBundle();
    await Promise.all(
      connected
        .filter((c) => c.h.role === 'coordinator')
        .map(async (c) => {
          try {
            const r = await installHost(c.host, c.h, c.facts, { inv: rest, cluster: cf, secret, bundle, localNatsServer: undefined, step: (t) => progress.step(c.h.name, t) });
            progress.done(c.h.name, r.summary);
          } catch (err) {
            failures.set(c.h.name, isShoalError(err) ? err.what : String(err));
            progress.fail(c.h.name, failures.get(c.h.name) ?? '');
          }
        }),
    );
    progress.stop();
    for (const n of notes) o.io.err(`note: ${n}\n`);
    o.io.out(`${o.name} removed; take it out of ${o.inventoryFile}, or the next bootstrap puts it back\n`);
    if (failures.size > 0) for (const [name, why] of failures) o.io.err(`error: ${name}: ${why}\n`);
    o.io.out(`Finished in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    return failures.size > 0 ? EXIT_FAILED : EXIT_OK;
  } finally {
    progress.stop();
    await client?.close().catch(() => undefined);
    for (const c of connected) c.host.ssh.close();
  }
}
