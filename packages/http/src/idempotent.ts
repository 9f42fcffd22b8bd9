import { ErrorCodes, HeraldError, isHeraldError, silentLogger } from '@herald/core';
import type { IdempotencyBegin, IdempotencyStore, Logger, TransactionWork } from '@herald/core';
import { HttpErrors } from './errors.js';

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
  /** The key as the client sent it, for messages (`key` may be scoped, see `scopedIdempotencyKey`); `key` when absent. */
  readonly clientKey?: string;
  readonly fingerprint: string;
  /** Current time, ms. */
  readonly now: number;
  /** How long the key and its response are remembered. */
  readonly ttlMs: number;
  /**
   * How long a request holds the key before another request with it may take over. A request of
   * a process that died is thus retried after at most this long; it should exceed the longest
   * request, or a slow request is taken over and then fails to commit (its effects roll back and
   * it answers with the response of the request that took over).
   */
  readonly leaseMs: number;
  /**
   * Work before the transaction (a command route's `prepare`): runs once this request holds the
   * key, so never for a replay, a mismatch or a request in flight elsewhere. If it throws, the key
   * is abandoned like a failed `work`.
   */
  readonly prepare?: () => Promise<void>;
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
 * Runs a request at most once per idempotency key, over the core IdempotencyStore port.
 *
 * 1. The key is claimed (with a lease of `leaseMs`), or found: a completed one with the same
 *    fingerprint is replayed; a different fingerprint throws `idempotency-key-reused`; one a live
 *    request holds throws `idempotency-key-in-flight`. A key whose request died with its process
 *    is taken over once its lease lapses, instead of being stuck until the key expires.
 * 2. `prepare` runs, then `work` in one transaction together with storing its response, which
 *    succeeds only while this request still owns the key: the effects (rows, outbox events) and
 *    the remembered response commit atomically or not at all.
 * 3. A request that outlived its lease and was taken over cannot complete: its transaction rolls
 *    back and it answers as a retry would, with the stored response of the request that took
 *    over (`idempotency-key-in-flight` while that one runs).
 * 4. When `prepare`, `work` or the commit fails otherwise, the key is abandoned (only if this
 *    request still owns it) so that a retry with the same key (or the same key with another
 *    body) can proceed, and the error is rethrown.
 */
export async function runIdempotent<Tx>(request: IdempotentRequest<Tx>): Promise<IdempotentOutcome> {
  const { store, key, fingerprint, now } = request;
  const begun = await store.begin({ key, fingerprint, now, ttlMs: request.ttlMs, leaseMs: request.leaseMs });
  if (begun.outcome !== 'started') return answerHeld(begun, request.clientKey ?? key);
  const { owner } = begun;
  try {
    await request.prepare?.();
    const response = await request.runner.transaction(async (tx, publish) => {
      const produced = await request.work(tx, publish);
      await store.complete(tx, { key, owner, response: produced });
      return produced;
    });
    return { response, replayed: false };
  } catch (error) {
    // the key is another attempt's now: nothing of ours to abandon, and its answer is the answer
    if (isHeraldError(error) && error.code === ErrorCodes.idempotencyLeaseLost) return answerLoser(request);
    await abandon(request, owner);
    throw error;
  }
}

/** The answer to a request that found its key held: the replay, or why it cannot run now. */
function answerHeld(begun: Exclude<IdempotencyBegin, { outcome: 'started' }>, key: string): IdempotentOutcome {
  if (begun.outcome === 'completed') return { response: asStoredResponse(begun.response, key), replayed: true };
  if (begun.outcome === 'mismatch') throw reused(key);
  throw inFlight(key);
}

/** After losing the key to a takeover: whatever the key now says, as a retry would see it. */
async function answerLoser<Tx>(request: IdempotentRequest<Tx>): Promise<IdempotentOutcome> {
  const { store, key, fingerprint, now } = request;
  const begun = await store.begin({ key, fingerprint, now, ttlMs: request.ttlMs, leaseMs: request.leaseMs });
  if (begun.outcome !== 'started') return answerHeld(begun, request.clientKey ?? key);
  // the winner failed and let go meanwhile: this attempt's work is rolled back, so let the client's retry run it
  await abandon(request, begun.owner);
  throw inFlight(request.clientKey ?? key);
}

async function abandon<Tx>(request: IdempotentRequest<Tx>, owner: string): Promise<void> {
  const { key } = request;
  await request.store.abandon({ key, owner }).catch((error: unknown) => {
    // the key stays in flight until its lease lapses; retries get through after that
    (request.logger ?? silentLogger).error('idempotency: could not abandon a failed key', { key, error });
  });
}

function inFlight(key: string): HeraldError {
  return new HeraldError(HttpErrors.idempotencyKeyInFlight, `the first request with Idempotency-Key "${key}" is still being processed`, { retriable: true });
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
