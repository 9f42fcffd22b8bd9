import { jsonLogger } from '@herald/core';
import { describe, expect, it } from 'vitest';
import { pinoLogger } from '../src/index.js';

// A message is bounded as a field is (log backends cap a line: Loki and CloudWatch at 256 KB,
// Docker's json-file at 16 KB), and redacted first: Herald's two loggers alike.

const SECRET = 's3cret-pw';
/** A message of 100,000 characters, a connection string with its password at its start. */
const LONG = `connect to postgres://app:${SECRET}@db/orders failed: ${'x'.repeat(100_000)}`;

function lines(): { lines: string[]; write: (chunk: string) => void } {
  const out: string[] = [];
  return { lines: out, write: (chunk) => void out.push(...chunk.split('\n').filter((l) => l.length > 0)) };
}

describe('a message over 32 KB', () => {
  it.each([
    ['jsonLogger', (write: (line: string) => void) => jsonLogger({ level: 'info', write })],
    ['pinoLogger', (write: (line: string) => void) => pinoLogger({ destination: { write } })],
  ])('is written redacted and cut, saying how much was left out (%s)', (_, make) => {
    const sink = lines();
    make(sink.write).error(LONG);
    expect(sink.lines).toHaveLength(1);
    const line = sink.lines[0]!;
    expect(line.length).toBeLessThan(40_000);
    expect(line).not.toContain(SECRET);
    const msg = (JSON.parse(line) as { msg: string }).msg;
    expect(msg).toMatch(/^connect to postgres:\/\/app:\[redacted\]@db\/orders failed: x+…\[\d+ more characters left out\]$/);
    // what was written and what was left out make up the message, redacted
    const [, leftOut] = /\[(\d+) more characters left out\]$/.exec(msg)!;
    expect(msg.indexOf('…') + Number(leftOut)).toBe(LONG.replace(SECRET, '[redacted]').length);
  });
});
