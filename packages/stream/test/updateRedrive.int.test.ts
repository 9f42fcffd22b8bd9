import { afterEach, describe, expect, it } from 'vitest';
import { CoreErrors, HeraldError, createApp, silentLogger, type App } from '@herald/core';
import { eventually, memoryBroker, memoryStores, type MemoryTx } from '@herald/testing';
import { SessionWindows, TimeWindows, createTopology, type StreamRecord, type WindowResult } from '../src/index.js';
import { Click, LateClicks } from './support.js';

// An update result (emit 'update') is an entry of a changelog: its consumer keeps the latest value
// per window. Its dead letter, redriven after a later update of the window went downstream, must
// not take the consumer back to the older value: while the window is held, the redrive emits its
// current value; once it closed, the letter's. In-memory engine, one partition, real time.

const apps: App<MemoryTx>[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

/** Counts clicks per user (emit update): 1 s tumbling windows with 10 s of grace, or sessions of a 1 s gap; the forEach refuses while `downstream.broken`. */
async function started(windows: 'time' | 'session') {
  const app = createApp<MemoryTx>({ broker: memoryBroker({ partitions: 1 }), stores: memoryStores(), logger: silentLogger, relay: false });
  apps.push(app);
  const downstream = { broken: false };
  const results: string[] = [];
  const topology = createTopology<MemoryTx>({ name: 'clicks', idleTimeoutMs: false, handler: { retry: { maxAttempts: 1 } } });
  const grouped = topology.from(Click).groupByKey();
  const windowed = windows === 'time' ? grouped.windowedBy(TimeWindows.ofSizeAndGrace(1_000, 10_000)) : grouped.windowedBy(SessionWindows.ofInactivityGapAndGrace(1_000, 10_000));
  windowed.count('per-user', { emit: 'update', late: { to: LateClicks } }).forEach(async (r: StreamRecord<WindowResult<number>>) => {
    if (downstream.broken) throw new HeraldError(CoreErrors.handlerFailed, 'downstream refused', { retriable: false });
    results.push(`${r.value.kind} ${r.key}@${r.value.start}-${r.value.end}=${r.value.value}`);
  });
  topology.install(app);
  let handled = 0;
  app.instrumentation.on((fact) => {
    if (fact.kind === 'handled' && fact.group === 'clicks') handled++;
  });
  await app.start();
  await app.ready();
  const click = async (seq: number, at: number) => {
    await app.publishDirect(Click, { userId: 'u', seq }, { occurredAt: new Date(at) });
    await eventually(() => (handled === seq ? true : undefined), 10_000, `click ${seq} to be handled`, 5);
  };
  /** The one letter of the group: the update refused while the downstream was broken. */
  const letter = async () => {
    const letters = await app.stores.deadLetters.list({ group: 'clicks' });
    expect(letters.map((l) => [l.eventType, l.key, l.status])).toEqual([['herald.stream.WindowResult.clicks', 'u', 'dead']]);
    return letters[0]!.id;
  };
  return { app, downstream, results, click, letter };
}

describe("an update result's dead letter", () => {
  it('redriven while its window is held emits the window’s current value, not the older one it holds', async () => {
    const t = await started('time');
    t.downstream.broken = true;
    await t.click(1, 100); // u@0 = 1: refused, lettered
    const id = await t.letter();
    t.downstream.broken = false;
    await t.click(2, 200); // u@0 = 2: emitted
    expect(await t.app.redrive({ group: 'clicks', ids: [id] })).toEqual({ redriven: 1, failed: 0, stillParked: 0 });
    // the consumer's latest value of u@0 stays 2
    expect(t.results).toEqual(['update u@0-1000=2', 'update u@0-1000=2']);
  });

  it('redriven once its window closed emits the value the letter holds', async () => {
    const t = await started('time');
    t.downstream.broken = true;
    await t.click(1, 100);
    const id = await t.letter();
    t.downstream.broken = false;
    await t.click(2, 20_000); // closes u@0 (1 s + 10 s grace)
    expect(await t.app.redrive({ group: 'clicks', ids: [id] })).toEqual({ redriven: 1, failed: 0, stillParked: 0 });
    expect(t.results).toEqual(['update u@20000-21000=1', 'update u@0-1000=1']);
  });

  it('redriven after its session grew emits the session that holds it now', async () => {
    const t = await started('session');
    t.downstream.broken = true;
    await t.click(1, 100); // session [100, 100] = 1: refused, lettered
    const id = await t.letter();
    t.downstream.broken = false;
    await t.click(2, 600); // the session grows: [100, 100] merged, [100, 600] = 2
    expect(await t.app.redrive({ group: 'clicks', ids: [id] })).toEqual({ redriven: 1, failed: 0, stillParked: 0 });
    expect(t.results).toEqual(['merged u@100-100=1', 'update u@100-600=2', 'update u@100-600=2']);
  });
});
