import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  canBrowseDeadLetters,
  canInspect,
  canReadRecords,
  canResetOffsets,
  hasOutboxBacklog,
  HeraldError,
  jsonLogger,
  type Broker,
  type BrokerInspector,
  type DeadLetterBrowser,
  type DeadLetterStore,
  type LogLevel,
  type OffsetReset,
  type OutboxBacklog,
  type RecordReader,
  type SqlTx,
  type Stores,
} from '@herald/core';
import { engineFromEnv, readEngineConfig, ENGINE_ENV_VARS } from '@herald/engine';
import { CliErrors } from './errors.js';
import type { CliIo } from './io.js';

/** What commands run against: a broker and stores, as an app's engine provides them. */
export interface CliEngine {
  readonly broker: Broker;
  readonly stores: Stores<unknown>;
  /** Where it runs, without credentials. */
  readonly description: string;
  close(): Promise<void>;
}

/** Opens the engine commands run against (default: `engineFromEnv` on the CLI's environment). */
export type EngineOpener = (io: CliIo) => Promise<CliEngine>;

/** A command's view of the run: the io, output mode, and the engine opened on first use. */
export interface CliContext {
  readonly io: CliIo;
  /** `--json`: one JSON document (or JSON lines for `tail`) on stdout, for scripts. */
  readonly json: boolean;
  engine(): Promise<CliEngine>;
  inspector(): Promise<Broker & BrokerInspector>;
  reader(): Promise<Broker & RecordReader & BrokerInspector>;
  resetter(): Promise<Broker & OffsetReset & BrokerInspector>;
  deadLetters(): Promise<DeadLetterStore & DeadLetterBrowser>;
  outbox(): Promise<OutboxBacklog>;
  /** Closes the engine if it was opened. */
  close(): Promise<void>;
}

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

/**
 * The engine from the environment, as the app reads it (`HERALD_DATA_DIR`, or
 * `HERALD_KAFKA_BROKERS` + `DATABASE_URL`). Adapters log to stderr at `HERALD_LOG_LEVEL` (default
 * `error`: a command's output is its own). Where the configuration points at no Herald system, the
 * CLI refuses (`no-engine`) rather than create an empty one that would answer "nothing there" for
 * a mistyped path or URL: an embedded data directory without `log.db` or `store.db` (named as
 * resolved, since a relative one is read from where the command runs), or a PostgreSQL database
 * without Herald's schema (the CLI never migrates; the app does). The engine runs no housekeeping
 * of its own (retention sweeps, WAL checkpoints): those are the app's.
 */
export const openFromEnv: EngineOpener = async (io) => {
  const config = readEngineConfig(io.env);
  if (config.kind === 'embedded') {
    const missing = ENGINE_FILES.find((file) => !existsSync(join(config.dataDir, file)));
    if (missing) {
      throw new HeraldError(
        CliErrors.noEngine,
        `no Herald engine in ${resolve(config.dataDir)} (no ${missing} there): set ${ENGINE_ENV_VARS.dataDir} to the app's data directory, or ${ENGINE_ENV_VARS.kafkaBrokers} and ${ENGINE_ENV_VARS.databaseUrl} for Kafka + PostgreSQL`,
      );
    }
  }
  const wanted = io.env.HERALD_LOG_LEVEL?.trim().toLowerCase();
  const level: LogLevel = LEVELS.includes(wanted as LogLevel) ? (wanted as LogLevel) : 'error';
  const logger = jsonLogger({ level, write: (line) => io.stderr.write(line + '\n'), fields: { source: 'herald-cli' } });
  const engine = await engineFromEnv(io.env, {
    logger,
    kafka: { clientLogLevel: level },
    // housekeeping is the app's: the CLI knows neither its retention nor its checkpoints, and a
    // command left running (`tail`, a prompt) must not delete what the app keeps
    embedded: { log: { maintenance: false }, stores: { maintenance: false } },
    // nor its schema: migrating here would give a mistyped DATABASE_URL an empty Herald schema
    postgres: { maintenance: false, migrate: false },
  });
  if (config.kind === 'kafka-postgres') {
    try {
      await requireHeraldSchema(engine.stores, config.postgres.connectionString);
    } catch (error) {
      await engine.close().catch(() => {});
      throw error;
    }
  }
  return engine;
};

/** The embedded engine's files, both written by the app's first start. */
const ENGINE_FILES = ['log.db', 'store.db'] as const;

/** Refuses a PostgreSQL database that Herald never migrated (no `herald.schema_migrations`). */
async function requireHeraldSchema(stores: Stores<SqlTx>, connectionString: string): Promise<void> {
  const [row] = await stores.transaction((tx) => tx.query<{ present: boolean }>("SELECT to_regclass('herald.schema_migrations') IS NOT NULL AS present"));
  if (row?.present) return;
  const url = new URL(connectionString);
  throw new HeraldError(
    CliErrors.noEngine,
    `no Herald schema in the PostgreSQL database ${url.host || 'local socket'}${url.pathname} (no herald.schema_migrations table): set ${ENGINE_ENV_VARS.databaseUrl} to the app's database, which its first start migrated`,
  );
}

export function createContext(io: CliIo, options: { readonly json: boolean; readonly open: EngineOpener }): CliContext {
  let opened: Promise<CliEngine> | undefined;
  const engine = () => (opened ??= options.open(io));
  const missing = (what: string) => new HeraldError(CliErrors.notSupported, `this engine cannot ${what}`);

  return {
    io,
    json: options.json,
    engine,
    async inspector() {
      const { broker } = await engine();
      if (!canInspect(broker)) throw missing('inspect topics and groups (no BrokerInspector)');
      return broker;
    },
    async reader() {
      const { broker } = await engine();
      if (!canReadRecords(broker) || !canInspect(broker)) throw missing('read records outside a group (no RecordReader)');
      return broker;
    },
    async resetter() {
      const { broker } = await engine();
      if (!canResetOffsets(broker) || !canInspect(broker)) throw missing('reset offsets (no OffsetReset)');
      return broker;
    },
    async deadLetters() {
      const { stores } = await engine();
      if (!canBrowseDeadLetters(stores.deadLetters)) throw missing('browse dead letters (no DeadLetterBrowser)');
      return stores.deadLetters;
    },
    async outbox() {
      const { stores } = await engine();
      if (!hasOutboxBacklog(stores.outbox)) throw missing('measure the outbox backlog (no OutboxBacklog)');
      return stores.outbox;
    },
    async close() {
      if (!opened) return;
      const running = opened;
      opened = undefined;
      await (await running.catch(() => undefined))?.close();
    },
  };
}
