import { createReadStream } from 'node:fs';
import { request } from 'node:http';
import { ShoalError } from '@shoal/core';

/**
 * The two calls the lab makes to a host's dockerd, over its unix socket. The lab needs no
 * Docker client library for them; the agent, which does much more, uses dockerode.
 */
function call(socketPath: string, method: string, path: string, body?: NodeJS.ReadableStream, timeoutMs = 5000): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, timeout: timeoutMs, headers: body ? { 'content-type': 'application/x-tar' } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${socketPath} within ${timeoutMs} ms`)));
    req.on('error', reject);
    if (body) body.pipe(req);
    else req.end();
  });
}

export async function dockerPing(socketPath: string): Promise<boolean> {
  try {
    const res = await call(socketPath, 'GET', '/_ping', undefined, 2000);
    return res.status === 200 && res.text === 'OK';
  } catch {
    return false;
  }
}

export async function dockerImport(socketPath: string, tarPath: string, image: string): Promise<void> {
  const [repo, tag = 'latest'] = image.split(':');
  const query = new URLSearchParams({ fromSrc: '-', repo: repo ?? image, tag, changes: 'CMD ["sh"]' });
  const res = await call(socketPath, 'POST', `/images/create?${query.toString()}`, createReadStream(tarPath), 120_000);
  // The import streams JSON progress lines; a failure shows up as an errorDetail among them.
  if (res.status !== 200 || res.text.includes('"errorDetail"')) {
    throw new ShoalError('image_import_failed', `importing ${image} into ${socketPath} failed: ${res.text.slice(0, 300)}`);
  }
}
