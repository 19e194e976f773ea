import { describe, expect, it } from 'vitest';
import { MemoryStorage } from 'raft-ts';
import type { Message } from 'raft-ts';
import { Cluster } from './cluster.js';

const withLearner = { voters: [1, 2, 3], learners: [4] };

describe('learners', () => {
  it('a learner receives and applies the log but does not count toward commit', () => {
    const c = new Cluster([1, 2, 3, 4], {}, { 1: withLearner, 2: withLearner, 3: withLearner, 4: withLearner });
    c.elect(1);
    c.propose(1, 'a');
    expect(c.appliedText(4)).toEqual(['a']);
    c.isolate(2);
    c.isolate(3);
    const commit = c.node(1).status().commit;
    c.propose(1, 'b');
    expect(c.node(4).entries(commit + 1, commit + 2).length).toBe(1);
    expect(c.node(1).status().commit).toBe(commit);
  });

  it('a learner never campaigns', () => {
    const c = new Cluster([1, 2, 3, 4], {}, { 1: withLearner, 2: withLearner, 3: withLearner, 4: withLearner });
    c.tick(4, 100);
    c.stabilize();
    expect(c.node(4).status()).toMatchObject({ role: 'follower', term: 0 });
  });

  it('a learner that caught up is promoted to voter', () => {
    const c = new Cluster([1, 2, 3, 4], {}, { 1: withLearner, 2: withLearner, 3: withLearner, 4: withLearner });
    c.elect(1);
    expect(c.node(1).proposeConfChange({ type: 'addVoter', node: 4 }).status).toBe('appended');
    c.stabilize();
    for (const id of [1, 2, 3, 4]) expect(c.node(id).status().conf).toEqual({ voters: [1, 2, 3, 4], learners: [] });
  });

  it('a learner far behind is not promoted', () => {
    const c = new Cluster([1, 2, 3, 4], { promotionLag: 2 }, { 1: withLearner, 2: withLearner, 3: withLearner, 4: withLearner });
    c.elect(1);
    c.isolate(4);
    for (let i = 0; i < 5; i++) c.propose(1, `e${i}`);
    const r = c.node(1).proposeConfChange({ type: 'addVoter', node: 4 });
    expect(r).toMatchObject({ status: 'refused', reason: 'learnerNotCaughtUp' });
    expect(c.node(1).status().conf.learners).toEqual([4]);
  });
});

describe('one-server-at-a-time membership changes', () => {
  it('a new voter joins with an empty log, learns the membership from the leader and counts toward commit', () => {
    const c = Cluster.bootstrapped([1, 2, 3]);
    c.elect(1);
    c.add(4, new MemoryStorage());
    expect(c.node(1).proposeConfChange({ type: 'addVoter', node: 4 }).status).toBe('appended');
    // In force on the leader as soon as it is appended, before it commits.
    expect(c.node(1).status().conf.voters).toEqual([1, 2, 3, 4]);
    c.stabilize();
    expect(c.node(4).status().conf.voters).toEqual([1, 2, 3, 4]);
    // With 4 voters a majority is 3: the leader and one follower are not enough.
    c.isolate(3);
    c.isolate(4);
    const commit = c.node(1).status().commit;
    c.propose(1, 'x');
    expect(c.node(1).status().commit).toBe(commit);
  });

  it('a second change is refused and counted while the first is uncommitted', () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.isolate(1);
    expect(c.node(1).proposeConfChange({ type: 'addLearner', node: 4 }).status).toBe('appended');
    const before = c.node(1).status();
    const r = c.node(1).proposeConfChange({ type: 'addLearner', node: 5 });
    expect(r).toMatchObject({ status: 'refused', reason: 'confChangePending' });
    expect(c.node(1).rejections().get('confChangePending')).toBe(1);
    expect(c.node(1).status()).toEqual(before);
  });

  it('an invalid change is refused and counted', () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    expect(c.node(1).proposeConfChange({ type: 'addVoter', node: 2 })).toMatchObject({ status: 'refused', reason: 'invalidConfChange' });
    expect(c.node(1).proposeConfChange({ type: 'removeNode', node: 9 })).toMatchObject({ status: 'refused', reason: 'invalidConfChange' });
    expect(c.node(1).rejections().get('invalidConfChange')).toBe(2);
  });

  it('a new leader refuses a change until an entry of its own term is committed', () => {
    const c = new Cluster([1, 2, 3]);
    c.dropIf = (m: Message): boolean => m.type === 'app';
    c.elect(1);
    expect(c.node(1).status().role).toBe('leader');
    expect(c.node(1).proposeConfChange({ type: 'addLearner', node: 4 })).toMatchObject({ status: 'refused', reason: 'leaderNotReady' });
  });

  it('a follower refuses a change and names the leader', () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    expect(c.node(2).proposeConfChange({ type: 'addLearner', node: 4 })).toMatchObject({ status: 'refused', leader: 1 });
  });

  it('a leader that removes itself steps down once the change commits, and the others elect a leader', () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    expect(c.node(1).proposeConfChange({ type: 'removeNode', node: 1 }).status).toBe('appended');
    c.stabilize();
    expect(c.node(1).status().role).toBe('follower');
    expect(c.node(2).status().conf.voters).toEqual([2, 3]);
    c.tickAll(40);
    const leader = c.leader();
    expect([2, 3]).toContain(leader);
  });

  it('a removed member that never learns of its removal cannot disrupt the cluster', () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.node(1).proposeConfChange({ type: 'removeNode', node: 3 });
    c.stabilize();
    // The leader stops replicating to 3 as soon as the change is appended, so 3 never sees it.
    expect(c.node(3).status().conf.voters).toEqual([1, 2, 3]);
    const term = c.node(1).status().term;
    c.tickAll(100);
    expect(c.leader()).toBe(1);
    expect(c.node(1).status().term).toBe(term);
    expect(c.node(2).status().term).toBe(term);
  });

  it('an uncommitted configuration is rolled back when a new leader overwrites its entry', () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.isolate(1);
    c.node(1).proposeConfChange({ type: 'addLearner', node: 4 });
    expect(c.node(1).status().conf.learners).toEqual([4]);
    // 1 steps down (CheckQuorum) and 2 or 3 wins a later term without the change.
    c.tickAll(40);
    expect([2, 3]).toContain(c.leader());
    c.heal();
    c.tickAll(3);
    expect(c.node(1).status().conf).toEqual({ voters: [1, 2, 3], learners: [] });
  });
});
