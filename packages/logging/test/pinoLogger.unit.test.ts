import { HeraldError, defineErrorCodes } from '@herald/core';
import { afterEach, describe, expect, it } from 'vitest';
import { formatLine, pinoLogger, serializeError } from '../src/index.js';
import { topLevelKeys } from './jsonKeys.js';

const { specs: TestErrors } = defineErrorCodes({
  declined: { code: 'card-declined', retriable: false, meaning: 'the test card is declined', action: 'none' },
});

/** A destination that keeps what it is given, line by line. */
function capture(isTTY = false) {
  const lines: string[] = [];
  return { lines, isTTY, write: (chunk: string) => void lines.push(...chunk.split('\n').filter((l) => l.length > 0)) };
}
const parsed = (sink: { lines: string[] }) => sink.lines.map((l) => JSON.parse(l) as Record<string, unknown>);

describe('pinoLogger', () => {
  const saved = { level: process.env['HERALD_LOG_LEVEL'], pretty: process.env['HERALD_LOG_PRETTY'] };
  afterEach(() => {
    for (const [name, value] of [['HERALD_LOG_LEVEL', saved.level], ['HERALD_LOG_PRETTY', saved.pretty]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('writes one JSON object per line: level name, ISO time, the fields of the logger, its children and the line, msg', () => {
    const sink = capture();
    const logger = pinoLogger({ destination: sink, fields: { service: 'orders' } });
    logger.child({ group: 'billing' }).child({ eventId: 'e-1' }).info('handled', { attempts: 2 });
    expect(parsed(sink)).toEqual([{ level: 'info', time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/), service: 'orders', group: 'billing', eventId: 'e-1', attempts: 2, msg: 'handled' }]);
    expect(sink.lines[0]).not.toMatch(/"pid"|"hostname"/);
  });

  it('drops lines below its level, from the option or HERALD_LOG_LEVEL, and writes nothing when silent', () => {
    const sink = capture();
    const logger = pinoLogger({ destination: sink, level: 'warn' });
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    expect(parsed(sink).map((l) => [l['level'], l['msg']])).toEqual([
      ['warn', 'w'],
      ['error', 'e'],
    ]);
    process.env['HERALD_LOG_LEVEL'] = 'debug';
    const verbose = capture();
    pinoLogger({ destination: verbose }).debug('shown');
    expect(parsed(verbose).map((l) => l['msg'])).toEqual(['shown']);
    const silent = capture();
    pinoLogger({ destination: silent, level: 'silent' }).error('hidden');
    expect(silent.lines).toEqual([]);
    expect(() => pinoLogger({ level: 'loud' as never })).toThrow(expect.objectContaining({ code: 'invalid-options' }));
  });

  it('reads HERALD_LOG_LEVEL trimmed and in any case, and refuses a level that is none (a typo would log at another level)', () => {
    process.env['HERALD_LOG_LEVEL'] = ' WARN ';
    const sink = capture();
    const logger = pinoLogger({ destination: sink });
    logger.info('hidden');
    logger.warn('shown');
    expect(parsed(sink).map((l) => l['msg'])).toEqual(['shown']);
    process.env['HERALD_LOG_LEVEL'] = 'verbose';
    expect(() => pinoLogger({ destination: capture() })).toThrow(
      expect.objectContaining({ code: 'invalid-options', message: 'HERALD_LOG_LEVEL must be one of debug, info, warn, error, silent, got "verbose"' }),
    );
  });

  it('keeps the whole Error.cause chain, with codes and details, wherever an error sits among the fields', () => {
    const sink = capture();
    const root = new Error('connection reset');
    const middle = new HeraldError(TestErrors.declined, 'the card was declined', { cause: root, details: { last4: '4242' } });
    const top = new Error('checkout failed', { cause: middle });
    pinoLogger({ destination: sink }).error('payment failed', { orderId: 'o-1', error: top, previous: new Error('first try') });
    const [line] = parsed(sink);
    expect(line).toMatchObject({
      orderId: 'o-1',
      error: {
        name: 'Error',
        message: 'checkout failed',
        stack: expect.stringContaining('checkout failed'),
        cause: {
          name: 'HeraldError',
          message: 'the card was declined',
          code: 'card-declined',
          retriable: false,
          details: { last4: '4242' },
          cause: { name: 'Error', message: 'connection reset', stack: expect.stringContaining('connection reset') },
        },
      },
      previous: { name: 'Error', message: 'first try' },
    });
  });

  it('serializes errors nested in objects, arrays and other errors, and keeps an err field whole, causes and codes included', () => {
    const sink = capture();
    const cause = Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });
    const details = { error: new Error('boom', { cause }) };
    const loop: Record<string, unknown> = { error: new Error('in a loop') };
    loop['self'] = loop;
    let deep: Record<string, unknown> = { error: new Error('too deep') };
    for (let i = 0; i < 20; i++) deep = { deeper: deep };
    pinoLogger({ destination: sink }).error('failed', {
      details,
      errors: [new Error('first'), 'not an error', new Error('second')],
      herald: new HeraldError(TestErrors.declined, 'outer', { details: { last: new Error('inner detail') } }),
      odd: new Error('top', { cause: { code: 'E1', err: new Error('deep') } }),
      err: new Error('outer', { cause }),
      loop,
      deep,
      when: new Date('2026-01-02T03:04:05.678Z'),
    });
    const [line] = parsed(sink);
    const connection = { name: 'Error', message: 'connection refused', code: 'ECONNREFUSED', stack: expect.stringContaining('connection refused') };
    expect(line).toMatchObject({
      details: { error: { name: 'Error', message: 'boom', stack: expect.stringContaining('boom'), cause: connection } },
      errors: [{ name: 'Error', message: 'first' }, 'not an error', { name: 'Error', message: 'second' }],
      herald: { code: 'card-declined', details: { last: { name: 'Error', message: 'inner detail', stack: expect.stringContaining('inner detail') } } },
      odd: { cause: { code: 'E1', err: { name: 'Error', message: 'deep' } } },
      err: { name: 'Error', message: 'outer', cause: connection },
      loop: { error: { name: 'Error', message: 'in a loop' }, self: '[circular]' },
      when: '2026-01-02T03:04:05.678Z',
    });
    expect(JSON.stringify(line?.['deep'])).toContain('"deeper"');
    // the caller's objects are copied where an error is replaced, never changed
    expect(details.error).toBeInstanceOf(Error);
    expect(loop['error']).toBeInstanceOf(Error);
  });

  it('writes every key once: a field named level, time or msg as fields.<key>, and a rebound or repeated field with its latest value', () => {
    const sink = capture();
    const logger = pinoLogger({ destination: sink, fields: { service: 'orders' } });
    logger.error('real', { level: 'debug', msg: 'spoof', time: 'yesterday' });
    logger.child({ component: 'c1' }).child({ component: 'c2' }).info('rebound');
    logger.child({ component: 'c1', group: 'g' }).info('repeated', { component: 'c3', n: 1 });
    logger.child({ service: 'billing', level: 'trace', formatters: 'kept' }).info('bound', { msg: 'again' });
    logger.child({ service: 'billing' }).child({ eventId: 'e-1' }).info('latest wins');
    for (const line of sink.lines) expect(topLevelKeys(line), line).toEqual([...new Set(topLevelKeys(line))]);
    expect(parsed(sink)).toEqual([
      expect.objectContaining({ level: 'error', msg: 'real', 'fields.level': 'debug', 'fields.msg': 'spoof', 'fields.time': 'yesterday', time: expect.stringMatching(/^\d{4}-/) }),
      expect.objectContaining({ level: 'info', msg: 'rebound', service: 'orders', component: 'c2' }),
      expect.objectContaining({ msg: 'repeated', service: 'orders', component: 'c3', group: 'g', n: 1 }),
      expect.objectContaining({ level: 'info', msg: 'bound', service: 'billing', 'fields.level': 'trace', 'fields.formatters': 'kept', 'fields.msg': 'again' }),
      expect.objectContaining({ msg: 'latest wins', service: 'billing', eventId: 'e-1' }),
    ]);
    const quiet = capture();
    pinoLogger({ destination: quiet, level: 'warn', fields: { service: 'orders' } }).child({ service: 'billing' }).info('below the level', { service: 'x' });
    expect(quiet.lines).toEqual([]);
    expect(formatLine(sink.lines[0] ?? '')).toMatch(/ ERROR real service=orders fields\.level=debug fields\.time=yesterday fields\.msg=spoof$/);
  });

  it('writes readable lines to a terminal, when asked, or with HERALD_LOG_PRETTY=1, and JSON otherwise', () => {
    const tty = capture(true);
    pinoLogger({ destination: tty, colors: false, fields: { service: 'orders' } }).warn('slow handler', { durationMs: 812, note: 'two words' });
    expect(tty.lines).toEqual([expect.stringMatching(/^\d\d:\d\d:\d\d\.\d{3} WARN {2}slow handler service=orders durationMs=812 note="two words"$/)]);
    const forced = capture();
    pinoLogger({ destination: forced, pretty: true }).info('readable');
    expect(forced.lines[0]).toMatch(/ INFO {2}readable$/);
    process.env['HERALD_LOG_PRETTY'] = '0';
    const json = capture(true);
    pinoLogger({ destination: json }).info('machine');
    expect(parsed(json)).toEqual([expect.objectContaining({ msg: 'machine' })]);
    process.env['HERALD_LOG_PRETTY'] = '1';
    const env = capture();
    pinoLogger({ destination: env }).info('by environment');
    expect(env.lines[0]).toMatch(/ INFO {2}by environment$/);
  });

  it('shows an error readably with its stack and causes, indented, in color when asked', () => {
    const error = new HeraldError(TestErrors.declined, 'the card was declined', { cause: new Error('connection reset') });
    const line = JSON.stringify({ level: 'error', time: '2026-01-02T03:04:05.678Z', orderId: 'o-1', error: serializeError(error), msg: 'payment failed' });
    const lines = formatLine(line).split('\n');
    expect(lines[0]).toBe('03:04:05.678 ERROR payment failed orderId=o-1');
    expect(lines[1]).toBe('    error: HeraldError [card-declined]: the card was declined');
    expect(lines[2]).toMatch(/^ {6}at /);
    const cause = lines.findIndex((l) => l.startsWith('    caused by: Error: connection reset'));
    expect(cause).toBeGreaterThan(2);
    expect(lines.slice(cause + 1).every((l) => /^ {6}at /.test(l))).toBe(true);
    expect(formatLine(line, true)).toContain('\u001b[31mERROR\u001b[0m');
    expect(formatLine('not json at all')).toBe('not json at all');
    const user = JSON.stringify({ level: 'info', time: '2026-01-02T03:04:05.678Z', user: { name: 'bob', message: 'hi', id: 5 }, msg: 'signed up' });
    expect(formatLine(user)).toBe('03:04:05.678 INFO  signed up user={"name":"bob","message":"hi","id":5}');
  });
});
