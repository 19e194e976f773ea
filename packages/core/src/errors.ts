/**
 * The one error class of the project. `code` is stable (scripts and tests match on it), `what`
 * says what went wrong and `todo` what a person can do about it; the CLI prints them as
 * `error: <what> — <todo>`.
 */
export class ShoalError extends Error {
  readonly code: string;
  readonly what: string;
  readonly todo: string | undefined;

  constructor(code: string, what: string, todo?: string, options?: ErrorOptions) {
    super(todo ? `${what} — ${todo}` : what, options);
    this.name = 'ShoalError';
    this.code = code;
    this.what = what;
    this.todo = todo;
  }
}

export function isShoalError(err: unknown, code?: string): err is ShoalError {
  return err instanceof ShoalError && (code === undefined || err.code === code);
}
