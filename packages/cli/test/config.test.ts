import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { clusterTarget, configPath, loadConfig, removeContext, saveContext } from '@shoal/cli';

const dir = async (): Promise<string> => mkdtemp(join(tmpdir(), 'shoal-config-'));

describe('CLI config file', () => {
  it('lives under XDG_CONFIG_HOME or ~/.config unless SHOAL_CONFIG names it', () => {
    expect(configPath({ SHOAL_CONFIG: '/x/c.yaml' })).toBe('/x/c.yaml');
    expect(configPath({ XDG_CONFIG_HOME: '/cfg' })).toBe('/cfg/shoal/config.yaml');
    expect(configPath({})).toMatch(/\/\.config\/shoal\/config\.yaml$/);
  });

  it('is written with mode 0600 and the last saved context becomes current', async () => {
    const path = join(await dir(), 'sub', 'config.yaml');
    await saveContext({ name: 'prod', cluster: 'p1', nats: ['nats://10.0.0.1:4222'], user: 'admin', password: 's3cret' }, { path });
    await saveContext({ name: 'lab', cluster: 'l1', nats: ['nats://192.168.1.11:4222', 'nats://192.168.1.12:4222'] }, { path });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const config = await loadConfig(path);
    expect(config.current).toBe('lab');
    expect(config.contexts.map((c) => c.name)).toEqual(['prod', 'lab']);
    await saveContext({ name: 'prod', cluster: 'p2', nats: ['nats://10.0.0.2:4222'] }, { path, makeCurrent: false });
    const again = await loadConfig(path);
    expect(again.current).toBe('lab');
    expect(again.contexts.find((c) => c.name === 'prod')?.cluster).toBe('p2');
    expect(await removeContext('lab', path)).toBe(true);
    expect((await loadConfig(path)).current).toBeUndefined();
    expect(await removeContext('lab', path)).toBe(false);
  });

  it('picks flags over the environment over the context', async () => {
    const path = join(await dir(), 'config.yaml');
    await saveContext({ name: 'a', cluster: 'ca', nats: ['nats://h1:4222', 'nats://h2:4222'], user: 'admin', password: 'pw' }, { path });
    await saveContext({ name: 'b', cluster: 'cb', nats: ['nats://h9:4222'] }, { path });
    const env = { SHOAL_CONFIG: path };
    expect(await clusterTarget({}, env)).toEqual({ natsUrl: 'nats://h9:4222', cluster: 'cb', user: undefined, password: undefined });
    expect(await clusterTarget({ context: 'a' }, env)).toEqual({ natsUrl: 'nats://h1:4222,nats://h2:4222', cluster: 'ca', user: 'admin', password: 'pw' });
    expect((await clusterTarget({ context: 'a', cluster: 'other' }, env)).cluster).toBe('other');
    expect((await clusterTarget({ nats: 'nats://x:1', cluster: 'cx' }, { SHOAL_CONFIG: '/nonexistent/c.yaml' })).natsUrl).toBe('nats://x:1');
    await expect(clusterTarget({ context: 'nope' }, env)).rejects.toThrow(/there is no context nope/);
    await expect(clusterTarget({}, { SHOAL_CONFIG: join(await dir(), 'none.yaml') })).rejects.toThrow(/no cluster to talk to/);
  });

  it('refuses a damaged file instead of starting from nothing', async () => {
    const path = join(await dir(), 'config.yaml');
    await writeFile(path, 'contexts: [ {name: x');
    await expect(loadConfig(path)).rejects.toThrow(/is not valid YAML/);
    await writeFile(path, 'contexts:\n  - name: x\n    cluster: c\n');
    await expect(loadConfig(path)).rejects.toThrow(/contexts\.0\.nats/);
    await expect(saveContext({ name: 'y', cluster: 'c', nats: ['nats://a:1'] }, { path })).rejects.toThrow(/contexts\.0\.nats/);
    expect(await readFile(path, 'utf8')).toBe('contexts:\n  - name: x\n    cluster: c\n');
  });
});
