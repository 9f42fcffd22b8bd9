import { uuidv7 } from '@herald/core';
import {
  describeDeadLetterBrowserConformance,
  describeIdempotencyConformance,
  describeOutboxBacklogConformance,
  describeReadConformance,
  describeSagaCensusConformance,
  describeSagaStoreConformance,
  describeStoreConformance,
  describeTimerConformance,
  describeWindowStoreConformance,
  memoryStores,
  type MemoryStores,
  type MemoryTx,
  type StoreUnderTest,
} from '../src/index.js';

function harness(stores: MemoryStores): StoreUnderTest<MemoryTx, MemoryStores> {
  return {
    stores,
    writeEffect: async (tx, id) => tx.set(`effects/${uuidv7()}`, id),
    readEffects: () => stores.transaction(async (tx) => tx.keys('effects/').map((key) => tx.get<string>(key)!)),
    readEffectsIn: async (tx) => tx.keys('effects/').map((key) => tx.get<string>(key)!),
  };
}

const SUITES = [
  describeStoreConformance<MemoryTx, MemoryStores>,
  describeIdempotencyConformance<MemoryTx, MemoryStores>,
  describeDeadLetterBrowserConformance<MemoryTx, MemoryStores>,
  describeOutboxBacklogConformance<MemoryTx, MemoryStores>,
  describeTimerConformance<MemoryTx, MemoryStores>,
  describeSagaStoreConformance<MemoryTx, MemoryStores>,
  describeSagaCensusConformance<MemoryTx, MemoryStores>,
  describeWindowStoreConformance<MemoryTx, MemoryStores>,
  describeReadConformance<MemoryTx, MemoryStores>,
];

for (const describeSuite of SUITES) {
  describeSuite({
    name: 'memoryStores',
    create: async ({ clock }) => harness(memoryStores({ clock })),
  });

  // Runs the suites' durable paths too: "reopening" hands back the same, still-open stores, which is
  // what a durable engine's reopen must be indistinguishable from.
  describeSuite({
    name: 'memoryStores, reopened in place',
    durable: true,
    create: async ({ clock }) => {
      const stores = memoryStores({ clock });
      const kept: MemoryStores = { ...stores, close: async () => {} };
      return { ...harness(kept), reopen: async () => harness(kept), cleanup: () => stores.close() };
    },
  });
}
