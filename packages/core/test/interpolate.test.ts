import { describe, expect, it } from 'vitest';
import { formatDiagnostic, interpolateString, parseCompose, parseDotEnv } from '@shoal/core';

const env = { NAME: 'web', EMPTY: '', PORT: '8080' };
const value = (text: string): string => {
  const r = interpolateString(text, env);
  if ('error' in r) throw new Error(r.error);
  return r.value;
};
const error = (text: string): string => {
  const r = interpolateString(text, env);
  return 'error' in r ? r.error : `no error, got ${r.value}`;
};

describe('variable interpolation', () => {
  it('expands plain and braced variables', () => {
    expect(value('$NAME-${PORT}')).toBe('web-8080');
    expect(value('${NAME}_1')).toBe('web_1');
  });

  it('tells the colon forms (unset or empty) from the plain forms (unset only)', () => {
    expect(value('${EMPTY:-fallback}')).toBe('fallback');
    expect(value('${EMPTY-fallback}')).toBe('');
    expect(value('${MISSING-fallback}')).toBe('fallback');
    expect(value('${NAME:-fallback}')).toBe('web');
    expect(value('${NAME:+set}|${EMPTY:+set}|${EMPTY+set}')).toBe('set||set');
  });

  it('expands variables inside a default', () => {
    expect(value('${MISSING:-${NAME}:${PORT}}')).toBe('web:8080');
  });

  it('turns $$ into a literal dollar and does not expand what follows', () => {
    expect(value('echo $$HOME costs $$5')).toBe('echo $HOME costs $5');
  });

  it('fails required variables with their message', () => {
    expect(error('${MISSING:?the database needs it}')).toBe('required variable MISSING is not set: the database needs it');
    expect(error('${EMPTY:?}')).toBe('required variable EMPTY is empty');
    expect(value('${EMPTY?}')).toBe('');
  });

  it('refuses malformed templates instead of guessing', () => {
    expect(error('price $5')).toMatch(/must be followed by a variable name/);
    expect(error('${NAME')).toMatch(/is not closed/);
    expect(error('${NAME:x}')).toMatch(/unknown operator/);
    expect(error('${}')).toMatch(/does not start with a variable name/);
  });

  it('reports each unset variable once, with where it is used, and never touches keys', () => {
    const r = parseCompose(
      { name: 'a.yml', text: 'services:\n  web:\n    image: "${REGISTRY}/app:${TAG}"\n    hostname: ${TAG}\n    labels:\n      price.$NAME: $NAME\n' },
      { stackName: 's', env },
    );
    expect(r.stack?.services[0]?.container.labels).toEqual({ 'price.$NAME': 'web' });
    expect(r.warnings.map(formatDiagnostic)).toEqual([
      'a.yml:3: services.web.image: variable REGISTRY is not set; using an empty string',
      'a.yml:3: services.web.image: variable TAG is not set; using an empty string',
    ]);
  });
});

describe('.env files', () => {
  it('reads KEY=VALUE lines with comments, export and quotes', () => {
    const text = [
      '# settings',
      'TAG=1.4',
      'export REGISTRY = registry.example.com ',
      'GREETING="hello\\nworld" # trailing comment',
      "RAW='a $b \\n'",
      'EMPTY=',
      'URL=http://x/#anchor',
      'NOTE=left # right',
      '',
    ].join('\n');
    expect(parseDotEnv(text)).toEqual({
      TAG: '1.4',
      REGISTRY: 'registry.example.com',
      GREETING: 'hello\nworld',
      RAW: 'a $b \\n',
      EMPTY: '',
      URL: 'http://x/#anchor',
      NOTE: 'left',
    });
  });

  it('names the file and line of a malformed entry', () => {
    expect(() => parseDotEnv('A=1\nnot a pair\n', 'prod.env')).toThrow('prod.env:2: expected KEY=VALUE, got "not a pair"');
    expect(() => parseDotEnv('A="open\n')).toThrow(expect.objectContaining({ code: 'bad_env_file' }));
  });
});
