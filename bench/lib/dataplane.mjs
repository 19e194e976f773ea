// The two reference paths every overlay figure stands beside: the bare underlay between two lab
// hosts, and the notes' hand-built kernel VXLAN pair (the data plane's limit here). Servers are
// one-shot (`iperf3 -s -1`): they exit after one test, so nothing has to be killed by name.

const must = async (lab, host, argv) => {
  const r = await lab.exec(host, argv, { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`${host}: ${argv.join(' ')} failed: ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
};
const gbps = (json) => JSON.parse(json).end.sum_received.bits_per_second / 1e9;

async function oneShot(lab, server, serverPrefix, client, clientPrefix, address, seconds) {
  await must(lab, server, [...serverPrefix, 'iperf3', '-s', '-1', '-D', '-p', '5299']);
  // -D returns before the socket listens on a loaded machine: the client retries once
  for (let attempt = 0; ; attempt++) {
    const r = await lab.exec(client, [...clientPrefix, 'iperf3', '-c', address, '-p', '5299', '-t', String(seconds), '-J'], { timeoutMs: (seconds + 60) * 1000 });
    if (r.code === 0) return gbps(r.stdout);
    if (attempt > 5) throw new Error(`iperf3 to ${address} failed: ${r.stdout.slice(0, 300)}`);
    await new Promise((res) => setTimeout(res, 300));
  }
}

export async function underlay(lab, { from = 'h1', to = 'h2', seconds = 5 } = {}) {
  return oneShot(lab, to, [], from, [], lab.host(to).address, seconds);
}

/** A VXLAN device moved into a namespace, addressed, static FDB and neighbour: nothing else. */
export async function handBuilt(lab, { from = 'h1', to = 'h2', seconds = 5 } = {}) {
  const vni = 900;
  const hosts = [[from, '10.99.0.1'], [to, '10.99.0.2']];
  try {
    for (const [host, addr] of hosts) {
      const local = lab.host(host).address;
      await must(lab, host, ['ip', 'netns', 'add', 'hb']);
      await must(lab, host, ['ip', 'link', 'add', 'vxhb', 'mtu', '1450', 'type', 'vxlan', 'id', String(vni), 'dstport', '4789', 'local', local, 'dev', 'eth0', 'nolearning']);
      await must(lab, host, ['ip', 'link', 'set', 'vxhb', 'netns', 'hb']);
      await must(lab, host, ['ip', '-n', 'hb', 'addr', 'add', `${addr}/24`, 'dev', 'vxhb']);
      await must(lab, host, ['ip', '-n', 'hb', 'link', 'set', 'vxhb', 'up']);
      await must(lab, host, ['ip', '-n', 'hb', 'link', 'set', 'lo', 'up']);
    }
    const macOf = async (host) => JSON.parse(await must(lab, host, ['ip', '-n', 'hb', '-j', 'link', 'show', 'vxhb']))[0].address;
    const [m1, m2] = [await macOf(from), await macOf(to)];
    await must(lab, from, ['bridge', '-n', 'hb', 'fdb', 'add', m2, 'dev', 'vxhb', 'dst', lab.host(to).address, 'self', 'permanent']);
    await must(lab, to, ['bridge', '-n', 'hb', 'fdb', 'add', m1, 'dev', 'vxhb', 'dst', lab.host(from).address, 'self', 'permanent']);
    await must(lab, from, ['ip', '-n', 'hb', 'neigh', 'add', '10.99.0.2', 'lladdr', m2, 'dev', 'vxhb', 'nud', 'permanent']);
    await must(lab, to, ['ip', '-n', 'hb', 'neigh', 'add', '10.99.0.1', 'lladdr', m1, 'dev', 'vxhb', 'nud', 'permanent']);
    return await oneShot(lab, to, ['ip', 'netns', 'exec', 'hb'], from, ['ip', 'netns', 'exec', 'hb'], '10.99.0.2', seconds);
  } finally {
    // the device first, at once: a namespace is torn down later, and its VXLAN socket would
    // still hold the port when the next round makes the pair again
    for (const [host] of hosts) {
      await lab.exec(host, ['ip', '-n', 'hb', 'link', 'del', 'vxhb']);
      await lab.exec(host, ['ip', 'netns', 'del', 'hb']);
    }
  }
}
