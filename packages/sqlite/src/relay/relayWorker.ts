// The relay thread: the outbox relay of an embedded engine, on its own connections, so reading
// claims and appending to the log run on a second core. It reads the store file and writes the
// log file; the outbox's few slot writes per round go to the app's thread, which owns the store
// file's writer (see SlotWrites). Started by relayThread.ts.
import { parentPort, workerData } from 'node:worker_threads';
import { createInstrumentation, createRelay, groupSent, systemClock, type Broker, type Logger, type Relay } from '@herald/core';
import { openDatabase } from '../internal/database.js';
import type { Placed } from '../log/records.js';
import { logInternalsOf, sqliteLog } from '../log/sqliteLog.js';
import { createOutboxClaims, type SlotWrites } from '../stores/outbox.js';
import { plainError, revive, type FromRelayThread, type RelayThreadData, type SlotOp, type ToRelayThread } from './messages.js';

const data = workerData as RelayThreadData;
/**
 * Rounds of up to this many records are handed to the app's thread with their contents. A large
 * round's consumers fetch large batches, for which reading the file costs ~1–2 µs a record (the
 * page cache reloaded once per fetch), less than copying the records across threads and keeping
 * them (measured: handing over rounds of ~5,000 cost the batch shape ~6% of its throughput).
 */
const HAND_OVER_MAX = 1000;
const port = parentPort!;
const post = (message: FromRelayThread) => port.postMessage(message);
const wakePending = new Int32Array(data.wakePending);

const logger: Logger = {
  debug: (message, fields) => post({ kind: 'log', level: 'debug', message, fields: plain(fields) }),
  info: (message, fields) => post({ kind: 'log', level: 'info', message, fields: plain(fields) }),
  warn: (message, fields) => post({ kind: 'log', level: 'warn', message, fields: plain(fields) }),
  error: (message, fields) => post({ kind: 'log', level: 'error', message, fields: plain(fields) }),
  child: () => logger,
};

/** Slot writes run by the app's thread: each a request answered by `slots-done`. */
let nextRequest = 0;
const pending = new Map<number, { resolve: (kept: readonly number[]) => void; reject: (error: Error) => void }>();
function request(op: SlotOp): Promise<readonly number[]> {
  const id = nextRequest++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    post({ kind: 'slots', id, request: op });
  });
}
const writes: SlotWrites = {
  take: (take) => request({ op: 'take', take }),
  advance: async (relayId, tops) => void (await request({ op: 'advance', relayId, tops })),
  markIds: async (relayId, ids) => void (await request({ op: 'markIds', relayId, ids })),
  release: async (relayId, ids) => void (await request({ op: 'release', relayId, ids })),
};

let relay: Relay | undefined;
try {
  // reads only: the app's handle on the file migrated it, checkpoints it and writes it
  const reader = openDatabase({ path: data.storePath, busyTimeoutMs: data.storeBusyTimeoutMs, readonly: true });
  // the app's log options (a topic it creates gets the app's partition count; its appends the
  // app's durability), and no background work of its own: the app's handle checkpoints and sweeps
  const log = sqliteLog({ path: data.logPath, ...data.log, maintenance: false });
  const appendTo = logInternalsOf(log);
  // the log the relay publishes to: it reports every append to the app's thread (see `committed`)
  const broker: Broker = {
    async publish(records) {
      // when the app's thread asked to hear of every publish (a tracer recording send spans)
      const groups = data.reportSends ? groupSent(records) : undefined;
      const startedAt = Date.now();
      // at COMMIT, before a poll of the file would: the heads moved, so the app's consumers look at
      // once, and a small round's records themselves, which they then take from memory instead of
      // reading back pages this connection wrote (SQLite drops another connection's page cache at
      // each commit)
      const committed = ({ pids, offsets, timestamps }: Placed) => {
        const heads = new Map<number, number>();
        for (let i = 0; i < pids.length; i++) if (offsets[i]! >= (heads.get(pids[i]!) ?? 0)) heads.set(pids[i]!, offsets[i]! + 1);
        const handed = records.length <= HAND_OVER_MAX ? { pids, offsets, timestamps, keys: records.map((r) => r.key), values: records.map((r) => r.value), headers: records.map((r) => r.headers) } : undefined;
        post({ kind: 'published', appended: { heads: [...heads], ...(handed ? { records: handed } : {}) } });
      };
      try {
        await appendTo.append(records, committed);
      } catch (error) {
        if (groups) post({ kind: 'sent', startedAt, endedAt: Date.now(), groups, error: plainError(error) });
        throw error;
      }
      // a publish of unsampled traces alone has nothing to record
      if (groups && groups.length > 0) post({ kind: 'sent', startedAt, endedAt: Date.now(), groups });
    },
    subscribe: (options, sink) => log.subscribe(options, sink),
    close: () => log.close(),
  };
  const instrumentation = createInstrumentation();
  // an Error crosses threads without its own properties (its code): send what the app's side needs
  instrumentation.on((fact) => post({ kind: 'fact', fact: fact.kind === 'relay-failed' ? { ...fact, error: plainError(fact.error) as unknown as Error } : fact }));
  // the app's thread wakes it when its transactions append: the same signal an in-process relay gets
  const wakers = new Set<() => void>();
  const signal = { onAppended: (listener: () => void) => (wakers.add(listener), () => void wakers.delete(listener)) };
  relay = createRelay({ outbox: createOutboxClaims(reader, systemClock, writes), broker, stores: signal, logger, instrumentation }, data.relay);
  const running = relay;
  port.on('message', (message: ToRelayThread) => {
    if (message.kind === 'wake') {
      // cleared before the relay looks: an append after this sends a wake of its own
      Atomics.store(wakePending, 0, 0);
      wakers.forEach((wake) => wake());
    } else if (message.kind === 'slots-done') {
      const waiter = pending.get(message.id);
      pending.delete(message.id);
      if (message.error) waiter?.reject(revive(message.error));
      else waiter?.resolve(message.kept ?? []);
    } else if (message.kind === 'drain') {
      running.drain().then(
        (count) => post({ kind: 'drained', id: message.id, count }),
        (error: unknown) => post({ kind: 'drained', id: message.id, error: plainError(error) }),
      );
    } else if (message.kind === 'close') {
      void (async () => {
        await running.close({ deadlineMs: message.deadlineMs }).catch((error: unknown) => logger.error('relay thread: close failed', { error }));
        await log.close().catch(() => {});
        reader.close();
        post({ kind: 'closed' });
        port.close();
      })();
    }
  });
  await running.start();
  post({ kind: 'started' });
} catch (error) {
  post({ kind: 'failed', error: plainError(error) });
  port.close();
}

/** Fields that survive the trip between threads: errors become plain objects. */
function plain(fields: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!fields) return undefined;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    out[key] = value instanceof Error ? plainError(value) : value;
  }
  return out;
}
