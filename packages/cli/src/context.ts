import { closeSync, openSync, readSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  canBrowseDeadLetters,
  canInspect,
  canReadRecords,
  canResetOffsets,
  hasOutboxBacklog,
  HeraldError,
  isHeraldError,
  jsonLogger,
  logLevelFromEnv,
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
import { untilStopped, type CliIo } from './io.js';

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

/**
 * A command's view of the run: the io, output mode, and the engine opened on first use. Opening
 * it ends with `interrupted` as soon as the io's stop signal aborts, and so do the reads of every
 * view (`inspector`, `reader`, `resetter`, `outbox`): a read has nothing to finish, and one a broker
 * behind a black hole never answers must not hold Ctrl-C back.
 */
export interface CliContext {
  readonly io: CliIo;
  /** `--json`: one JSON document (or JSON lines for `tail`) on stdout, for scripts. */
  readonly json: boolean;
  engine(): Promise<CliEngine>;
  inspector(): Promise<BrokerInspector>;
  /** Its reads end with `interrupted` as soon as the stop signal aborts (`tail` then ends quietly). */
  reader(): Promise<RecordReader & Pick<BrokerInspector, 'describeTopics'>>;
  /**
   * Its reads end with `interrupted` as soon as the stop signal aborts; `resetOffsets`, a write, is
   * waited for (the broker bounds it), so a command says truly what it changed.
   */
  resetter(): Promise<OffsetReset & BrokerInspector>;
  deadLetters(): Promise<DeadLetterStore & DeadLetterBrowser>;
  outbox(): Promise<OutboxBacklog>;
  /**
   * Closes the engine if it was opened (or is opening). After a stop it waits at most
   * {@link CLOSE_AFTER_STOP_MS}, then leaves the close to run on its own (`io.abandon`).
   */
  close(): Promise<void>;
}

/** How long closing waits after a stop: a connect under way to a peer that does not answer may take far longer. */
const CLOSE_AFTER_STOP_MS = 1000;

/**
 * The engine from the environment, as the app reads it (`HERALD_DATA_DIR`, or
 * `HERALD_KAFKA_BROKERS` + `DATABASE_URL`). Adapters log to stderr at `HERALD_LOG_LEVEL` (default
 * `error`: a command's output is its own). Where the configuration points at no Herald system, the
 * CLI refuses (`no-engine`) rather than create an empty one that would answer "nothing there" for
 * a mistyped path or URL: an embedded data directory without `log.db` or `store.db`, or with one
 * that is no SQLite database (an empty file) or has no Herald tables (named as resolved, since a
 * relative one is read from where the command runs), a PostgreSQL database that does not exist or
 * has no Herald schema. The CLI never migrates, on either engine: the app does, and a newer CLI
 * must not upgrade an older app's schema (files at an older version are refused with
 * `store-not-migrated`). The engine runs no housekeeping of its own (retention sweeps, WAL
 * checkpoints): those are the app's.
 */
export const openFromEnv: EngineOpener = async (io) => {
  const config = readEngineConfig(io.env);
  const noEngine = (dataDir: string, why: string, cause?: unknown) =>
    new HeraldError(
      CliErrors.noEngine,
      `no Herald engine in ${resolve(dataDir)} (${why}): set ${ENGINE_ENV_VARS.dataDir} to the app's data directory, or ${ENGINE_ENV_VARS.kafkaBrokers} and ${ENGINE_ENV_VARS.databaseUrl} for Kafka + PostgreSQL`,
      cause === undefined ? undefined : { cause },
    );
  if (config.kind === 'embedded') {
    for (const file of ENGINE_FILES) {
      const problem = engineFileProblem(config.dataDir, file);
      if (problem) throw noEngine(config.dataDir, problem);
    }
  }
  // read as the app reads it (a value it would refuse is refused here too, not taken as unset)
  const asked = io.env.HERALD_LOG_LEVEL?.trim() ? logLevelFromEnv(io.env) : undefined;
  const level: LogLevel = asked ?? 'error';
  const logger = jsonLogger({ level, write: (line) => io.stderr.write(line + '\n'), fields: { source: 'herald-cli' } });
  const engine = await engineFromEnv(io.env, {
    logger,
    // the Kafka client logs every failed connect and retry (a stack among them) at `error`: the
    // command's own error says what failed, so its lines are shown only when asked for
    kafka: { clientLogLevel: asked ?? 'silent' },
    // housekeeping is the app's: the CLI knows neither its retention nor its checkpoints, and a
    // command left running (`tail`, a prompt) must not delete what the app keeps
    // nor its schema: migrating here would give a mistyped path or DATABASE_URL an empty Herald
    // schema, and a newer CLI would upgrade an older app's
    embedded: { log: { maintenance: false, migrate: false }, stores: { maintenance: false, migrate: false } },
    postgres: { maintenance: false, migrate: false },
  }).catch((error: unknown) => {
    if (config.kind !== 'embedded' || !isHeraldError(error) || error.code !== STORE_NOT_MIGRATED) throw error;
    const path = String(error.details?.path ?? '');
    const file = ENGINE_FILES.find((name) => path.endsWith(name)) ?? 'a file';
    if (error.details?.version === 0) throw noEngine(config.dataDir, `${file} there has no Herald tables`, error);
    throw new HeraldError(
      error.code,
      `the app's ${file} in ${resolve(config.dataDir)} has an older schema (version ${String(error.details?.version)}) than this herald knows (${String(error.details?.known)}), and the CLI never migrates: run the herald of the app's version, or start the app's new version first`,
      { cause: error, retriable: false, ...(error.details ? { details: error.details } : {}) },
    );
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
/** What the SQLite adapter says of a file without Herald's tables, or older ones, opened not to migrate. */
const STORE_NOT_MIGRATED = 'store-not-migrated';
/** The first 16 bytes of every SQLite database file. */
const SQLITE_HEADER = 'SQLite format 3\u0000';

/**
 * Why `file` in `dataDir` is no engine file, or undefined when it may be one (a SQLite database;
 * whether it holds Herald's tables is checked as it opens). Read without opening it as a database,
 * which would write to it: an empty file would become one.
 */
function engineFileProblem(dataDir: string, file: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(join(dataDir, file), 'r');
    const head = Buffer.alloc(SQLITE_HEADER.length);
    const read = readSync(fd, head, 0, head.length, 0);
    if (read === 0) return `${file} there is empty`;
    return head.toString('latin1', 0, read) === SQLITE_HEADER ? undefined : `${file} there is no SQLite database`;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `no ${file} there` : `${file} there cannot be read: ${code ?? (error as Error).message}`;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** PostgreSQL's SQLSTATE for a connection to a database that does not exist (`invalid_catalog_name`). */
const NO_SUCH_DATABASE = '3D000';

/**
 * Refuses a PostgreSQL database that does not exist, or that Herald never migrated (no
 * `herald.schema_migrations`): both are a `DATABASE_URL` that names no Herald system.
 */
async function requireHeraldSchema(stores: Stores<SqlTx>, connectionString: string): Promise<void> {
  const url = new URL(connectionString);
  const where = `${url.host || 'local socket'}${url.pathname}`;
  const [row] = await stores
    .transaction((tx) => tx.query<{ present: boolean }>("SELECT to_regclass('herald.schema_migrations') IS NOT NULL AS present"))
    .catch((error: unknown) => {
      if (!isHeraldError(error) || error.details?.sqlState !== NO_SUCH_DATABASE) throw error;
      throw new HeraldError(CliErrors.noEngine, `no PostgreSQL database ${where} (the server has none of that name): set ${ENGINE_ENV_VARS.databaseUrl} to the app's database`, { cause: error });
    });
  if (row?.present) return;
  throw new HeraldError(
    CliErrors.noEngine,
    `no Herald schema in the PostgreSQL database ${where} (no herald.schema_migrations table): set ${ENGINE_ENV_VARS.databaseUrl} to the app's database, which its first start migrated`,
  );
}

export function createContext(io: CliIo, options: { readonly json: boolean; readonly open: EngineOpener }): CliContext {
  let opened: Promise<CliEngine> | undefined;
  const engine = () => untilStopped(io, (opened ??= options.open(io)), 'opening the engine');
  const reading = <T>(work: Promise<T>, what: string) => untilStopped(io, work, `reading ${what}`);
  const missing = (what: string) => new HeraldError(CliErrors.notSupported, `this engine cannot ${what}`);

  return {
    io,
    json: options.json,
    engine,
    async inspector() {
      const { broker } = await engine();
      if (!canInspect(broker)) throw missing('inspect topics and groups (no BrokerInspector)');
      return {
        describeTopics: (topics) => reading(broker.describeTopics(topics), 'topics'),
        listGroups: () => reading(broker.listGroups(), 'consumer groups'),
        describeGroup: (group, options) => reading(broker.describeGroup(group, options), 'consumer groups'),
      };
    },
    async reader() {
      const { broker } = await engine();
      if (!canReadRecords(broker) || !canInspect(broker)) throw missing('read records outside a group (no RecordReader)');
      return {
        describeTopics: (topics) => reading(broker.describeTopics(topics), 'topics'),
        read: (range) => reading(broker.read(range), 'records'),
      };
    },
    async resetter() {
      const { broker } = await engine();
      if (!canResetOffsets(broker) || !canInspect(broker)) throw missing('reset offsets (no OffsetReset)');
      return {
        describeTopics: (topics) => reading(broker.describeTopics(topics), 'topics'),
        listGroups: () => reading(broker.listGroups(), 'consumer groups'),
        describeGroup: (group, options) => reading(broker.describeGroup(group, options), 'consumer groups'),
        resetOffsets: (reset) => broker.resetOffsets(reset),
      };
    },
    async deadLetters() {
      const { stores } = await engine();
      if (!canBrowseDeadLetters(stores.deadLetters)) throw missing('browse dead letters (no DeadLetterBrowser)');
      return stores.deadLetters;
    },
    async outbox() {
      const { stores } = await engine();
      const { outbox } = stores;
      if (!hasOutboxBacklog(outbox)) throw missing('measure the outbox backlog (no OutboxBacklog)');
      return { backlog: () => reading(outbox.backlog(), 'the outbox backlog') };
    },
    async close() {
      if (!opened) return;
      const running = opened;
      opened = undefined;
      const closing = running.then(
        (e) => e.close(),
        () => {},
      );
      if (!io.signal.aborted) return closing;
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), CLOSE_AFTER_STOP_MS)));
      try {
        if ((await Promise.race([closing, bound])) === 'late') {
          closing.catch(() => {});
          io.abandon?.();
        }
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
