import { createHash } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { homedir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import ssh2, { type AnyAuthMethod, type Client, type ClientChannel, type ServerHostKeyAlgorithm } from 'ssh2';
import { ShoalError } from '@shoal/core';
import { checkHostKey, hostKeyAlgorithms, keyTypeOfBlob, knownHostsLine, knownHostsName, parseKnownHosts, type KnownHostEntry } from './known-hosts.js';
import { parseJump, resolveSshHost, type SshConfig } from './ssh-config.js';

// ssh2 is CommonJS: its named exports are reached through the default one
const { utils } = ssh2;

/** Everything needed to open one SSH connection, settled from the inventory and the ssh config. */
export interface SshTarget {
  /** What messages call it: the inventory name, or the jump host's alias. */
  label: string;
  host: string;
  port: number;
  user: string;
  identityFiles: string[];
  /** Use ssh-agent too ($SSH_AUTH_SOCK), unless IdentitiesOnly says not to. */
  agent: string | undefined;
  /** Checked in order; a newly accepted key goes into the first. */
  knownHostsFiles: string[];
  jump?: SshTarget | undefined;
}

const DEFAULT_IDENTITIES = ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((f) => join(homedir(), '.ssh', f));

/**
 * Settles how to reach `alias`: what the inventory says for this host wins, then the ssh
 * config, then the inventory's defaults, then OpenSSH's own defaults. Keys are tried in order:
 * the inventory's, then the ssh config's, then ssh-agent's.
 */
export function resolveTarget(
  label: string,
  alias: string,
  given: { user?: string | undefined; port?: number | undefined; identityFile?: string | undefined },
  defaults: { user?: string | undefined; port?: number | undefined; identityFile?: string | undefined },
  config: SshConfig,
  extraKnownHosts: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  depth = 0,
): SshTarget {
  const c = resolveSshHost(config, alias);
  // a host's own key replaces the inventory's default one; the ssh config's add up, as in OpenSSH
  const identityFiles = [given.identityFile ?? defaults.identityFile, ...c.identityFiles].filter((f): f is string => f !== undefined);
  const knownHostsFiles = [...(extraKnownHosts ? [extraKnownHosts] : []), ...(c.userKnownHostsFiles.length > 0 ? c.userKnownHostsFiles : [join(homedir(), '.ssh', 'known_hosts')])];
  let jump: SshTarget | undefined;
  if (c.proxyJump) {
    if (depth > 4) throw new ShoalError('ssh_config', `ProxyJump for ${alias} loops or is too deep`, 'check ProxyJump in the ssh config');
    // a list of jumps means: reach the last one through the ones before it
    const hops = c.proxyJump.split(',');
    for (const hop of hops) {
      const j = parseJump(hop);
      const t = resolveTarget(j.host, j.host, { user: j.user, port: j.port }, defaults, config, extraKnownHosts, env, depth + 1);
      jump = { ...t, jump: t.jump ?? jump };
    }
  }
  return {
    label,
    host: c.hostName ?? alias,
    port: given.port ?? c.port ?? defaults.port ?? 22,
    user: given.user ?? c.user ?? defaults.user ?? userInfo().username,
    identityFiles: identityFiles.length > 0 ? identityFiles : DEFAULT_IDENTITIES,
    agent: c.identitiesOnly ? undefined : env.SSH_AUTH_SOCK,
    knownHostsFiles,
    ...(jump ? { jump } : {}),
  };
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface OpenOptions {
  acceptNewHostKeys: boolean;
  /** Told when a new host key is recorded, to say so. */
  onNewHostKey?: (target: SshTarget, fingerprint: string) => void;
  readyTimeoutMs?: number;
}

async function authMethods(target: SshTarget): Promise<AnyAuthMethod[]> {
  const methods: AnyAuthMethod[] = [];
  const encrypted: string[] = [];
  for (const file of target.identityFiles) {
    let data: Buffer;
    try {
      data = await readFile(file);
    } catch {
      continue; // as OpenSSH: an identity file that is not there is skipped
    }
    const parsed = utils.parseKey(data);
    if (parsed instanceof Error) {
      if (/encrypted|passphrase/i.test(parsed.message)) encrypted.push(file);
      continue;
    }
    methods.push({ type: 'publickey', username: target.user, key: data });
  }
  if (target.agent) methods.push({ type: 'agent', username: target.user, agent: target.agent });
  if (methods.length === 0) {
    throw new ShoalError(
      'ssh_no_key',
      `no usable SSH key for ${target.label} (${target.user}@${target.host})${encrypted.length > 0 ? `: ${encrypted.join(', ')} needs a passphrase` : `: none of ${target.identityFiles.join(', ')} exists`}`,
      encrypted.length > 0 ? 'load the key into ssh-agent (ssh-add) and run again' : 'set identityFile in the inventory or IdentityFile in ~/.ssh/config, or start ssh-agent',
    );
  }
  return methods;
}

/** One SSH connection to a host (through its jump hosts), with commands run over exec channels. */
export class SshSession {
  #dropped: Error | undefined;

  private constructor(
    readonly target: SshTarget,
    private readonly client: Client,
    private readonly jump: SshSession | undefined,
  ) {
    client.on('close', () => (this.#dropped ??= new Error('connection closed')));
    client.on('error', (err) => (this.#dropped ??= err));
  }

  static async open(target: SshTarget, options: OpenOptions): Promise<SshSession> {
    const jump = target.jump ? await SshSession.open(target.jump, options) : undefined;
    try {
      let sock: Duplex | undefined;
      if (jump) sock = await jump.forward(target.host, target.port);
      const client = await connectClient(target, options, sock, await authMethods(target), await readKnownHosts(target));
      return new SshSession(target, client, jump);
    } catch (err) {
      jump?.close();
      throw err;
    }
  }

  private forward(host: string, port: number): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      this.client.forwardOut('127.0.0.1', 0, host, port, (err, ch) => {
        if (err) reject(new ShoalError('ssh_unreachable', `${this.target.label} cannot reach ${host}:${port} as a jump host: ${err.message}`, 'check ProxyJump and the address'));
        else resolve(ch);
      });
    });
  }

  /** Runs a command; `input` is written to its stdin, which is then closed. */
  exec(command: string, input?: Buffer | string): Promise<ExecResult> {
    if (this.#dropped) return Promise.reject(this.dropped(this.#dropped));
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, ch) => {
        if (err) {
          reject(this.dropped(err));
          return;
        }
        const out: Buffer[] = [];
        const errs: Buffer[] = [];
        let code: number | undefined;
        ch.on('data', (b: Buffer) => out.push(b));
        ch.stderr.on('data', (b: Buffer) => errs.push(b));
        ch.on('exit', (c: number | null, signal?: string) => (code = c ?? (signal ? 128 : 1)));
        ch.on('close', () => {
          if (code === undefined) reject(this.dropped(this.#dropped ?? new Error('the command ended without an exit status')));
          else resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(errs).toString() });
        });
        if (input !== undefined) ch.end(input);
        else ch.end();
      });
    });
  }

  private dropped(err: Error): ShoalError {
    return new ShoalError('ssh_dropped', `the SSH connection to ${this.target.label} dropped: ${err.message}`, 'check the host and run the command again (it resumes where it stopped)');
  }

  close(): void {
    this.client.end();
    this.jump?.close();
  }
}

async function readKnownHosts(target: SshTarget): Promise<KnownHostEntry[]> {
  const entries: KnownHostEntry[] = [];
  for (const file of target.knownHostsFiles) {
    try {
      entries.push(...parseKnownHosts(await readFile(file, 'utf8')));
    } catch {
      // a known_hosts file that does not exist yet knows nothing
    }
  }
  return entries;
}

function connectClient(target: SshTarget, options: OpenOptions, sock: Duplex | undefined, auth: AnyAuthMethod[], known: KnownHostEntry[]): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    let hostKeyProblem: ShoalError | undefined;
    const where = `${target.label} (${target.user}@${target.host}:${target.port})`;
    client.on('ready', () => resolve(client));
    client.on('error', (err: Error & { level?: string; code?: string }) => {
      client.end();
      if (hostKeyProblem) reject(hostKeyProblem);
      else if (err.level === 'client-authentication') {
        reject(new ShoalError('ssh_auth', `${where} refused the SSH key (tried ${[...target.identityFiles.filter(Boolean), ...(target.agent ? ['ssh-agent'] : [])].join(', ')})`, `check the host's authorized_keys and identityFile in the inventory`));
      } else if (err.level === 'client-timeout' || err.code === 'ETIMEDOUT') {
        reject(new ShoalError('ssh_unreachable', `${where} did not answer within ${Math.round((options.readyTimeoutMs ?? 15_000) / 1000)} s`, 'check the address and that sshd runs'));
      } else {
        reject(new ShoalError('ssh_unreachable', `cannot reach ${where}: ${err.code ?? err.message}`, 'check the address and that sshd runs'));
      }
    });
    client.connect({
      host: target.host,
      port: target.port,
      username: target.user,
      ...(sock ? { sock } : {}),
      readyTimeout: options.readyTimeoutMs ?? 15_000,
      keepaliveInterval: 5000,
      keepaliveCountMax: 3,
      authHandler: auth,
      algorithms: { serverHostKey: hostKeyAlgorithms(known, [knownHostsName(target.host, target.port)]) as ServerHostKeyAlgorithm[] },
      hostVerifier: (blob: Buffer, verify: (ok: boolean) => void) => {
        verifyHostKey(target, blob, options, known).then(
          () => verify(true),
          (err: unknown) => {
            hostKeyProblem = err instanceof ShoalError ? err : new ShoalError('ssh_host_key', String(err));
            verify(false);
          },
        );
      },
    });
  });
}

async function verifyHostKey(target: SshTarget, blob: Buffer, options: OpenOptions, entries: readonly KnownHostEntry[]): Promise<void> {
  const keyType = keyTypeOfBlob(blob);
  const key = blob.toString('base64');
  const names = [knownHostsName(target.host, target.port)];
  const verdict = checkHostKey(entries, names, keyType, key);
  const fingerprint = `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
  const where = `${target.label} (${names[0]})`;
  if (verdict === 'known') return;
  if (verdict === 'changed' || verdict === 'revoked') {
    throw new ShoalError(
      'ssh_host_key_changed',
      `the host key of ${where} is not the one in ${target.knownHostsFiles.join(', ')} (now ${keyType} ${fingerprint}): someone may be in the middle, or the host was reinstalled`,
      'if the host was reinstalled, remove its old line (ssh-keygen -R HOST) and run again',
    );
  }
  if (!options.acceptNewHostKeys) {
    throw new ShoalError(
      'ssh_host_key_unknown',
      `the host key of ${where} is unknown (${keyType} ${fingerprint})`,
      'check the fingerprint, then add it to known_hosts (ssh-keyscan) or run again with --accept-new-host-keys',
    );
  }
  const file = target.knownHostsFiles[0] ?? join(homedir(), '.ssh', 'known_hosts');
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await appendFile(file, knownHostsLine(names[0] ?? target.host, keyType, key), { mode: 0o600 });
  options.onNewHostKey?.(target, fingerprint);
}
