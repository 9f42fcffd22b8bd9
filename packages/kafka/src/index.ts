export { kafkaBroker } from './kafkaBroker.js';
export type { KafkaBroker } from './kafkaBroker.js';
export { resolveKafkaOptions, KAFKA_DEFAULTS } from './options.js';
export type { KafkaBrokerOptions, KafkaFetchOptions, KafkaGroupOptions, KafkaSaslOptions, ResolvedKafkaOptions } from './options.js';
export { KafkaErrors, KafkaErrorCodes } from './errors.js';
