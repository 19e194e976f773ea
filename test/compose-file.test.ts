import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { run } from '@shoal/lab';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('docker-compose.yml', () => {
  it('is a valid compose file by docker-compose itself', async () => {
    const r = await run('docker-compose', ['-f', `${root}/docker-compose.yml`, 'config', '--services']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n').sort()).toEqual(['agent', 'coordinator', 'nats']);
  });
});
