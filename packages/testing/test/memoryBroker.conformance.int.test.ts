import { describeBrokerConformance, memoryBroker, type MemoryBroker } from '../src/index.js';

describeBrokerConformance({
  name: 'memoryBroker',
  guarantees: ['per-key-order', 'consumer-groups', 'replay', 'rebalance'],
  create: async () => {
    const broker = memoryBroker({ partitions: 4 });
    return {
      broker,
      newMember: async () => broker.connect(),
      kill: (member) => (member as MemoryBroker).crash(),
    };
  },
});
