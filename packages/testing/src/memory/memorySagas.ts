import { CoreErrors, HeraldError, SAGA_IN_FLIGHT_STATUSES, type SagaCensus, type SagaInFlightStatus, type SagaRecord, type SagaStore, type SagasInFlight } from '@herald/core';
import type { MemoryDatabase, MemoryTx, TxState } from './memoryTx.js';

/** The memory saga store (with its census of instances in flight) plus the commit step that applies a transaction's saves. */
export interface MemorySagas extends SagaStore<MemoryTx>, SagaCensus {
  applyCommitted(state: TxState): void;
}

const keyOf = (saga: string, instanceId: string) => `${saga}\u0000${instanceId}`;
const lockName = (key: string) => `saga\u0000${key}`;

/**
 * Saga instances over {@link MemoryDatabase}. `load` takes the instance's row lock, so a second
 * transaction loading the same instance waits until the first one ends and then reads what it
 * committed, as `SELECT ... FOR UPDATE` does; `save` compares versions against what the
 * transaction sees (its own saves, else committed state). States are stored as JSON (a round trip
 * through `JSON.stringify`), as the SQL engines store them. `inFlight` counts committed instances.
 */
export function createMemorySagas(db: MemoryDatabase): MemorySagas {
  const committed = new Map<string, SagaRecord>();

  const visible = (state: TxState, key: string) => state.sagas.get(key) ?? committed.get(key);

  return {
    async load(tx, saga, instanceId) {
      const state = db.stateOf(tx);
      const key = keyOf(saga, instanceId);
      await db.lock(state, lockName(key));
      const found = visible(state, key);
      return found && copy(found);
    },

    async save(tx, record) {
      const state = db.stateOf(tx);
      if (!Number.isInteger(record.version) || record.version < 1) throw new HeraldError(CoreErrors.invalidOptions, `memory sagas: version must be a positive integer, got ${record.version}`);
      const key = keyOf(record.saga, record.instanceId);
      await db.lock(state, lockName(key));
      const current = visible(state, key);
      if ((current?.version ?? 0) !== record.version - 1) return false;
      state.sagas.set(key, copy({ ...record, createdAt: current?.createdAt ?? record.createdAt }));
      return true;
    },

    applyCommitted(state) {
      for (const [key, record] of state.sagas) committed.set(key, record);
    },

    async find(saga, instanceId) {
      const found = committed.get(keyOf(saga, instanceId));
      return found && copy(found);
    },

    async inFlight() {
      const groups = new Map<string, { saga: string; status: SagaInFlightStatus; count: number; oldestCreatedAt: number }>();
      for (const { saga, status, createdAt } of committed.values()) {
        if (!isInFlight(status)) continue;
        const key = keyOf(saga, status);
        const group = groups.get(key);
        if (group) {
          group.count++;
          group.oldestCreatedAt = Math.min(group.oldestCreatedAt, createdAt);
        } else {
          groups.set(key, { saga, status, count: 1, oldestCreatedAt: createdAt });
        }
      }
      // by UTF-8 bytes, as the SQL stores compare
      return [...groups.values()]
        .sort((a, b) => Buffer.compare(Buffer.from(a.saga), Buffer.from(b.saga)) || Buffer.compare(Buffer.from(a.status), Buffer.from(b.status)))
        .map((g): SagasInFlight => ({ ...g }));
    },
  };
}

const isInFlight = (status: string): status is SagaInFlightStatus => (SAGA_IN_FLIGHT_STATUSES as readonly string[]).includes(status);

function copy(record: SagaRecord): SagaRecord {
  const { saga, instanceId, status, version, state, createdAt, updatedAt } = record;
  return { saga, instanceId, status, version, state: JSON.parse(JSON.stringify(state ?? null)) as unknown, createdAt, updatedAt };
}
