import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, defineEvent, silentLogger, type PartitionRange } from '@herald/core';
import { sqliteEngine } from '@herald/sqlite';
import { Type } from '@sinclair/typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics, GAUGES, type ExpositionSample } from '../src/index.js';
import { scrape } from './support/running.js';

// A group lags from the moment records wait for it, not from the moment a member of it in this
// process first takes a partition. The metrics used to learn a group's topics from its members'
// `assigned` facts, so a group that never joined here (its members crash before their subscription
// completes, or the process restarted and runs it elsewhere or not yet) had no lag series at all,
// and HeraldConsumerLagHigh could not fire for it. The app knows each group's topics from its
// handlers: every partition of them is shown.

const Charged = defineEvent({ type: 'PaymentCharged', topic: 'charges', key: (d) => d.id, schema: Type.Object({ id: Type.String() }) });
const PUBLISHED = 90;
const LEDGER = 'ledger';
/** Starts at 'latest': it will read none of what is retained, so it lags by none of it. */
const FRESH = 'fresh-audit';

const dataDir = mkdtempSync(join(tmpdir(), 'herald-unjoined-lag-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('a group no member has joined, on the embedded engine (a SQLite file)', () => {
  let retained: readonly PartitionRange[] = [];
  let samples: ExpositionSample[] = [];

  beforeAll(async () => {
    // each partition keeps about 2 000 bytes, so retention deletes the oldest records of each
    const engine = sqliteEngine({ dataDir, log: { topics: [{ name: Charged.topic, partitions: 3, retentionBytes: 2_000 }] } });
    const app = createApp({ ...engine, logger: silentLogger, timers: false, relay: false, groups: { [FRESH]: { start: 'latest' } } });
    app.on(Charged, { group: LEDGER }, async () => {});
    app.on(Charged, { group: FRESH }, async () => {});
    await app.publishDirect.many(
      Charged,
      Array.from({ length: PUBLISHED }, (_, i) => ({ id: `c-${i}` })),
    );
    await engine.broker.sweepRetention();
    [retained = []] = (await engine.broker.describeTopics([Charged.topic])).map((t) => t.partitions);
    const metrics = createMetrics({ app, pollIntervalMs: 0, processMetrics: false });
    app.use(metrics);
    // this process runs none of the groups: no member of theirs ever takes a partition here
    await app.start({ groups: false });
    try {
      await metrics.poll();
      samples = await scrape(metrics);
    } finally {
      await app.close({ deadlineMs: 5_000 });
    }
  }, 60_000);

  const lagOf = (group: string) =>
    samples
      .filter((s) => s.name === GAUGES.lag.name && s.labels['group'] === group)
      .map((s) => ({ topic: s.labels['topic'], partition: s.labels['partition'], lag: s.value }))
      .sort((a, b) => Number(a.partition) - Number(b.partition));

  it('retention deleted the oldest records of every partition (so what is retained is not what was published)', () => {
    expect(retained.map((p) => p.partition)).toEqual([0, 1, 2]);
    for (const p of retained) expect(p.start).toBeGreaterThan(0);
    expect(retained.reduce((sum, p) => sum + p.end, 0)).toBe(PUBLISHED);
  });

  it('has a lag series for every partition of its topics, lagging by the records retained there', () => {
    expect(lagOf(LEDGER)).toEqual(retained.map((p) => ({ topic: Charged.topic, partition: String(p.partition), lag: p.end - p.start })));
    expect(samples.find((s) => s.name === GAUGES.members.name && s.labels['group'] === LEDGER)?.value).toBe(0);
  });

  it("lags by 0 on every partition when it starts at 'latest': it will read none of the records there now", () => {
    expect(lagOf(FRESH)).toEqual(retained.map((p) => ({ topic: Charged.topic, partition: String(p.partition), lag: 0 })));
  });
});
