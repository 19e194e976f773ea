import type { Port } from '../model/service.js';
import { isIpv4 } from '../ipam/ipv4.js';

type Protocol = Port['protocol'];

/** One entry may stand for many ports; a typo like 1-65535 must not become 65,535 of them. */
export const MAX_PORT_RANGE = 1_000;
const tooLong = { error: `a range may hold at most ${MAX_PORT_RANGE} ports` };

interface Range {
  start: number;
  end: number;
}

function parseRange(text: string): Range | undefined {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = m[2] === undefined ? start : Number(m[2]);
  if (start < 1 || end > 65_535 || end < start) return undefined;
  return { start, end };
}

function splitProtocol(text: string): { body: string; protocol: Protocol } | { error: string } {
  const slash = text.lastIndexOf('/');
  if (slash < 0) return { body: text, protocol: 'tcp' };
  const protocol = text.slice(slash + 1).toLowerCase();
  if (protocol !== 'tcp' && protocol !== 'udp') return { error: `protocol ${JSON.stringify(protocol)} is not tcp or udp` };
  return { body: text.slice(0, slash), protocol };
}

/**
 * The short syntax `[[HOST_IP:]PUBLISHED:]TARGET[/PROTOCOL]`, where PUBLISHED and TARGET may be
 * ranges of equal length; one entry may stand for several ports. Published ports default to
 * ingress mode, as `docker stack deploy` does.
 */
export function parseShortPort(text: string): Port[] | { error: string } {
  const split = splitProtocol(text.trim());
  if ('error' in split) return split;
  if (split.body.startsWith('[')) return { error: 'IPv6 host addresses are not supported' };
  const parts = split.body.split(':');
  if (parts.length > 3) return { error: 'expected [[HOST_IP:]PUBLISHED:]TARGET[/PROTOCOL]' };
  const targetText = parts[parts.length - 1] ?? '';
  const publishedText = parts.length >= 2 ? parts[parts.length - 2] : undefined;
  const hostIp = parts.length === 3 ? parts[0] : undefined;
  if (hostIp !== undefined && !isIpv4(hostIp)) return { error: `host address ${JSON.stringify(hostIp)} is not an IPv4 address` };
  const target = parseRange(targetText);
  if (!target) return { error: `target ${JSON.stringify(targetText)} is not a port or range of ports 1–65535` };
  // `127.0.0.1::80` leaves the published port to the cluster, as an empty PUBLISHED does in Docker.
  const published = publishedText === undefined || publishedText === '' ? undefined : parseRange(publishedText);
  if (publishedText !== undefined && publishedText !== '' && !published) {
    return { error: `published ${JSON.stringify(publishedText)} is not a port or range of ports 1–65535` };
  }
  const count = target.end - target.start + 1;
  if (count > MAX_PORT_RANGE) return tooLong;
  if (published && published.end - published.start + 1 !== count) {
    return { error: `published range ${publishedText} and target range ${targetText} differ in length` };
  }
  const ports: Port[] = [];
  for (let i = 0; i < count; i++) {
    ports.push({
      target: target.start + i,
      ...(published ? { published: published.start + i } : {}),
      protocol: split.protocol,
      mode: 'ingress',
      ...(hostIp === undefined ? {} : { hostIp }),
    });
  }
  return ports;
}

/** `expose` entries: `3000`, `"8000-8010"`, `"53/udp"`. */
export function parseExpose(text: string): { port: number; protocol: Protocol }[] | { error: string } {
  const split = splitProtocol(text.trim());
  if ('error' in split) return split;
  const range = parseRange(split.body);
  if (!range) return { error: `${JSON.stringify(split.body)} is not a port or range of ports 1–65535` };
  if (range.end - range.start + 1 > MAX_PORT_RANGE) return tooLong;
  const out: { port: number; protocol: Protocol }[] = [];
  for (let p = range.start; p <= range.end; p++) out.push({ port: p, protocol: split.protocol });
  return out;
}
