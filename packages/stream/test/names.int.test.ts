import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { CoreErrors, createApp, defineEvent, silentLogger, type App, type SqlTx } from '@herald/core';
import { sqliteEngine, type SqliteEngine } from '@herald/sqlite';
import { TimeWindows, createTopology, type Topology } from '../src/index.js';

// The names a topology's state and groups go by are the app's, not the topology's: window state
// `<topology>.<aggregation>`, groups `<topology>` and `<topology>-<groupBy>`, repartition topics.
// Two topologies of one app whose names meet there would count each other's records in the same
// windows, without a word. On the embedded engine (real SQLite files), install refuses the second.

const View = defineEvent({ type: 'View', topic: 'views', key: (d) => d.userId, schema: Type.Object({ userId: Type.String(), page: Type.String() }) });
const Tap = defineEvent({ type: 'Tap', topic: 'taps', key: (d) => d.userId, schema: Type.Object({ userId: Type.String(), page: Type.String() }) });

let dataDir: string | undefined;
let running: { engine: SqliteEngine; app: App<SqlTx> } | undefined;
afterEach(async () => {
  await running?.engine.close();
  running = undefined;
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  dataDir = undefined;
});

function app(): App<SqlTx> {
  dataDir = mkdtempSync(join(tmpdir(), 'herald-stream-names-'));
  const engine = sqliteEngine({ dataDir });
  const made = createApp<SqlTx>({ name: 'names', broker: engine.broker, stores: engine.stores, logger: silentLogger, relay: false });
  running = { engine, app: made };
  return made;
}

/** A topology counting `definition` per user in `aggregation`; `groupBy` re-keys by page first. */
function counting(name: string, definition: typeof View, aggregation: string, groupBy?: string): Topology<SqlTx> {
  const topology = createTopology<SqlTx>({ name, idleTimeoutMs: false });
  const stream = topology.from(definition);
  const grouped = groupBy === undefined ? stream.groupByKey() : stream.groupBy((r) => r.value.page, { name: groupBy });
  grouped.windowedBy(TimeWindows.ofSizeWithNoGrace(1_000)).count(aggregation, { late: { handler: async () => {} } });
  return topology;
}

const refusal = (install: () => void): unknown => {
  try {
    install();
    return undefined;
  } catch (error) {
    return error;
  }
};

describe('names of the topologies of one app', () => {
  it('refuses a second topology whose window state, consumer group or repartition topic is already another’s', () => {
    const target = app();
    counting('analytics', View, 'per-user').install(target);
    counting('a', View, 'b.x').install(target);
    counting('shop', View, 'n', 'by-page').install(target);

    // the same name again (no punctuator to collide on): the same group and window state
    expect(refusal(() => counting('analytics', Tap, 'per-user').install(target))).toMatchObject({ code: CoreErrors.invalidOptions.code, message: expect.stringMatching(/window state analytics\.per-user .*topology analytics/) });
    // different names that meet in the window state's name: a + b.x and a.b + x
    expect(refusal(() => counting('a.b', Tap, 'x').install(target))).toMatchObject({ code: CoreErrors.invalidOptions.code, message: expect.stringContaining('window state a.b.x') });
    // shop + groupBy by-page and shop-by + groupBy page: one repartition topic and its group
    expect(refusal(() => counting('shop-by', Tap, 'm', 'page').install(target))).toMatchObject({ code: CoreErrors.invalidOptions.code, message: expect.stringContaining('shop-by-page') });
    // the same topology twice
    const twice = counting('twice', View, 'n');
    twice.install(target);
    expect(refusal(() => twice.install(target))).toMatchObject({ code: CoreErrors.invalidOptions.code });

    // names that do not meet install side by side
    expect(refusal(() => counting('analytics-taps', Tap, 'per-user').install(target))).toBeUndefined();
  });
});
