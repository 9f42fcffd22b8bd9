import { describe, expect, it } from 'vitest';
import type { InstrumentationEvent, StreamFact } from '@herald/core';
import { createCommitFacts, type AggregationTally } from '../src/internal/facts.js';
import type { AggregateNode } from '../src/internal/graph.js';

// A batch's stream facts wait for the `handled` fact of its last event, which the core emits only
// after the batch's transaction committed: runs that rolled back are never reported, and runs of
// one partition that overlap are each reported once.

const node = { name: 'per-user' } as AggregateNode;
const tally = (late: number, streamTime: number): AggregationTally[] => [{ node, late, results: 0, streamTime }];
const at = (eventId: string) => ({ group: 'clicks', topic: 'clicks', partition: 0, eventId });
const handled = (eventId: string, outcome: 'applied' | 'dead-lettered'): Extract<InstrumentationEvent, { kind: 'handled' }> => ({
  kind: 'handled',
  group: 'clicks',
  handler: 'clicks:stream',
  eventId,
  eventType: 'Click',
  topic: 'clicks',
  partition: 0,
  offset: 0,
  outcome,
  attempts: 1,
  durationMs: 1,
  latencyMs: 1,
});

function commitFacts() {
  const emitted: StreamFact[] = [];
  const facts = createCommitFacts((fact) => emitted.push(fact));
  const lates = () => emitted.flatMap((f) => (f.kind === 'records-late' ? [f.count] : []));
  const times = () => emitted.flatMap((f) => (f.kind === 'stream-time' ? [f.streamTime] : []));
  return { facts, lates, times };
}

describe('stream facts held until their batch commits', () => {
  it('reports a run once its last event is applied, a rolled-back run never, and one replaced by a run ending with the same event once', () => {
    const { facts, lates, times } = commitFacts();
    facts.hold(at('e-3'), tally(2, 3_000)); // the whole batch e-1..e-3: rolled back
    facts.hold(at('e-1'), tally(1, 1_000)); // then one event at a time
    facts.handled(handled('e-1', 'applied'));
    facts.hold(at('e-2'), tally(0, 2_000));
    facts.handled(handled('e-2', 'applied'));
    facts.hold(at('e-3'), tally(1, 3_000));
    facts.handled(handled('e-3', 'applied'));
    facts.handled(handled('e-3', 'applied')); // reported again (a redrive of a copy): nothing more
    expect({ lates: lates(), times: times() }).toEqual({ lates: [1, 1], times: [1_000, 2_000, 3_000] });
  });

  it('drops a run whose last event ends otherwise, keeps overlapping runs of one partition apart, and forgets a revoked partition', () => {
    const { facts, lates, times } = commitFacts();
    facts.hold(at('e-1'), tally(1, 1_000));
    facts.handled(handled('e-1', 'dead-lettered'));
    // a redrive of e-0 beside the consumer's batch ending with e-2
    facts.hold(at('e-2'), tally(0, 2_000));
    facts.hold(at('e-0'), tally(1, 500));
    facts.handled(handled('e-2', 'applied'));
    facts.handled(handled('e-0', 'applied'));
    facts.hold(at('e-4'), tally(5, 4_000));
    facts.revoked('clicks', [{ topic: 'clicks', partition: 0 }]);
    facts.handled(handled('e-4', 'applied'));
    expect({ lates: lates(), times: times() }).toEqual({ lates: [1], times: [2_000, 500] });
  });
});
