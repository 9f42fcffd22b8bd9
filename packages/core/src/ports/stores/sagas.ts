/**
 * One saga instance as stored: which saga, which instance (its correlation id), its status and
 * its state (a JSON document only the saga runtime reads), with a version that grows at every save.
 */
export interface SagaRecord {
  /** The saga's name. */
  readonly saga: string;
  /** The instance: the correlation id its events share. */
  readonly instanceId: string;
  /** Kept in a column of its own so tools can count and list instances by it. */
  readonly status: string;
  /** 1 for a new instance, one more at every save. */
  readonly version: number;
  /** JSON-serialisable state; stored as JSON text. */
  readonly state: unknown;
  /** Written by the first save; later saves keep it. */
  readonly createdAt: number;
  readonly updatedAt: number;
}

/**
 * Saga state, changed in the same transaction as the inbox mark and the outgoing events of the
 * handler that changes it.
 *
 * Contract: `load` reads an instance inside `tx` and, where the engine can, keeps other
 * transactions from changing it until `tx` ends (PostgreSQL: a row lock; memory: a lock a second
 * loader waits for); `save` is a compare-and-set on `version`: it writes `record` only when the
 * stored version is `record.version - 1` (absent for version 1) as `tx` sees it, and returns false,
 * writing nothing, otherwise — two transactions that read the same version can never both save.
 * A caller that gets false loads again in the same transaction and decides again. Writes take
 * effect when `tx` commits. `find` reads committed state outside any transaction.
 */
export interface SagaStore<Tx> {
  load(tx: Tx, saga: string, instanceId: string): Promise<SagaRecord | undefined>;
  save(tx: Tx, record: SagaRecord): Promise<boolean>;
  find(saga: string, instanceId: string): Promise<SagaRecord | undefined>;
}

/** Optional ability of the stores: saga state in the same transactions as everything else. */
export interface SagaStores<Tx> {
  readonly sagas: SagaStore<Tx>;
}

export function hasSagas<S extends object, Tx = unknown>(stores: S): stores is S & SagaStores<Tx> {
  const candidate = (stores as Partial<SagaStores<Tx>>).sagas;
  return typeof candidate === 'object' && candidate !== null && typeof candidate.load === 'function' && typeof candidate.save === 'function';
}
