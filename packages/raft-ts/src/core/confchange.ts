import type { ConfChange, ConfState, NodeId } from './types.js';

/** Applies one change to a membership, or explains why it is not allowed. */
export function applyConfChange(conf: ConfState, cc: ConfChange): ConfState | string {
  const voters = new Set<NodeId>(conf.voters);
  const learners = new Set<NodeId>(conf.learners);
  if (!Number.isSafeInteger(cc.node) || cc.node <= 0) return `invalid node id ${cc.node}`;
  switch (cc.type) {
    case 'addVoter':
      if (voters.has(cc.node)) return `${cc.node} is already a voter`;
      learners.delete(cc.node);
      voters.add(cc.node);
      break;
    case 'addLearner':
      if (learners.has(cc.node)) return `${cc.node} is already a learner`;
      // Demoting a voter removes one voter: still a single-server change.
      voters.delete(cc.node);
      learners.add(cc.node);
      break;
    case 'removeNode':
      if (!voters.has(cc.node) && !learners.has(cc.node)) return `${cc.node} is not a member`;
      voters.delete(cc.node);
      learners.delete(cc.node);
      break;
  }
  if (voters.size === 0) return 'a configuration needs at least one voter';
  return { voters: [...voters].sort((a, b) => a - b), learners: [...learners].sort((a, b) => a - b) };
}

export function isMember(conf: ConfState, id: NodeId): boolean {
  return conf.voters.includes(id) || conf.learners.includes(id);
}
