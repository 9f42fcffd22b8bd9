import type { Stores } from './stores.js';

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

/** Optional ability of the stores: idempotency keys in the same transactions as everything else. */
export interface IdempotencyStores<Tx> {
  readonly idempotency: IdempotencyStore<Tx>;
}

export function hasIdempotency<S extends Stores<Tx>, Tx>(stores: S): stores is S & IdempotencyStores<Tx> {
  const candidate = (stores as Partial<IdempotencyStores<Tx>>).idempotency;
  return typeof candidate === 'object' && candidate !== null && typeof candidate.begin === 'function';
}
