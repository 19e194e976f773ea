import { describe, expect, it } from 'vitest';
import { isShoalError } from '@shoal/core';
import { parseCoordinatorConfigFile, parseCount, resolveCoordinatorConfig } from '@shoal/coordinator';

const refusal = (f: () => unknown): { code: string; message: string } => {
  try {
    f();
  } catch (err) {
    if (isShoalError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('not refused');
};

describe('the coordinator config file', () => {
  it('reads every setting, members as a list or a mapping', () => {
    const c = parseCoordinatorConfigFile(
      ['cluster: prod', 'id: 2', 'peers: 1=10.0.0.1:7100,2=10.0.0.2:7100,3=10.0.0.3:7100', 'dataDir: /srv/shoal', 'nats: [nats://a:4222, nats://b:4222]', 'natsUser: coord', 'heartbeatMs: 500', 'name: east-2'].join('\n'),
      'c.yml',
    );
    expect(c).toEqual({
      cluster: 'prod',
      id: 2,
      peers: new Map([
        [1, { host: '10.0.0.1', port: 7100 }],
        [2, { host: '10.0.0.2', port: 7100 }],
        [3, { host: '10.0.0.3', port: 7100 }],
      ]),
      dataDir: '/srv/shoal',
      natsUrls: ['nats://a:4222', 'nats://b:4222'],
      natsUser: 'coord',
      heartbeatMs: 500,
      name: 'east-2',
    });
    const j = parseCoordinatorConfigFile(['join:', '  1: 10.0.0.1:7100', 'listen: 10.0.0.4:7100', 'standby: true'].join('\n'), 'j.yml');
    expect(j).toEqual({ join: new Map([[1, { host: '10.0.0.1', port: 7100 }]]), listen: { host: '10.0.0.4', port: 7100 }, standby: true });
    expect(parseCoordinatorConfigFile('', 'empty.yml')).toEqual({});
  });

  it('refuses unknown keys, wrong types and bad members, naming the key', () => {
    expect(refusal(() => parseCoordinatorConfigFile('clustr: prod', 'c.yml')).code).toBe('bad_config');
    expect(refusal(() => parseCoordinatorConfigFile('clustr: prod', 'c.yml')).message).toContain('unknown setting "clustr"');
    expect(refusal(() => parseCoordinatorConfigFile('id: two', 'c.yml')).message).toContain('id: expected a whole number ≥ 1, got "two"');
    expect(refusal(() => parseCoordinatorConfigFile('id: 0', 'c.yml')).message).toContain('expected a whole number ≥ 1');
    expect(refusal(() => parseCoordinatorConfigFile('peers: 1=a:70000', 'c.yml')).message).toContain('expected HOST:PORT');
    expect(refusal(() => parseCoordinatorConfigFile('peers: 1=a:1,1=b:2', 'c.yml')).message).toContain('member 1 is listed twice');
    expect(refusal(() => parseCoordinatorConfigFile('peers: [1, 2]', 'c.yml')).code).toBe('bad_config');
    expect(refusal(() => parseCoordinatorConfigFile('standby: yes please', 'c.yml')).message).toContain('standby: expected true or false');
    expect(refusal(() => parseCoordinatorConfigFile('heartbeatMs: 1', 'c.yml')).message).toContain('heartbeatMs');
    expect(refusal(() => parseCoordinatorConfigFile('electionMs: 50', 'c.yml')).message).toContain('electionMs: expected milliseconds between 200 and 60000, got 50');
    expect(refusal(() => parseCoordinatorConfigFile('- a\n- b', 'c.yml')).message).toContain('expected a mapping');
    expect(refusal(() => parseCoordinatorConfigFile('a: [', 'c.yml')).message).toContain('not valid YAML');
  });

  it('reads the snapshot settings, with defaults, and refuses ones out of bounds', () => {
    expect(parseCoordinatorConfigFile('snapshotEvery: 200\nsnapshotKeep: 0\nwalSegmentBytes: 8192', 'c.yml')).toEqual({ snapshotEvery: 200, snapshotKeep: 0, walSegmentBytes: 8192 });
    const peers = new Map([[1, { host: 'a', port: 1 }]]);
    expect(resolveCoordinatorConfig({ cluster: 'c', id: 1 }, { peers })).toMatchObject({ snapshotEvery: 10_000, snapshotKeep: 500, walSegmentBytes: 64 << 20 });
    expect(refusal(() => parseCoordinatorConfigFile('snapshotEvery: 3', 'c.yml')).message).toContain('snapshotEvery: expected applied entries between snapshots, a whole number from 10');
    expect(refusal(() => parseCoordinatorConfigFile('snapshotKeep: many', 'c.yml')).code).toBe('bad_config');
    expect(refusal(() => parseCoordinatorConfigFile('walSegmentBytes: 1.5', 'c.yml')).message).toContain('walSegmentBytes');
    expect(parseCount('snapshotEvery', '50', '--snapshot-every')).toBe(50);
    expect(refusal(() => parseCount('snapshotEvery', '0', '--snapshot-every')).message).toContain('--snapshot-every');
  });

  it('flags override the file; defaults fill the rest; the listen address comes from the peers', () => {
    const file = parseCoordinatorConfigFile('cluster: prod\nid: 1\npeers: 1=10.0.0.1:7100,2=10.0.0.2:7100,3=10.0.0.3:7100\nheartbeatMs: 500', 'c.yml');
    const c = resolveCoordinatorConfig(file, { id: 2, dataDir: '/d', cluster: undefined });
    expect(resolveCoordinatorConfig(parseCoordinatorConfigFile('cluster: prod\nid: 1\npeers: 1=10.0.0.1:7100\nelectionMs: 3000', 'c.yml'), {}).electionMs).toBe(3000);
    expect(c).toMatchObject({ cluster: 'prod', id: 2, dataDir: '/d', heartbeatMs: 500, electionMs: 500, natsUrls: ['nats://127.0.0.1:4222'], standby: false, listen: { host: '10.0.0.2', port: 7100 } });
  });

  it('is clear about what a founding or a joining coordinator needs', () => {
    const peers = new Map([[1, { host: 'a', port: 1 }]]);
    expect(refusal(() => resolveCoordinatorConfig({}, { id: 1, peers })).message).toContain('no cluster id');
    expect(refusal(() => resolveCoordinatorConfig({ cluster: 'c' }, { peers })).message).toContain('no member id');
    expect(refusal(() => resolveCoordinatorConfig({ cluster: 'c', id: 1 }, {})).message).toContain('neither --peers nor --join');
    expect(refusal(() => resolveCoordinatorConfig({ cluster: 'c', id: 1, peers }, { join: peers })).message).toContain('both given');
    expect(refusal(() => resolveCoordinatorConfig({ cluster: 'c', id: 2 }, { peers })).message).toContain('--peers does not list this coordinator');
    const joinToken = `SHOALTKN-1-m-${'a'.repeat(40)}`;
    expect(refusal(() => resolveCoordinatorConfig({ cluster: 'c', id: 4, joinToken }, { join: peers })).message).toContain('no --listen');
    expect(refusal(() => resolveCoordinatorConfig({ cluster: 'c', id: 1 }, { join: peers, listen: { host: 'b', port: 2 } })).message).toContain('--join lists this coordinator');
    expect(refusal(() => resolveCoordinatorConfig({ cluster: 'c', id: 4 }, { join: peers, listen: { host: 'd', port: 4 } })).message).toContain("--join needs the cluster's manager join token");
    expect(refusal(() => resolveCoordinatorConfig({ cluster: 'c', id: 1, standby: true }, { peers })).message).toContain('--standby only applies with --join');
    expect(resolveCoordinatorConfig({ cluster: 'c', id: 4 }, { join: peers, listen: { host: 'd', port: 4 }, standby: true, joinToken })).toMatchObject({ standby: true, listen: { host: 'd', port: 4 }, joinToken });
  });
});
