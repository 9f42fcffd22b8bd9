import { describe, expect, it } from 'vitest';
import { selectServices, settingsFrom } from '../src/index.js';

const SERVICES = ['api', 'search', 'notification'] as const;

describe('settingsFrom', () => {
  it('reads values, treats empty as unset, and refuses bad ones naming the variable', () => {
    const read = settingsFrom({ PORT: ' 8081 ', RATE: '0.25', LEVEL: 'warn', EMPTY: '', HOST: 'example.org' });
    expect(read.integer('PORT', 1, 0, 65_535)).toBe(8081);
    expect(read.integer('EMPTY', 7, 0, 10)).toBe(7);
    expect(read.integer('MISSING', 7, 0, 10)).toBe(7);
    expect(read.fraction('RATE', 0)).toBe(0.25);
    expect(read.oneOf('LEVEL', ['info', 'warn'] as const, 'info')).toBe('warn');
    expect(read.text('HOST', '127.0.0.1')).toBe('example.org');
    expect(read.text('EMPTY', '127.0.0.1')).toBe('127.0.0.1');

    const bad = settingsFrom({ PORT: '80.5', BIG: '70000', RATE: '1.5', NAN: 'x', LEVEL: 'loud' });
    expect(() => bad.integer('PORT', 1, 0, 65_535)).toThrow(expect.objectContaining({ code: 'invalid-options', message: 'PORT must be an integer in [0, 65535], got "80.5"' }));
    expect(() => bad.integer('BIG', 1, 0, 65_535)).toThrow('BIG must be an integer in [0, 65535], got "70000"');
    expect(() => bad.fraction('RATE', 0)).toThrow('RATE must be a number in [0, 1], got "1.5"');
    expect(() => bad.fraction('NAN', 0)).toThrow('NAN must be a number in [0, 1], got "x"');
    expect(() => bad.oneOf('LEVEL', ['info', 'warn'] as const, 'info')).toThrow('LEVEL must be one of info, warn, got "loud"');
  });
});

describe('selectServices', () => {
  it('takes --service, --service=, then HERALD_SERVICE, else all; dedupes and accepts a -service suffix', () => {
    expect(selectServices(SERVICES, [], {})).toEqual(SERVICES);
    expect(selectServices(SERVICES, ['--service', 'all'], {})).toEqual(SERVICES);
    expect(selectServices(SERVICES, ['--service', 'search,notification-service,search'], {})).toEqual(['search', 'notification']);
    expect(selectServices(SERVICES, ['--service=api'], { HERALD_SERVICE: 'search' })).toEqual(['api']);
    expect(selectServices(SERVICES, [], { HERALD_SERVICE: ' api , search ' })).toEqual(['api', 'search']);
  });

  it('refuses an unknown or missing name, listing the services', () => {
    expect(() => selectServices(SERVICES, ['--service', 'relay'], {})).toThrow(
      expect.objectContaining({ code: 'invalid-options', message: 'unknown service "relay"; use all or one or more of api, search, notification' }),
    );
    expect(() => selectServices(SERVICES, ['--service'], {})).toThrow('unknown service ""');
  });
});
