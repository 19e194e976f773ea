import { Command } from 'commander';
import type { Io } from '../output.js';
import { networkSpecFromFlags, type NetworkFlags } from '../flags.js';
import { collect, dash, emit, examples, listOptions, printObject, retryWhileBusy, targetOptions, withClient, type Column, type Target } from './common.js';

interface NetworkRow {
  id: string;
  name: string;
  driver: string;
  stack?: string;
  subnet?: string;
  gateway?: string;
  vni?: number;
}

const NETWORK_COLUMNS: Column<NetworkRow>[] = [
  { header: 'id', cell: (r) => r.id.slice(0, 12) },
  { header: 'name', cell: (r) => r.name },
  { header: 'driver', cell: (r) => r.driver },
  { header: 'subnet', cell: (r) => dash(r.subnet) },
  { header: 'gateway', cell: (r) => dash(r.gateway) },
  { header: 'vni', cell: (r) => dash(r.vni) },
];

/** `shoal network …`: overlay and local networks, with the flags of `docker network`. */
export function networkCommand(io: Io): Command {
  const network = new Command('network').description('overlay and local networks');

  examples(
    targetOptions(
      network
        .command('create')
        .description('create a network (an overlay spanning hosts unless -d says otherwise)')
        .argument('<name>', 'network name')
        .option('-d, --driver <driver>', 'overlay, bridge, macvlan, ipvlan, host or none', 'overlay')
        .option('--subnet <cidr>', 'the subnet (default: the next free one of the pool)')
        .option('--ip-range <cidr>', 'give task addresses from this part of the subnet only')
        .option('--gateway <ip>', 'the gateway address (default: the subnet\'s first)')
        .option('-o, --opt <key=value>', 'driver option, e.g. parent=eth0 for macvlan (repeatable)', collect)
        .option('--attachable', 'let standalone containers attach')
        .option('--internal', 'no way out of the network')
        .option('--label <key=value>', 'label (repeatable)', collect),
    ),
    'shoal network create front',
    'shoal network create --subnet 10.20.0.0/24 --ip-range 10.20.0.128/25 --gateway 10.20.0.1 back',
    'shoal network create -d macvlan --subnet 192.168.50.0/24 -o parent=eth0 lan',
  ).action(async (name: string, opts: Target & NetworkFlags) => {
    const spec = networkSpecFromFlags(name, opts);
    const r = (await withClient(opts, (c) => c.call('network.create', { spec }))) as { id: string };
    io.out(`${r.id}\n`);
  });

  examples(listOptions(network.command('ls').description('list networks')), 'shoal network ls', 'shoal network ls --json').action(async (opts: Target) => {
    emit(io, opts, (await withClient(opts, (c) => c.call('network.ls', {}))) as NetworkRow[], NETWORK_COLUMNS, (r) => r.id);
  });

  examples(targetOptions(network.command('inspect').description("a network's whole record, as JSON").argument('<network...>', 'network ids or names')), 'shoal network inspect front').action(
    async (refs: string[], opts: Target) => {
      const out = await withClient(opts, async (c) => Promise.all(refs.map((n) => c.call('network.inspect', { network: n }))));
      printObject(io, out.length === 1 ? out[0] : out);
    },
  );

  examples(targetOptions(network.command('rm').description('remove networks (refused while a service uses one)').argument('<network...>', 'network ids or names')), 'shoal network rm front').action(
    async (refs: string[], opts: Target) => {
      await withClient(opts, async (c) => {
        for (const n of refs) {
          await retryWhileBusy(io, `network ${n}`, () => c.call('network.rm', { network: n }));
          io.out(`${n}\n`);
        }
      });
    },
  );

  examples(
    targetOptions(
      network
        .command('connect')
        .description("connect a service's running tasks to a network, without restarting them")
        .argument('<network>', 'network id or name')
        .argument('<service>', 'service id or name')
        .option('--alias <name>', 'another name the service answers to on this network (repeatable)', collect),
    ),
    'shoal network connect back web',
    'shoal network connect --alias api back web',
  ).action(async (net: string, svc: string, opts: Target & { alias?: string[] }) => {
    await withClient(opts, (c) => c.call('network.connect', { network: net, service: svc, ...(opts.alias ? { aliases: opts.alias } : {}) }));
    io.out(`${svc} connected to ${net}\n`);
  });

  examples(
    targetOptions(network.command('disconnect').description("disconnect a service's tasks from a network, without restarting them").argument('<network>').argument('<service>')),
    'shoal network disconnect back web',
  ).action(async (net: string, svc: string, opts: Target) => {
    await withClient(opts, (c) => c.call('network.disconnect', { network: net, service: svc }));
    io.out(`${svc} disconnected from ${net}\n`);
  });
  return network;
}
