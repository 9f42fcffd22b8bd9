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
  /**
   * Keys the relay holds back (a record of each was refused for good and waits for its retry): the
   * claim returns no record of them and fills its `limit` with other keys' records, as it skips the
   * keys another relay holds; their records stay where they are, unpublished, in order. Without it,
   * a key with more waiting records than `limit` behind a refused one would fill every claim.
   * Default: none.
   */
  readonly skipKeys?: readonly string[];
}

/**
 * The relay's side of an outbox. Contract for `claim`: returns unpublished records in append
 * order; never returns a record of a key while another relay holds an unexpired claim on an earlier
 * record of that key, so per-key order holds however many relays run; never returns a record of a
 * key in `skipKeys`. Skipping a key never publishes, reorders or drops its records: a later claim
 * without it returns them from the oldest.
 */
export interface OutboxClaims {
  claim(options: ClaimOptions): Promise<readonly OutboxRecord[]>;
  /** Marks records published and ends their claim, whichever relay holds it (a publish is a publish). */
  markPublished(relayId: string, ids: readonly string[]): Promise<void>;
  /** Gives a claim back early (after a failed publish) so the records can be claimed again. */
  release(relayId: string, ids: readonly string[]): Promise<void>;
}

/** The outbox: appended to inside the application's transactions, claimed by relays. */
export interface OutboxStore<Tx> extends OutboxClaims {
  /** Appends in order. Appending an id that is already there keeps the first record. */
  append(tx: Tx, records: readonly OutboxRecord[]): Promise<void>;
  /** Every record of one correlation id, in append order (for workflow views). */
  findByCorrelation(correlationId: string): Promise<readonly OutboxEntry[]>;
}

/** Optional ability of the stores: tells in-process listeners that outbox records were committed. */
export interface OutboxSignal {
  onAppended(listener: () => void): () => void;
}

export function hasOutboxSignal<S extends object>(stores: S): stores is S & OutboxSignal {
  return typeof (stores as Partial<OutboxSignal>).onAppended === 'function';
}

/** What waits in the outbox for one topic. */
export interface TopicBacklog {
  readonly topic: string;
  /** Records committed and not yet published. */
  readonly pending: number;
  /** Append time (ms) of the oldest of them. */
  readonly oldestCreatedAt: number;
}

/** Optional ability of an outbox: how much waits to be relayed (for metrics, alerts and the CLI). */
export interface OutboxBacklog {
  /** One entry per topic with pending records, in topic order; empty when everything was published. */
  backlog(): Promise<readonly TopicBacklog[]>;
}

export function hasOutboxBacklog<O extends object>(outbox: O): outbox is O & OutboxBacklog {
  return typeof (outbox as Partial<OutboxBacklog>).backlog === 'function';
}
