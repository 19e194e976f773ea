import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic, loadStack, parseCompose } from '@shoal/core';
import type { ComposeResult, Env, ServiceSpec, StackSpec } from '@shoal/core';

const fixture = (name: string): { name: string; text: string } => ({
  name,
  text: readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'),
});

function ok(result: ComposeResult): StackSpec {
  expect(result.errors.map(formatDiagnostic)).toEqual([]);
  if (!result.stack) throw new Error('no stack');
  return result.stack;
}

function service(stack: StackSpec, name: string): ServiceSpec {
  const s = stack.services.find((x) => x.name === `${stack.name}_${name}`);
  if (!s) throw new Error(`no service ${name}`);
  return s;
}

const inline = (text: string, env: Env = {}): ComposeResult => parseCompose({ name: 'stack.yml', text }, { stackName: 'st', env });
const errorsOf = (text: string, env: Env = {}): string[] => inline(text, env).errors.map(formatDiagnostic);

describe('compose: the voting app', () => {
  const stack = ok(parseCompose(fixture('voting-app.yml'), { stackName: 'vote' }));

  it('names services and networks after the stack and creates only networks in use', () => {
    expect(stack.services.map((s) => s.name).sort()).toEqual(['vote_db', 'vote_redis', 'vote_result', 'vote_vote', 'vote_worker']);
    expect(stack.networks.map((n) => [n.key, n.spec.name, n.spec.driver])).toEqual([
      ['frontend', 'vote_frontend', 'overlay'],
      ['backend', 'vote_backend', 'overlay'],
    ]);
  });

  it('makes each service reachable by its short name on each of its networks', () => {
    expect(service(stack, 'worker').networks).toEqual([
      { target: 'vote_frontend', aliases: ['worker'] },
      { target: 'vote_backend', aliases: ['worker'] },
    ]);
  });

  it('publishes short-syntax ports through the ingress mesh', () => {
    expect(service(stack, 'vote').endpoint).toEqual({ mode: 'vip', ports: [{ target: 80, published: 5000, protocol: 'tcp', mode: 'ingress' }] });
  });

  it('splits a command string into words as a shell would', () => {
    expect(service(stack, 'vote').container.command?.slice(0, 5)).toEqual(['gunicorn', 'app:app', '-b', '0.0.0.0:80', '--log-file']);
  });

  it('reads deploy settings and fills Swarm defaults for what is left out', () => {
    const vote = service(stack, 'vote');
    expect(vote.mode).toEqual({ kind: 'replicated', replicas: 2 });
    expect(vote.restartPolicy).toEqual({ condition: 'on-failure', delayMs: 5_000, maxAttempts: 3, windowMs: 120_000 });
    expect(vote.update).toEqual({ parallelism: 2, delayMs: 0, failureAction: 'rollback', monitorMs: 5_000, maxFailureRatio: 0, order: 'start-first' });
    expect(service(stack, 'db').mode).toEqual({ kind: 'replicated', replicas: 1 });
    expect(service(stack, 'db').placement.constraints).toEqual(['node.role == manager']);
    expect(service(stack, 'worker').labels).toEqual({ APP: 'VOTING' });
  });

  it('turns healthcheck strings into CMD-SHELL and keeps lists as they are', () => {
    expect(service(stack, 'db').container.healthcheck).toEqual({ test: ['CMD-SHELL', 'pg_isready -U postgres'], intervalMs: 10_000 });
    expect(service(stack, 'redis').container.healthcheck).toEqual({ test: ['CMD', 'redis-cli', 'ping'], intervalMs: 5_000, timeoutMs: 3_000, retries: 5 });
  });
});

describe('compose: wordpress and mysql', () => {
  const env = { MYSQL_ROOT_PASSWORD: 'r00t', WP_DEBUG: '1' };
  const stack = ok(parseCompose(fixture('wordpress.yml'), { stackName: 'wp', env }));

  it('interpolates variables, with their defaults, before checking types', () => {
    const db = service(stack, 'db');
    expect(db.container.env).toMatchObject({ MYSQL_ROOT_PASSWORD: 'r00t', MYSQL_PASSWORD: 'wordpress' });
    expect(service(stack, 'wordpress').container.image).toBe('wordpress:6.5-apache');
    // `${WP_REPLICAS:-2}` arrives as the text "2" and is still a valid count.
    expect(service(stack, 'wordpress').mode).toEqual({ kind: 'replicated', replicas: 2 });
  });

  it('takes a bare environment name from the caller, and leaves it out when unset', () => {
    expect(service(stack, 'wordpress').container.env).toEqual({
      WORDPRESS_DB_HOST: 'db',
      WORDPRESS_DB_USER: 'wordpress',
      WORDPRESS_DB_PASSWORD: 'wordpress',
      WORDPRESS_DB_NAME: 'wordpress',
      WP_DEBUG: '1',
    });
    const without = ok(parseCompose(fixture('wordpress.yml'), { stackName: 'wp', env: { MYSQL_ROOT_PASSWORD: 'x' } }));
    expect(service(without, 'wordpress').container.env).not.toHaveProperty('WP_DEBUG');
  });

  it('converts memory sizes and CPUs into Docker units', () => {
    expect(service(stack, 'db').resources).toEqual({
      limits: { memoryBytes: 2 ** 30 },
      reservations: { memoryBytes: 512 * 2 ** 20, nanoCpus: 500_000_000 },
    });
    expect(service(stack, 'wordpress').resources.limits).toEqual({ nanoCpus: 1_500_000_000, memoryBytes: 768 * 2 ** 20 });
  });

  it('puts services without networks on the stack default network', () => {
    expect(stack.networks.map((n) => n.spec.name)).toEqual(['wp_default']);
    expect(service(stack, 'db').networks).toEqual([{ target: 'wp_default', aliases: ['db'] }]);
    expect(service(stack, 'db').container.expose).toEqual([{ port: 3306, protocol: 'tcp' }, { port: 33060, protocol: 'tcp' }]);
  });

  it('fails with the message of ${VAR:?} when a required variable is missing, naming path and line', () => {
    const result = parseCompose(fixture('wordpress.yml'), { stackName: 'wp', env: {} });
    expect(result.stack).toBeUndefined();
    expect(result.errors.map(formatDiagnostic)).toEqual([
      'wordpress.yml:7: services.db.environment.MYSQL_ROOT_PASSWORD: cannot interpolate "${MYSQL_ROOT_PASSWORD:?set it in the shell}": required variable MYSQL_ROOT_PASSWORD is not set: set it in the shell',
    ]);
  });
});

describe('compose: a web/worker/db stack on two overlays', () => {
  const stack = ok(parseCompose(fixture('shop.yml'), { stackName: 'shop' }));

  it('keeps the chosen subnet, ip range, gateway, options and labels of each network', () => {
    const front = stack.networks.find((n) => n.key === 'front');
    expect(front?.spec).toEqual({
      name: 'shop_front',
      driver: 'overlay',
      driverOpts: {},
      ipam: [{ subnet: '172.28.0.0/16', ipRange: '172.28.5.0/24', gateway: '172.28.5.254' }],
      attachable: true,
      internal: false,
      labels: { 'com.example.purpose': 'public' },
    });
    expect(stack.networks.find((n) => n.key === 'back')?.spec.driverOpts).toEqual({ encrypted: 'true' });
    expect(stack.networks.map((n) => n.key)).not.toContain('unused');
  });

  it('attaches with aliases and a fixed address', () => {
    expect(service(stack, 'web').networks).toEqual([
      { target: 'shop_front', aliases: ['web', 'shop', 'www'] },
      { target: 'shop_back', aliases: ['web'] },
    ]);
    expect(service(stack, 'db').networks).toEqual([{ target: 'shop_back', aliases: ['db'], ipv4Address: '10.20.1.10' }]);
  });

  it('reads long-syntax ports with host mode and a host address', () => {
    expect(service(stack, 'web').endpoint.ports).toEqual([
      { target: 8080, published: 80, protocol: 'tcp', mode: 'ingress' },
      { target: 9100, published: 9100, protocol: 'tcp', mode: 'host', hostIp: '0.0.0.0' },
    ]);
  });

  it('reads global mode, dnsrr, spread preferences and per-node limits', () => {
    expect(service(stack, 'worker').mode).toEqual({ kind: 'global' });
    expect(service(stack, 'worker').placement.constraints).toEqual(['node.platform.os == linux', 'engine.labels.storage == ssd']);
    expect(service(stack, 'api').endpoint.mode).toBe('dnsrr');
    expect(service(stack, 'web').placement).toEqual({
      constraints: ['node.labels.zone != quarantine'],
      preferences: [{ spread: 'node.labels.zone' }],
      maxReplicasPerNode: 2,
    });
  });

  it('resolves YAML anchors shared between services', () => {
    expect(service(stack, 'api').restartPolicy).toEqual({ condition: 'on-failure', delayMs: 3_000, maxAttempts: 5 });
    expect(service(stack, 'web').restartPolicy).toEqual(service(stack, 'api').restartPolicy);
  });

  it('keeps entrypoint, quoted command words, env numbers as text, and healthcheck durations', () => {
    const web = service(stack, 'web');
    expect(web.container.entrypoint).toEqual(['/usr/local/bin/tini', '--']);
    expect(web.container.env.WORKERS).toBe('4');
    expect(service(stack, 'worker').container.command).toEqual(['celery', '-A', 'shop', 'worker', '--loglevel', 'info']);
    expect(service(stack, 'db').container.healthcheck).toMatchObject({ startPeriodMs: 90_000, timeoutMs: 5_000 });
    expect(web.rollback).toMatchObject({ parallelism: 0, failureAction: 'pause' });
    expect(web.update).toMatchObject({ monitorMs: 30_000, maxFailureRatio: 0.2 });
  });
});

describe('compose: merging files as docker compose -f a -f b', () => {
  const stack = ok(parseCompose([fixture('shop.yml'), fixture('shop.prod.yml')], { stackName: 'shop' }));

  it('overrides scalars and merges environment given as a map in one file and a list in the other', () => {
    const web = service(stack, 'web');
    expect(web.mode).toEqual({ kind: 'replicated', replicas: 6 });
    expect(web.container.env).toEqual({ NODE_ENV: 'production', API_URL: 'http://api:9000', WORKERS: '8', LOG_LEVEL: 'warn' });
  });

  it('appends ports and constraints but replaces commands', () => {
    const web = service(stack, 'web');
    expect(web.endpoint.ports.map((p) => p.published)).toEqual([80, 9100, 443]);
    expect(web.placement.constraints).toEqual(['node.labels.zone != quarantine', 'node.labels.tier == edge']);
    expect(service(stack, 'api').container.command).toEqual(['./api', '--prod']);
  });

  it('drops what an earlier file set where a later one says !reset, and replaces lists where it says !override', () => {
    const prod = {
      name: 'reset.yml',
      text: 'services:\n  web:\n    ports: !override\n      - "8443:8443"\n    hostname: !reset null\n    deploy:\n      placement: !reset {}\n',
    };
    const web = service(ok(parseCompose([fixture('shop.yml'), prod], { stackName: 'shop' })), 'web');
    expect(web.endpoint.ports).toEqual([{ target: 8443, published: 8443, protocol: 'tcp', mode: 'ingress' }]);
    expect(web.container.hostname).toBeUndefined();
    expect(web.placement).toEqual({ constraints: [], preferences: [] });
    // Untagged keys of the same file still merge as usual.
    expect(web.mode).toEqual({ kind: 'replicated', replicas: 3 });
  });

  it('points an error in a port appended by the second file at that file and line', () => {
    const extra = { name: 'ports.yml', text: 'services:\n  web:\n    ports:\n      - "80:8080"\n      - "99999:80"\n' };
    const result = parseCompose([fixture('shop.yml'), extra], { stackName: 'shop' });
    // The first file has two ports, so the new ones land at indices 2 and 3.
    expect(result.errors.map(formatDiagnostic)).toEqual([
      'shop.yml:20: services.web.ports: published port 80/tcp is published twice',
      'ports.yml:5: services.web.ports[3]: published "99999" is not a port or range of ports 1–65535',
    ]);
  });

  it('points an error in the second file at that file and line', () => {
    const bad = { name: 'override.yml', text: 'services:\n  web:\n    deploy:\n      replicas: many\n' };
    const result = parseCompose([fixture('shop.yml'), bad], { stackName: 'shop' });
    expect(result.errors.map(formatDiagnostic)).toEqual(['override.yml:4: services.web.deploy.replicas: expected a whole number ≥ 0, got "many"']);
  });
});

describe('compose: errors and warnings', () => {
  it('collects every error of a bad file, in line order, each with its path and line', () => {
    const result = parseCompose(fixture('bad.yml'), { stackName: 'bad' });
    expect(result.stack).toBeUndefined();
    expect(result.errors.map(formatDiagnostic)).toEqual([
      'bad.yml:5: services.web.ports[0]: protocol "sctp" is not tcp or udp',
      'bad.yml:6: services.web.ports[1]: published range 8080-8081 and target range 80 differ in length',
      'bad.yml:9: services.web.networks.missing: network "missing" is not declared under the top-level networks',
      'bad.yml:11: services.web.deploy.replicas: expected a whole number ≥ 0, got "three"',
      'bad.yml:14: services.web.deploy.placement.constraints[0]: constraint "node.labels.zone=eu" has no operator — write key==value or key!=value, e.g. node.role==manager',
      'bad.yml:16: services.web.deploy.update_config.order: expected "stop-first" or "start-first", got "random"',
      'bad.yml:18: services.web.deploy.restart_policy.delay: expected a duration such as 10s or 1m30s, got "soon"',
      'bad.yml:20: services.cache.image: an image is required: Shoal does not build images; push one and name it here',
      'bad.yml:22: services.cache.network_mode: expected "host", "none" or "container:NAME", got "bridge"',
      'bad.yml:27: networks.front.ipam.config[0].subnet: 10.5.0.7/24 has host bits set (did you mean 10.5.0.0/24?)',
      'bad.yml:32: networks.back.ipam.config[0].gateway: 10.7.0.1 is not inside the subnet 10.6.0.0/24',
    ]);
  });

  it('warns about each unknown or ignored key by path, without failing', () => {
    const result = inline(`
version: "3.8"
services:
  web:
    image: nginx
    colour: blue
    depends_on: [db]
    x-note: extension fields are fine
    deploy:
      replica: 3
volumes:
  data:
x-common: {}
`);
    expect(result.stack).toBeDefined();
    expect(result.warnings.map(formatDiagnostic)).toEqual([
      'stack.yml:6: services.web.colour: unknown key "colour"; ignored',
      'stack.yml:7: services.web.depends_on: depends_on is ignored, as docker stack deploy does: services start in any order',
      'stack.yml:10: services.web.deploy.replica: unknown key "replica"; ignored',
      'stack.yml:11: volumes: top-level volumes are not supported by Shoal yet; ignored',
    ]);
  });

  it('points keys that plain compose honours but stacks do not at their deploy equivalent', () => {
    const result = inline('services:\n  a:\n    image: x\n    mem_limit: 1g\n    runtime: runc\n');
    expect(result.warnings.map((w) => w.message)).toEqual([
      'mem_limit is ignored by stacks; use deploy.resources.limits.memory',
      'runtime is not supported by Shoal yet; ignored',
    ]);
  });

  it('refuses a million replicas, and replicas with global mode', () => {
    expect(errorsOf('services:\n  w:\n    image: x\n    deploy:\n      replicas: 1000000\n')).toEqual([
      'stack.yml:5: services.w.deploy.replicas: 1000000 replicas is more than Shoal allows (100000)',
    ]);
    expect(errorsOf('services:\n  w:\n    image: x\n    deploy:\n      mode: global\n      replicas: 2\n')[0]).toMatch(/replicas: cannot be set with mode: global/);
  });

  it('refuses network_mode together with networks', () => {
    expect(errorsOf('services:\n  w:\n    image: x\n    network_mode: host\n    networks: [a]\nnetworks:\n  a:\n')).toEqual([
      'stack.yml:4: services.w.network_mode: cannot be combined with networks: remove one of them',
    ]);
  });

  it('accepts network_mode host, none and container:NAME without attaching networks', () => {
    const stack = inline('services:\n  a:\n    image: x\n    network_mode: "container:b"\n  b:\n    image: x\n    network_mode: none\n').stack;
    expect(stack?.services.map((s) => [s.networkMode, s.networks])).toEqual([
      [{ kind: 'container', container: 'b' }, []],
      [{ kind: 'none' }, []],
    ]);
    expect(stack?.networks).toEqual([]);
  });

  it('refuses ingress ports on a dnsrr service', () => {
    expect(errorsOf('services:\n  w:\n    image: x\n    ports: ["80:80"]\n    deploy:\n      endpoint_mode: dnsrr\n')[0]).toMatch(
      /deploy.endpoint_mode: dnsrr cannot be used with ingress ports/,
    );
  });

  it('refuses the same published port on two services', () => {
    expect(errorsOf('services:\n  a:\n    image: x\n    ports: ["80:80"]\n  b:\n    image: y\n    ports: ["80:8080"]\n')).toEqual([
      'stack.yml:7: services.b.ports: published port 80/tcp is also published by service "a"',
    ]);
  });

  it('refuses fixed addresses outside the subnet, without a subnet, or given twice', () => {
    const text = (ip: string, subnet = true): string => `
services:
  a:
    image: x
    networks:
      n:
        ipv4_address: ${ip}
  b:
    image: x
    networks:
      n:
        ipv4_address: 10.1.0.9
networks:
  n:
${subnet ? '    ipam:\n      config:\n        - subnet: 10.1.0.0/24\n' : ''}`;
    expect(errorsOf(text('10.2.0.9'))).toEqual(['stack.yml:7: services.a.networks.n.ipv4_address: 10.2.0.9 is not inside the subnet 10.1.0.0/24 of network "n"']);
    expect(errorsOf(text('10.1.0.9'))).toEqual(['stack.yml:10: services.b.networks: address 10.1.0.9 on st_n is also given to service "a"']);
    expect(errorsOf(text('10.1.0.8', false))[0]).toMatch(/ipv4_address: needs a subnet: declare ipam.config/);
  });

  it('refuses two stack networks with overlapping subnets, naming the other', () => {
    const text = `
services:
  a: { image: x, networks: [n, m] }
networks:
  n: { ipam: { config: [ { subnet: 10.1.0.0/16 } ] } }
  m: { ipam: { config: [ { subnet: 10.1.4.0/24 } ] } }
`;
    expect(errorsOf(text)).toEqual(['stack.yml:6: networks.m.ipam.config[0].subnet: overlaps the subnet of network "n"']);
  });

  it('refuses two network keys that resolve to the same name', () => {
    expect(errorsOf('services:\n  a: { image: x, networks: [n, m] }\nnetworks:\n  n: { name: shared }\n  m:\n    name: shared\n')).toEqual([
      'stack.yml:6: networks.m.name: network name "shared" is also the name of network "n"',
    ]);
    expect(errorsOf('services:\n  a: { image: x, networks: [n, m] }\nnetworks:\n  n: { external: true, name: shared }\n  m: { external: true, name: shared }\n')).toEqual([]);
  });

  it('uses external networks by their own name and refuses settings on them', () => {
    const stack = inline('services:\n  a:\n    image: x\n    networks: [proxy]\nnetworks:\n  proxy:\n    external: true\n    name: traefik-public\n').stack;
    expect(stack?.networks).toMatchObject([{ key: 'proxy', external: true, spec: { name: 'traefik-public' } }]);
    expect(stack?.services[0]?.networks[0]?.target).toBe('traefik-public');
    expect(errorsOf('services:\n  a:\n    image: x\n    networks: [p]\nnetworks:\n  p:\n    external: true\n    driver: overlay\n')).toEqual([
      'stack.yml:8: networks.p.driver: cannot be set on an external network: it already exists',
    ]);
  });

  it('attaches services without networks to a redefined default network by its name', () => {
    const stack = inline('services:\n  a:\n    image: x\nnetworks:\n  default:\n    external: true\n    name: shared\n').stack;
    expect(stack?.services[0]?.networks).toEqual([{ target: 'shared', aliases: ['a'] }]);
    expect(stack?.networks).toMatchObject([{ key: 'default', external: true, spec: { name: 'shared' } }]);
  });

  it('reports YAML syntax errors and duplicate keys with their line', () => {
    expect(errorsOf('services:\n  a:\n    image: x\n   bad indent: [\n')[0]).toMatch(/^stack\.yml:\d: \(top level\): invalid YAML/);
    expect(errorsOf('services:\n  a:\n    image: x\n    image: y\n')[0]).toMatch(/^stack\.yml:4: .*invalid YAML: Map keys must be unique/);
  });

  it('refuses an empty file, a file without services and a bad stack name', () => {
    expect(errorsOf('')).toEqual(['stack.yml: (top level): the file is empty']);
    expect(errorsOf('networks: {}\n')).toEqual(['stack.yml:1: services: expected a mapping of services, got nothing']);
    expect(parseCompose({ name: 'a.yml', text: 'services: {}' }, { stackName: 'My Stack' }).errors[0]?.message).toMatch(/not a valid stack name/);
  });

  it('refuses services whose network_mode container: chain comes back on itself', () => {
    const text = 'services:\n  a:\n    image: x\n    network_mode: container:b\n  b:\n    image: x\n    network_mode: container:a\n  c:\n    image: x\n    network_mode: container:c\n';
    expect(errorsOf(text)).toEqual([
      "stack.yml:4: services.a.network_mode: services a → b → a take each other's network in a cycle; one of them needs its own",
      "stack.yml:10: services.c.network_mode: services c → c take each other's network in a cycle; one of them needs its own",
    ]);
  });

  it('refuses an alias that refers to a value containing it, instead of looping', () => {
    expect(errorsOf('x-a: &a\n  b: *a\nservices:\n  a:\n    image: x\n')).toEqual([
      'stack.yml: (top level): cannot expand YAML aliases: an alias refers to a value that contains it',
    ]);
  });

  it('interpolates a value shared through an anchor once per use, not twice', () => {
    const text = 'x-env: &env\n  PRICE: "$$5"\nservices:\n  a:\n    image: x\n    environment: *env\n  b:\n    image: x\n    environment: *env\n';
    expect(inline(text, { '5': 'no' }).stack?.services.map((s) => s.container.env.PRICE)).toEqual(['$5', '$5']);
  });

  it('places keys merged in with <<: *anchor at the line of the anchor', () => {
    const text = 'x-base: &base\n  image: x\n  deploy:\n    replicas: lots\nservices:\n  a:\n    <<: *base\n    hostname: a\n';
    expect(errorsOf(text)).toEqual(['stack.yml:4: services.a.deploy.replicas: expected a whole number ≥ 0, got "lots"']);
  });

  it('refuses an alias bomb instead of expanding it', () => {
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 8; i++) bomb.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
    expect(errorsOf(`x-bomb:\n${bomb.map((l) => `  ${l}`).join('\n')}\nservices:\n  a:\n    image: x\n`)[0]).toMatch(/alias/i);
  });

  it('throws one compose_invalid error listing every problem from loadStack', () => {
    expect(() => loadStack(fixture('bad.yml'), { stackName: 'bad' })).toThrow(
      expect.objectContaining({ code: 'compose_invalid', message: expect.stringContaining('the stack file has 11 errors:\n  bad.yml:5:') as unknown }),
    );
    expect(loadStack(fixture('voting-app.yml'), { stackName: 'vote' }).stack.services).toHaveLength(5);
  });
});
