import { HeraldError, defineErrorCodes } from '@herald/core';
import { afterEach, describe, expect, it } from 'vitest';
import { formatLine, pinoLogger, serializeError } from '../src/index.js';

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

  it('serializes aggregated errors, marks an error that is its own cause, and cuts endless chains', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    expect(serializeError(b)).toMatchObject({ message: 'b', cause: { message: 'a', cause: '[circular]' } });
    const both = new AggregateError([new Error('one'), new Error('two')], 'both failed');
    expect(serializeError(both)).toMatchObject({ name: 'AggregateError', errors: [{ message: 'one' }, { message: 'two' }] });
    let deep = new Error('0');
    for (let i = 1; i < 20; i++) deep = new Error(String(i), { cause: deep });
    let level = serializeError(deep);
    let depth = 0;
    while (typeof level['cause'] === 'object') {
      level = level['cause'] as Record<string, unknown>;
      depth++;
    }
    expect([depth, level['cause']]).toEqual([7, '[cause chain cut]']);
    const shared = new Error('shared');
    expect(serializeError(new AggregateError([shared, shared]))['errors']).toEqual([expect.objectContaining({ message: 'shared' }), expect.objectContaining({ message: 'shared' })]);
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
  });
});
