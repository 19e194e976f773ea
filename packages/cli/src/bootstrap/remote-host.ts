import { ShoalError } from '@shoal/core';
import type { ExecResult, SshSession } from './ssh.js';

/** Single-quotes a word for sh. */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Non-login SSH commands often lack the sbin folders, where nats-server and ip live. */
const PATH_PREFIX = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH; export PATH; ';

/**
 * A host reached over SSH, with commands run as root: directly when the SSH user is root,
 * otherwise through `sudo -n` (never prompting: a password prompt would hang the bootstrap).
 */
export class RemoteHost {
  constructor(
    readonly name: string,
    readonly ssh: SshSession,
  ) {}

  get user(): string {
    return this.ssh.target.user;
  }

  /** Runs a shell script as root; the script's failure is the caller's to judge. */
  async sh(script: string, input?: Buffer | string): Promise<ExecResult> {
    const cmd = this.user === 'root' ? `sh -c ${shq(PATH_PREFIX + script)}` : `sudo -n sh -c ${shq(PATH_PREFIX + script)}`;
    const r = await this.ssh.exec(cmd, input);
    if (r.code !== 0 && this.user !== 'root' && /sudo: a (terminal|password) is required|sudo: .*not in the sudoers/.test(r.stderr)) {
      throw new ShoalError('sudo_refused', `${this.name}: ${this.user} cannot run commands as root without a password (${r.stderr.trim().split('\n')[0] ?? ''})`, `allow ${this.user} passwordless sudo on the host, or connect as root`);
    }
    return r;
  }

  /** Like sh, but a non-zero exit is an error naming the host and what was being done. */
  async must(what: string, script: string, input?: Buffer | string): Promise<string> {
    const r = await this.sh(script, input);
    if (r.code !== 0) throw new ShoalError('remote_failed', `${this.name}: ${what} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' / ')}`, 'fix the host and run again');
    return r.stdout;
  }

  /** The sha256 of each file that exists. */
  async hashes(paths: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (paths.length === 0) return out;
    const r = await this.sh(`sha256sum ${paths.map(shq).join(' ')} 2>/dev/null; true`);
    for (const line of r.stdout.split('\n')) {
      const m = /^([0-9a-f]{64})\s+\*?(.+)$/.exec(line.trim());
      if (m?.[1] && m[2]) out.set(m[2], m[1]);
    }
    return out;
  }

  /**
   * Writes small files in one round trip, each as writeFile does (whole, checked, renamed
   * over). The script travels on stdin, so no command line limit applies.
   */
  async writeFiles(files: readonly { path: string; content: string; mode: number; hash: string }[]): Promise<void> {
    if (files.length === 0) return;
    const script = files
      .map((f) => {
        const dir = f.path.slice(0, f.path.lastIndexOf('/')) || '/';
        const tmp = `${f.path}.shoal-tmp`;
        return `mkdir -p ${shq(dir)} && echo ${shq(Buffer.from(f.content).toString('base64'))} | base64 -d > ${shq(tmp)} && echo ${shq(`${f.hash}  ${tmp}`)} | sha256sum -c --status && chmod ${f.mode.toString(8)} ${shq(tmp)} && mv -f ${shq(tmp)} ${shq(f.path)} || { echo "cannot write ${f.path}" >&2; exit 1; }`;
      })
      .join('\n');
    await this.must(`writing ${files.map((f) => f.path).join(', ')}`, 'umask 077; sh -s', script);
  }

  /**
   * Writes a file whole: to a temporary name, checked against its hash, then renamed over. A
   * connection that drops mid-way leaves the old file (and a stray temporary) behind, never half
   * a file.
   */
  async writeFile(path: string, content: Buffer | string, mode: number, hash: string): Promise<void> {
    const dir = path.slice(0, path.lastIndexOf('/')) || '/';
    const tmp = `${path}.shoal-tmp`;
    await this.must(
      `writing ${path}`,
      `umask 077 && mkdir -p ${shq(dir)} && cat > ${shq(tmp)} && echo ${shq(`${hash}  ${tmp}`)} | sha256sum -c --status && chmod ${mode.toString(8)} ${shq(tmp)} && mv -f ${shq(tmp)} ${shq(path)}`,
      content,
    );
  }
}
