import { describe, expect, it } from 'vitest';
import { parseSettingsFile, setting } from '@shoal/core';

interface Demo {
  name: string;
  port: number;
  tags: string[];
}

const read = (text: string): Partial<Demo> =>
  parseSettingsFile<Demo>(text, 'demo.yml', {
    name: (v, where, out) => (out.name = setting.string(v, where)),
    port: (v, where, out) => (out.port = setting.integer(v, where, 1, 65535, 'a port number')),
    tags: (v, where, out) => (out.tags = setting.strings(v, where)),
  });

describe('parseSettingsFile', () => {
  it('reads each known key through its reader, YAML or JSON', () => {
    expect(read('name: a\nport: 80\ntags: [x, y]\n')).toEqual({ name: 'a', port: 80, tags: ['x', 'y'] });
    expect(read('{"tags": "one"}')).toEqual({ tags: ['one'] });
    expect(read('')).toEqual({});
  });

  it("refuses keys it has no reader for, Object's own names included", () => {
    expect(() => read('nmae: a\n')).toThrowError('demo.yml: unknown setting "nmae" — the settings are name, port, tags');
    expect(() => read('toString: a\n')).toThrowError(/unknown setting "toString"/);
    expect(() => read('__proto__: a\n')).toThrowError(/unknown setting "__proto__"/);
  });

  it('names the key and the value it could not take', () => {
    expect(() => read('port: 0\n')).toThrowError('demo.yml: port: expected a port number, got 0');
    expect(() => read('tags: [a, 3]\n')).toThrowError('demo.yml: tags[1]: expected a non-empty string, got 3');
    expect(() => read('- a\n')).toThrowError('demo.yml: expected a mapping of settings');
  });
});
