import { uuidv7 } from '@herald/core';
import { describePipelineConformance, memoryBroker, memoryStores, type MemoryTx } from '../src/index.js';

describePipelineConformance<MemoryTx>({
  name: 'memoryBroker + memoryStores',
  create: async () => {
    const stores = memoryStores();
    return {
      broker: memoryBroker({ partitions: 4 }),
      stores,
      writeEffect: async (tx, id) => tx.set(`effects/${uuidv7()}`, id),
      readEffects: () => stores.transaction(async (tx) => tx.keys('effects/').map((key) => tx.get<string>(key)!)),
    };
  },
});
