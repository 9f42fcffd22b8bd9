import { uuidv7, type Stores } from '@herald/core';
import { describeStoreConformance, memoryStores, type MemoryTx, type StoreUnderTest } from '../src/index.js';

function harness(stores: Stores<MemoryTx>): StoreUnderTest<MemoryTx> {
  return {
    stores,
    writeEffect: async (tx, id) => tx.set(`effects/${uuidv7()}`, id),
    readEffects: () => stores.transaction(async (tx) => tx.keys('effects/').map((key) => tx.get<string>(key)!)),
  };
}

describeStoreConformance<MemoryTx>({
  name: 'memoryStores',
  create: async ({ clock }) => harness(memoryStores({ clock })),
});

// Runs the suite's durable path too: "reopening" hands back the same, still-open stores, which is
// what a durable engine's reopen must be indistinguishable from.
describeStoreConformance<MemoryTx>({
  name: 'memoryStores, reopened in place',
  durable: true,
  create: async ({ clock }) => {
    const stores = memoryStores({ clock });
    const kept: Stores<MemoryTx> = { ...stores, close: async () => {} };
    return { ...harness(kept), reopen: async () => harness(kept), cleanup: () => stores.close() };
  },
});
