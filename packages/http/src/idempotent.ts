import { HeraldError, silentLogger } from '@herald/core';
import type { IdempotencyStore, Logger, TransactionWork } from '@herald/core';
import { HttpErrors } from './problem.js';

/** A response as remembered for an idempotency key: enough to send it again byte for byte. */
export interface StoredResponse {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Something that runs work in one transaction with an outbox `publish` (an Herald `App`). */
export interface TransactionalRunner<Tx> {
  transaction<T>(work: TransactionWork<Tx, T>): Promise<T>;
}

/** One request to run under an idempotency key (see {@link runIdempotent}). */
export interface IdempotentRequest<Tx> {
  readonly store: IdempotencyStore<Tx>;
  readonly runner: TransactionalRunner<Tx>;
  readonly key: string;
  readonly fingerprint: string;
  /** Current time, ms. */
  readonly now: number;
  /** How long the key and its response are remembered. */
  readonly ttlMs: number;
  /**
   * How long a request holds the key before another request with it may take over. A request of
   * a process that died is thus retried after at most this long; it must exceed the longest
   * request, or a slow request and its retry could both run.
   */
  readonly leaseMs: number;
  /** The request's effects; returns the response to send and remember. */
  readonly work: TransactionWork<Tx, StoredResponse>;
  readonly logger?: Logger;
}

/** The response to send, and whether it is a replay. */
export interface IdempotentOutcome {
  readonly response: StoredResponse;
  /** True when `response` is the remembered answer to an earlier request with this key. */
  readonly replayed: boolean;
}

/**
 * The key of the lease record that says who is running the request of `key`. DEL (0x7f) is not a
 * printable character, so no client key can collide with it.
 */
export function leaseKeyOf(key: string): string {
  return `\u007flease:${key}`;
}

/**
 * Runs a request at most once per idempotency key, over the core IdempotencyStore port, with two
 * records per key: the *response record* under the client's key (kept `ttlMs`) and a short *lease
 * record* ({@link leaseKeyOf}, kept `leaseMs`) held by whichever request is running.
 *
 * 1. The response record is claimed, or found: a completed one with the same fingerprint is
 *    replayed; a different fingerprint throws `idempotency-key-reused`.
 * 2. Otherwise (new, or left in flight by an earlier attempt) the request must take the lease; if
 *    a live request holds it, `idempotency-key-in-flight` is thrown. A lease of a process that
 *    died lapses after `leaseMs`, so its request can then be retried instead of being stuck until
 *    the key expires (the port's `begin` alone cannot tell a live holder from a dead one).
 * 3. `work` runs in one transaction together with storing its response, so the effects (rows,
 *    outbox events) and the remembered response commit atomically or not at all.
 * 4. When `work` or the commit fails, both records are abandoned so that a retry with the same key
 *    (or the same key with another body) can proceed, and the error is rethrown.
 */
export async function runIdempotent<Tx>(request: IdempotentRequest<Tx>): Promise<IdempotentOutcome> {
  const { store, key, fingerprint, now } = request;
  const record = await store.begin({ key, fingerprint, now, ttlMs: request.ttlMs });
  if (record.outcome === 'completed') return { response: asStoredResponse(record.response, key), replayed: true };
  if (record.outcome === 'mismatch') throw reused(key);
  const lease = await store.begin({ key: leaseKeyOf(key), fingerprint, now, ttlMs: request.leaseMs });
  if (lease.outcome === 'mismatch') throw reused(key);
  if (lease.outcome !== 'started') {
    throw new HeraldError(HttpErrors.idempotencyKeyInFlight, `the first request with Idempotency-Key "${key}" is still being processed`, { retriable: true });
  }
  try {
    const response = await request.runner.transaction(async (tx, publish) => {
      const produced = await request.work(tx, publish);
      await store.complete(tx, { key, response: produced });
      return produced;
    });
    // the lease record is left to expire: the completed response record answers from now on
    return { response, replayed: false };
  } catch (error) {
    await abandon(request, key);
    await abandon(request, leaseKeyOf(key));
    throw error;
  }
}

async function abandon<Tx>(request: IdempotentRequest<Tx>, key: string): Promise<void> {
  await request.store.abandon(key).catch((error: unknown) => {
    // the record stays until it expires (the lease: leaseMs, so retries still get through later)
    (request.logger ?? silentLogger).error('idempotency: could not abandon a failed key', { key, error });
  });
}

function reused(key: string): HeraldError {
  return new HeraldError(HttpErrors.idempotencyKeyReused, `Idempotency-Key "${key}" was already used for a different request`);
}

function asStoredResponse(value: unknown, key: string): StoredResponse {
  const candidate = value as Partial<StoredResponse> | null;
  if (candidate && typeof candidate === 'object' && typeof candidate.status === 'number' && 'body' in candidate) {
    return candidate as StoredResponse;
  }
  throw new HeraldError(HttpErrors.internal, `the stored response of Idempotency-Key "${key}" is unreadable`);
}
