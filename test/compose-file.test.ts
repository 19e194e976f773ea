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

describe('examples/demo.yml', () => {
  it('is a stack Shoal accepts without errors or warnings', async () => {
    const { readFile } = await import('node:fs/promises');
    const { parseCompose } = await import('@shoal/core');
    const text = await readFile(`${root}/examples/demo.yml`, 'utf8');
    const r = parseCompose({ name: 'demo.yml', text }, { stackName: 'demo' });
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.stack?.services.map((s) => s.name).sort()).toEqual(['demo_client', 'demo_web']);
  });
});
