/**
 * The statuses of a saga instance that has not ended, as the saga runtime (`@herald/saga`'s
 * `SagaStatus`) writes them: `running` (started) and `awaiting-start` (events of its flow came
 * before its start event, and are kept). The SQL stores' partial indexes name them too.
 */
export const SAGA_IN_FLIGHT_STATUSES = ['running', 'awaiting-start'] as const;

export type SagaInFlightStatus = (typeof SAGA_IN_FLIGHT_STATUSES)[number];

/** The instances of one saga in one not-ended status. */
export interface SagasInFlight {
  readonly saga: string;
  readonly status: SagaInFlightStatus;
  /** Committed instances of `saga` in `status`; at least 1. */
  readonly count: number;
  /**
   * The smallest `createdAt` among them: when the oldest was first saved (its first event, so a
   * running instance that waited for its start event counts that wait), ms since the epoch.
   */
  readonly oldestCreatedAt: number;
}

/**
 * Optional ability of a saga store: how many instances have not ended, per saga and status, and
 * since when the oldest exists — what an operator looks at for a stuck flow.
 *
 * Contract: `inFlight` reads committed instances outside any transaction (an open transaction's
 * saves are not counted until it commits) and returns one entry per (saga, status) with at least
 * one instance, for the statuses of {@link SAGA_IN_FLIGHT_STATUSES} only, ordered by saga then
 * status (comparing their UTF-8 bytes, whatever a database's collation); empty when nothing is in
 * flight. It reads
 * only the instances in flight (an index of its own on SQL stores), however many ended ones are
 * kept, so it can be polled.
 */
export interface SagaCensus {
  inFlight(): Promise<readonly SagasInFlight[]>;
}

/** Whether a saga store (`stores.sagas`, see `hasSagas`) counts its instances in flight. */
export function hasSagaCensus<S extends object>(sagas: S): sagas is S & SagaCensus {
  return typeof (sagas as Partial<SagaCensus>).inFlight === 'function';
}
