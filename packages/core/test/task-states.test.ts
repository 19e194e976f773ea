import { describe, expect, it } from 'vitest';
import { TASK_STATES, canTransitionTask, explainTaskTransition, isTerminalTaskState } from '@shoal/core';

describe('task state transitions', () => {
  it('lets a task skip forward because reports arrive late and batched', () => {
    expect(canTransitionTask('new', 'pending')).toBe(true);
    expect(canTransitionTask('assigned', 'running')).toBe(true);
    expect(canTransitionTask('pending', 'assigned')).toBe(true);
  });

  it('never moves a task back', () => {
    expect(canTransitionTask('running', 'starting')).toBe(false);
    expect(explainTaskTransition('running', 'pending')).toBe('task cannot go back from running to pending');
  });

  it('keeps every terminal state final, so a late "running" cannot resurrect a failed task', () => {
    for (const from of TASK_STATES.filter(isTerminalTaskState)) {
      for (const to of TASK_STATES) expect(canTransitionTask(from, to)).toBe(false);
    }
    expect(explainTaskTransition('failed', 'running')).toBe('task is failed, which is final');
  });

  it('completes only a task that was started', () => {
    expect(canTransitionTask('running', 'complete')).toBe(true);
    expect(canTransitionTask('starting', 'complete')).toBe(true);
    expect(canTransitionTask('assigned', 'complete')).toBe(false);
  });

  it('fails or orphans only a task that reached a node', () => {
    expect(canTransitionTask('pending', 'failed')).toBe(false);
    expect(canTransitionTask('assigned', 'failed')).toBe(true);
    expect(canTransitionTask('new', 'orphaned')).toBe(false);
    expect(canTransitionTask('running', 'orphaned')).toBe(true);
  });

  it('rejects only before running, and shuts down from anywhere not final', () => {
    expect(canTransitionTask('preparing', 'rejected')).toBe(true);
    expect(canTransitionTask('running', 'rejected')).toBe(false);
    expect(canTransitionTask('new', 'shutdown')).toBe(true);
    expect(canTransitionTask('running', 'shutdown')).toBe(true);
  });

  it('refuses a transition to the same state, so duplicates are visible', () => {
    expect(canTransitionTask('running', 'running')).toBe(false);
  });
});
