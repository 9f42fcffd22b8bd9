import { describe, expect, it } from 'vitest';
import { closingGraceAfter, isClosed } from '../src/grace.js';

describe('the consumer\'s recorded grace', () => {
  const M = 60_000;

  it('holds a lowered grace for the minutes open at the restart, and no longer once they are final by it', () => {
    const lowered = closingGraceAfter({ graceMs: 60_000 }, 10_000, { minStreamTime: 5 * M + 5_000, through: 6 * M });
    expect(lowered).toEqual({ graceMs: 10_000, held: { graceMs: 60_000, through: 6 * M } });
    // restarted again with 10 s while minute 5 may still be open by 60 s: the hold stays as it was, not extended
    expect(closingGraceAfter(lowered, 10_000, { minStreamTime: 6 * M + 30_000, through: 7 * M })).toEqual(lowered);
    // every partition past 6 min + 60 s: nothing opened by 60 s is open any more
    expect(closingGraceAfter(lowered, 10_000, { minStreamTime: 7 * M, through: 8 * M })).toEqual({ graceMs: 10_000 });
    // raised past the held grace, or nothing open: the grace alone
    expect(closingGraceAfter(lowered, 90_000, { minStreamTime: 6 * M, through: 7 * M })).toEqual({ graceMs: 90_000 });
    expect(closingGraceAfter({ graceMs: 60_000 }, 10_000, undefined)).toEqual({ graceMs: 10_000 });
  });

  it('calls a window closed once past its end by the grace, and by the held one up to its last minute', () => {
    const grace = { graceMs: 10_000, held: { graceMs: 60_000, through: 6 * M } };
    expect(isClosed(5 * M, 5 * M + 9_999, { graceMs: 10_000 })).toBe(false);
    expect(isClosed(5 * M, 5 * M + 10_000, { graceMs: 10_000 })).toBe(true);
    expect(isClosed(5 * M, 5 * M + 59_999, grace)).toBe(false);
    expect(isClosed(5 * M, 6 * M, grace)).toBe(true);
    expect(isClosed(7 * M, 7 * M + 10_000, grace)).toBe(true);
  });
});
