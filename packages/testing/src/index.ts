export { memoryBroker } from './memory/memoryBroker.js';
export type { MemoryBroker, MemoryBrokerOptions } from './memory/memoryBroker.js';
export { memoryStores } from './memory/memoryStores.js';
export type { MemoryStores, MemoryStoresOptions } from './memory/memoryStores.js';
export type { MemoryTx } from './memory/memoryTx.js';
export { describeBrokerConformance } from './conformance/broker/describeBrokerConformance.js';
export { BROKER_CONFORMANCE_TESTS } from './conformance/broker/harness.js';
export type { BrokerConformanceOptions, BrokerConformanceTest, BrokerGuarantee, BrokerUnderTest } from './conformance/broker/harness.js';
export type { SkippedTest } from './conformance/suiteTests.js';
