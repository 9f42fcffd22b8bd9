import { randomFillSync } from 'node:crypto';
import { isValidSpanId, isValidTraceId } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { PooledIdGenerator } from '../src/internal/ids.js';

describe('PooledIdGenerator', () => {
  it('hands out W3C-valid ids of the right length, distinct across several refills of its pool', () => {
    const ids = new PooledIdGenerator();
    const traceIds = Array.from({ length: 1000 }, () => ids.generateTraceId()); // four pools of 256
    const spanIds = Array.from({ length: 1000 }, () => ids.generateSpanId());
    for (const id of traceIds) expect(id).toMatch(/^[0-9a-f]{32}$/);
    for (const id of spanIds) expect(id).toMatch(/^[0-9a-f]{16}$/);
    expect(traceIds.every(isValidTraceId) && spanIds.every(isValidSpanId)).toBe(true);
    expect(new Set(traceIds).size).toBe(traceIds.length);
    expect(new Set(spanIds).size).toBe(spanIds.length);
  });

  it('never hands out the all-zero (invalid) id: an all-zero pool is skipped and drawn again', () => {
    // the first pool of each generator is all zeros, the next ones random
    const firstAllZero = () => {
      let fills = 0;
      return { fill: (bytes: Buffer) => (fills++ === 0 ? bytes.fill(0) : randomFillSync(bytes)), fills: () => fills };
    };
    const forTrace = firstAllZero();
    expect(isValidTraceId(new PooledIdGenerator(forTrace.fill).generateTraceId())).toBe(true);
    expect(forTrace.fills()).toBe(2);
    const forSpan = firstAllZero();
    expect(isValidSpanId(new PooledIdGenerator(forSpan.fill).generateSpanId())).toBe(true);
    expect(forSpan.fills()).toBe(2);
  });

  it('draws ids uniformly: each hex digit about as often as the others', () => {
    const ids = new PooledIdGenerator();
    const counts = new Map<string, number>();
    for (let i = 0; i < 4000; i++) for (const digit of ids.generateTraceId()) counts.set(digit, (counts.get(digit) ?? 0) + 1);
    expect(counts.size).toBe(16);
    // 128,000 digits: 8,000 expected each; a fair source stays well within ±10%
    for (const n of counts.values()) expect(Math.abs(n - 8000)).toBeLessThan(800);
  });
});
