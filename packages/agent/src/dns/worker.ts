import { Socket } from 'node:dgram';
import { DnsServer, type WorkerReply, type WorkerRequest } from './server.js';
import { DnsTable } from './table.js';

export { DNS_WORKER_ENV } from './server.js';

function reply(msg: WorkerReply): void {
  process.send?.(msg);
}

/**
 * The body of a DNS worker process (see DnsServerOptions.workers): it keeps its own copy of the
 * table, applying every change the parent sends and saying so, and answers UDP from the socket
 * the parent hands it while the parent is busy, until told to let it go. It exits with its
 * parent: when the IPC channel closes.
 */
export function serveDnsWorker(): void {
  const table = new DnsTable();
  let server: DnsServer | undefined;
  let reading: Socket | undefined;
  process.on('message', (msg: WorkerRequest, handle: unknown) => {
    if (msg.kind === 'init' && !server) {
      server = new DnsServer({ table, address: msg.address, upstreams: msg.upstreams, upstreamTimeoutMs: msg.upstreamTimeoutMs });
      reply({ kind: 'ready' });
    } else if (msg.kind === 'table') {
      table.replace(msg.records, msg.clients);
      reply({ kind: 'applied', version: msg.version });
    } else if (msg.kind === 'socket' && handle instanceof Socket && server && !reading) {
      reading = handle;
      server.adopt(handle);
    } else if (msg.kind === 'release' && reading) {
      // this process's copy of the socket only: the parent's stays open
      reading.close();
      reading = undefined;
    } else if (msg.kind === 'count') {
      reply({ kind: 'count', answered: server?.answered ?? 0 });
    }
  });
  process.on('disconnect', () => process.exit(0));
}
