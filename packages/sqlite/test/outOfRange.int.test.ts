import { Type } from '@sinclair/typebox';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp, defineEvent, type InstrumentationEvent, type Logger, type SqlTx } from '@herald/core';
import { sqliteEngine } from '@herald/sqlite';
import { tempDir, waitFor } from './helpers.js';

// No silent skips on the embedded engine: a group whose position fell behind the log's retention
// is told which records it lost, and follows its onOffsetOutOfRange policy.

const tmp = tempDir('herald-out-of-range-');
afterAll(() => tmp.remove());
let counter = 0;

const Step = defineEvent({
  type: 'Step',
  topic: 'steps',
  key: () => 'one-key',
  schema: Type.Object({ seq: Type.Integer(), padding: Type.String() }),
});
// one partition, trimmed beyond ~4 records of ~1.2 KB each
const TOPICS = [{ name: 'steps', partitions: 1, retentionBytes: 5_000 }];
const LOG = { heartbeatMs: 100, sessionTimeoutMs: 1000 } as const;

interface Logged {
  level: string;
  message: string;
  fields: Record<string, unknown>;
}

function capturingLogger(lines: Logged[]): Logger {
  const log = (level: string) => (message: string, fields: Record<string, unknown> = {}) => void lines.push({ level, message, fields });
  const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: () => logger };
  return logger;
}

/** One app run on the data directory: its handled seqs, facts and log lines. */
function open(dataDir: string, policy?: 'earliest' | 'stop') {
  const engine = sqliteEngine({ dataDir, log: LOG });
  const lines: Logged[] = [];
  const facts: InstrumentationEvent[] = [];
  const handled: number[] = [];
  const app = createApp<SqlTx>({
    ...engine,
    topics: TOPICS,
    logger: capturingLogger(lines),
    relay: { idleMs: 5 },
    groups: { worker: { commitIntervalMs: 10, ...(policy ? { onOffsetOutOfRange: policy } : {}) } },
  });
  app.on(Step, { group: 'worker' }, async (event) => void handled.push(event.data.seq));
  app.instrumentation.on((fact) => facts.push(fact));
  return { app, log: engine.broker, lines, facts, handled };
}

/** The group reads seqs 0..2 and commits; then 20 more are published and retention trims the partition far past the group. */
async function groupBehindRetention(): Promise<{ dataDir: string; start: number }> {
  const dataDir = `${tmp.dir}/${++counter}`;
  const first = open(dataDir);
  await first.app.start();
  for (let seq = 0; seq < 3; seq++) await first.app.publish(Step, { seq, padding: 'x'.repeat(1_000) });
  await waitFor(async () => (await first.log.describeGroup('worker')).partitions[0]?.committed === 3, 10_000, 'the group to commit 3');
  await first.app.close();

  const producer = open(dataDir);
  await producer.app.start({ groups: false });
  for (let seq = 3; seq < 23; seq++) await producer.app.publish(Step, { seq, padding: 'x'.repeat(1_000) });
  await waitFor(async () => (await producer.log.describeTopics(['steps']))[0]?.partitions[0]?.end === 23, 10_000, 'the relay to publish everything');
  expect(await producer.log.sweepRetention()).toBeGreaterThan(3);
  const start = (await producer.log.describeTopics(['steps']))[0]!.partitions[0]!.start;
  await producer.app.close();
  expect(start, 'retention deleted records the group had not read').toBeGreaterThan(3);
  return { dataDir, start };
}

describe('a group behind the embedded log’s retention', () => {
  it('reports the records it lost and, by default, reads on from the first retained one', async () => {
    const { dataDir, start } = await groupBehindRetention();
    const run = open(dataDir);
    await run.app.start();
    await waitFor(async () => (await run.log.describeGroup('worker')).partitions[0]?.committed === 23, 10_000, 'the group to read to the end');
    expect(run.handled).toEqual(Array.from({ length: 23 - start }, (_, i) => start + i));
    expect(run.facts.filter((f) => f.kind === 'records-skipped')).toEqual([
      { kind: 'records-skipped', group: 'worker', topic: 'steps', partition: 0, from: 3, to: start, count: start - 3, resumed: true },
    ]);
    const errors = run.lines.filter((l) => l.level === 'error');
    expect(errors.map((l) => l.message)).toEqual([
      `group worker skipped ${start - 3} record(s) of steps/0: offsets 3 to ${start - 1} were deleted by retention before the group read them; reading on from offset ${start}`,
    ]);
    expect(errors[0]!.fields.error).toMatchObject({ code: 'offset-out-of-range', details: { group: 'worker', topic: 'steps', partition: 0, from: 3, to: start } });
    await run.app.close();
  });

  it("with onOffsetOutOfRange 'stop', stops the group and commits nothing past the gap", async () => {
    const { dataDir, start } = await groupBehindRetention();
    const run = open(dataDir, 'stop');
    await run.app.start();
    await waitFor(() => run.facts.some((f) => f.kind === 'records-skipped'), 10_000, 'the gap reported');
    await waitFor(async () => (await run.log.describeGroup('worker')).members === 0, 10_000, 'the group to stop');
    expect(run.handled).toEqual([]);
    expect(run.facts.filter((f) => f.kind === 'records-skipped')).toMatchObject([{ from: 3, to: start, resumed: false }]);
    expect(run.lines.find((l) => l.level === 'error')!.message).toContain("stopping group worker (onOffsetOutOfRange: 'stop')");
    expect((await run.log.describeGroup('worker')).partitions[0]!.committed).toBe(3);
    await run.app.close();
  });
});
