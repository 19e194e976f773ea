import type Docker from 'dockerode';
import type { NatsConnection, Subscription } from 'nats';
import { PROTOCOL_VERSION, decodeLogsRequest, type LogsMessage, type LogsRequest } from '@shoal/core';

const enc = new TextEncoder();
/** A follower that stops pinging (a killed CLI) is let go after this long. */
const FOLLOW_IDLE_MS = 10_000;

/**
 * Docker's log stream for a container without a TTY: frames of an 8-byte header (stream 1 or 2,
 * three zero bytes, a 32-bit length) and the payload. Bytes of an unfinished frame are kept for
 * the next chunk.
 */
export class FrameReader {
  #rest: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): { stream: 'stdout' | 'stderr'; data: string }[] {
    let buf = this.#rest.length > 0 ? Buffer.concat([this.#rest, chunk]) : chunk;
    const out: { stream: 'stdout' | 'stderr'; data: string }[] = [];
    while (buf.length >= 8) {
      const size = buf.readUInt32BE(4);
      if (buf.length < 8 + size) break;
      out.push({ stream: buf[0] === 2 ? 'stderr' : 'stdout', data: buf.toString('utf8', 8, 8 + size) });
      buf = buf.subarray(8 + size);
    }
    this.#rest = Buffer.from(buf);
    return out;
  }
}

/**
 * Answers `shoal service logs` for the tasks on this node: each request names a task; its
 * container's logs are read from Docker and sent in chunks to the request's reply subject, then
 * an end message (with an error when the task has no container here).
 */
export async function serveLogs(nc: NatsConnection, sub: Subscription, docker: Docker, log: (msg: string, fields?: Record<string, unknown>) => void): Promise<void> {
  for await (const m of sub) {
    const reply = m.reply;
    if (!reply) continue;
    let req: LogsRequest;
    try {
      req = decodeLogsRequest(JSON.parse(new TextDecoder().decode(m.data)));
    } catch (err) {
      log('bad logs request', { err: err instanceof Error ? err.message : String(err) });
      continue;
    }
    void streamLogs(nc, reply, docker, req).catch((err: unknown) => log('logs failed', { err: err instanceof Error ? err.message : String(err) }));
  }
}

async function streamLogs(nc: NatsConnection, reply: string, docker: Docker, req: LogsRequest): Promise<void> {
  const send = (msg: LogsMessage): void => nc.publish(reply, enc.encode(JSON.stringify(msg)));
  const end = (error?: string): void => send({ v: PROTOCOL_VERSION, kind: 'logs.end', taskId: req.taskId, ...(error ? { error } : {}) });
  const [found] = await docker.listContainers({ all: true, filters: { label: [`io.shoal.task.id=${req.taskId}`] } });
  if (!found) return end(`task ${req.taskId} has no container on this node`);
  const container = docker.getContainer(found.Id);
  // the CLI waits for this to know the node answers; a follow of a quiet task sends nothing else
  send({ v: PROTOCOL_VERSION, kind: 'logs.open', taskId: req.taskId });
  const opts = { stdout: true, stderr: true, timestamps: false, ...(req.tail !== undefined ? { tail: req.tail } : {}), ...(req.since !== undefined ? { since: req.since } : {}) };
  const frames = new FrameReader();
  const chunk = (b: Buffer): void => {
    for (const f of frames.push(b)) send({ v: PROTOCOL_VERSION, kind: 'logs.chunk', taskId: req.taskId, stream: f.stream, data: f.data });
  };
  if (!req.follow) {
    chunk(await container.logs({ ...opts, follow: false }));
    return end();
  }
  const stream = await container.logs({ ...opts, follow: true });
  let lastPing = Date.now();
  const control = req.control ? nc.subscribe(req.control, { callback: (_e, msg) => (new TextDecoder().decode(msg.data) === 'stop' ? stop() : (lastPing = Date.now())) }) : undefined;
  const idle = setInterval(() => {
    if (Date.now() - lastPing > FOLLOW_IDLE_MS) stop();
  }, 1000);
  let stopped = false;
  function stop(): void {
    if (stopped) return;
    stopped = true;
    clearInterval(idle);
    control?.unsubscribe();
    (stream as unknown as { destroy?: () => void }).destroy?.();
    end();
  }
  stream.on('data', chunk);
  stream.on('end', stop);
  stream.on('error', stop);
}
