import { describe, expect, it } from 'vitest';
import { apiRequest, formatJoinToken, joinTokenRole, type ApiRequestBody, type ApiVerb } from '@shoal/core';
import { Store, checkJoinToken, createClusterObject, handleApiRequest, type ApiBackend, type Command } from '@shoal/coordinator';

/** The API over a store that applies each proposal at once, as one committed entry. */
function setup(): { store: Store; propose: (c: Command) => void; call: <V extends ApiVerb>(verb: V, body: ApiRequestBody<V>) => Promise<unknown> } {
  const store = new Store();
  let index = 0;
  const propose = (cmd: Command): void => {
    const r = store.apply(cmd, { index: ++index, at: '2026-01-01T00:00:00.000Z' });
    if (!r.ok) throw r.error;
  };
  const backend: ApiBackend = { store, propose: (cmd, request) => Promise.resolve().then(() => propose(cmd)).then(() => request?.answer) };
  let n = 0;
  const call = <V extends ApiVerb>(verb: V, body: ApiRequestBody<V>): Promise<unknown> => handleApiRequest(backend, apiRequest(`r${++n}`, verb, body));
  return { store, propose, call };
}

const codeOf = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    return (err as { code?: string }).code ?? 'thrown';
  }
  return 'accepted';
};

interface Tokens {
  worker: string;
  manager: string;
  rotated?: string;
}

describe('join tokens', () => {
  it('are made once with the cluster object, one per role, each saying its role', async () => {
    const { store, propose, call } = setup();
    await expect(call('cluster.tokens', {})).rejects.toMatchObject({ code: 'not_ready' });
    propose(createClusterObject());
    const t = (await call('cluster.tokens', {})) as Tokens;
    expect(joinTokenRole(t.worker)).toBe('worker');
    expect(joinTokenRole(t.manager)).toBe('manager');
    expect(t.worker.slice(13)).not.toBe(t.manager.slice(13));
    // a second leader's attempt is refused by the store: the first tokens stand
    expect(codeOf(() => propose(createClusterObject()))).toBe('already_exists');
    expect(await call('cluster.tokens', {})).toEqual(t);
    expect(store.snapshot().cluster[0]?.joinTokens).toEqual(t);
  });

  it('rotating one replaces it alone; the old token is refused from then on', async () => {
    const { store, propose, call } = setup();
    propose(createClusterObject());
    const before = (await call('cluster.tokens', {})) as Tokens;
    checkJoinToken(store, 'manager', before.manager);
    const after = (await call('cluster.tokens', { rotate: 'manager' })) as Tokens;
    expect(after.rotated).toBe('manager');
    expect(after.worker).toBe(before.worker);
    expect(after.manager).not.toBe(before.manager);
    expect(codeOf(() => checkJoinToken(store, 'manager', before.manager))).toBe('bad_join_token');
    checkJoinToken(store, 'manager', after.manager);
    checkJoinToken(store, 'worker', after.worker);
  });

  it('refuses a missing, malformed, wrong-role or foreign token with a reason', () => {
    const { store, propose } = setup();
    propose(createClusterObject());
    const tokens = store.snapshot().cluster[0]?.joinTokens;
    if (!tokens) throw new Error('no tokens');
    const refusal = (token: string | undefined): string => {
      try {
        checkJoinToken(store, 'manager', token);
      } catch (err) {
        return `${(err as { code: string }).code}: ${(err as Error).message}`;
      }
      return 'accepted';
    };
    expect(refusal(undefined)).toMatch(/^join_token_missing: .*--token/);
    expect(refusal('hunter2')).toMatch(/^bad_join_token: the join token is malformed/);
    expect(refusal(tokens.worker)).toMatch(/^bad_join_token: that is the worker join token; joining as a coordinator needs the manager token/);
    expect(refusal(formatJoinToken('manager', new Uint8Array(20)))).toMatch(/^bad_join_token: the manager join token is not this cluster's/);
    expect(refusal(tokens.manager)).toBe('accepted');
  });

  it('a store holding tokens restores them from its snapshot', () => {
    const { store, propose } = setup();
    propose(createClusterObject());
    const copy = Store.fromSnapshot(JSON.parse(JSON.stringify(store.snapshot())));
    expect(copy.get('cluster', 'cluster')).toEqual(store.get('cluster', 'cluster'));
  });
});
