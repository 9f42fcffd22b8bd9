import { Worker } from 'node:worker_threads';
import { CoreErrors, HeraldError, type InstrumentationEvent, type Relay, type RelayHost, type RelayHostDeps, type RelayOptions } from '@herald/core';
import { logInternalsOf, type SqliteLog } from '../log/sqliteLog.js';
import { slotWritesOf, type SqliteStores } from '../stores/sqliteStores.js';
import type { SlotWrites } from '../stores/outbox.js';
import { plainError, revive, type FromRelayThread, type RelayLogOptions, type RelayThreadData, type PlainError, type SlotOp, type ToRelayThread } from './messages.js';

/** The worker's entry: the compiled file when installed; the TypeScript source in development. */
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const ENTRY = new URL(FROM_SOURCE ? './relayWorker.ts' : './relayWorker.js', import.meta.url);

/**
 * A worker thread running the relay. In development (this file is TypeScript, run through tsx)
 * the thread registers tsx itself first: Node 20 does not apply the app's loader to a worker's
 * entry.
 */
function spawn(data: RelayThreadData): Worker {
  if (!FROM_SOURCE) return new Worker(ENTRY, { workerData: data });
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(ENTRY.href)}); })`;
  return new Worker(boot, { eval: true, workerData: data });
}

export interface RelayThreadOptions {
  readonly storePath: string;
  readonly logPath: string;
  /** The app's handles on the same files: appends to `stores` wake the thread; its appends are reported to `log`. */
  readonly stores: SqliteStores;
  readonly log: SqliteLog;
  readonly storeBusyTimeoutMs: number;
  /** The app's log options (resolved), for the thread's own handle on the log file. */
  readonly logOptions: RelayLogOptions;
}

/**
 * The embedded engine's {@link RelayHost}: the outbox relay in a worker thread, so reading the
 * outbox and appending to the log run on a second core while the app's thread runs producers and
 * consumers. The thread reads the store file on its own connection and writes the log file; the
 * outbox's few slot writes per round (leases, watermarks) are run by the app's thread, which owns
 * the store file's writer, in its group commits: a second writer would wait out the app's
 * transactions in SQLite's busy handler, sleeping milliseconds at a time. The app's transactions that
 * append wake it (as an in-process relay is woken). Each of its log appends is reported to the
 * app's log at COMMIT: its consumers waiting there look at once, and take a small round's records
 * (up to 1,000) from memory rather than from the file, whose pages SQLite reloads on the app's
 * connection after every commit of another one (see `Tail`). Its facts (`relayed`, `relay-failed`) and log lines arrive on
 * the app's instrumentation and logger, and, when the app asks (`onSent`), what each publish sent.
 * `close()` drains within the deadline, as the in-process relay does. Chaos options are supported
 * without a custom `random`.
 */
export function relayThreadHost(options: RelayThreadOptions): RelayHost {
  return {
    createRelay(relayOptions, deps) {
      return startRelayThread(options, relayOptions, deps);
    },
  };
}

function startRelayThread(options: RelayThreadOptions, relayOptions: RelayOptions, deps: RelayHostDeps): Relay {
  if (relayOptions.chaos?.random) throw new HeraldError(CoreErrors.invalidOptions, 'relay thread: chaos.random cannot cross to the relay thread; give rates only');
  const data: RelayThreadData = {
    storePath: options.storePath,
    logPath: options.logPath,
    relay: { ...relayOptions, ...(relayOptions.chaos ? { chaos: { failRate: relayOptions.chaos.failRate, failAfterAcceptRate: relayOptions.chaos.failAfterAcceptRate } } : {}) },
    storeBusyTimeoutMs: options.storeBusyTimeoutMs,
    log: options.logOptions,
    reportSends: deps.onSent !== undefined,
    wakePending: new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT),
  };
  const wakePending = new Int32Array(data.wakePending);
  let worker: Worker | undefined;
  /** Settles when the thread has exited: listened for from its spawn, as it may exit before anyone closes it. */
  let exited: Promise<void> | undefined;
  /** Set once the thread ran; then an exit nobody asked for (a crash) stops the relay. */
  let running = false;
  /** Why the thread is gone when it went without being closed. */
  let gone: HeraldError | undefined;
  let unsubscribe: (() => void) | undefined;
  let started: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  let nextDrain = 0;
  const drains = new Map<number, { resolve: (count: number) => void; reject: (error: unknown) => void }>();
  const send = (message: ToRelayThread) => worker?.postMessage(message);
  const writes = slotWritesOf(options.stores);
  const appended = logInternalsOf(options.log);

  function onMessage(message: FromRelayThread): void {
    switch (message.kind) {
      case 'fact':
        if (deps.instrumentation.active) deps.instrumentation.emit(reviveFact(message.fact));
        return;
      case 'log':
        deps.logger[message.level](message.message, message.fields);
        return;
      case 'published':
        appended.adopt(message.appended);
        return;
      case 'sent':
        deps.onSent?.({ startedAt: message.startedAt, endedAt: message.endedAt, groups: message.groups, ...(message.error ? { error: revive(message.error) } : {}) });
        return;
      case 'slots': {
        runSlotOp(writes, message.request).then(
          (kept) => send({ kind: 'slots-done', id: message.id, kept }),
          (error: unknown) => send({ kind: 'slots-done', id: message.id, error: plainError(error) }),
        );
        return;
      }
      case 'drained': {
        const waiter = drains.get(message.id);
        drains.delete(message.id);
        if (message.error) waiter?.reject(revive(message.error));
        else waiter?.resolve(message.count ?? 0);
        return;
      }
      default:
        return;
    }
  }

  /**
   * The thread exited. Asked to (close), or after a failed start (start rejected): nothing more to
   * say. Otherwise it died while relaying: nothing moves the outbox any more, so it is logged as an
   * error, `ready()` fails from now on and drains waiting for it fail.
   */
  function onExit(exitCode: number, error: unknown): void {
    if (closing || !running) return;
    unsubscribe?.();
    gone = new HeraldError(CoreErrors.closed, `relay thread: exited unexpectedly (exit code ${exitCode}); the outbox is not relayed until the app restarts`, error === undefined ? {} : { cause: error });
    deps.logger.error('relay thread exited unexpectedly; the outbox is not relayed until the app restarts', { exitCode, ...(error === undefined ? {} : { error }) });
    for (const waiter of drains.values()) waiter.reject(gone);
    drains.clear();
  }

  return {
    name: 'relay',
    start() {
      started ??= new Promise<void>((resolve, reject) => {
        const thread = spawn(data);
        worker = thread;
        let failure: unknown;
        exited = new Promise<void>((resolveExit) =>
          thread.once('exit', (exitCode) => {
            reject(failure ?? new HeraldError(CoreErrors.closed, `relay thread: exited (exit code ${exitCode}) before it started`));
            onExit(exitCode, failure);
            resolveExit();
          }),
        );
        thread.on('message', (message: FromRelayThread) => {
          if (message.kind === 'started') {
            running = true;
            resolve();
          } else if (message.kind === 'failed') reject(revive(message.error));
          else onMessage(message);
        });
        // an uncaught error ends the thread: reported with its exit
        thread.on('error', (error) => {
          failure = error;
          reject(error);
        });
        // a message per commit cost the app's thread ~5 µs per event with one event per transaction
        unsubscribe = options.stores.onAppended(() => {
          if (Atomics.exchange(wakePending, 0, 1) === 0) send({ kind: 'wake' });
        });
      });
      return started;
    },
    ready() {
      // once started, and as long as the thread lives
      return (started ?? Promise.reject(new HeraldError(CoreErrors.closed, 'relay thread: not started'))).then(() => {
        if (gone) throw gone;
      });
    },
    close(closeOptions = {}) {
      closing ??= (async () => {
        unsubscribe?.();
        if (!worker) return;
        await started?.catch(() => {});
        // a thread that failed to start, or died, has exited already: nothing to ask it
        send({ kind: 'close', deadlineMs: closeOptions.deadlineMs ?? 0 });
        await exited;
        for (const waiter of drains.values()) waiter.reject(new HeraldError(CoreErrors.closed, 'relay thread: closed'));
        drains.clear();
      })();
      return closing;
    },
    drain() {
      if (!worker || closing) return Promise.reject(new HeraldError(CoreErrors.closed, 'relay thread: not running'));
      if (gone) return Promise.reject(gone);
      const id = nextDrain++;
      return new Promise<number>((resolve, reject) => {
        drains.set(id, { resolve, reject });
        send({ kind: 'drain', id });
      });
    },
  };
}

/** A fact as the relay thread sent it, its error a HeraldError again (code and retriability kept). */
function reviveFact(fact: InstrumentationEvent): InstrumentationEvent {
  if (fact.kind !== 'relay-failed') return fact;
  return { ...fact, error: revive(fact.error as unknown as PlainError) };
}

/** Runs one of the relay thread's outbox writes on the app's writer; resolves with the slots a take kept. */
async function runSlotOp(writes: SlotWrites, op: SlotOp): Promise<readonly number[] | undefined> {
  switch (op.op) {
    case 'take':
      return writes.take(op.take);
    case 'advance':
      return void (await writes.advance(op.relayId, op.tops));
    case 'markIds':
      return void (await writes.markIds(op.relayId, op.ids));
    case 'release':
      return void (await writes.release(op.relayId, op.ids));
  }
}
