import { describe, expect, it } from 'vitest';
import { apiSubject, eventsSubject, nodeLogsSubjects, nodePermission, nodeSubject, nodeWildcard, parseSubject } from '@shoal/core';

describe('NATS subjects', () => {
  it('scopes every subject by cluster', () => {
    expect(apiSubject('c1', 'service.create')).toBe('shoal.c1.api.service.create');
    expect(nodeSubject('c1', 'n-7', 'assign')).toBe('shoal.c1.node.n-7.assign');
    expect(nodeSubject('c1', 'n-7', 'hb')).toBe('shoal.c1.node.n-7.hb');
    expect(eventsSubject('c1')).toBe('shoal.c1.events');
    expect(nodeWildcard('c1', 'status')).toBe('shoal.c1.node.*.status');
    expect(nodePermission('c1', 'n-7')).toBe('shoal.c1.node.n-7.>');
  });

  it('refuses node ids that would widen a subject permission to other nodes', () => {
    for (const bad of ['n.1', '*', '>', 'a b', '', 'x'.repeat(65)]) {
      expect(() => nodeSubject('c1', bad, 'assign')).toThrow(expect.objectContaining({ code: 'bad_subject_token' }));
    }
    expect(() => eventsSubject('c.1')).toThrow(/cluster id "c.1" cannot be part of a subject/);
    expect(() => apiSubject('c1', 'Service.*')).toThrow(/API verb/);
  });

  it("puts a logs stream's reply and control subjects inside the node's own permission, never in an inbox", () => {
    const s = nodeLogsSubjects('c1', 'n-7', 'ab12');
    expect(s).toEqual({ reply: 'shoal.c1.node.n-7.logs.reply.ab12', control: 'shoal.c1.node.n-7.logs.control.ab12' });
    const mine = nodePermission('c1', 'n-7').slice(0, -1);
    expect(s.reply.startsWith(mine) && s.control.startsWith(mine)).toBe(true);
    expect(() => nodeLogsSubjects('c1', 'n-7', 'a.>')).toThrow(expect.objectContaining({ code: 'bad_subject_token' }));
  });

  it('parses what it builds and nothing else', () => {
    expect(parseSubject('shoal.c1.api.service.create')).toEqual({ kind: 'api', cluster: 'c1', verb: 'service.create' });
    expect(parseSubject('shoal.c1.node.n-7.status')).toEqual({ kind: 'node', cluster: 'c1', nodeId: 'n-7', channel: 'status' });
    expect(parseSubject('shoal.c1.events')).toEqual({ kind: 'events', cluster: 'c1' });
    expect(parseSubject('shoal.c1.raft.m2')).toEqual({ kind: 'raft', cluster: 'c1', member: 'm2' });
    expect(parseSubject('shoal.c1.node.n-7.steal')).toBeUndefined();
    expect(parseSubject('other.c1.events')).toBeUndefined();
    expect(parseSubject('shoal.c1.node.n.7.hb')).toBeUndefined();
  });
});
