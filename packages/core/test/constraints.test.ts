import { describe, expect, it } from 'vitest';
import { constraintTarget, explainMismatch, matchesConstraints, parseConstraint } from '@shoal/core';
import type { ConstraintTarget, Node } from '@shoal/core';

const h1: ConstraintTarget = {
  id: 'n1',
  hostname: 'h1',
  role: 'manager',
  platform: { os: 'linux', arch: 'x86_64' },
  labels: { zone: 'eu', disk: 'ssd' },
  engineLabels: { gpu: 'true' },
};

const match = (texts: string[], node: ConstraintTarget = h1): boolean => matchesConstraints(texts.map(parseConstraint), node);

describe('placement constraints', () => {
  it('matches each key Swarm knows with == and !=', () => {
    expect(match(['node.id==n1', 'node.hostname==h1', 'node.role==manager', 'node.platform.os==linux'])).toBe(true);
    expect(match(['node.labels.zone==eu', 'engine.labels.gpu==true', 'node.role!=worker'])).toBe(true);
    expect(match(['node.labels.zone!=eu'])).toBe(false);
    expect(match(['node.hostname==h2'])).toBe(false);
  });

  it('compares values case-insensitively and label names case-sensitively, as Swarm', () => {
    expect(match(['node.labels.zone==EU'])).toBe(true);
    expect(match(['Node.Role==Manager'])).toBe(true);
    expect(match(['node.labels.Zone==eu'])).toBe(false);
  });

  it('treats a missing label as empty: == fails and != holds', () => {
    expect(match(['node.labels.rack==r1'])).toBe(false);
    expect(match(['node.labels.rack!=r1'])).toBe(true);
  });

  it('knows x86_64 as amd64 and aarch64 as arm64', () => {
    expect(match(['node.platform.arch==amd64'])).toBe(true);
    expect(match(['node.platform.arch==arm64'], { ...h1, platform: { os: 'linux', arch: 'aarch64' } })).toBe(true);
  });

  it('tolerates spaces around the operator', () => {
    expect(parseConstraint(' node.role == manager ')).toMatchObject({ op: '==', value: 'manager', field: { kind: 'role' } });
  });

  it('refuses malformed constraints with a message that says how to write them', () => {
    expect(() => parseConstraint('node.labels.zone=eu')).toThrow('constraint "node.labels.zone=eu" has no operator — write key==value or key!=value');
    expect(() => parseConstraint('node.label.zone==eu')).toThrow(/has an unknown key "node.label.zone" — use node.id, node.hostname/);
    expect(() => parseConstraint('node.role==')).toThrow(/has no value/);
    expect(() => parseConstraint('==x')).toThrow(/has no key/);
    expect(() => parseConstraint('node.labels.==x')).toThrow(/names no label/);
    expect(() => parseConstraint('node.labels.a==b==c')).toThrow(/more than one operator/);
    expect(() => parseConstraint('node.labels.size==>3')).toThrow(expect.objectContaining({ code: 'bad_constraint' }));
  });

  it('explains in plain words why a node does not match, one sentence per failing constraint', () => {
    const cs = ['node.labels.zone==us', 'node.role!=manager', 'node.labels.rack==r1', 'node.hostname==h1'].map(parseConstraint);
    expect(explainMismatch(cs, h1)).toEqual([
      'node h1 has node.labels.zone="eu", not "us" (node.labels.zone==us)',
      'node h1 has node.role="manager", which node.role!=manager excludes',
      'node h1 has no label "rack" (node.labels.rack==r1 wants "r1")',
    ]);
    expect(explainMismatch([parseConstraint('node.role==manager')], h1)).toEqual([]);
  });

  it('reads role and labels from a stored node', () => {
    const node: Node = {
      id: 'n2',
      meta: { version: 1, createdAt: '', updatedAt: '' },
      spec: { role: 'worker', availability: 'active', labels: { zone: 'eu' } },
      hostname: 'h2',
      address: '192.168.50.12',
      platform: { os: 'linux', arch: 'amd64' },
      resources: { nanoCpus: 2e9, memoryBytes: 2 ** 31 },
      engineLabels: {},
      status: { state: 'ready' },
    };
    expect(match(['node.role==worker', 'node.labels.zone==eu'], constraintTarget(node))).toBe(true);
  });
});
