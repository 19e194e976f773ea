import { Command } from 'commander';
import { ShoalError, isShoalError, type Service } from '@shoal/core';
import type { Io } from '../output.js';
import { addServiceLogs } from './service-logs.js';
import { applyServiceUpdate, serviceSpecFromFlags, type ServiceFlags, type ServiceUpdateFlags } from '../flags.js';
import { SERVICE_COLUMNS, TASK_COLUMNS, collect, emit, examples, listOptions, printObject, targetOptions, waitConverged, withClient, type ServiceRow, type Target, type TaskRow } from './common.js';

interface WaitOptions {
  detach?: boolean;
  timeout: number;
}

const waitOptions = (cmd: Command): Command =>
  cmd.option('-d, --detach', 'return once accepted, without waiting for the tasks to run').option('--timeout <s>', 'how long to wait for the tasks to run', (v) => Number(v), 300);

/** `shoal service …`: the flags people know from `docker service`. */
export function serviceCommand(io: Io): Command {
  // everything after the image is the containers' command, flags included, as in docker
  const service = new Command('service').description('services and their tasks').enablePositionalOptions();

  examples(
    waitOptions(
      targetOptions(
        service
          .command('create')
          .description('create a service and wait until its tasks run')
          .passThroughOptions()
          .argument('<image>', 'image, present on the hosts or pullable')
          .argument('[command...]', 'command and arguments for its containers')
          .requiredOption('--name <name>', 'service name')
          .option('--replicas <n>', 'how many tasks (replicated mode; default 1)')
          .option('--mode <mode>', 'replicated or global (one task per node)')
          .option('--network <net>', 'attach to a network: NAME or name=NAME,alias=A (repeatable)', collect)
          .option('-p, --publish <port>', '8080:80, 80, 127.0.0.1:8080:80/udp, or published=8080,target=80,mode=host (repeatable)', collect)
          .option('--constraint <expr>', 'placement constraint, e.g. node.labels.zone==eu (repeatable)', collect)
          .option('--max-replicas-per-node <n>', 'at most this many tasks on one node')
          .option('--endpoint-mode <mode>', 'vip (one address, spread) or dnsrr (every task by name)')
          .option('-e, --env <key=value>', 'environment variable (repeatable)', collect)
          .option('--hostname <name>', "containers' hostname")
          .option('--label <key=value>', 'service label (repeatable)', collect)
          .option('--container-label <key=value>', 'container label (repeatable)', collect)
          .option('--limit-cpu <cpus>', 'CPU limit, e.g. 0.5')
          .option('--limit-memory <size>', 'memory limit, e.g. 512M')
          .option('--reserve-cpu <cpus>', 'CPUs a node must have free')
          .option('--reserve-memory <size>', 'memory a node must have free'),
      ),
    ),
    'shoal service create --name web --replicas 3 --network front -p 8080:80 shoal/busybox httpd -f -p 80',
    'shoal service create --name agent --mode global --constraint node.role==worker shoal/busybox sleep 1d',
  ).action(async (image: string, command: string[], opts: Target & ServiceFlags & WaitOptions) => {
    const spec = serviceSpecFromFlags(image, command, opts);
    await withClient(opts, async (c) => {
      const r = (await c.call('service.create', { spec })) as { id: string };
      io.out(`${r.id}\n`);
      if (opts.detach) return;
      await waitConverged(c, io, `service ${spec.name}`, async () => ((await c.call('service.ls', {})) as ServiceRow[]).filter((s) => s.id === r.id), opts.timeout, `see shoal service ps ${spec.name}`);
    });
  });

  examples(listOptions(service.command('ls').description('list services').option('--stack <name>', 'only this stack')), 'shoal service ls', 'shoal service ls --stack shop --json').action(
    async (opts: Target & { stack?: string }) => {
      const rows = (await withClient(opts, (c) => c.call('service.ls', opts.stack ? { stack: opts.stack } : {}))) as ServiceRow[];
      emit(io, opts, rows, SERVICE_COLUMNS, (r) => r.id);
    },
  );

  examples(listOptions(service.command('ps').description("a service's tasks: where they run, their state and error").argument('<service...>', 'service ids or names')), 'shoal service ps web').action(
    async (refs: string[], opts: Target) => {
      const rows = await withClient(opts, async (c) => (await Promise.all(refs.map((s) => c.call('service.ps', { service: s }) as Promise<TaskRow[]>))).flat());
      emit(io, opts, rows, TASK_COLUMNS, (r) => r.id);
    },
  );

  examples(targetOptions(service.command('inspect').description("a service's whole record, as JSON").argument('<service...>', 'service ids or names')), 'shoal service inspect web').action(
    async (refs: string[], opts: Target) => {
      const out = await withClient(opts, async (c) => Promise.all(refs.map((s) => c.call('service.inspect', { service: s }))));
      printObject(io, out.length === 1 ? out[0] : out);
    },
  );

  examples(
    waitOptions(targetOptions(service.command('scale').description('set the replica count of services').argument('<service=replicas...>', 'e.g. web=5 worker=2'))),
    'shoal service scale web=5',
    'shoal service scale web=0 worker=2 --detach',
  ).action(async (pairs: string[], opts: Target & WaitOptions) => {
    const wanted = pairs.map((p) => {
      const m = /^([^=]+)=(\d+)$/.exec(p);
      if (!m?.[1] || m[2] === undefined) throw new ShoalError('bad_argument', `${JSON.stringify(p)} is not SERVICE=REPLICAS`, 'e.g. shoal service scale web=5');
      return { service: m[1], replicas: Number(m[2]) };
    });
    await withClient(opts, async (c) => {
      const ids: string[] = [];
      for (const w of wanted) {
        ids.push(((await c.call('service.scale', w)) as { id: string }).id);
        io.out(`${w.service} scaled to ${w.replicas}\n`);
      }
      if (opts.detach) return;
      await waitConverged(c, io, 'the scaled services', async () => ((await c.call('service.ls', {})) as ServiceRow[]).filter((s) => ids.includes(s.id)), opts.timeout, 'see shoal service ps SERVICE');
    });
  });

  examples(
    waitOptions(
      targetOptions(
        service
          .command('update')
          .description("change a service; its tasks are replaced by its update policy")
          .argument('<service>', 'service id or name')
          .option('--rollback', 'go back to the spec before the last update')
          .option('--image <image>', 'a new image')
          .option('--args <arg...>', 'a new command and arguments')
          .option('--replicas <n>', 'a new replica count')
          .option('--env-add <key=value>', 'add or change an environment variable (repeatable)', collect)
          .option('--env-rm <key>', 'remove an environment variable (repeatable)', collect)
          .option('--label-add <key=value>', 'add or change a service label (repeatable)', collect)
          .option('--label-rm <key>', 'remove a service label (repeatable)', collect)
          .option('--constraint-add <expr>', 'add a placement constraint (repeatable)', collect)
          .option('--constraint-rm <expr>', 'remove a placement constraint (repeatable)', collect)
          .option('--publish-add <port>', 'publish a port (repeatable)', collect)
          .option('--publish-rm <port>', 'stop publishing a port, by its published or target number (repeatable)', collect)
          .option('--network-add <net>', 'attach to a network (repeatable)', collect)
          .option('--network-rm <net>', 'detach from a network (repeatable)', collect)
          .option('--limit-cpu <cpus>', 'CPU limit')
          .option('--limit-memory <size>', 'memory limit')
          .option('--reserve-cpu <cpus>', 'CPU reservation')
          .option('--reserve-memory <size>', 'memory reservation')
          .option('--endpoint-mode <mode>', 'vip or dnsrr'),
      ),
    ),
    'shoal service update --image shoal/busybox:2 web',
    'shoal service update --env-add LOG=debug --replicas 4 web',
    'shoal service update --rollback web',
  ).action(async (ref: string, opts: Target & ServiceUpdateFlags & WaitOptions & { rollback?: boolean }) => {
    await withClient(opts, async (c) => {
      // The flags apply to the spec as it is; a concurrent write (the orchestrator recording a
      // rolling update's progress) moves the version: read it again and apply them again.
      let current: Service;
      for (let attempt = 1; ; attempt++) {
        current = (await c.call('service.inspect', { service: ref })) as Service;
        const spec = applyServiceUpdate(current.spec, opts);
        if (opts.rollback) {
          if (JSON.stringify(spec) !== JSON.stringify(current.spec)) throw new ShoalError('bad_flag', '--rollback goes with no other change', 'roll back first, then update');
          if (!current.previousSpec) throw new ShoalError('no_previous_spec', `service ${current.spec.name} has no earlier spec to go back to`, 'it was never updated');
        } else if (JSON.stringify(spec) === JSON.stringify(current.spec)) {
          throw new ShoalError('nothing_to_change', `the flags change nothing in service ${current.spec.name}`, 'see shoal service update --help');
        }
        try {
          await c.call('service.update', { service: current.id, version: current.meta.version, spec, ...(opts.rollback ? { rollback: true } : {}) });
          break;
        } catch (err) {
          if (!isShoalError(err, 'version_conflict') || attempt >= 8) throw err;
        }
      }
      io.out(`${current.spec.name}\n`);
      if (opts.detach) return;
      // a rolling update: wait until the orchestrator says it is done (or why it stopped)
      const deadline = Date.now() + opts.timeout * 1000;
      let said = '';
      for (;;) {
        const now = (await c.call('service.inspect', { service: current.id })) as Service;
        const st = now.updateStatus;
        if (!st || st.state === 'completed' || st.state === 'rollback_completed') break;
        if (st.state === 'paused' || st.state === 'rollback_paused') throw new ShoalError('update_paused', `the update of ${current.spec.name} stopped: ${st.message}`, `see shoal service ps ${current.spec.name}; roll back with shoal service update --rollback`);
        if (st.message !== said) io.err(`  ${st.state}: ${st.message}\n`);
        said = st.message;
        if (Date.now() > deadline) throw new ShoalError('converge_timeout', `the update of ${current.spec.name} did not finish within ${opts.timeout} s`, `see shoal service ps ${current.spec.name}`);
        await new Promise((r) => setTimeout(r, 500));
      }
      await waitConverged(c, io, `service ${current.spec.name}`, async () => ((await c.call('service.ls', {})) as ServiceRow[]).filter((s) => s.id === current.id), opts.timeout, `see shoal service ps ${current.spec.name}`);
    });
  });

  examples(targetOptions(service.command('rm').description('remove services and their tasks').argument('<service...>', 'service ids or names')), 'shoal service rm web').action(
    async (refs: string[], opts: Target) => {
      await withClient(opts, async (c) => {
        for (const s of refs) {
          await c.call('service.rm', { service: s });
          io.out(`${s}\n`);
        }
      });
    },
  );
  addServiceLogs(service, io);
  return service;
}
