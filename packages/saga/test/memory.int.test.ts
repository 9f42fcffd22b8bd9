import { memoryBroker, memoryStores } from '@herald/testing';
import { describeSagaRuntime } from './runtimeSuite.js';

describeSagaRuntime({
  name: 'memory stores and broker',
  async newWorld() {
    let shared: { broker: ReturnType<typeof memoryBroker>; stores: ReturnType<typeof memoryStores> } | undefined;
    return {
      async open(clock) {
        shared ??= { broker: memoryBroker({ partitions: 2 }), stores: memoryStores({ clock }) };
        // a restart keeps what the broker and the stores hold: closing the app leaves them open
        return { broker: { ...shared.broker, close: async () => {} }, stores: { ...shared.stores, close: async () => {} } };
      },
      async dispose() {
        await shared?.broker.close();
        await shared?.stores.close();
      },
    };
  },
});
