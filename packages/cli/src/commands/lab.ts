import { spawn } from 'node:child_process';
import { Command, InvalidArgumentError } from 'commander';
import { ShoalError } from '@shoal/core';
import { DEFAULT_LAB, Lab, type HostStatus } from '@shoal/lab';
import { table, type Io } from '../output.js';

function wholeNumber(value: string): number {
  if (!/^-?\d+$/.test(value)) throw new InvalidArgumentError(`expected a whole number, got "${value}"`);
  return Number(value);
}

function statusTable(lab: Lab, hosts: readonly HostStatus[]): string {
  const yes = (b: boolean): string => (b ? 'up' : 'down');
  return table(
    ['host', 'address', 'link', 'partition', 'dockerd', 'sshd', 'processes'],
    hosts.map((h) => [h.name, h.address, h.link, h.partitionGroup === null ? '-' : `group ${h.partitionGroup}`, yes(h.dockerd), yes(h.sshd), String(h.processes)]),
  ).concat(`lab ${lab.name}: ${lab.state.hosts.length} host${lab.state.hosts.length === 1 ? '' : 's'} on ${lab.state.subnet} (gateway ${lab.state.gateway}, mtu ${lab.state.mtu})\n`);
}

interface NameOpt {
  name: string;
}

const nameOption = (cmd: Command): Command => cmd.option('-n, --name <lab>', 'which lab', DEFAULT_LAB);

export function labCommand(io: Io, setExitCode: (code: number) => void): Command {
  const lab = new Command('lab')
    .description('virtual Docker hosts on this machine (network + mount namespaces, each with dockerd and sshd)')
    .addHelpText(
      'after',
      `
Examples:
  shoal lab up --hosts 3                 three hosts h1..h3 on a private underlay
  shoal lab ssh-config >> ~/.ssh/config  then: ssh h2
  shoal lab exec h1 -- docker ps         run a command inside a host
  shoal lab partition h1,h2 h3           h3 can no longer reach h1 or h2
  shoal lab down                         remove every trace of the lab`,
    );

  nameOption(
    lab
      .command('up')
      .description('create the lab: N hosts, each with its own dockerd, sshd, hostname, /etc/shoal, /var/lib/shoal and /run')
      .requiredOption('--hosts <n>', 'how many hosts (1-64)', wholeNumber)
      .option('--subnet <cidr>', 'underlay subnet (default: a free 192.168.x.0/24)')
      .option('--mtu <bytes>', 'underlay MTU (9000 for jumbo frames)', wholeNumber, 1500)
      .option('--json', 'print the status as JSON'),
  ).action(async (opts: NameOpt & { hosts: number; subnet?: string; mtu: number; json?: boolean }) => {
    const t0 = Date.now();
    const up = await Lab.up({
      name: opts.name,
      hosts: opts.hosts,
      mtu: opts.mtu,
      ...(opts.subnet !== undefined ? { subnet: opts.subnet } : {}),
      onProgress: opts.json ? undefined : (line) => io.err(`${line}\n`),
    });
    const status = await up.status();
    if (opts.json) io.out(JSON.stringify({ lab: up.state, hosts: status }, null, 2) + '\n');
    else {
      io.out(statusTable(up, status));
      io.out(`ready in ${((Date.now() - t0) / 1000).toFixed(1)} s — try: shoal lab exec h1 -- docker run --rm shoal/busybox hostname\n`);
    }
  });

  nameOption(lab.command('down').description('remove the lab and everything it made (also after a crash)')).action(async (opts: NameOpt) => {
    const t0 = Date.now();
    const left = await Lab.down(opts.name, (line) => io.err(`${line}\n`));
    const remaining = Object.entries(left).filter(([, v]) => (v as unknown[]).length > 0);
    if (remaining.length > 0) {
      throw new ShoalError('down_incomplete', `some of lab ${opts.name} is still here: ${remaining.map(([k, v]) => `${k} ${JSON.stringify(v)}`).join('; ')}`, 'run shoal lab down again, or remove them by hand');
    }
    io.out(`lab ${opts.name} is down (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
  });

  lab
    .command('ls')
    .description('list the labs on this machine')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const rows = [];
      for (const name of await Lab.list()) {
        try {
          const l = await Lab.open(name);
          rows.push({ name, hosts: l.state.hosts.length, subnet: l.state.subnet });
        } catch {
          rows.push({ name, hosts: 0, subnet: 'incomplete (run shoal lab down)' });
        }
      }
      if (opts.json) io.out(JSON.stringify(rows, null, 2) + '\n');
      else io.out(table(['name', 'hosts', 'subnet'], rows.map((r) => [r.name, String(r.hosts), r.subnet])));
    });

  nameOption(lab.command('status').description('hosts, addresses, links and which daemons are up').option('--json', 'print JSON')).action(
    async (opts: NameOpt & { json?: boolean }) => {
      const l = await Lab.open(opts.name);
      const status = await l.status();
      if (opts.json) io.out(JSON.stringify({ lab: l.state, hosts: status }, null, 2) + '\n');
      else io.out(statusTable(l, status));
    },
  );

  nameOption(lab.command('ssh-config').description('print an ssh_config snippet for the lab\'s hosts (Host, HostName, User, IdentityFile, known hosts)')).action(
    async (opts: NameOpt) => {
      io.out((await Lab.open(opts.name)).sshConfig());
    },
  );

  nameOption(
    lab
      .command('exec')
      .description('run a command inside a host')
      .argument('<host>', 'e.g. h1')
      .argument('<command...>', 'the command, after -- (e.g. shoal lab exec h1 -- docker ps -a)'),
  ).action(async (host: string, argv: string[], opts: NameOpt) => {
    const l = await Lab.open(opts.name);
    const [cmd, ...args] = l.commandIn(host, argv);
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(cmd ?? 'nsenter', args, { stdio: 'inherit' });
      child.on('error', reject);
      child.on('close', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
    });
    setExitCode(code);
  });

  nameOption(lab.command('cut').description("take a host's underlay link down").argument('<host>')).action(async (host: string, opts: NameOpt) => {
    await (await Lab.open(opts.name)).cut(host);
    io.out(`${host}: underlay link cut\n`);
  });

  nameOption(lab.command('heal').description('bring cut links back up; with no host, also end the partition').argument('[hosts...]')).action(
    async (hosts: string[], opts: NameOpt) => {
      await (await Lab.open(opts.name)).heal(hosts);
      io.out(hosts.length > 0 ? `${hosts.join(', ')}: underlay link up\n` : `lab ${opts.name}: every link up, no partition\n`);
    },
  );

  nameOption(
    lab
      .command('partition')
      .description('split the hosts into groups that cannot reach each other')
      .argument('<groups...>', 'comma-separated hosts per group, e.g. h1,h2 h3'),
  ).action(async (groups: string[], opts: NameOpt) => {
    const parsed = groups.map((g) => g.split(',').map((s) => s.trim()).filter(Boolean));
    await (await Lab.open(opts.name)).partition(parsed);
    io.out(`partitioned: ${parsed.map((g) => `{${g.join(', ')}}`).join(' | ')}\n`);
  });

  nameOption(lab.command('kill').description('crash a host: SIGKILL its dockerd, containers, sshd and every other process').argument('<host>')).action(
    async (host: string, opts: NameOpt) => {
      const n = await (await Lab.open(opts.name)).kill(host);
      io.out(`${host}: killed ${n} processes\n`);
    },
  );

  nameOption(lab.command('revive').description('boot a killed host again (dockerd and sshd)').argument('<host>')).action(async (host: string, opts: NameOpt) => {
    await (await Lab.open(opts.name)).revive(host);
    io.out(`${host}: dockerd and sshd up\n`);
  });

  const leafExamples: Record<string, string[]> = {
    up: ['shoal lab up --hosts 3', 'shoal lab up --hosts 2 --name lab2 --subnet 192.168.220.0/24 --mtu 9000'],
    down: ['shoal lab down', 'shoal lab down --name lab2'],
    ls: ['shoal lab ls'],
    status: ['shoal lab status', 'shoal lab status --json'],
    'ssh-config': ['shoal lab ssh-config > lab.ssh && ssh -F lab.ssh h2'],
    exec: ['shoal lab exec h1 -- docker ps', 'shoal lab exec h2 -- ip -br addr'],
    cut: ['shoal lab cut h2'],
    heal: ['shoal lab heal h2', 'shoal lab heal'],
    partition: ['shoal lab partition h1,h2 h3'],
    kill: ['shoal lab kill h3'],
    revive: ['shoal lab revive h3'],
  };
  for (const sub of lab.commands) {
    const lines = leafExamples[sub.name()];
    if (lines) sub.addHelpText('after', `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
  }
  return lab;
}
