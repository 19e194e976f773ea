import * as net from 'node:net';
import type { Message, NodeId } from '../core/types.js';
import { binarySize, decodeBinary, writeBinary } from './binary-codec.js';
import type { Transport } from './transport.js';

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export interface TcpTransportOptions {
  readonly listen: Endpoint;
  readonly peers: ReadonlyMap<NodeId, Endpoint>;
  /** Frames queued for a slow or absent peer beyond this many bytes are dropped (Raft retries). */
  readonly maxQueuedBytes?: number;
  /** Frames longer than this close the connection (default 256 MiB). */
  readonly maxFrameBytes?: number;
  /** Told of every frame refused before it reaches the core (also counted in `rejections()`). */
  readonly onReject?: (reason: TcpRejectReason, detail: string) => void;
}

export type TcpRejectReason = 'malformed' | 'oversized' | 'unknownMember';

interface Peer {
  socket: net.Socket | undefined;
  connecting: boolean;
  retryAt: number;
  /** Messages sent during this event-loop turn, written together at its end. */
  queued: Message[];
}

/**
 * Raft messages over TCP: one outgoing connection per peer, frames of [u32 length][binary
 * message] (see binary-codec.ts). Everything sent to a peer during one event-loop turn leaves in
 * one socket write, so a busy leader pays one system call per peer per turn, not per message.
 * Only ids in `peers` are accepted from the wire, so a stray process cannot reach the core; a
 * frame that does not decode is refused and counted here. Sending never blocks: a message for a
 * peer that is down or backed up is dropped.
 */
export class TcpTransport implements Transport {
  private readonly server: net.Server;
  private readonly out = new Map<NodeId, Peer>();
  private readonly inbound = new Set<net.Socket>();
  private handler: ((m: Message) => void) | undefined;
  private closed = false;
  private flushScheduled = false;
  private readonly rejected = new Map<TcpRejectReason, number>();

  constructor(private readonly opts: TcpTransportOptions) {
    this.server = net.createServer((socket) => this.accept(socket));
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.listen.port, this.opts.listen.host, () => resolve());
    });
  }

  listen(_id: NodeId, handler: (m: Message) => void): () => void {
    this.handler = handler;
    return () => {
      if (this.handler === handler) this.handler = undefined;
    };
  }

  /** Frames refused before reaching the core, by reason. */
  rejections(): ReadonlyMap<TcpRejectReason, number> {
    return this.rejected;
  }

  send(messages: readonly Message[]): void {
    if (this.closed) return;
    for (const m of messages) {
      const p = this.peer(m.to);
      if (p === undefined) continue;
      p.queued.push(m);
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    for (const [to, p] of this.out) {
      if (p.queued.length === 0) continue;
      const batch = p.queued;
      p.queued = [];
      const socket = this.connection(to, p);
      if (socket === undefined) continue;
      if (socket.writableLength > (this.opts.maxQueuedBytes ?? 64 << 20)) continue;
      let size = 0;
      for (const m of batch) size += 4 + binarySize(m);
      const buf = Buffer.allocUnsafe(size);
      let off = 0;
      for (const m of batch) {
        const end = writeBinary(m, buf, off + 4);
        buf.writeUInt32BE(end - off - 4, off);
        off = end;
      }
      socket.write(buf);
    }
  }

  private peer(to: NodeId): Peer | undefined {
    if (!this.opts.peers.has(to)) return undefined;
    let p = this.out.get(to);
    if (p === undefined) {
      p = { socket: undefined, connecting: false, retryAt: 0, queued: [] };
      this.out.set(to, p);
    }
    return p;
  }

  private reject(reason: TcpRejectReason, detail: string): void {
    this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1);
    this.opts.onReject?.(reason, detail);
  }

  private connection(to: NodeId, p: Peer): net.Socket | undefined {
    if (this.closed) return undefined;
    const ep = this.opts.peers.get(to);
    if (ep === undefined) return undefined;
    // While connecting, writes are buffered by the socket.
    if (p.socket !== undefined) return p.socket;
    if (Date.now() < p.retryAt) return undefined;
    const peer = p;
    peer.connecting = true;
    const socket = net.connect(ep.port, ep.host);
    socket.setNoDelay(true);
    peer.socket = socket;
    socket.once('connect', () => {
      peer.connecting = false;
    });
    // Peers never answer on this connection; read nothing.
    socket.resume();
    const drop = (): void => {
      if (peer.socket === socket) {
        peer.socket = undefined;
        peer.connecting = false;
        peer.retryAt = Date.now() + 50;
      }
    };
    socket.on('error', drop);
    socket.on('close', drop);
    return socket;
  }

  private accept(socket: net.Socket): void {
    this.inbound.add(socket);
    socket.setNoDelay(true);
    let buf: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      while (buf.length >= 4) {
        const len = buf.readUInt32BE(0);
        const max = this.opts.maxFrameBytes ?? 256 << 20;
        if (len > max) {
          // The stream cannot be resynchronised past a frame we will not buffer: drop the connection.
          this.reject('oversized', `frame of ${len} bytes > ${max}`);
          socket.destroy();
          return;
        }
        if (buf.length < 4 + len) break;
        // A copy per frame: entries keep views into it, and it must not pin the socket's chunks.
        const frame = Buffer.from(buf.subarray(4, 4 + len));
        buf = buf.subarray(4 + len);
        const decoded = decodeBinary(frame);
        if ('error' in decoded) {
          this.reject('malformed', decoded.error);
          continue;
        }
        const m = decoded.message;
        // Only cluster members reach the core; everything else about the message it checks itself.
        if (!this.opts.peers.has(m.from)) {
          this.reject('unknownMember', `message from ${m.from}, not a configured peer`);
          continue;
        }
        this.handler?.(m);
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.inbound.delete(socket));
  }

  close(): Promise<void> {
    this.closed = true;
    for (const p of this.out.values()) p.socket?.destroy();
    for (const s of this.inbound) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
