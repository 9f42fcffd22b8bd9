/** What a handler does with an event that ends in the dead letter store. */
export type DeadLetterPolicy = 'skip' | 'park-key';

/**
 * `dead`: the event failed. `parked`: it was held back, unprocessed, behind an earlier dead letter
 * of its key (policy `park-key`). `redriven`: it went through the handler again successfully.
 * `discarded`: an operator gave up on it. Redriven and discarded letters are resolved: retention
 * deletes them after a while; dead and parked letters stay until someone acts.
 */
export type DeadLetterStatus = 'dead' | 'parked' | 'redriven' | 'discarded';

/** One link of a dead letter's cause chain: an `Error`'s name, message and code, or a thrown value that is no `Error`. */
export interface DeadLetterCause {
  readonly name: string;
  readonly message: string;
  /** The cause's `code` (a driver's error code, a HeraldError's), when it has one. */
  readonly code?: string;
  readonly cause?: DeadLetterCause;
}

/** A failure, as data: everything needed to list, group, understand and redrive it. */
export interface DeadLetter {
  /** A UUIDv7: letters sort by it in the order they were added. */
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
  /**
   * Groups letters that failed the same way: a hash of the reason and the first stack frame of
   * application code (see `fingerprintOf`), stable across events, processes and restarts.
   */
  readonly fingerprint: string;
  /** What failed it; credentials in its messages, stack and details written `[redacted]` (see `redactText`), as in the logs. */
  readonly error: {
    readonly name: string;
    readonly message: string;
    readonly stack?: string;
    readonly details?: Readonly<Record<string, unknown>>;
    /** What the error was caused by (`Error.cause`), outermost first, at most five deep. */
    readonly cause?: DeadLetterCause;
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

/** What the pipeline's own lookups filter by (see {@link DeadLetterStore.list}). */
export interface DeadLetterFilter {
  readonly group?: string;
  readonly handler?: string;
  readonly key?: string;
  readonly status?: DeadLetterStatus;
  readonly ids?: readonly string[];
  readonly limit?: number;
}

/** Dead letters, as the pipeline writes and redrives them. Each method is its own transaction. */
export interface DeadLetterStore {
  /**
   * Stores `letter`, unless the store keeps another in its place, which it resolves with (it
   * resolves with nothing when it stored `letter`). A record has at most one open (`dead` or
   * `parked`) letter per group: a record is its topic, partition and offset and the event read
   * there (`eventId`, null for one that could not be read; a topic created again reuses offsets
   * for other events). Adding a letter for a record that has one adds nothing and resolves with
   * that one: the record failed again after it was delivered again (a crash, close or rebalance
   * before its offset was committed, a replay), and one letter, redriven once, stands for it.
   * Adding an id that is stored already changes nothing and resolves with the stored letter (a
   * letter changes only through `setStatus` and a browser's `discard`), so an add can be retried.
   */
  add(letter: DeadLetter): Promise<DeadLetter | undefined>;
  /** Matching letters in the order they were added. */
  list(filter?: DeadLetterFilter): Promise<readonly DeadLetter[]>;
  /** Whether a `park-key` letter of this key is `dead` or `parked` in this group. */
  isKeyParked(group: string, topic: string, key: string): Promise<boolean>;
  /**
   * Sets the status of these letters (unknown ids are ignored) and resolves with the ids of those
   * it left as they were: setting `dead` or `parked` on a resolved letter reopens it only when its
   * record has no open letter in its group (see `add`), so a record never has two. A letter whose
   * record has one is left resolved and its id returned (that open letter stands for the record);
   * of several resolved letters of one record without one, the one added first is reopened. A
   * letter already open may change between `dead` and `parked`. Other statuses are always set.
   */
  setStatus(ids: readonly string[], status: DeadLetterStatus): Promise<readonly string[]>;
}

/** Which dead letters an operator means. Every field narrows; none means all. */
export interface DeadLetterQuery {
  readonly group?: string;
  readonly handler?: string;
  readonly topic?: string;
  readonly key?: string;
  readonly eventType?: string;
  readonly reason?: string;
  readonly fingerprint?: string;
  /** One status or several (an empty list matches none); all statuses when omitted. */
  readonly status?: DeadLetterStatus | readonly DeadLetterStatus[];
  /** Last failure at or after this time (ms). */
  readonly since?: number;
  /** Last failure before this time (ms). */
  readonly until?: number;
}

export interface DeadLetterPageRequest extends DeadLetterQuery {
  /** The `next` cursor of the previous page; the first page when omitted. */
  readonly cursor?: string;
  /** Letters per page: 1 to 1 000, default 100. */
  readonly limit?: number;
}

export interface DeadLetterPage {
  /** In the order the letters were added. */
  readonly letters: readonly DeadLetter[];
  /** Cursor of the next page, or null when this page is the last. */
  readonly next: string | null;
}

/**
 * Letters that failed the same way (one fingerprint and reason) in one handler. The fingerprint
 * covers the reason for every letter the core recorded; letters stored before fingerprints existed
 * share the fingerprint `''`, and the reason still tells their failures apart.
 */
export interface DeadLetterGroup {
  readonly fingerprint: string;
  readonly reason: string;
  readonly group: string;
  readonly handler: string;
  readonly count: number;
  readonly firstFailureAt: number;
  readonly lastFailureAt: number;
  /** The most recent letter of the group (latest last failure; of those, the last added), to show what the failure looks like. */
  readonly sample: { readonly id: string; readonly message: string };
}

/**
 * Optional ability of a dead letter store: the operator's read side (CLI, console, metrics).
 * Paging is by cursor, so letters added while paging never shift or repeat a page (they come last),
 * and a letter added while paging is never skipped, however late its transaction commits. (A
 * letter already passed is not shown again when its status changes back into the filter, nor when
 * it is added again: it keeps its place.) A page may hold fewer letters than `limit`, even none,
 * and still have a `next`: a store with concurrent writers (PostgreSQL) stops a page before
 * letters of transactions newer than one still running, and shows them once it ended; only a null
 * `next` says paging is done. A cursor this store did not make, a limit outside 1..1 000 or a
 * malformed query field is refused with `invalid-options`.
 */
export interface DeadLetterBrowser {
  page(request?: DeadLetterPageRequest): Promise<DeadLetterPage>;
  count(query?: DeadLetterQuery): Promise<number>;
  /**
   * Matching letters grouped by (group, handler, fingerprint, reason): the largest group first, then
   * the one that failed most recently, then by group, handler, fingerprint and reason.
   */
  groups(query?: DeadLetterQuery): Promise<readonly DeadLetterGroup[]>;
  /** Marks `dead` or `parked` letters `discarded`; returns how many changed (others are left as they are). */
  discard(ids: readonly string[]): Promise<number>;
}

export function canBrowseDeadLetters<D extends DeadLetterStore>(store: D): store is D & DeadLetterBrowser {
  const s = store as Partial<DeadLetterBrowser>;
  return typeof s.page === 'function' && typeof s.count === 'function' && typeof s.groups === 'function' && typeof s.discard === 'function';
}
