import { describe, expect, it } from 'vitest';
import { pinoLogger } from '../src/index.js';

// `logger.pino` is pino itself, for code that takes a pino logger (a library, a plugin): its lines
// are written as the Herald logger's are, message and bindings redacted and bounded too.

const SECRET = 's3cret-pw';
const DATABASE_URL = `postgres://app:${SECRET}@db/orders`;
const REDACTED_URL = 'postgres://app:[redacted]@db/orders';

function capture() {
  const lines: string[] = [];
  return { lines, write: (chunk: string) => void lines.push(...chunk.split('\n').filter((l) => l.length > 0)) };
}
const parsed = (sink: { lines: string[] }) => sink.lines.map((l) => JSON.parse(l) as Record<string, unknown>);

describe('the pino instance under pinoLogger (logger.pino)', () => {
  it('writes its message redacted, however pino is called: a string, fields then a string, placeholders, an error, a child', () => {
    const sink = capture();
    const { pino } = pinoLogger({ destination: sink });
    pino.info(`cannot connect to ${DATABASE_URL}`);
    pino.warn({ attempt: 2 }, `retrying ${DATABASE_URL}`);
    pino.error('cannot connect to %s (%d tries)', DATABASE_URL, 3);
    pino.error(new Error(`connect ECONNREFUSED ${DATABASE_URL}`));
    pino.child({ component: 'migrations' }).info(`migrating ${DATABASE_URL}`);
    expect(sink.lines.join('\n')).not.toContain(SECRET);
    expect(parsed(sink).map((line) => line['msg'])).toEqual([
      `cannot connect to ${REDACTED_URL}`,
      `retrying ${REDACTED_URL}`,
      `cannot connect to ${REDACTED_URL} (3 tries)`,
      `connect ECONNREFUSED ${REDACTED_URL}`,
      `migrating ${REDACTED_URL}`,
    ]);
  });

  it('cuts a message over 32 KB, saying how much was left out, and writes a number as it is', () => {
    const sink = capture();
    const { pino } = pinoLogger({ destination: sink });
    pino.info('x'.repeat(100_000));
    pino.info(42 as never);
    const [long, number] = parsed(sink);
    expect(long!['msg']).toMatch(/^x{32768}…\[67232 more characters left out\]$/);
    expect(number!['msg']).toBe(42);
  });

  it("writes a child's bindings as the Herald logger's: credentials redacted, errors whole, pino's own keys renamed", () => {
    const sink = capture();
    const { pino } = pinoLogger({ destination: sink });
    pino.child({ password: 'pw-1', dsn: DATABASE_URL, level: 'debug', cause: new Error('first try', { cause: new Error('reset') }) }).warn('bound');
    expect(sink.lines[0]).not.toMatch(/pw-1|s3cret/);
    expect(parsed(sink)[0]).toMatchObject({
      level: 'warn',
      password: '[redacted]',
      dsn: REDACTED_URL,
      'fields.level': 'debug',
      cause: { message: 'first try', cause: { message: 'reset' } },
      msg: 'bound',
    });
  });
});
