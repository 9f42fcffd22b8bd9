import { createManualClock, uuidv7, type ClaimOptions, type DeadLetter, type ManualClock, type OutboxRecord, type Stores } from '@herald/core';
import type { StoreConformanceOptions, StoreUnderTest } from './harness.js';

/** What one store test works with. */
export interface StoreFixture<Tx, S extends Stores<Tx> = Stores<Tx>> {
  /** The current handle (changes after `reopen`). */
  readonly harness: StoreUnderTest<Tx, S>;
  readonly stores: S;
  readonly clock: ManualClock;
  readonly leaseTime: 'clock' | 'wall';
  /** An outbox record with a fresh id, created now. */
  record(key: string, options?: { correlationId?: string; topic?: string; seq?: number }): OutboxRecord;
  /** A complete dead letter with a fresh id. */
  letter(fields: Partial<DeadLetter>): DeadLetter;
  claim(relayId: string, limit?: number, leaseMs?: number): Promise<readonly OutboxRecord[]>;
  /** Closes the stores and opens them again. */
  reopen(): Promise<void>;
}

/** Runs `body` against fresh stores from the harness and cleans up afterwards. */
export async function withStores<Tx, S extends Stores<Tx>>(
  options: Pick<StoreConformanceOptions<Tx, S, string>, 'name' | 'create' | 'leaseTime'>,
  body: (f: StoreFixture<Tx, S>) => Promise<void>,
): Promise<void> {
  const clock = createManualClock(Date.now());
  const handles: StoreUnderTest<Tx, S>[] = [await options.create({ clock })];
  const current = () => handles.at(-1)!;
  const fixture: StoreFixture<Tx, S> = {
    get harness() {
      return current();
    },
    get stores() {
      return current().stores;
    },
    clock,
    leaseTime: options.leaseTime ?? 'clock',
    record(key, { correlationId = uuidv7(), topic = 'orders', seq = 0 } = {}) {
      const id = uuidv7();
      return {
        id,
        topic,
        key,
        type: 'OrderPlaced',
        correlationId,
        value: JSON.stringify({ id, type: 'OrderPlaced', key, data: { seq } }),
        headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
        createdAt: clock.now(),
      };
    },
    letter(fields) {
      const now = clock.now();
      return {
        id: uuidv7(),
        group: 'billing',
        handler: 'billing:OrderPlaced',
        eventId: uuidv7(),
        eventType: 'OrderPlaced',
        topic: 'orders',
        partition: 1,
        offset: 41,
        key: 'order-1',
        reason: 'handler-failed',
        fingerprint: '0123456789abcdef',
        error: { name: 'Error', message: 'card declined', stack: 'Error: card declined\n    at handler', details: { code: 'declined', attempts: [1, 2] } },
        attempts: 5,
        firstFailureAt: now - 15_000,
        lastFailureAt: now,
        envelope: '{"id":"x","type":"OrderPlaced","data":{"amount":3}}',
        headers: { 'x-tenant': 'acme' },
        policy: 'skip',
        status: 'dead',
        ...fields,
      };
    },
    claim: (relayId, limit = 100, leaseMs = 60_000) => current().stores.outbox.claim({ relayId, limit, leaseMs } satisfies ClaimOptions),
    async reopen() {
      const handle = current();
      if (!handle.reopen) throw new Error(`${options.name} says it is durable but create() returned no reopen()`);
      await handle.stores.close();
      handles.push(await handle.reopen());
    },
  };
  try {
    await body(fixture);
  } finally {
    for (const handle of handles.reverse()) await (handle.cleanup ? handle.cleanup() : handle.stores.close());
  }
}

/**
 * Runs `body` while a transaction that appended `records` is still open; `commit` lets that
 * transaction finish and resolves once it committed. A body that fails without committing has the
 * transaction committed afterwards, so the stores can close.
 */
export async function whileAppendIsOpen<Tx, S extends Stores<Tx>>(
  f: StoreFixture<Tx, S>,
  records: readonly OutboxRecord[],
  body: (commit: () => Promise<void>) => Promise<void>,
): Promise<void> {
  let appended!: () => void;
  const ready = new Promise<void>((resolve) => (appended = resolve));
  let finish!: () => void;
  const gate = new Promise<void>((resolve) => (finish = resolve));
  // a store may run the work again (SQLite replays a conflicting one): the gate is open by then
  const open = f.stores.transaction(async (tx) => {
    await f.stores.outbox.append(tx, records);
    appended();
    await gate;
  });
  let committing = false;
  const commit = async () => {
    committing = true;
    finish();
    await open;
  };
  try {
    await Promise.race([ready, open]);
    await body(commit);
  } finally {
    if (!committing) {
      finish();
      await open.catch(() => {});
    }
  }
}

/** The fields of an outbox record, whatever else a store returns with it. */
export function outboxFields(r: OutboxRecord): OutboxRecord {
  return { id: r.id, topic: r.topic, key: r.key, type: r.type, correlationId: r.correlationId, value: r.value, headers: r.headers, createdAt: r.createdAt };
}

export const ids = (records: readonly { id: string }[]): string[] => records.map((r) => r.id);
