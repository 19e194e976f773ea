// Docker Swarm mode on a lab: each lab host's own dockerd, the first manager inits, the other
// managers join as managers (3, as Shoal's 3 coordinators), the remaining hosts as workers (as
// Shoal's hosts with an agent only). The peer every Shoal figure is a ratio of.
import { readFile } from 'node:fs/promises';
import { LAB_ROOT, run } from '@shoal/lab';
import { sleep, until } from './shoal-cluster.mjs';

export class SwarmCluster {
  constructor(lab, { hosts = ['h1', 'h2', 'h3'], managers = hosts } = {}) {
    this.lab = lab;
    this.hosts = hosts;
    this.managers = managers;
  }

  async must(host, argv, { timeoutMs = 120_000, input } = {}) {
    const r = await this.lab.exec(host, argv, { timeoutMs, ...(input === undefined ? {} : { input }) });
    if (r.code !== 0) throw new Error(`${host}: ${argv.join(' ')} failed: ${(r.stderr.trim() || r.stdout.trim()).slice(0, 400)}`);
    return r.stdout;
  }

  /**
   * Gives every host the same image ID (h1's image saved and loaded on the others) and returns
   * that ID. Swarm tries to pull an image named by tag before every task, even when it is present;
   * with no registry here each try stalls the task. An image named by ID is never pulled.
   */
  async sameImage(tag = 'shoal/busybox') {
    const [first, ...rest] = this.hosts;
    for (const h of rest) {
      const r = await run('sh', ['-c', `docker -H unix://${this.lab.dockerSocket(first)} save ${tag} | docker -H unix://${this.lab.dockerSocket(h)} load`], { timeoutMs: 120_000 });
      if (r.code !== 0) throw new Error(`copying ${tag} from ${first} to ${h}: ${r.stderr.trim()}`);
    }
    return (await this.must(first, ['docker', 'image', 'inspect', '-f', '{{.Id}}', tag])).trim();
  }

  async up() {
    const [first, ...rest] = this.managers;
    await this.must(first, ['docker', 'swarm', 'init', '--advertise-addr', this.lab.host(first).address]);
    const token = (await this.must(first, ['docker', 'swarm', 'join-token', '-q', 'manager'])).trim();
    const workerToken = (await this.must(first, ['docker', 'swarm', 'join-token', '-q', 'worker'])).trim();
    for (const h of this.hosts.filter((x) => x !== first)) {
      await this.must(h, ['docker', 'swarm', 'join', '--advertise-addr', this.lab.host(h).address, '--token', rest.includes(h) ? token : workerToken, `${this.lab.host(first).address}:2377`]);
    }
    await until('every Swarm node ready', async () => {
      const out = await this.must(first, ['docker', 'node', 'ls', '--format', '{{.Status}}']);
      return out.trim().split('\n').filter((s) => s === 'Ready').length === this.hosts.length ? true : undefined;
    }, 60_000, 500);
  }

  /** The host whose manager leads, asked of any manager that answers. */
  async leader(except = []) {
    for (const h of this.managers.filter((x) => !except.includes(x))) {
      const r = await this.lab.exec(h, ['docker', 'node', 'ls', '--format', '{{.Hostname}} {{.ManagerStatus}}'], { timeoutMs: 10_000 });
      if (r.code !== 0) continue;
      const line = r.stdout.split('\n').find((l) => l.endsWith(' Leader'));
      if (line) return line.split(' ')[0];
    }
    return undefined;
  }

  /** kill -9 the host's dockerd (its manager), found by its pid file, never by name. */
  async killDockerd(host) {
    const pid = Number((await readFile(`${LAB_ROOT}/${this.lab.name}/${host}/run/docker.pid`, 'utf8')).trim());
    process.kill(pid, 'SIGKILL');
    await until(`dockerd ${pid} to die`, () => {
      try {
        process.kill(pid, 0);
        return undefined;
      } catch {
        return true;
      }
    }, 10_000, 50);
    return pid;
  }

  async down() {
    for (const h of this.managers) if ((await this.lab.exec(h, ['docker', 'stack', 'rm', 'bench'], { timeoutMs: 60_000 })).code === 0) break;
    await sleep(1000);
    for (const h of [...this.hosts].reverse()) await this.lab.exec(h, ['docker', 'swarm', 'leave', '--force'], { timeoutMs: 60_000 });
  }
}
