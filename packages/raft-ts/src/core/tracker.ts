import { Progress } from './progress.js';
import { committedIndex, voteResult, type VoteResult } from './quorum.js';
import type { ConfState, NodeId } from './types.js';

/** The leader's (and a candidate's) bookkeeping: the membership, per-member progress and votes. */
export class ProgressTracker {
  conf: ConfState = { voters: [], learners: [] };
  readonly progress = new Map<NodeId, Progress>();
  readonly votes = new Map<NodeId, boolean>();

  constructor(
    private readonly maxInflight: number,
    private readonly maxInflightBytes: number,
  ) {}

  /** Switches to `conf`, keeping the progress of members that stay. */
  setConf(conf: ConfState, nextIndex: number): void {
    this.conf = conf;
    const members = new Set<NodeId>([...conf.voters, ...conf.learners]);
    for (const id of [...this.progress.keys()]) if (!members.has(id)) this.progress.delete(id);
    for (const id of members) {
      const learner = conf.learners.includes(id);
      const pr = this.progress.get(id);
      if (pr === undefined) this.progress.set(id, new Progress(nextIndex, learner, this.maxInflight, this.maxInflightBytes));
      else pr.isLearner = learner;
    }
  }

  resetProgress(nextIndex: number): void {
    for (const id of [...this.progress.keys()]) {
      this.progress.set(id, new Progress(nextIndex, this.conf.learners.includes(id), this.maxInflight, this.maxInflightBytes));
    }
  }

  isVoter(id: NodeId): boolean {
    return this.conf.voters.includes(id);
  }

  committed(): number {
    return committedIndex(this.conf.voters, (id) => this.progress.get(id)?.match ?? 0);
  }

  resetVotes(): void {
    this.votes.clear();
  }

  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tally(): VoteResult {
    return voteResult(this.conf.voters, this.votes);
  }

  /** Whether a majority of voters was heard from recently (the leader counts itself). */
  quorumActive(self: NodeId): boolean {
    const heard = new Map<NodeId, boolean>();
    for (const id of this.conf.voters) heard.set(id, id === self || (this.progress.get(id)?.recentActive ?? false));
    return voteResult(this.conf.voters, heard) === 'won';
  }
}
