/**
 * Store ports, split by purpose: the outbox, the inbox, dead letters and idempotency records. An
 * engine (SQLite, PostgreSQL, in-memory) provides all of them over one transaction type `Tx`, so the
 * inbox mark, the handler's own writes and its outgoing events commit together.
 */

/** Runs a unit of work in one transaction. */
export interface TransactionRunner<Tx> {
  /**
   * Runs `work` in a transaction: commits (durably) when it resolves, rolls back when it rejects,
   * and settles only after that. The `tx` handle must not be used after `work` settles.
   */
  transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T>;
}

/**
 * Portable SQL access inside a transaction, given to handlers as `ctx.tx` by the SQLite and
 * PostgreSQL engines. Parameters are positional `$1, $2, ...` on both engines, so the same
 * statements run on either when written in their common SQL.
 */
export interface SqlTx {
  /** Runs a statement that returns rows. */
  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<Row[]>;
  /** Runs a statement and returns how many rows it changed. */
  execute(sql: string, params?: readonly unknown[]): Promise<number>;
}

/** An event waiting in the outbox: the serialised envelope plus what the relay routes by. */
export interface OutboxRecord {
  /** The event id (the envelope's `id`). */
  readonly id: string;
  readonly topic: string;
  readonly key: string;
  readonly type: string;
  readonly correlationId: string;
  /** The serialised envelope, published as is. */
  readonly value: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Append time, ms. */
  readonly createdAt: number;
}

/** An outbox record as stored, with its publication state. */
export interface OutboxEntry extends OutboxRecord {
  /** When the relay marked it published (ms), or null while it waits. */
  readonly publishedAt: number | null;
}

export interface ClaimOptions {
  /** Identity of the claiming relay; a claim is held by exactly one relay. */
  readonly relayId: string;
  readonly limit: number;
  /** The claim lapses after this long unless marked or claimed again by the same relay. */
  readonly leaseMs: number;
}

/**
 * The outbox. Contract for `claim`: returns unpublished records in append order; never returns a
 * record of a key while another relay holds an unexpired claim on an earlier record of that key,
 * so per-key order holds however many relays run.
 */
export interface OutboxStore<Tx> {
  /** Appends in order. Appending an id that is already there keeps the first record. */
  append(tx: Tx, records: readonly OutboxRecord[]): Promise<void>;
  claim(options: ClaimOptions): Promise<readonly OutboxRecord[]>;
  /** Marks records published and ends their claim, whichever relay holds it (a publish is a publish). */
  markPublished(relayId: string, ids: readonly string[]): Promise<void>;
  /** Gives a claim back early (after a failed publish) so the records can be claimed again. */
  release(relayId: string, ids: readonly string[]): Promise<void>;
  /** Every record of one correlation id, in append order (for workflow views). */
  findByCorrelation(correlationId: string): Promise<readonly OutboxEntry[]>;
}

/** One inbox mark: `group` has applied the event `eventId`. */
export interface InboxEntry {
  readonly group: string;
  readonly eventId: string;
  readonly handledAt: number;
}

/** The inbox: remembers which events each consumer group has applied. */
export interface InboxStore<Tx> {
  /** Records the mark inside `tx`; returns false (and writes nothing) when it was already there. */
  markHandled(tx: Tx, entry: InboxEntry): Promise<boolean>;
  /** Marks for any of these event ids, across groups. */
  findHandled(eventIds: readonly string[]): Promise<readonly InboxEntry[]>;
}

/** What a handler does with an event that ends in the dead letter store. */
export type DeadLetterPolicy = 'skip' | 'park-key';

/**
 * `dead`: the event failed. `parked`: it was held back, unprocessed, behind an earlier dead letter
 * of its key (policy `park-key`). `redriven`: it went through the handler again successfully.
 */
export type DeadLetterStatus = 'dead' | 'parked' | 'redriven';

/** A failure, as data: everything needed to list, group, understand and redrive it. */
export interface DeadLetter {
  readonly id: string;
  readonly group: string;
  readonly handler: string;
  /** The envelope's id and type when they could be read. */
  readonly eventId: string | null;
  readonly eventType: string | null;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: string;
  /** Error code, e.g. `schema-violation`, `unknown-event-type`, `handler-failed`. */
  readonly reason: string;
  readonly error: {
    readonly name: string;
    readonly message: string;
    readonly stack?: string;
    readonly details?: Readonly<Record<string, unknown>>;
  };
  readonly attempts: number;
  readonly firstFailureAt: number;
  readonly lastFailureAt: number;
  /** The original wire value, untouched. */
  readonly envelope: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly policy: DeadLetterPolicy;
  readonly status: DeadLetterStatus;
}

export interface DeadLetterFilter {
  readonly group?: string;
  readonly handler?: string;
  readonly key?: string;
  readonly status?: DeadLetterStatus;
  readonly ids?: readonly string[];
  readonly limit?: number;
}

/** Dead letters. Each method is its own transaction. */
export interface DeadLetterStore {
  add(letter: DeadLetter): Promise<void>;
  /** Matching letters in the order they were added. */
  list(filter?: DeadLetterFilter): Promise<readonly DeadLetter[]>;
  /** Whether a `park-key` letter of this key is `dead` or `parked` in this group. */
  isKeyParked(group: string, topic: string, key: string): Promise<boolean>;
  setStatus(ids: readonly string[], status: DeadLetterStatus): Promise<void>;
}

/** A remembered idempotent request. `response` is opaque to the store. */
export interface IdempotencyRecord {
  readonly key: string;
  readonly fingerprint: string;
  readonly state: 'in-flight' | 'completed';
  readonly response: unknown;
  readonly createdAt: number;
  readonly expiresAt: number;
}

export type IdempotencyBegin =
  | { readonly outcome: 'started' }
  | { readonly outcome: 'in-flight' }
  | { readonly outcome: 'mismatch' }
  | { readonly outcome: 'completed'; readonly response: unknown };

/** Idempotency keys for request deduplication (the HTTP gateway's `Idempotency-Key`). */
export interface IdempotencyStore<Tx> {
  /** Atomically claims `key` for a request with this fingerprint, or reports what holds it. */
  begin(options: { key: string; fingerprint: string; now: number; ttlMs: number }): Promise<IdempotencyBegin>;
  /** Stores the response inside `tx`, so it commits with the request's effects. */
  complete(tx: Tx, options: { key: string; response: unknown }): Promise<void>;
  /** Forgets an in-flight key whose request failed, so it can be retried. */
  abandon(key: string): Promise<void>;
  /** Deletes records that expired before `now`; returns how many. */
  purgeExpired(now: number): Promise<number>;
}

/** Everything an engine provides over one transaction type. */
export interface Stores<Tx> extends TransactionRunner<Tx> {
  readonly outbox: OutboxStore<Tx>;
  readonly inbox: InboxStore<Tx>;
  readonly deadLetters: DeadLetterStore;
  readonly idempotency: IdempotencyStore<Tx>;
  close(): Promise<void>;
}

/** Optional ability: tells in-process listeners that outbox records were committed. */
export interface OutboxSignal {
  onAppended(listener: () => void): () => void;
}

export function hasOutboxSignal<S extends object>(stores: S): stores is S & OutboxSignal {
  return typeof (stores as Partial<OutboxSignal>).onAppended === 'function';
}
