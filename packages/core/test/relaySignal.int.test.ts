import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { createManualClock, createRelay, silentLogger, type Broker, type OutboxClaims, type OutboxRecord } from '@herald/core';
import { memoryStores } from '@herald/testing';

// The signal `relay.start(signal)` takes: one already aborted stops the relay at once, and the
// relay lets go of a live one when it stops (a process-wide shutdown signal outlives many relays).

const T0 = Date.UTC(2026, 0, 1);
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.allSettled(cleanups.splice(0).map((c) => c()));
});

function setup() {
  const clock = createManualClock(T0);
  const stores = memoryStores({ clock });
  cleanups.push(() => stores.close());
  const published: string[] = [];
  const broker: Broker = {
    async publish(records) {
      published.push(...records.map((r) => r.key));
    },
    subscribe: () => Promise.reject(new Error('not used')),
    close: async () => {},
  };
  let claims = 0;
  const outbox: OutboxClaims = {
    claim: (options) => {
      claims++;
      return stores.outbox.claim(options);
    },
    markPublished: (relayId, ids) => stores.outbox.markPublished(relayId, ids),
    release: (relayId, ids) => stores.outbox.release(relayId, ids),
  };
  const relay = createRelay({ outbox, broker, stores, clock, logger: silentLogger });
  cleanups.push(() => relay.close());
  const append = (key: string) => {
    const record: OutboxRecord = { id: `id-${key}`, topic: 'orders', key, type: 'T', correlationId: 'flow', value: '{}', headers: {}, createdAt: T0 };
    return stores.transaction((tx) => stores.outbox.append(tx, [record]));
  };
  /** Lets the relay's loop run between steps of manual time. */
  const runFor = async (ms: number) => {
    for (let t = 0; t < ms; t += 5) {
      await clock.advance(5);
      await new Promise((r) => setImmediate(r));
    }
  };
  return { relay, append, runFor, published, claims: () => claims };
}

describe('relay.start(signal)', () => {
  it('with a signal already aborted, stops at once: it claims and publishes nothing, even what is appended afterwards', async () => {
    const { relay, append, runFor, published, claims } = setup();
    await append('before');
    await relay.start(AbortSignal.abort());
    await append('after');
    await runFor(200);
    expect(claims()).toBe(0);
    expect(published).toEqual([]);
    await relay.close();
  });

  it('still publishes with a live signal, and stops when it aborts', async () => {
    const { relay, append, runFor, published } = setup();
    const controller = new AbortController();
    await relay.start(controller.signal);
    await append('a');
    await runFor(100);
    expect(published).toEqual(['a']);
    controller.abort();
    await runFor(20);
    await append('b');
    await runFor(200);
    expect(published).toEqual(['a']);
  });

  it('removes its abort listener from the signal when the relay closes', async () => {
    const { relay } = setup();
    const controller = new AbortController();
    await relay.start(controller.signal);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    await relay.close();
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });
});
