import { describe, expect, it } from 'vitest';
import { ErrorCodes, HeraldError } from '@herald/core';
import { EXIT_CODES, main } from '../src/index.js';
import { fakeIo, herald, letter, memoryEngine } from './support.js';

// A redrive the broker stops part way, and the progress bar's last draw.

describe('herald dlq redrive, failing part way', () => {
  it('says how many letters it appended before the broker failed, and that re-running is safe', async () => {
    const m = memoryEngine();
    for (const l of Array.from({ length: 250 }, (_, i) => letter({ key: `k${i}` }))) await m.stores.deadLetters.add(l);
    let calls = 0;
    const broker = {
      ...m.broker,
      async publish(records: Parameters<typeof m.broker.publish>[0]) {
        if (++calls === 2) throw new HeraldError(ErrorCodes.brokerUnavailable, 'broker down', { retriable: true });
        await m.broker.publish(records);
      },
    };
    const fake = fakeIo();
    const code = await main(['dlq', 'redrive', '--all', '--yes'], fake.io, { open: async () => ({ ...m.engine, broker }) });
    expect(code).toBe(EXIT_CODES.failure);
    expect(fake.stderr()).toMatch(
      /^redriving: 100\/250\nherald: appended 100\/250 dead letter\(s\) \(run [0-9a-f-]{36}\) before failing; re-running is safe, it sends what is still dead or parked: broker down \(broker-unavailable\)\n$/,
    );
    expect(m.broker.records('steps')).toHaveLength(100);
  });
});

describe('the progress bar on a terminal', () => {
  it('draws the full bar once, then ends its line', async () => {
    const m = memoryEngine();
    for (const l of Array.from({ length: 150 }, (_, i) => letter({ key: `k${i}` }))) await m.stores.deadLetters.add(l);
    const run = await herald(m.engine, ['dlq', 'redrive', '--all', '--yes'], { tty: true });
    expect(run.code).toBe(0);
    expect(run.stderr.split('\r').filter((draw) => draw.includes('150/150'))).toEqual(['redriving [##############################] 150/150\n']);
  });
});
