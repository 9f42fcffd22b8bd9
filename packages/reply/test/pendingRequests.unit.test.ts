import { describe, expect, it } from 'vitest';
import { pendingRequests } from '../src/pendingRequests.js';

// The requester's record of its waits: what it remembers decides the reason a reply nobody waits
// for is dropped with (`late` or `duplicate`).

describe('pending requests', () => {
  it('a timeout or an abort after the reply leaves the request remembered as answered', () => {
    const pending = pendingRequests<string>(10);
    pending.waiting.set('r-1', 'entry');
    expect(pending.settle('r-1', 'answered')).toBe('entry');
    expect(pending.settle('r-1', 'late')).toBeUndefined();
    expect(pending.outcomeOf('r-1')).toBe('answered');
  });

  it('remembers nothing for a request that never waited', () => {
    const pending = pendingRequests<string>(10);
    expect(pending.settle('r-unknown', 'late')).toBeUndefined();
    expect(pending.outcomeOf('r-unknown')).toBeUndefined();
  });

  it('a request that times out is remembered as late', () => {
    const pending = pendingRequests<string>(10);
    pending.waiting.set('r-2', 'entry');
    expect(pending.settle('r-2', 'late')).toBe('entry');
    expect(pending.waiting.size).toBe(0);
    expect(pending.outcomeOf('r-2')).toBe('late');
  });
});
