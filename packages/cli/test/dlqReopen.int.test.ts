import { afterAll, describe, expect, it } from 'vitest';
import type { DeadLetterStore } from '@herald/core';
import { pgStores } from '@herald/postgres';
import { memoryBroker } from '@herald/testing';
import { startPostgresCluster, type PostgresCluster } from '@herald/testing/postgres-cluster';
import { EXIT_CODES, type CliEngine } from '../src/index.js';
import { herald, letter, memoryEngine } from './support.js';

// A redrive of settled letters (`--status discarded`) whose record has an open letter again: the
// record failed again after a replay, and its new letter stands for it. On the in-memory engine and
// on PostgreSQL, whose unique index refused the reopening with `store-constraint` before.

interface Engine {
  readonly engine: CliEngine;
  readonly store: DeadLetterStore;
  readonly appended: () => readonly { readonly key: string }[];
}

let cluster: PostgresCluster | undefined;
let databases = 0;
const closing: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const close of closing) await close();
  await cluster?.stop();
});

const ENGINES: readonly [string, () => Promise<Engine>][] = [
  [
    'memory',
    async () => {
      const m = memoryEngine();
      return { engine: m.engine, store: m.stores.deadLetters, appended: () => m.broker.records('steps') };
    },
  ],
  [
    'PostgreSQL',
    async () => {
      cluster ??= await startPostgresCluster();
      const stores = pgStores({ connectionString: await cluster.createDatabase(`reopen_${++databases}`) });
      closing.push(() => stores.close());
      const broker = memoryBroker({ partitions: 2 });
      return { engine: { broker, stores, description: 'postgres', close: async () => {} }, store: stores.deadLetters, appended: () => broker.records('steps') };
    },
  ],
];

describe.each(ENGINES)('herald dlq redrive of settled letters on %s', (_, open) => {
  async function replayedRecord() {
    const e = await open();
    const settled = letter({ offset: 5, status: 'discarded' });
    const reopened = letter({ offset: 5, eventId: settled.eventId, envelope: settled.envelope });
    const other = letter({ offset: 6, key: 'other', status: 'discarded' });
    for (const l of [settled, reopened, other]) await e.store.add(l);
    return { ...e, settled, reopened, other };
  }

  it('leaves a letter whose record has an open letter settled, appends the others, and names it', async () => {
    const { engine, store, appended, settled, reopened, other } = await replayedRecord();
    const run = await herald(engine, ['dlq', 'redrive', settled.id, other.id, '--status', 'discarded', '--yes']);
    expect([run.code, run.stderr]).toEqual([0, 'redriving: 2/2\n']);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toMatch(/^redriven 1 dead letter\(s\) \(run [0-9a-f-]+; worker: 1\)/);
    expect(lines[1]).toBe(
      `1 settled letter(s) left as they were, not appended: their records have an open letter already, which stands for them (redrive that one; herald dlq list --status dead,parked): ${settled.id} (discarded)`,
    );
    // the other letter's record appended, not this one's; the record keeps one open letter, no letter lost
    expect(appended().map((r) => r.key)).toEqual(['other']);
    expect((await store.list()).map((l) => [l.id, l.status])).toEqual([
      [settled.id, 'discarded'],
      [reopened.id, 'dead'],
      [other.id, 'dead'],
    ]);
  });

  it('says nothing was redriven, and why, when every selected letter was left settled', async () => {
    const { engine, store, appended, settled } = await replayedRecord();
    const run = await herald(engine, ['dlq', 'redrive', settled.id, '--status', 'discarded', '--yes']);
    expect(run.code).toBe(EXIT_CODES.nothingMatched);
    expect(run.stderr).toBe(
      `redriving: 1/1\nherald: nothing redriven: 1 settled letter(s) left as they were, not appended: their records have an open letter already, which stands for them (redrive that one; herald dlq list --status dead,parked): ${settled.id} (discarded) (nothing-matched)\n`,
    );
    expect(appended()).toEqual([]);
    expect((await store.list({ ids: [settled.id] }))[0]!.status).toBe('discarded');
  });

  it('lists the letters it left settled in its JSON', async () => {
    const { engine, settled, other } = await replayedRecord();
    const run = await herald(engine, ['--json', 'dlq', 'redrive', settled.id, other.id, '--status', 'discarded', '--yes']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ redriven: 1, leftResolved: [settled.id], letters: [{ id: other.id, was: 'discarded' }] });
  });
});
