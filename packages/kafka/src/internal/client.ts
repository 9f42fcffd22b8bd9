import { Kafka, logLevel as KafkaLogLevel } from 'kafkajs';
import type { ISocketFactory, KafkaConfig, LogEntry, SASLOptions } from 'kafkajs';
import type { LogLevel, Logger } from '@herald/core';
import type { KafkaSaslOptions, ResolvedKafkaOptions } from '../options.js';
import { registerCodecs } from './compression/codecs.js';
import { defaultSocketFactory, dialIpv6Literals, toKafkajsServer } from './sockets.js';

const TO_KAFKAJS: Record<LogLevel, KafkaLogLevel> = {
  debug: KafkaLogLevel.DEBUG,
  info: KafkaLogLevel.INFO,
  warn: KafkaLogLevel.WARN,
  error: KafkaLogLevel.ERROR,
  silent: KafkaLogLevel.NOTHING,
};

/** Internal hooks into the client, for tests. */
export interface ClientHooks {
  readonly socketFactory?: ISocketFactory;
  /** Makes the client from the config instead of kafkajs (unit tests pass a stand-in). */
  readonly createKafka?: (config: KafkaConfig) => Kafka;
}

/**
 * The kafkajs client for one broker instance: retries, timeouts, TLS/SASL and logging wired from the
 * options, and every compression codec Kafka defines readable (registered in kafkajs once per process).
 */
export function createKafkaClient(options: ResolvedKafkaOptions, hooks: ClientHooks = {}): Kafka {
  registerCodecs();
  const config: KafkaConfig = {
    clientId: options.clientId,
    // an IPv6 bootstrap server goes under a name kafkajs can split from its port, dialled by the factory
    brokers: options.brokers.map(toKafkajsServer),
    connectionTimeout: options.connectionTimeoutMs,
    requestTimeout: options.requestTimeoutMs,
    retry: { retries: options.retries },
    logLevel: TO_KAFKAJS[options.clientLogLevel],
    logCreator: () => routeLog(options.logger.child({ source: 'kafkajs' })),
  };
  if (options.ssl !== undefined) config.ssl = options.ssl;
  if (options.sasl) config.sasl = toSasl(options.sasl);
  config.socketFactory = dialIpv6Literals(hooks.socketFactory ?? defaultSocketFactory);
  return hooks.createKafka ? hooks.createKafka(config) : new Kafka(config);
}

/** Sends kafkajs log entries to a Herald logger, keeping their structured fields. */
export function routeLog(logger: Logger): (entry: LogEntry) => void {
  return ({ namespace, level, log }) => {
    const { message, timestamp: _timestamp, logger: _logger, ...fields } = log;
    const withNamespace = { namespace, ...fields };
    // kafkajs logs every "group is rebalancing" protocol answer as an error; it is routine and handled
    if (level === KafkaLogLevel.ERROR && isRoutineRebalance(fields)) logger.debug(message, withNamespace);
    else if (level === KafkaLogLevel.ERROR) logger.error(message, withNamespace);
    else if (level === KafkaLogLevel.WARN) logger.warn(message, withNamespace);
    else if (level === KafkaLogLevel.INFO) logger.info(message, withNamespace);
    else logger.debug(message, withNamespace);
  };
}

function isRoutineRebalance(fields: Record<string, unknown>): boolean {
  return typeof fields.error === 'string' && /group is rebalancing/i.test(fields.error);
}

function toSasl(sasl: KafkaSaslOptions): SASLOptions {
  return { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password } as SASLOptions;
}
