import { Type } from '@sinclair/typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from './support.js';
import {
  CoreErrors,
  HeraldError,
  createApp,
  defineEvent,
  type App,
  type Broker,
  type InstrumentationEvent,
  type Logger,
  type OutOfRangeDecision,
} from '@herald/core';
import { memoryBroker, memoryStores, type MemoryBroker, type MemoryTx } from '@herald/testing';

// The core's side of "no silent skips": a broker reports records retention deleted before the group
// read them (DeliverySink.outOfRange); the group logs an offset-out-of-range error, emits a
// records-skipped fact and applies its onOffsetOutOfRange policy. The brokers' detection is tested
// with their own retention (packages/sqlite, packages/kafka).

const Step = defineEvent({ type: 'Step', topic: 'steps', key: (d) => d.key, schema: Type.Object({ key: Type.String(), seq: Type.Integer() }) });

/**
 * The memory broker as if retention had deleted offsets below `to` of partition 0 before the group
 * read them: the sink is told, then sees only what is left (or nothing, after `stop`).
 */
function withRetentionCut(broker: MemoryBroker, to: number): Broker {
  return {
    publish: (records) => broker.publish(records),
    close: () => broker.close(),
    subscribe(options, sink) {
      let decision: Promise<OutOfRangeDecision> | undefined;
      return broker.subscribe(options, {
        assigned: (tps) => sink.assigned?.(tps),
        revoked: (tps) => sink.revoked(tps),
        async deliver(batch) {
          const first = batch.deliveries[0]!;
          if (first.offset < to) decision ??= sink.outOfRange!({ topic: batch.topic, partition: batch.partition, from: first.offset, to });
          if (decision && (await decision) === 'stop') return;
          const kept = batch.deliveries.filter((d) => d.offset >= to);
          if (kept.length > 0) await sink.deliver({ ...batch, deliveries: kept });
        },
      });
    },
  };
}

interface Logged {
  level: string;
  message: string;
  fields: Record<string, unknown>;
}

function capturingLogger(lines: Logged[], bound: Record<string, unknown> = {}): Logger {
  const log = (level: string) => (message: string, fields: Record<string, unknown> = {}) => void lines.push({ level, message, fields: { ...bound, ...fields } });
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: (fields) => capturingLogger(lines, { ...bound, ...fields }) };
}

const apps: App<MemoryTx>[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close({ deadlineMs: 1000 })));
});

async function run(options: { policy?: 'earliest' | 'stop'; records: number; cut: number }) {
  const memory = memoryBroker({ partitions: 1 });
  for (let seq = 0; seq < options.records; seq++) {
    await memory.publish([{ topic: 'steps', key: `k${seq}`, value: JSON.stringify({ id: `0190a5b0-0000-7000-8000-${String(seq).padStart(12, '0')}`, type: 'Step', version: 1, topic: 'steps', key: `k${seq}`, correlationId: 'c', causationId: null, occurredAt: new Date().toISOString(), headers: {}, data: { key: `k${seq}`, seq } }) }]);
  }
  const lines: Logged[] = [];
  const facts: InstrumentationEvent[] = [];
  const app = createApp<MemoryTx>({
    broker: withRetentionCut(memory, options.cut),
    stores: memoryStores(),
    logger: capturingLogger(lines),
    relay: false,
    groups: { worker: { commitIntervalMs: 5, ...(options.policy ? { onOffsetOutOfRange: options.policy } : {}) } },
  });
  apps.push(app);
  const applied: number[] = [];
  app.on(Step, { group: 'worker' }, async (event) => void applied.push(event.data.seq));
  app.instrumentation.on((fact) => facts.push(fact));
  await app.start();
  return { memory, app, applied, lines, facts };
}

const skippedFacts = (facts: InstrumentationEvent[]) => facts.filter((f) => f.kind === 'records-skipped');

describe('records deleted by retention before a group read them', () => {
  it('by default, reports the gap (error and fact) and reads on from the first retained record, committing past the gap', async () => {
    const { memory, applied, lines, facts } = await run({ records: 7, cut: 5 });
    await eventually(() => memory.committed('worker', 'steps', 0) === 7, 'the group committed to the end');
    expect(applied).toEqual([5, 6]);
    expect(skippedFacts(facts)).toEqual([{ kind: 'records-skipped', group: 'worker', topic: 'steps', partition: 0, from: 0, to: 5, count: 5, resumed: true }]);
    const errors = lines.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toBe('group worker skipped 5 record(s) of steps/0: offsets 0 to 4 were deleted by retention before the group read them; reading on from offset 5');
    expect(errors[0]!.fields.error).toMatchObject({ code: 'offset-out-of-range', details: { group: 'worker', topic: 'steps', partition: 0, from: 0, to: 5, count: 5 } });
  });

  it('commits past a gap with nothing after it, so a restart does not report it again', async () => {
    const { memory, applied, facts } = await run({ records: 3, cut: 3 });
    await eventually(() => memory.committed('worker', 'steps', 0) === 3, 'the gap committed');
    expect(applied).toEqual([]);
    expect(skippedFacts(facts)).toMatchObject([{ from: 0, to: 3, count: 3, resumed: true }]);
  });

  it("with onOffsetOutOfRange 'stop', stops the group, says why, and commits nothing past the gap", async () => {
    const { memory, applied, lines, facts } = await run({ policy: 'stop', records: 4, cut: 2 });
    await eventually(async () => skippedFacts(facts).length === 1 && (await memory.describeGroup('worker')).members === 0, 'the group stopped');
    expect(skippedFacts(facts)).toEqual([{ kind: 'records-skipped', group: 'worker', topic: 'steps', partition: 0, from: 0, to: 2, count: 2, resumed: false }]);
    const error = lines.find((l) => l.level === 'error')!;
    expect(error.message).toContain("offsets 0 to 1 were deleted by retention before the group read them; stopping group worker (onOffsetOutOfRange: 'stop')");
    expect(error.fields.error).toMatchObject({ code: 'offset-out-of-range' });
    expect(applied).toEqual([]);
    // nothing committed past the gap: only the group's start, recorded when it took the partition,
    // so a restart meets the gap again and stops again
    expect(memory.committed('worker', 'steps', 0)).toBe(0);
  });

  it('refuses an unknown policy', () => {
    expect(() => createApp<MemoryTx>({ broker: memoryBroker(), stores: memoryStores(), groups: { worker: { onOffsetOutOfRange: 'latest' as never } } })).toThrow(
      "groups.worker.onOffsetOutOfRange must be 'earliest' or 'stop', got latest",
    );
  });
});

describe('a partition the broker holds before records it cannot read', () => {
  it('emits a partition-held fact with the error code, once per hold', async () => {
    const memory = memoryBroker({ partitions: 1 });
    const held = new HeraldError(CoreErrors.malformedEnvelope, 'records 2..3 cannot be read');
    // the memory broker as if records from offset 2 on were in a batch no codec reads (Kafka's hold)
    const holding: Broker = {
      publish: (records) => memory.publish(records),
      close: () => memory.close(),
      subscribe(options, sink) {
        let told = false;
        return memory.subscribe(options, {
          assigned: (tps) => sink.assigned?.(tps),
          revoked: (tps) => sink.revoked(tps),
          async deliver(batch) {
            const readable = batch.deliveries.filter((d) => d.offset < 2);
            if (readable.length > 0) await sink.deliver({ ...batch, deliveries: readable });
            if (readable.length < batch.deliveries.length && !told) {
              told = true;
              sink.held?.({ topic: batch.topic, partition: batch.partition, offset: 2, error: held });
            }
          },
        });
      },
    };
    const facts: InstrumentationEvent[] = [];
    const app = createApp<MemoryTx>({ broker: holding, stores: memoryStores(), relay: false, events: [Step] });
    apps.push(app);
    const applied: number[] = [];
    app.on(Step, { group: 'worker' }, async (event) => void applied.push(event.data.seq));
    app.instrumentation.on((fact) => facts.push(fact));
    await app.start();
    for (let seq = 0; seq < 4; seq++) await app.publishDirect(Step, { key: 'k', seq });
    await eventually(() => facts.some((f) => f.kind === 'partition-held'), 'the hold reported');
    await eventually(() => applied.length === 2, 'the records before the hold handled');
    expect(facts.filter((f) => f.kind === 'partition-held')).toEqual([{ kind: 'partition-held', group: 'worker', topic: 'steps', partition: 0, offset: 2, reason: 'malformed-envelope' }]);
    expect(applied).toEqual([0, 1]);
  });
});
