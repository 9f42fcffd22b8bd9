import { describeBrokerConformance, describeBrokerInspectorConformance, describeRecordReaderConformance, memoryBroker, type MemoryBroker } from '../src/index.js';

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

// Runs the suite's persistence path too: the log outlives a client, so "reopening" is closing
// this client and connecting a new one to the same log (within the process, that is persistence).
describeBrokerConformance({
  name: 'memoryBroker, reopened as a new client of the same log',
  guarantees: ['per-key-order', 'consumer-groups', 'replay', 'rebalance', 'persistence'],
  partitions: 3,
  create: async () => {
    const log = memoryBroker({ partitions: 3 });
    let current: MemoryBroker = log.connect();
    return {
      broker: current,
      newMember: async () => log.connect(),
      kill: (member) => (member as MemoryBroker).crash(),
      reopen: async () => {
        await current.close();
        return (current = log.connect());
      },
      cleanup: async () => {
        await current.close();
        await log.close();
      },
    };
  },
});

describeBrokerInspectorConformance({
  name: 'memoryBroker',
  // retention not declared: the memory log deletes nothing, and reports null
  guarantees: ['partition-growth'],
  create: async () => {
    const broker = memoryBroker({ partitions: 4 });
    return { broker, newMember: async () => broker.connect() };
  },
});

describeRecordReaderConformance({
  name: 'memoryBroker',
  create: async () => {
    const broker = memoryBroker({ partitions: 4 });
    return { broker, newMember: async () => broker.connect() };
  },
});
