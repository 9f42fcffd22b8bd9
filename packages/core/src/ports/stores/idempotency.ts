import type { Stores } from './stores.js';

/** A remembered idempotent request. `response` is opaque to the store. */
export interface IdempotencyRecord {
  readonly key: string;
  readonly fingerprint: string;
  readonly state: 'in-flight' | 'completed';
  readonly response: unknown;
  /** The token of the attempt that took the record (see {@link IdempotencyBegin}). */
  readonly owner: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  /** Until when the owner holds an in-flight record; after that another attempt may take it over. */
  readonly leaseExpiresAt: number;
}

/**
 * What `begin` found. `started` carries the owner token of this attempt: only it can complete or
 * abandon the record, so an attempt whose lease was taken over can do neither.
 */
export type IdempotencyBegin =
  | { readonly outcome: 'started'; readonly owner: string }
  | { readonly outcome: 'in-flight' }
  | { readonly outcome: 'mismatch' }
  | { readonly outcome: 'completed'; readonly response: unknown };

/** What `begin` needs: the key, the request's fingerprint, the time and how long to hold the key. */
export interface IdempotencyBeginOptions {
  readonly key: string;
  readonly fingerprint: string;
  /** Current time, ms. */
  readonly now: number;
  /** How long the record (and the response completed into it) is kept. */
  readonly ttlMs: number;
  /**
   * How long the attempt that takes the key holds it while in flight; default `ttlMs`. After it,
   * an attempt with the same fingerprint takes the key over (the holder is presumed dead), so it
   * must exceed the longest attempt.
   */
  readonly leaseMs?: number;
}

/** Which attempt's record `complete` and `abandon` act on: the key and the token `begin` gave. */
export interface IdempotencyOwnership {
  readonly key: string;
  readonly owner: string;
}

/**
 * Idempotency keys for request deduplication (the HTTP gateway's `Idempotency-Key`). Each attempt
 * that takes a key gets an owner token; a key stays with its attempt until the attempt completes
 * it, abandons it or its lease runs out, and only the current owner can complete or abandon it, so
 * a request whose slow attempt was taken over commits at most once.
 */
export interface IdempotencyStore<Tx> {
  /**
   * Atomically claims `key` for a request with this fingerprint, or reports what holds it. A key
   * that is absent or expired (`expiresAt <= now`) is taken; so is an in-flight key with the same
   * fingerprint whose lease has run out (a new owner replaces the old one). Otherwise a different
   * fingerprint is a `mismatch`, a live attempt is `in-flight` and a completed key returns its
   * response.
   */
  begin(options: IdempotencyBeginOptions): Promise<IdempotencyBegin>;
  /**
   * Stores the response inside `tx`, so it commits with the request's effects. Only while the
   * record is in flight and still owned by `owner`: otherwise (taken over, completed or abandoned)
   * it throws `idempotency-lease-lost`, and the caller must let the error roll `tx` back. Once it
   * returned, no other attempt can take the key until `tx` settles.
   */
  complete(tx: Tx, options: IdempotencyOwnership & { readonly response: unknown }): Promise<void>;
  /** Forgets the in-flight record `owner` holds, so a failed request can be retried; any other record is left alone. */
  abandon(options: IdempotencyOwnership): Promise<void>;
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
