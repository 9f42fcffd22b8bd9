import type { ConnectionOptions } from 'node:tls';
import { CoreErrors, HeraldError, jsonLogger } from '@herald/core';
import type { LogLevel, Logger, TopicSpec } from '@herald/core';
import { parseBootstrapServer } from './internal/sockets.js';

/** SASL credentials, passed through to the client unchanged. */
export interface KafkaSaslOptions {
  readonly mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  readonly username: string;
  readonly password: string;
}

/** Fetch tuning of every subscription. */
export interface KafkaFetchOptions {
  /** Longest the broker holds a fetch that has less than `minBytes`. Default 500 ms. */
  readonly maxWaitMs?: number;
  /** Bytes the broker waits for before answering a fetch. Default 1. */
  readonly minBytes?: number;
  /** Upper bound of one fetch response. Default 10 MiB. */
  readonly maxBytes?: number;
  /** Upper bound per partition in one fetch response. Default 1 MiB. */
  readonly maxBytesPerPartition?: number;
}

/** Consumer group membership timing. */
export interface KafkaGroupOptions {
  /** A member silent this long is removed from the group. Default 30 000 ms. */
  readonly sessionTimeoutMs?: number;
  /** How often a member proves it is alive. Default 3 000 ms. */
  readonly heartbeatIntervalMs?: number;
  /** How long the group waits for members to rejoin during a rebalance. Default 60 000 ms. */
  readonly rebalanceTimeoutMs?: number;
}

/** Options of {@link kafkaBroker}. Every field but `brokers` has a default. */
export interface KafkaBrokerOptions {
  /** Bootstrap servers, `host:port`; an IPv6 address in brackets, `[::1]:9092`. */
  readonly brokers: readonly string[];
  /** Client id sent to the brokers. Default `herald`. */
  readonly clientId?: string;
  /** TLS: `true` for defaults, or Node TLS options (ca, cert, key...). Default off. */
  readonly ssl?: boolean | ConnectionOptions;
  readonly sasl?: KafkaSaslOptions;
  /** Compression of produced batches. Default `none`. */
  readonly compression?: 'none' | 'gzip';
  /** Retries of a failed request before the operation fails (publish is acks=all, always). Default 5. */
  readonly retries?: number;
  /** Default 3 000 ms. */
  readonly connectionTimeoutMs?: number;
  /** Default 30 000 ms. */
  readonly requestTimeoutMs?: number;
  /**
   * Longest `close` waits for the client to leave a group and disconnect when brokers do not answer;
   * past it, close resolves (logged) and the client gives up on its own. Default 10 000 ms.
   */
  readonly closeTimeoutMs?: number;
  /** `publish` splits its records into produce requests of at most this many bytes. Default 900 000. */
  readonly maxRequestBytes?: number;
  readonly fetch?: KafkaFetchOptions;
  readonly group?: KafkaGroupOptions;
  /** Topics to provision (best-effort) before the first publish or subscribe. */
  readonly topics?: readonly TopicSpec[];
  /** Where the adapter and the Kafka client log. Default JSON lines on stderr. */
  readonly logger?: Logger;
  /** Lowest level of the Kafka client's own log lines that reach `logger`. Default `warn`. */
  readonly clientLogLevel?: LogLevel;
}

/** Options with every default applied. */
export interface ResolvedKafkaOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly ssl: boolean | ConnectionOptions | undefined;
  readonly sasl: KafkaSaslOptions | undefined;
  readonly compression: 'none' | 'gzip';
  readonly retries: number;
  readonly connectionTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly closeTimeoutMs: number;
  readonly maxRequestBytes: number;
  readonly fetch: Required<KafkaFetchOptions>;
  readonly group: Required<KafkaGroupOptions>;
  readonly topics: readonly TopicSpec[];
  readonly logger: Logger;
  readonly clientLogLevel: LogLevel;
}

/** The defaults, in one place. */
export const KAFKA_DEFAULTS = {
  clientId: 'herald',
  compression: 'none',
  retries: 5,
  connectionTimeoutMs: 3_000,
  requestTimeoutMs: 30_000,
  closeTimeoutMs: 10_000,
  maxRequestBytes: 900_000,
  fetch: { maxWaitMs: 500, minBytes: 1, maxBytes: 10 * 1024 * 1024, maxBytesPerPartition: 1024 * 1024 },
  group: { sessionTimeoutMs: 30_000, heartbeatIntervalMs: 3_000, rebalanceTimeoutMs: 60_000 },
  clientLogLevel: 'warn',
} as const;

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];
const SASL: readonly string[] = ['plain', 'scram-sha-256', 'scram-sha-512'];

/** Applies defaults and validates; throws `invalid-options` naming the first bad field. */
export function resolveKafkaOptions(options: KafkaBrokerOptions): ResolvedKafkaOptions {
  const fail = (message: string): never => {
    throw new HeraldError(CoreErrors.invalidOptions, `kafkaBroker: ${message}`);
  };
  if (!Array.isArray(options.brokers) || options.brokers.length === 0) fail('brokers must be a non-empty array of host:port');
  for (const b of options.brokers) if (typeof b !== 'string' || !parseBootstrapServer(b)) fail(`broker '${String(b)}' is not host:port (an IPv6 address in brackets: [::1]:9092)`);
  const compression = options.compression ?? KAFKA_DEFAULTS.compression;
  if (compression !== 'none' && compression !== 'gzip') fail(`compression must be 'none' or 'gzip', got '${String(compression)}'`);
  const clientLogLevel = options.clientLogLevel ?? KAFKA_DEFAULTS.clientLogLevel;
  if (!LEVELS.includes(clientLogLevel)) fail(`clientLogLevel must be one of ${LEVELS.join(', ')}`);
  if (options.sasl && !SASL.includes(options.sasl.mechanism)) fail(`sasl.mechanism must be one of ${SASL.join(', ')}`);
  const resolved: ResolvedKafkaOptions = {
    brokers: [...options.brokers],
    clientId: options.clientId ?? KAFKA_DEFAULTS.clientId,
    ssl: options.ssl,
    sasl: options.sasl,
    compression,
    retries: options.retries ?? KAFKA_DEFAULTS.retries,
    connectionTimeoutMs: options.connectionTimeoutMs ?? KAFKA_DEFAULTS.connectionTimeoutMs,
    requestTimeoutMs: options.requestTimeoutMs ?? KAFKA_DEFAULTS.requestTimeoutMs,
    closeTimeoutMs: options.closeTimeoutMs ?? KAFKA_DEFAULTS.closeTimeoutMs,
    maxRequestBytes: options.maxRequestBytes ?? KAFKA_DEFAULTS.maxRequestBytes,
    fetch: { ...KAFKA_DEFAULTS.fetch, ...definedOnly(options.fetch) },
    group: { ...KAFKA_DEFAULTS.group, ...definedOnly(options.group) },
    topics: [...(options.topics ?? [])],
    logger: options.logger ?? jsonLogger({ fields: { component: 'kafka' } }),
    clientLogLevel,
  };
  const counts: Record<string, number> = {
    retries: resolved.retries,
    'fetch.minBytes': resolved.fetch.minBytes,
    'fetch.maxWaitMs': resolved.fetch.maxWaitMs,
  };
  for (const [name, value] of Object.entries(counts)) if (!Number.isInteger(value) || value < 0) fail(`${name} must be an integer >= 0, got ${value}`);
  const positive: Record<string, number> = {
    connectionTimeoutMs: resolved.connectionTimeoutMs,
    requestTimeoutMs: resolved.requestTimeoutMs,
    closeTimeoutMs: resolved.closeTimeoutMs,
    maxRequestBytes: resolved.maxRequestBytes,
    'fetch.maxBytes': resolved.fetch.maxBytes,
    'fetch.maxBytesPerPartition': resolved.fetch.maxBytesPerPartition,
    'group.sessionTimeoutMs': resolved.group.sessionTimeoutMs,
    'group.heartbeatIntervalMs': resolved.group.heartbeatIntervalMs,
    'group.rebalanceTimeoutMs': resolved.group.rebalanceTimeoutMs,
  };
  for (const [name, value] of Object.entries(positive)) if (!Number.isInteger(value) || value <= 0) fail(`${name} must be an integer > 0, got ${value}`);
  if (resolved.group.heartbeatIntervalMs >= resolved.group.sessionTimeoutMs) fail('group.heartbeatIntervalMs must be below group.sessionTimeoutMs');
  for (const t of resolved.topics) {
    if (!t.name || !Number.isInteger(t.partitions) || t.partitions < 1) fail(`topic '${t.name}' needs a name and partitions >= 1`);
  }
  return resolved;
}

function definedOnly<T extends object>(value: T | undefined): Partial<T> {
  if (!value) return {};
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
