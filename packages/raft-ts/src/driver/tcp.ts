import * as net from 'node:net';
import type { Message, NodeId } from '../core/types.js';
import { decodeMessage, encodeMessage } from './codec.js';
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
}

interface Peer {
  socket: net.Socket | undefined;
  connecting: boolean;
  retryAt: number;
}

/**
 * Raft messages over TCP: one outgoing connection per peer, frames of [u32 length][JSON]. Only
 * ids in `peers` are accepted from the wire, so a stray process cannot reach the core. Sending
 * never blocks: a message for a peer that is down or backed up is dropped.
 */
export class TcpTransport implements Transport {
  private readonly server: net.Server;
  private readonly out = new Map<NodeId, Peer>();
  private readonly inbound = new Set<net.Socket>();
  private handler: ((m: Message) => void) | undefined;
  private closed = false;

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

  send(messages: readonly Message[]): void {
    for (const m of messages) {
      const socket = this.connection(m.to);
      if (socket === undefined) continue;
      if (socket.writableLength > (this.opts.maxQueuedBytes ?? 64 << 20)) continue;
      const body = Buffer.from(encodeMessage(m), 'utf8');
      const head = Buffer.allocUnsafe(4);
      head.writeUInt32BE(body.byteLength, 0);
      socket.write(Buffer.concat([head, body]));
    }
  }

  private connection(to: NodeId): net.Socket | undefined {
    if (this.closed) return undefined;
    const ep = this.opts.peers.get(to);
    if (ep === undefined) return undefined;
    let p = this.out.get(to);
    if (p === undefined) {
      p = { socket: undefined, connecting: false, retryAt: 0 };
      this.out.set(to, p);
    }
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
        if (len > 256 << 20) {
          socket.destroy();
          return;
        }
        if (buf.length < 4 + len) break;
        const decoded = decodeMessage(buf.subarray(4, 4 + len).toString('utf8'));
        buf = buf.subarray(4 + len);
        const from = (decoded as { from?: unknown } | undefined)?.from;
        // Only cluster members reach the core; everything else about the message it checks itself.
        if (typeof from === 'number' && this.opts.peers.has(from)) this.handler?.(decoded as Message);
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
