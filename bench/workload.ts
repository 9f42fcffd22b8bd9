import { Type } from '@sinclair/typebox';
import { createApp, defineEvent, silentLogger, type App, type Broker, type SqlTx, type Stores } from '@herald/core';

/** The benchmark's one event: ~200 bytes of payload, keyed by one of `keys` keys. */
export const BenchEvent = defineEvent({
  type: 'BenchEvent',
  topic: 'bench',
  key: (d) => d.key,
  schema: Type.Object({
    key: Type.String(),
    seq: Type.Integer(),
    sentAt: Type.Number(),
    payload: Type.String(),
  }),
});

export interface Engine {
  readonly name: string;
  readonly broker: Broker;
  readonly stores: Stores<SqlTx>;
  /** Releases whatever the engine started (servers, files); after the app closed broker and stores. */
  cleanup(): Promise<void>;
}

export interface WorkloadResult {
  readonly events: number;
  readonly elapsedMs: number;
  readonly latenciesMs: number[];
}

const PAYLOAD = 'x'.repeat(150); // with key, seq and sentAt the data is ~200 bytes

/** Milliseconds with sub-millisecond precision on a clock shared by producer and consumer in this process. */
export const nowMs = () => performance.timeOrigin + performance.now();

/**
 * Runs the full reliable pipeline once: application transactions (an order row plus an outbox
 * event), the relay, the log, and a consumer group whose handler writes an effect row in the inbox
 * transaction. Sends `events` events over `keys` keys, either as fast as possible (`ratePerSec`
 * undefined, `concurrency` transactions in flight) or at a fixed rate, and measures each event from
 * the start of its producing transaction to the commit of its effect.
 */
export async function runWorkload(engine: Engine, options: { events: number; keys: number; ratePerSec?: number; concurrency?: number }): Promise<WorkloadResult> {
  const app = createApp<SqlTx>({
    name: 'bench',
    broker: engine.broker,
    stores: engine.stores,
    logger: silentLogger,
    topics: [{ name: 'bench', partitions: 8 }],
    groups: { 'bench-consumer': { concurrency: 64, maxInFlight: 5000, commitIntervalMs: 100 } },
    relay: { batchSize: 2000, idleMs: 5 },
  });
  await app.transaction(async (tx) => {
    await tx.execute('CREATE TABLE IF NOT EXISTS bench_orders (id TEXT PRIMARY KEY, k TEXT NOT NULL, seq INTEGER NOT NULL)');
    await tx.execute('CREATE TABLE IF NOT EXISTS bench_effects (event_id TEXT PRIMARY KEY, k TEXT NOT NULL, seq INTEGER NOT NULL)');
  });
  const latenciesMs: number[] = [];
  let done = 0;
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => (finish = resolve));
  app.on(
    BenchEvent,
    {
      group: 'bench-consumer',
      // runs outside the inbox transaction: when next() returns, the effect has committed
      middleware: [
        (next) =>
          async function measure(event, ctx) {
            await next(event, ctx);
            latenciesMs.push(nowMs() - (event.data as { sentAt: number }).sentAt);
            if (++done === options.events) finish();
          },
      ],
    },
    async (event, ctx) => {
      await ctx.tx.execute('INSERT INTO bench_effects (event_id, k, seq) VALUES ($1, $2, $3)', [event.id, event.data.key, event.data.seq]);
    },
  );
  await app.start();

  const send = (seq: number) =>
    app.transaction(async (tx, publish) => {
      const key = `k${seq % options.keys}`;
      const sentAt = nowMs();
      await tx.execute('INSERT INTO bench_orders (id, k, seq) VALUES ($1, $2, $3)', [`o${seq}`, key, seq]);
      await publish(BenchEvent, { key, seq, sentAt, payload: PAYLOAD });
    });

  const started = nowMs();
  if (options.ratePerSec === undefined) await sendFlat(options.events, options.concurrency ?? 512, send);
  else await sendAtRate(options.events, options.ratePerSec, send);
  await finished;
  const elapsedMs = nowMs() - started;
  await app.close();
  return { events: done, elapsedMs, latenciesMs };
}

async function sendFlat(total: number, concurrency: number, send: (seq: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) await send(next++);
    }),
  );
}

/** Sends on a fixed schedule (open loop): lateness of the system never slows the sender down. */
async function sendAtRate(total: number, ratePerSec: number, send: (seq: number) => Promise<void>): Promise<void> {
  const start = nowMs();
  const inFlight: Promise<void>[] = [];
  let seq = 0;
  while (seq < total) {
    const due = Math.min(total, Math.floor(((nowMs() - start) * ratePerSec) / 1000) + 1);
    while (seq < due) inFlight.push(send(seq++));
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(inFlight);
}

export type { App };
