import { jsonLogger, type Broker, type Logger, type RelayHost, type SqlTx, type Stores } from '@herald/core';
import type { KafkaBrokerOptions } from '@herald/kafka';
import type { PgStoresOptions } from '@herald/postgres';
import type { SqliteEngineOptions } from '@herald/sqlite';
import {
  dataDirectory,
  definedOnly,
  describePostgresUrl,
  kafkaGroupSettings,
  postgresUrl,
  readEngineConfig,
  type EmbeddedEngineConfig,
  type EngineConfig,
  type EngineKind,
  type KafkaPostgresEngineConfig,
} from './config.js';
import type { EngineEnv } from './env.js';

/** An opened engine: a broker and the stores, ready for `createApp`. */
export interface Engine {
  readonly kind: EngineKind;
  readonly broker: Broker;
  readonly stores: Stores<SqlTx>;
  /**
   * Where `createApp` runs the outbox relay (`AppOptions.relayHost`), when the engine runs it off the
   * app's event loop: the embedded engine with `embedded.relayThread`. Absent otherwise.
   */
  readonly relayHost?: RelayHost;
  /** Where it runs, for logs, without credentials: `embedded (/srv/app/.herald)` (always absolute), `kafka (k1:9092) + postgresql (db:5432/app)`. */
  readonly description: string;
  /** Closes the broker, then the stores; closes both even when one fails. Idempotent. */
  close(): Promise<void>;
}

/**
 * Programmatic settings of the engines. Environment variables, where set, win over the fields
 * they name (configuration belongs to the deployment); everything else is taken from here.
 */
export interface EngineFromEnvOptions {
  /** Given to the adapters as `logger.child({ component })`. Default: each adapter's own default. */
  readonly logger?: Logger;
  /** Options of the embedded engine other than its directory (with `relayThread`, pass the engine's `relayHost` to `createApp`). */
  readonly embedded?: Omit<SqliteEngineOptions, 'dataDir'>;
  /** Options of the Kafka broker (`brokers` always comes from `HERALD_KAFKA_BROKERS`). */
  readonly kafka?: Omit<KafkaBrokerOptions, 'brokers'>;
  /** Options of the PostgreSQL stores (the connection always comes from `DATABASE_URL`). */
  readonly postgres?: Omit<PgStoresOptions, 'connectionString' | 'pool'>;
}

/**
 * Opens the engine the environment asks for: the embedded SQLite engine in `HERALD_DATA_DIR`
 * (default `./.herald`) unless `HERALD_KAFKA_BROKERS` and `DATABASE_URL` are both set, then Kafka
 * as the broker and PostgreSQL for the stores. The same app code runs on either; only
 * configuration changes. Variables are listed in {@link ENGINE_ENV_VARS} and the package README.
 *
 * Contract: the configuration is validated before anything opens (`invalid-options` naming the
 * variable, see {@link readEngineConfig}). Adapters are imported on demand, so the embedded engine
 * never loads kafkajs or pg, and the Kafka + PostgreSQL engine never loads better-sqlite3.
 * Opening connects nothing yet: Kafka and PostgreSQL are reached on first use (PostgreSQL's
 * Herald tables are migrated then). `createApp(...).close()` closes the broker and stores it was
 * given; `engine.close()` does the same for an engine used without an app. Both are idempotent.
 *
 * @example
 * const engine = await engineFromEnv();
 * const app = createApp({ broker: engine.broker, stores: engine.stores, events: [OrderPlaced] });
 * await app.start();
 */
export async function engineFromEnv(env: EngineEnv = process.env, options: EngineFromEnvOptions = {}): Promise<Engine> {
  return openEngine(readEngineConfig(env), options);
}

/**
 * Opens an engine from an {@link EngineConfig} (as {@link readEngineConfig} returns it, or built in
 * code). A PostgreSQL connection string that is not a `postgres://` URL is refused with
 * `invalid-options` (not repeating it) before anything opens, and so is a `dataDir` starting with
 * `~` or holding a `$`; a relative `dataDir` is resolved against the working directory. If an
 * adapter fails to open, those opened before it are closed again, awaited, before its error is
 * thrown; a close that fails too is logged on `options.logger` (without one: on stderr for Kafka,
 * not at all for the embedded log, whose default logger is silent) and the opening error is still
 * the one thrown.
 */
export function openEngine(config: EngineConfig, options: EngineFromEnvOptions = {}): Promise<Engine> {
  return config.kind === 'embedded' ? openEmbedded(config, options) : openKafkaPostgres(config, options);
}

async function openEmbedded(config: EmbeddedEngineConfig, options: EngineFromEnvOptions): Promise<Engine> {
  // a configuration built in code may hold a relative or unexpanded path: the same rules as HERALD_DATA_DIR
  const dataDir = dataDirectory(config.dataDir, 'dataDir');
  const { openSqliteEngine } = await import('@herald/sqlite');
  const child = (component: string) => (options.logger ? { logger: options.logger.child({ component }) } : {});
  // the async opener: when the stores fail to open, the log it opened is closed before the error reaches us
  const engine = await openSqliteEngine({
    ...options.embedded,
    dataDir,
    log: { ...child('log'), ...options.embedded?.log },
    stores: { ...child('stores'), ...options.embedded?.stores },
  });
  return {
    kind: 'embedded',
    broker: engine.broker,
    stores: engine.stores,
    ...(engine.relayHost ? { relayHost: engine.relayHost } : {}),
    description: `embedded (${dataDir})`,
    close: () => engine.close(),
  };
}

async function openKafkaPostgres(config: KafkaPostgresEngineConfig, options: EngineFromEnvOptions): Promise<Engine> {
  const [{ kafkaBroker, KAFKA_DEFAULTS }, { pgStores }] = await Promise.all([import('@herald/kafka'), import('@herald/postgres')]);
  const { kafka, postgres } = config;
  // everything that can refuse the configuration runs before the first adapter opens
  const database = postgresUrl(postgres.connectionString, 'postgres.connectionString');
  const description = `kafka (${kafka.brokers.join(',')}) + postgresql (${describePostgresUrl(database)})`;
  const group = kafkaGroupSettings(kafka.group, options.kafka?.group, KAFKA_DEFAULTS.group);
  const broker = kafkaBroker({
    ...(options.logger ? { logger: options.logger.child({ component: 'kafka' }) } : {}),
    ...options.kafka,
    // definedOnly: a configuration built in code may say `clientId: undefined`; that is no override
    ...definedOnly(kafka),
    brokers: kafka.brokers,
    group,
    fetch: { ...options.kafka?.fetch, ...definedOnly(kafka.fetch ?? {}) },
  });
  let stores: Stores<SqlTx>;
  try {
    stores = pgStores({ ...(options.logger ? { logger: options.logger.child({ component: 'postgres' }) } : {}), ...options.postgres, ...definedOnly(postgres) });
  } catch (error) {
    // the caller must see why it has no engine: a failing close is logged, not thrown over it
    await broker.close().catch((closeError: unknown) => {
      const logger = options.logger ?? jsonLogger({ fields: { component: 'engine' } });
      logger.error('engine: closing the Kafka broker after the PostgreSQL stores failed to open failed too; the opening error is the one thrown', { error: closeError, openError: error });
    });
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    kind: 'kafka-postgres',
    broker,
    stores,
    description,
    close() {
      closing ??= (async () => {
        // the stores close even when the broker fails to; the first failure is thrown, a second logged
        const results = await Promise.allSettled([broker.close()]);
        results.push(...(await Promise.allSettled([stores.close()])));
        const [first, second] = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
        if (second !== undefined) {
          const logger = options.logger ?? jsonLogger({ fields: { component: 'engine' } });
          logger.error("engine: closing the PostgreSQL stores failed too, after the Kafka broker's close failed; the broker's error is the one thrown", { error: second, brokerError: first });
        }
        if (first !== undefined) throw first;
      })();
      return closing;
    },
  };
}
