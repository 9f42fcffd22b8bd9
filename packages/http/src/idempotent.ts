import { HeraldError, silentLogger } from '@herald/core';
import type { IdempotencyStore, Logger, TransactionWork } from '@herald/core';
import { HttpErrorCodes } from './problem.js';

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

export interface IdempotentRequest<Tx> {
  readonly store: IdempotencyStore<Tx>;
  readonly runner: TransactionalRunner<Tx>;
  readonly key: string;
  readonly fingerprint: string;
  /** Current time, ms. */
  readonly now: number;
  /** How long the key is remembered. */
  readonly ttlMs: number;
  /** The request's effects; returns the response to send and remember. */
  readonly work: TransactionWork<Tx, StoredResponse>;
  readonly logger?: Logger;
}

export interface IdempotentOutcome {
  readonly response: StoredResponse;
  /** True when `response` is the remembered answer to an earlier request with this key. */
  readonly replayed: boolean;
}

/**
 * Runs a request at most once per idempotency key. A new key is claimed, then `work` runs in one
 * transaction together with storing its response, so the effects (rows, outbox events) and the
 * remembered response commit atomically or not at all. A completed key with the same fingerprint
 * replays the stored response; a different fingerprint throws `idempotency-key-reused`; a key whose
 * first request is still running throws `idempotency-key-in-flight`. When `work` or the commit
 * fails, the key is abandoned so that a retry with the same key can proceed, and the error is
 * rethrown.
 */
export async function runIdempotent<Tx>(request: IdempotentRequest<Tx>): Promise<IdempotentOutcome> {
  const { store, key } = request;
  const begun = await store.begin({ key, fingerprint: request.fingerprint, now: request.now, ttlMs: request.ttlMs });
  switch (begun.outcome) {
    case 'completed':
      return { response: asStoredResponse(begun.response, key), replayed: true };
    case 'mismatch':
      throw new HeraldError(HttpErrorCodes.idempotencyKeyReused, `Idempotency-Key "${key}" was already used for a different request`);
    case 'in-flight':
      throw new HeraldError(HttpErrorCodes.idempotencyKeyInFlight, `the first request with Idempotency-Key "${key}" is still being processed`, { retriable: true });
    case 'started':
      break;
  }
  try {
    const response = await request.runner.transaction(async (tx, publish) => {
      const produced = await request.work(tx, publish);
      await store.complete(tx, { key, response: produced });
      return produced;
    });
    return { response, replayed: false };
  } catch (error) {
    await store.abandon(key).catch((abandonError: unknown) => {
      // the key stays in flight until it expires; retries with it get 409 meanwhile
      (request.logger ?? silentLogger).error('idempotency: could not abandon a failed key', { key, error: abandonError });
    });
    throw error;
  }
}

function asStoredResponse(value: unknown, key: string): StoredResponse {
  const candidate = value as Partial<StoredResponse> | null;
  if (candidate && typeof candidate === 'object' && typeof candidate.status === 'number' && 'body' in candidate) {
    return candidate as StoredResponse;
  }
  throw new HeraldError(HttpErrorCodes.internal, `the stored response of Idempotency-Key "${key}" is unreadable`);
}
