// Simulated agents: COUNT nodes in one process that speak the agent protocol over NATS —
// registration, heartbeats, assignments (full and deltas), task status — without Docker: every
// task assigned is reported running at once. Used by coordinator.mjs; not a test.
//   node sim-agents.mjs NATS_URL CLUSTER FIRST COUNT [HEARTBEAT_MS]
import { connect } from 'nats';
import { PROTOCOL_VERSION } from '@shoal/core';

const [url, cluster, first = '0', count = '100', period = '1000'] = process.argv.slice(2);
const enc = new TextEncoder();
const dec = new TextDecoder();
const json = (v) => enc.encode(JSON.stringify(v));
const nc = await connect({ servers: url, name: `sim-agents-${first}`, maxReconnectAttempts: -1, reconnectTimeWait: 250 });

// what happened, printed every few seconds: the coordinator bench keeps it with --logs
const counts = { full: 0, delta: 0, gap: 0, reported: 0, otherSession: 0, lastGap: '' };
const gap = (node, sessionId, seq) => {
  counts.gap++;
  if (sessionId !== node.sessionId) counts.otherSession++;
  counts.lastGap = `${sessionId === node.sessionId ? 'same' : 'other'} session, held ${node.seq}, got ${seq}`;
};
void (async () => {
  for await (const st of nc.status()) process.stdout.write(`${new Date().toISOString()} nats ${st.type} ${typeof st.data === 'string' ? st.data : ''}\n`);
})();
setInterval(() => process.stdout.write(`${new Date().toISOString()} ${JSON.stringify(counts)}\n`), 5000).unref();

/** Per node: its session (adopted from any assignment, as the real agent does), what it runs. */
const nodes = new Map();
for (let i = Number(first); i < Number(first) + Number(count); i++) {
  nodes.set(`sim${i}`, { index: i, sessionId: undefined, seq: 0, tasks: new Set() });
}

function report(nodeId, node, taskIds) {
  if (taskIds.length === 0 || !node.sessionId) return;
  counts.reported += taskIds.length;
  const at = new Date().toISOString();
  for (let i = 0; i < taskIds.length; i += 5000) {
    nc.publish(`shoal.${cluster}.node.${nodeId}.status`, json({
      v: PROTOCOL_VERSION, kind: 'task.status', nodeId, sessionId: node.sessionId,
      reports: taskIds.slice(i, i + 5000).map((taskId) => ({ taskId, state: 'running', message: 'started', at, containerId: `c-${taskId}` })),
    }));
  }
}

nc.subscribe(`shoal.${cluster}.node.*.assign`, {
  callback: (err, m) => {
    if (err) return;
    const text = dec.decode(m.data);
    // A delta that carries only networks changes nothing a simulated node does: skip parsing
    // the (large) network part, keep the sequence (the dispatcher writes the head first).
    if (text.includes('"upsertTasks":[],"removeTasks":[]')) {
      const h = /"nodeId":"([^"]+)","sessionId":"([^"]+)","seq":(\d+)/.exec(text.slice(0, 300));
      const node = h && nodes.get(h[1]);
      if (node && h[2] === node.sessionId && Number(h[3]) === node.seq + 1) node.seq += 1;
      else if (node) gap(node, h[2], Number(h[3]));
      counts.delta++;
      return;
    }
    const msg = JSON.parse(text);
    const node = nodes.get(msg.nodeId);
    if (!node) return;
    if (msg.kind === 'assign.full') {
      counts.full++;
      node.sessionId = msg.sessionId;
      node.tasks = new Set(msg.tasks.filter((t) => t.desiredState === 'running').map((t) => t.taskId));
      node.seq = msg.seq;
      // after a takeover the new leader's store may lag what we reported: say it all again
      report(msg.nodeId, node, [...node.tasks]);
      return;
    }
    counts.delta++;
    if (msg.sessionId !== node.sessionId || msg.seq !== node.seq + 1) {
      gap(node, msg.sessionId, msg.seq);
      return; // a gap: the heartbeat asks for the full set
    }
    node.seq = msg.seq;
    const fresh = [];
    for (const t of msg.upsertTasks) {
      if (t.desiredState !== 'running') node.tasks.delete(t.taskId);
      else if (!node.tasks.has(t.taskId)) {
        node.tasks.add(t.taskId);
        fresh.push(t.taskId);
      }
    }
    for (const id of msg.removeTasks) node.tasks.delete(id);
    report(msg.nodeId, node, fresh);
  },
});

async function register(nodeId, node) {
  for (;;) {
    try {
      const reply = JSON.parse(dec.decode((await nc.request(`shoal.${cluster}.node.${nodeId}.register`, json({
        v: PROTOCOL_VERSION, kind: 'node.register', nodeId, hostname: `host-${node.index}`,
        address: `172.${16 + (node.index >> 16)}.${(node.index >> 8) & 255}.${node.index & 255}`,
        platform: { os: 'linux', arch: 'x86_64' }, resources: { nanoCpus: 8e9, memoryBytes: 32 * 2 ** 30 },
        engineLabels: {}, agentVersion: 'sim', runningTasks: [],
      }), { timeout: 10_000 })).data));
      if (reply.kind === 'node.registered') {
        node.sessionId ??= reply.sessionId;
        return;
      }
    } catch {
      // no leader yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

setInterval(() => {
  for (const [nodeId, node] of nodes) {
    if (node.sessionId) nc.publish(`shoal.${cluster}.node.${nodeId}.hb`, json({ v: PROTOCOL_VERSION, kind: 'node.hb', nodeId, sessionId: node.sessionId, appliedSeq: node.seq }));
  }
}, Number(period));

// a few registrations at a time, as hosts coming up would
const queue = [...nodes];
await Promise.all(Array.from({ length: 20 }, async () => {
  for (let e = queue.shift(); e; e = queue.shift()) await register(e[0], e[1]);
}));
process.stdout.write(`registered ${nodes.size}\n`);


process.on('SIGTERM', () => void nc.close().then(() => process.exit(0)));
