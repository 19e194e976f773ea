import type { Io } from '../output.js';

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

type State = 'running' | 'ok' | 'failed';

interface Line {
  host: string;
  state: State;
  text: string;
  started: number;
  ended?: number;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/**
 * One line per host: on a terminal they are redrawn in place (step, spinner, elapsed time);
 * otherwise each change is printed as its own plain line, which logs and tests can read.
 */
export class HostProgress {
  readonly #lines = new Map<string, Line>();
  readonly #width: number;
  #drawn = 0;
  #timer: NodeJS.Timeout | undefined;
  #frame = 0;
  #stopped = false;

  constructor(
    private readonly io: Io,
    private readonly tty: boolean,
    hosts: readonly string[],
    private readonly now: () => number = Date.now,
    /** Lines are cut to the terminal's width: a wrapped line would throw the redraw off. */
    private readonly columns: number = process.stderr.columns || 100,
  ) {
    this.#width = Math.max(...hosts.map((h) => h.length));
    for (const h of hosts) this.#lines.set(h, { host: h, state: 'running', text: 'waiting', started: now() });
    if (tty) {
      this.#timer = setInterval(() => this.draw(), 100);
      this.#timer.unref();
      this.draw();
    }
  }

  step(host: string, text: string): void {
    const l = this.#lines.get(host);
    if (!l || l.state !== 'running') return;
    l.text = text;
    if (!this.tty) this.io.err(`${host}: ${text}\n`);
  }

  done(host: string, text: string): void {
    this.end(host, 'ok', text);
  }

  fail(host: string, text: string): void {
    this.end(host, 'failed', text);
  }

  /** A message that is not one host's step (a new host key recorded, a warning). */
  note(text: string): void {
    if (!this.tty) {
      this.io.err(`${text}\n`);
      return;
    }
    this.erase();
    this.io.err(`${text}\n`);
    this.draw();
  }

  /** Draws the final state once more and stops redrawing. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.tty) this.draw();
  }

  private end(host: string, state: State, text: string): void {
    const l = this.#lines.get(host);
    if (!l || l.state !== 'running') return;
    l.state = state;
    l.text = text;
    l.ended = this.now();
    if (!this.tty) this.io.err(`${host}: ${state === 'failed' ? 'failed: ' : ''}${text} (${seconds(l.ended - l.started)})\n`);
  }

  private erase(): void {
    if (this.#drawn > 0) this.io.err(`\x1b[${this.#drawn}A`);
    for (let i = 0; i < this.#drawn; i++) this.io.err('\x1b[2K\n');
    if (this.#drawn > 0) this.io.err(`\x1b[${this.#drawn}A`);
    this.#drawn = 0;
  }

  private draw(): void {
    this.#frame = (this.#frame + 1) % SPINNER.length;
    const out: string[] = [];
    if (this.#drawn > 0) out.push(`\x1b[${this.#drawn}A`);
    for (const l of this.#lines.values()) {
      const mark = l.state === 'running' ? (SPINNER[this.#frame] ?? '-') : l.state === 'ok' ? '✓' : '✗';
      const elapsed = seconds((l.ended ?? this.now()) - l.started);
      const head = `  ${l.host.padEnd(this.#width)}  ${mark} `;
      const tail = `  ${elapsed}`;
      let text = `${l.state === 'failed' ? 'failed: ' : ''}${l.text}`;
      const room = this.columns - 1 - head.length - tail.length;
      if (text.length > room) text = `${text.slice(0, Math.max(0, room - 1))}…`;
      out.push(`\x1b[2K${head}${text}${tail}\n`);
    }
    this.#drawn = this.#lines.size;
    this.io.err(out.join(''));
  }
}
