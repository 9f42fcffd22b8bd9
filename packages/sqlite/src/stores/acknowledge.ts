import { HeraldError } from '@herald/core';
import { SqliteErrors } from '../errors.js';
import type { Member, TxScope } from './txTypes.js';

/** What settling committed transactions needs from the runner. */
export interface AcknowledgeDeps {
  /** The database file, for the error of a failed fsync. */
  readonly path: string;
  /** Resolves once what was committed is on disk (see `createWalSync`). */
  readonly durable: () => Promise<void>;
  /** Resolves once what transactions read is on disk: the fsyncs already under way, or one more when another connection committed. */
  readonly flushed: () => Promise<void>;
  /** After each commit, once it is durable, with the scopes that committed. */
  readonly committed: (scopes: readonly TxScope[]) => void;
  /** The last fsync that members waited for settled: the runner may be idle. */
  readonly drained: () => void;
}

export interface Acknowledgements {
  /**
   * Settles finished members: failed ones at once, committed ones once what they need is on disk
   * (the fsync runs off the event loop while the next transactions already run).
   */
  acknowledge(finished: readonly Member[], failure: unknown): void;
  /** Whether members still wait for an fsync. */
  readonly syncing: boolean;
}

/** Settling logical transactions after their COMMIT, as their {@link Member.durable} asks. */
export function createAcknowledgements(deps: AcknowledgeDeps): Acknowledgements {
  const syncing = new Set<Promise<void>>();

  function acknowledge(finished: readonly Member[], failure: unknown): void {
    const own: Member[] = [];
    const prior: Member[] = [];
    for (const member of finished) {
      if (member.state === 'failed') member.reject(member.error);
      else if (failure !== undefined) member.reject(failure);
      else if (member.durable === 'none') member.resolve(member.value);
      else if (member.durable === 'own' && member.scope.wrote) own.push(member);
      else prior.push(member); // it may have read commits whose fsync is still under way
    }
    // `own` first: its fsync request is then among those `prior` waits for
    if (own.length > 0) track(settleAfter(deps.durable(), own));
    if (prior.length > 0) track(settleAfter(deps.flushed(), prior));
  }

  function settleAfter(disk: Promise<void>, settled: readonly Member[]): Promise<void> {
    return disk.then(
      () => {
        deps.committed(settled.map((m) => m.scope));
        for (const member of settled) member.resolve(member.value);
      },
      (cause: unknown) => {
        const error = new HeraldError(SqliteErrors.storeUnavailable, `stores: fsync of the committed transactions failed (${deps.path}); they may or may not be on disk`, { retriable: true, cause, details: { path: deps.path } });
        for (const member of settled) member.reject(error);
      },
    );
  }

  function track(done: Promise<void>): void {
    syncing.add(done);
    void done.finally(() => {
      syncing.delete(done);
      if (syncing.size === 0) deps.drained();
    });
  }

  return {
    acknowledge,
    get syncing() {
      return syncing.size > 0;
    },
  };
}
