import { describe, expect, it } from 'vitest';
import { parseAgentConfigFile } from '@shoal/agent';

describe('agent config file', () => {
  it('reads every setting under its flag name', () => {
    const cfg = parseAgentConfigFile(
      ['cluster: prod', 'nats: [nats://10.1.0.1:4222, nats://10.1.0.2:4222]', 'advertise: 10.1.0.7', 'dnsPort: 5353', 'labels:', '  zone: eu', '  disk: ssd'].join('\n'),
      'agent.yaml',
    );
    expect(cfg).toEqual({
      cluster: 'prod',
      natsUrls: ['nats://10.1.0.1:4222', 'nats://10.1.0.2:4222'],
      advertise: '10.1.0.7',
      dnsPort: 5353,
      labels: { zone: 'eu', disk: 'ssd' },
    });
  });

  it('takes a single NATS URL as a list of one, and an empty file as no settings', () => {
    expect(parseAgentConfigFile('nats: nats://a:4222\n', 'f').natsUrls).toEqual(['nats://a:4222']);
    expect(parseAgentConfigFile('', 'f')).toEqual({});
  });

  it('refuses a misspelt setting by name rather than ignoring it', () => {
    expect(() => parseAgentConfigFile('clustr: prod\n', '/etc/shoal/agent.yaml')).toThrowError(
      '/etc/shoal/agent.yaml: unknown setting "clustr" — the settings are cluster, nats, natsUser, advertise, underlayDevice, dataDir, labels, dockerSocket, dnsPort, dnsWorkers, nodeId',
    );
  });

  it('refuses wrong types and broken YAML, naming the key or the file', () => {
    expect(() => parseAgentConfigFile('dnsPort: "53"\n', 'f')).toThrowError('f: dnsPort: expected a port number, got "53"');
    expect(() => parseAgentConfigFile('dnsWorkers: -1\n', 'f')).toThrowError('f: dnsWorkers: expected a whole number from 0 to 16, got -1');
    expect(parseAgentConfigFile('dnsWorkers: 2\n', 'f').dnsWorkers).toBe(2);
    expect(() => parseAgentConfigFile('labels: [a, b]\n', 'f')).toThrowError(/labels: expected a mapping/);
    expect(() => parseAgentConfigFile('cluster: [\n', 'f')).toThrowError(/^f is not valid YAML/);
  });
});
