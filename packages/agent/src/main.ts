import { readFile } from 'node:fs/promises';
import { Command, InvalidArgumentError } from 'commander';
import { pino } from 'pino';
import { isShoalError } from '@shoal/core';
import { Agent } from './agent.js';
import { AGENT_DEFAULTS, parseAgentConfigFile, type AgentConfig } from './config.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

function label(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`expected KEY=VALUE, got "${value}"`);
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

const program = new Command('shoal-agent')
  .description('the Shoal agent of one Docker host: runs the tasks the leader assigns it')
  .option('--config <file>', 'settings file (YAML); flags override it', process.env.SHOAL_AGENT_CONFIG)
  .option('--cluster <id>', 'cluster id (required, here or in the config file)', process.env.SHOAL_CLUSTER)
  .option('--nats <url>', 'NATS server URL (repeat for several)', collect)
  .option('--nats-user <user>', 'NATS user', process.env.SHOAL_NATS_USER)
  .option('--advertise <address>', "this host's underlay address (default: the default route's interface)")
  .option('--underlay-device <ifname>', 'the interface VXLAN runs over (default: the one holding the address)')
  .option('--data-dir <dir>', `where the agent keeps its node id and last assignment (default ${AGENT_DEFAULTS.dataDir})`)
  .option('--docker-socket <path>', `the host's Docker socket (default ${AGENT_DEFAULTS.dockerSocket})`)
  .option('--dns-port <port>', `port of the resolver on the gateway bridge (default ${AGENT_DEFAULTS.dnsPort})`, (v) => Number(v))
  .option('--dns-workers <n>', 'processes answering DNS besides the agent while it is busy (15,000 queries/s and more), so more cores answer (default: one per core beyond the first, at most 3)', (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 16) throw new InvalidArgumentError(`expected a whole number from 0 to 16, got "${v}"`);
    return n;
  })
  .option('--node-id <id>', 'fix the node id (default: generated once, kept in the data dir)')
  .option('--label <key=value>', 'node label (repeat for several)', label)
  .addHelpText('after', '\nThe NATS password is read from SHOAL_NATS_PASSWORD.\n\nExample:\n  shoal-agent --cluster prod --nats nats://10.1.0.1:4222 --label zone=eu');

program.parse();
const o = program.opts<{
  config?: string;
  cluster?: string;
  nats?: string[];
  natsUser?: string;
  advertise?: string;
  underlayDevice?: string;
  dataDir?: string;
  dockerSocket?: string;
  dnsPort?: number;
  dnsWorkers?: number;
  nodeId?: string;
  label?: Record<string, string>;
}>();
const fail = (message: string): never => {
  process.stderr.write(`error: ${message}\n`);
  process.exit(2);
};
let file: Partial<AgentConfig> = {};
if (o.config) {
  try {
    file = parseAgentConfigFile(await readFile(o.config, 'utf8'), o.config);
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }
}
const cluster = o.cluster ?? file.cluster ?? fail('no cluster id — pass --cluster ID or set cluster in the config file');
const config: AgentConfig = {
  cluster,
  natsUrls: o.nats ?? process.env.SHOAL_NATS_URL?.split(',') ?? file.natsUrls ?? [...AGENT_DEFAULTS.natsUrls],
  natsUser: o.natsUser ?? file.natsUser,
  natsPassword: process.env.SHOAL_NATS_PASSWORD,
  advertise: o.advertise ?? file.advertise,
  underlayDevice: o.underlayDevice ?? file.underlayDevice,
  dataDir: o.dataDir ?? file.dataDir ?? AGENT_DEFAULTS.dataDir,
  labels: { ...file.labels, ...o.label },
  dockerSocket: o.dockerSocket ?? file.dockerSocket ?? AGENT_DEFAULTS.dockerSocket,
  dnsPort: o.dnsPort ?? file.dnsPort ?? AGENT_DEFAULTS.dnsPort,
  dnsWorkers: o.dnsWorkers ?? file.dnsWorkers,
  // a worker runs this same entry again (see bin.ts)
  dnsWorkerScript: process.argv[1],
  nodeId: o.nodeId ?? file.nodeId,
};
const logger = pino({ name: 'shoal-agent' });
const log = {
  info: (msg: string, f?: Record<string, unknown>) => logger.info(f ?? {}, msg),
  warn: (msg: string, f?: Record<string, unknown>) => logger.warn(f ?? {}, msg),
  error: (msg: string, f?: Record<string, unknown>) => logger.error(f ?? {}, msg),
};
const agent = new Agent(config, log);
const shutdown = (signal: string): void => {
  log.info('shutting down', { signal });
  // a shutdown that hangs must not keep the host's supervisor waiting forever
  setTimeout(() => process.exit(1), 10_000).unref();
  agent.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
try {
  await agent.start();
} catch (err) {
  process.stderr.write(`error: ${isShoalError(err) ? err.message : err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
