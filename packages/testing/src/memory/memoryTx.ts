import { CoreErrors, HeraldError, type InboxEntry, type OutboxRecord, type SagaRecord, type ScheduledRecord } from '@herald/core';

/**
 * The transaction handle of {@link memoryStores}: a small key-value view of the app's own state.
 * Reads see committed state plus this transaction's own writes (read committed); writes, and the
 * outbox, inbox, idempotency, timer and saga writes made with the same handle, apply together on commit and
 * vanish on rollback. Values are copied (structured clone) on the way in and out. The handle
 * throws once its transaction has settled.
 */
export interface MemoryTx {
  /** The value at `key`, or undefined. */
  get<T = unknown>(key: string): T | undefined;
  /** Sets `key` (value must not be undefined: use `delete`). */
  set(key: string, value: unknown): void;
  /** Deletes `key`; returns whether it existed. */
  delete(key: string): boolean;
  /** Keys starting with `prefix` (all by default), sorted. */
  keys(prefix?: string): string[];
}

const DELETED = Symbol('deleted');

/** What one open transaction has written, applied by {@link MemoryDatabase.commit}. */
export interface TxState {
  open: boolean;
  readonly writes: Map<string, { readonly value: unknown } | typeof DELETED>;
  readonly outbox: OutboxRecord[];
  readonly inbox: InboxEntry[];
  readonly completions: Map<string, unknown>;
  /** Timers scheduled (the record) or cancelled (null) by id, the last word for each id. */
  readonly timers: Map<string, ScheduledRecord | null>;
  /** Saga instances saved, by `saga \0 instanceId`. */
  readonly sagas: Map<string, SagaRecord>;
  /** A read-only transaction's (see {@link MemoryDatabase.beginRead}): it refuses writes. */
  readonly readOnly?: boolean;
  readonly settled: Promise<void>;
  readonly settle: () => void;
}

/** The committed state shared by all the memory stores, and the transaction machinery. */
export interface MemoryDatabase {
  readonly kv: Map<string, unknown>;
  /** Inbox marks by `group \0 eventId`. */
  readonly inbox: Map<string, InboxEntry>;
  begin(): { tx: MemoryTx; state: TxState };
  /**
   * Opens a read-only transaction over a snapshot of the committed key-value state: its handle
   * writes nothing (`set`, `delete` and every store operation with it throw `read-only-transaction`)
   * and sees no commit made after it began. `end` closes the handle.
   */
  beginRead(): { tx: MemoryTx; end: () => void };
  /** The state behind a handle, checking it is open. */
  stateOf(tx: MemoryTx): TxState;
  /**
   * Takes a row lock for `name` inside `state`, waiting while another open transaction holds it
   * (as a unique index does in SQL): resolves true when taken, false when `state` already had it.
   */
  lock(state: TxState, name: string): Promise<boolean>;
  /** Whether an open transaction holds the lock `name` (for work that skips locked rows). */
  isLocked(name: string): boolean;
  /** Applies `state`'s writes; `apply` adds the other stores' writes in the same synchronous step. */
  commit(state: TxState, apply: (state: TxState) => void): void;
  rollback(state: TxState): void;
}

export function createMemoryDatabase(): MemoryDatabase {
  const kv = new Map<string, unknown>();
  const inbox = new Map<string, InboxEntry>();
  const handles = new WeakMap<MemoryTx, TxState>();
  const locks = new Map<string, TxState>();
  const held = new WeakMap<TxState, string[]>();
  const readers = new WeakSet<MemoryTx>();

  function settle(state: TxState): void {
    state.open = false;
    for (const name of held.get(state) ?? []) locks.delete(name);
    state.settle();
  }

  return {
    kv,
    inbox,
    begin() {
      let resolve!: () => void;
      const settled = new Promise<void>((r) => (resolve = r));
      const state: TxState = { open: true, writes: new Map(), outbox: [], inbox: [], completions: new Map(), timers: new Map(), sagas: new Map(), settled, settle: resolve };
      const tx = createTx(kv, state);
      handles.set(tx, state);
      held.set(state, []);
      return { tx, state };
    },
    beginRead() {
      // committed values are replaced, never changed in place, so a shallow copy is a snapshot
      const state = readState();
      const tx = createTx(new Map(kv), state);
      readers.add(tx);
      return { tx, end: () => void (state.open = false) };
    },
    stateOf(tx) {
      if (readers.has(tx)) throw readOnly('a store operation');
      const state = handles.get(tx);
      if (!state) throw new HeraldError(CoreErrors.invalidOptions, 'memory stores: not a transaction of these stores');
      assertOpen(state);
      return state;
    },
    async lock(state, name) {
      for (;;) {
        const holder = locks.get(name);
        if (holder === state) return false;
        if (!holder) break;
        await holder.settled;
      }
      assertOpen(state);
      locks.set(name, state);
      held.get(state)!.push(name);
      return true;
    },
    isLocked: (name) => locks.has(name),
    commit(state, apply) {
      for (const [key, write] of state.writes) {
        if (write === DELETED) kv.delete(key);
        else kv.set(key, write.value);
      }
      apply(state);
      settle(state);
    },
    rollback: settle,
  };
}

function createTx(kv: Map<string, unknown>, state: TxState): MemoryTx {
  const read = (key: string): unknown => {
    const write = state.writes.get(key);
    if (write === DELETED) return undefined;
    return write ? write.value : kv.get(key);
  };
  return {
    get<T>(key: string) {
      assertOpen(state);
      const value = read(key);
      return (value === undefined ? undefined : structuredClone(value)) as T | undefined;
    },
    set(key, value) {
      assertOpen(state);
      if (state.readOnly) throw readOnly(`set(${JSON.stringify(key)})`);
      if (value === undefined) throw new TypeError(`memory tx: set(${JSON.stringify(key)}, undefined); use delete()`);
      state.writes.set(key, { value: structuredClone(value) });
    },
    delete(key) {
      assertOpen(state);
      if (state.readOnly) throw readOnly(`delete(${JSON.stringify(key)})`);
      const existed = read(key) !== undefined;
      state.writes.set(key, DELETED);
      return existed;
    },
    keys(prefix = '') {
      assertOpen(state);
      const all = new Set([...kv.keys(), ...state.writes.keys()]);
      return [...all].filter((k) => k.startsWith(prefix) && read(k) !== undefined).sort();
    },
  };
}

function assertOpen(state: TxState): void {
  if (!state.open) throw new HeraldError(CoreErrors.closed, 'memory tx: used after its transaction settled');
}

/** The state of a read-only transaction: it never commits, so it only needs to be open. */
function readState(): TxState {
  return { open: true, readOnly: true, writes: new Map(), outbox: [], inbox: [], completions: new Map(), timers: new Map(), sagas: new Map(), settled: Promise.resolve(), settle: () => {} };
}

function readOnly(what: string): HeraldError {
  return new HeraldError(CoreErrors.readOnlyTransaction, `memory tx: ${what} in a read-only transaction (stores.read); nothing was written`);
}
