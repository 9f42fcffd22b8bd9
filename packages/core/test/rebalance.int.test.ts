import { afterEach, describe, expect, it } from 'vitest';
import { apps, closeApps, memberApp, newApp, Step } from './appFixture.js';
import { eventually, readyInBackground } from './support.js';
import { createManualClock, partitionForKey, type InstrumentationEvent } from '@herald/core';
import { memoryBroker, memoryStores } from '@herald/testing';

afterEach(closeApps);

describe('rebalances of an app on the in-memory engine', () => {
  it('reports the partitions a rebalance assigns to and takes from a member', async () => {
    const { app } = newApp();
    const facts: InstrumentationEvent[] = [];
    app.instrumentation.on((fact) => {
      if (fact.kind === 'assigned' || fact.kind === 'revoked') facts.push(fact);
    });
    app.on(Step, { group: 'worker' }, async () => {});
    await app.start();
    await eventually(() => facts.length === 1, 'the assignment');
    apps.splice(apps.indexOf(app), 1);
    await app.close({ deadlineMs: 1000 });
    const both = [
      { topic: 'steps', partition: 0 },
      { topic: 'steps', partition: 1 },
    ];
    expect(facts.map((f) => f.kind)).toEqual(['assigned', 'revoked']);
    for (const fact of facts) {
      if (fact.kind !== 'assigned' && fact.kind !== 'revoked') continue;
      expect(fact.group).toBe('worker');
      expect([...fact.partitions].sort((a, b) => a.partition - b.partition)).toEqual(both);
    }
  });

  for (const batch of [false, true]) {
    it(`finishes a revoke while a delivery keeps failing outside the handler policies: the partition goes to its new owner, uncommitted (${batch ? 'batch' : 'event'} handlers)`, async () => {
      // the redispatch backoff runs on this clock, which never moves: only the revoke ends the wait
      const clock = createManualClock(Date.now());
      const broker = memoryBroker({ partitions: 2 });
      const stores = memoryStores();
      stores.deadLetters.add = async () => {
        throw new Error('dead letter store down');
      };
      /** A member of group `worker` telling `handle` which events (`partition/key`) it was given. */
      const member = (handle: (seen: string[]) => void) => {
        const app = memberApp({ broker: broker.connect(), stores, clock, handlerDefaults: { retry: { maxAttempts: 1 } } });
        if (batch) app.onBatch(Step, { group: 'worker' }, async (events, ctx) => handle(events.map((event, i) => `${ctx.deliveries[i]!.partition}/${event.data.key}`)));
        else app.on(Step, { group: 'worker' }, async (event, ctx) => handle([`${ctx.delivery.partition}/${event.data.key}`]));
        return app;
      };
      const failed = new Set<string>();
      const first = member((seen) => {
        seen.forEach((s) => failed.add(s));
        throw new Error('rejected');
      });
      await first.start();
      await first.publishDirect.many(Step, ['a', 'b', 'c', 'd', 'e', 'f'].map((key, seq) => ({ key, seq })));
      await eventually(() => failed.size === 6, 'every event failed, a dead letter not stored');
      const moved = [...failed].filter((seen) => seen.startsWith('1/')).sort();
      expect(moved.length).toBeGreaterThan(0);
      // the second member gets partition 1 once the first let it go
      const handled: string[] = [];
      const second = member((seen) => void handled.push(...seen));
      const ready = readyInBackground(second);
      await eventually(ready, 'the second member assigned its partition while the dead letter store is still down', 3_000);
      await eventually(() => handled.length === moved.length, 'the moved events handled by their new owner');
      expect(handled.sort()).toEqual(moved);
    });
  }

  it("ends a failing delivery's backoff when its partition is revoked: the revoke does not wait out its retries, and the new owner handles it", async () => {
    // the backoff runs on this clock, which never moves: only the revoke ends it
    const clock = createManualClock(Date.now());
    const broker = memoryBroker({ partitions: 2 });
    const stores = memoryStores();
    const member = (handle: (key: string) => void) => {
      const app = memberApp({ broker: broker.connect(), stores, clock, handlerDefaults: { retry: { maxAttempts: 5, initialDelayMs: 60_000, maxDelayMs: 60_000 } } });
      app.on(Step, { group: 'worker' }, async (event) => handle(event.data.key));
      return app;
    };
    const key = ['a', 'b', 'c', 'd'].find((k) => partitionForKey(k, 2) === 1)!;
    let failures = 0;
    const first = member(() => {
      failures++;
      throw new Error('downstream unavailable');
    });
    await first.start();
    await first.publishDirect(Step, { key, seq: 1 });
    await eventually(() => failures === 1 && clock.pending() > 0, 'the first attempt failed, a retry waiting');
    const handled: string[] = [];
    const second = member((k) => void handled.push(k));
    const ready = readyInBackground(second);
    await eventually(ready, 'the second member assigned the partition while the retry still waits', 3_000);
    await eventually(() => handled.length === 1, 'the event handled by its new owner');
    expect(handled).toEqual([key]);
    expect(failures).toBe(1);
    expect(await stores.deadLetters.list()).toEqual([]);
  });

  it('stops a batch handled one by one at the next event when its partition is revoked, leaving the rest to the new owner', async () => {
    const broker = memoryBroker({ partitions: 2 });
    const stores = memoryStores();
    const member = (handle: (keys: string[]) => Promise<void>) => {
      const app = memberApp({ broker: broker.connect(), stores });
      app.onBatch(Step, { group: 'worker' }, async (events) => handle(events.map((e) => e.data.key)));
      return app;
    };
    // keys of partition 1, the one a second member takes; the first member's whole batch fails, and
    // each event alone waits for the test to let it through
    const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'].filter((k) => partitionForKey(k, 2) === 1).slice(0, 4);
    const calls: string[] = [];
    let release!: () => void;
    const first = member(async (batchKeys) => {
      if (batchKeys.length > 1) throw new Error('the batch fails as a whole');
      calls.push(batchKeys[0]!);
      await new Promise<void>((resolve) => (release = resolve));
    });
    await first.start();
    await first.publishDirect.many(Step, keys.map((key, seq) => ({ key, seq })));
    await eventually(() => calls.length === 1, 'the first event of the run handled alone');
    const handled: string[] = [];
    const second = member(async (batchKeys) => void handled.push(...batchKeys));
    const ready = readyInBackground(second);
    // the revoke waits for the event in hand, not for the rest of the run
    await eventually(async () => {
      release();
      return ready();
    }, 'the second member assigned the partition', 3_000);
    expect(calls).toEqual([keys[0]]);
    await eventually(() => handled.length === keys.length - 1, 'the rest handled by the new owner');
    expect(handled).toEqual(keys.slice(1));
  });
});
