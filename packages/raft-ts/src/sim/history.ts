/**
 * One client operation as the client saw it: when it was invoked and when (if ever) it returned.
 * `ret` undefined means the outcome is unknown (it may or may not have taken effect).
 */
export interface HistoryOp {
  readonly client: number;
  readonly kind: 'put' | 'get' | 'cas';
  readonly key: string;
  readonly value: string;
  readonly expect: string;
  readonly call: number;
  ret: number | undefined;
  /** For cas: whether it swapped. */
  ok: boolean;
  /** For get: the value read; for put and cas: the value before. */
  output: string;
}
