import { isIPv6 } from 'node:net';
import { resolve } from 'node:path';
import type { KafkaBrokerOptions, KafkaSaslOptions } from '@herald/kafka';
import type { PgStoresOptions } from '@herald/postgres';
import { boolean, integer, invalidEnv, oneOf, text, type EngineEnv } from './env.js';
import { RUNTIME_ENV_VARS } from './runtimeVariables.js';
import { refuseUnknownVariables, type KnownVariables } from './unknownVariables.js';

/** Which engine runs the app. */
export type EngineKind = 'embedded' | 'kafka-postgres';

/** The embedded engine: the SQLite log and stores in one directory. */
export interface EmbeddedEngineConfig {
  readonly kind: 'embedded';
  /**
   * `HERALD_DATA_DIR`, default `./.herald`, made absolute against the working directory when read:
   * processes started from different directories (`npm -w`) open one place only when it says so.
   */
  readonly dataDir: string;
}

/** Kafka settings read from the environment (the rest of the broker's options keep their defaults). */
export type KafkaEnvSettings = Pick<KafkaBrokerOptions, 'brokers' | 'clientId' | 'ssl' | 'sasl' | 'compression' | 'group' | 'fetch'>;

/** PostgreSQL settings read from the environment. */
export type PostgresEnvSettings = Required<Pick<PgStoresOptions, 'connectionString'>> & Pick<PgStoresOptions, 'poolSize'>;

/** Kafka as the broker, PostgreSQL for the stores. */
export interface KafkaPostgresEngineConfig {
  readonly kind: 'kafka-postgres';
  readonly kafka: KafkaEnvSettings;
  readonly postgres: PostgresEnvSettings;
}

/** What {@link readEngineConfig} found: one engine and its settings. */
export type EngineConfig = EmbeddedEngineConfig | KafkaPostgresEngineConfig;

/** Names of every variable engine selection reads, in one place (also documented in the package README). */
export const ENGINE_ENV_VARS = {
  /** Embedded engine: directory of `log.db` and `store.db`, made absolute against the working directory. Default `./.herald`. */
  dataDir: 'HERALD_DATA_DIR',
  /** Kafka bootstrap servers, comma-separated `host:port` (an IPv6 address in brackets: `[::1]:9092`). With `DATABASE_URL`, selects Kafka + PostgreSQL. */
  kafkaBrokers: 'HERALD_KAFKA_BROKERS',
  /** `postgres://` or `postgresql://` URL. With `HERALD_KAFKA_BROKERS`, selects Kafka + PostgreSQL. */
  databaseUrl: 'DATABASE_URL',
  /** Client id sent to the brokers. Default `herald`. */
  kafkaClientId: 'HERALD_KAFKA_CLIENT_ID',
  /** `true` or `false`: TLS with Node's default trust store. Default `false`. */
  kafkaSsl: 'HERALD_KAFKA_SSL',
  /** `plain`, `scram-sha-256` or `scram-sha-512`; needs the username and password too. */
  kafkaSaslMechanism: 'HERALD_KAFKA_SASL_MECHANISM',
  /** SASL user name. */
  kafkaSaslUsername: 'HERALD_KAFKA_SASL_USERNAME',
  /** SASL password (taken as is, spaces included; never echoed in errors). */
  kafkaSaslPassword: 'HERALD_KAFKA_SASL_PASSWORD',
  /** `none` or `gzip` for produced batches. Default `none`. */
  kafkaCompression: 'HERALD_KAFKA_COMPRESSION',
  /** Consumer session timeout, ms: how soon a dead member's partitions move. Default 30 000. */
  kafkaSessionTimeoutMs: 'HERALD_KAFKA_SESSION_TIMEOUT_MS',
  /** Consumer heartbeat period, ms, below the session timeout. Default 3 000. */
  kafkaHeartbeatIntervalMs: 'HERALD_KAFKA_HEARTBEAT_INTERVAL_MS',
  /** How long a rebalance waits for members to rejoin, ms. Default 60 000. */
  kafkaRebalanceTimeoutMs: 'HERALD_KAFKA_REBALANCE_TIMEOUT_MS',
  /** Longest the broker holds an empty fetch, ms (0 allowed). Default 500. */
  kafkaFetchMaxWaitMs: 'HERALD_KAFKA_FETCH_MAX_WAIT_MS',
  /** PostgreSQL connections per process. Default 10. */
  pgPoolSize: 'HERALD_PG_POOL_SIZE',
} as const;

/** `HERALD_DATA_DIR` when unset. */
export const DEFAULT_DATA_DIR = './.herald';

const V = ENGINE_ENV_VARS;
const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
const COMPRESSIONS = ['none', 'gzip'] as const;
const HOUR_MS = 3_600_000;
/** Kafka variables that mean nothing without `HERALD_KAFKA_BROKERS`. */
const KAFKA_ONLY = Object.values(V).filter((name) => name.startsWith('HERALD_KAFKA_') && name !== V.kafkaBrokers);
/**
 * What {@link refuseUnknownVariables} holds the environment against. The namespaces are the
 * engine's own: no other Herald package and no example reads `HERALD_KAFKA_*`, `HERALD_PG_*`,
 * `HERALD_POSTGRES_*` or `HERALD_ENGINE*`. Other `HERALD_*` names are left alone unless they are a
 * typo of one of the engine's: the runtime settings check their own, and the examples
 * (`HERALD_INSTANCE_ID`, `HERALD_LOG_PRETTY`) and the benchmarks (`HERALD_BENCH_*`) read theirs.
 */
const KNOWN: KnownVariables = {
  known: Object.values(V),
  namespace: /^HERALD_(KAFKA|PG|POSTGRES|POSTGRESQL)_|^HERALD_ENGINE(_|$)/,
  reader: 'engine selection',
  others: Object.values(RUNTIME_ENV_VARS),
  invalid: invalidEnv,
  explain: (name) =>
    /^HERALD_ENGINE(_|$)/.test(name)
      ? `the engine follows from ${V.kafkaBrokers} and ${V.databaseUrl}: both set for Kafka + PostgreSQL, neither for the embedded engine in ${V.dataDir}`
      : undefined,
};

/**
 * Reads and validates the engine configuration from environment variables, without opening
 * anything (no adapter is loaded; only the working directory is read, to make the data directory
 * absolute). The embedded engine is the default; the Kafka + PostgreSQL engine is chosen when
 * `HERALD_KAFKA_BROKERS` and `DATABASE_URL` are both set.
 *
 * Contract: empty values count as unset. Throws `invalid-options` (a `HeraldError`) naming the
 * variable when a value is malformed, when only one of `HERALD_KAFKA_BROKERS` / `DATABASE_URL` is
 * set, when a Kafka or PostgreSQL tuning variable is set for the embedded engine, or when SASL is
 * half configured. Also when a variable it does not read is set in its namespaces (`HERALD_KAFKA_*`,
 * `HERALD_PG_*`, `HERALD_POSTGRES_*`, `HERALD_ENGINE`) or within a typo of one it reads
 * (`HERALD_DATADIR`), naming the closest known one: such a setting would be silently ignored.
 * `HERALD_DATA_DIR` is returned absolute, and refused when it starts with `~` or holds a `$` (no
 * shell expanded it). Secrets (passwords) never appear in messages.
 *
 * @example
 * readEngineConfig({ HERALD_KAFKA_BROKERS: 'kafka:9092', DATABASE_URL: 'postgres://app@db/app' }).kind; // 'kafka-postgres'
 */
export function readEngineConfig(env: EngineEnv): EngineConfig {
  refuseUnknownVariables(env, KNOWN);
  const brokers = text(env, V.kafkaBrokers);
  const databaseUrl = text(env, V.databaseUrl);
  if (brokers === undefined && databaseUrl === undefined) {
    const stray = [...KAFKA_ONLY, V.pgPoolSize].filter((name) => text(env, name) !== undefined);
    if (stray.length > 0) {
      throw invalidEnv(`${stray.join(', ')} ${stray.length === 1 ? 'is' : 'are'} set, but the embedded engine is selected (set ${V.kafkaBrokers} and ${V.databaseUrl} for Kafka + PostgreSQL)`);
    }
    return { kind: 'embedded', dataDir: dataDirectory(text(env, V.dataDir) ?? DEFAULT_DATA_DIR, V.dataDir) };
  }
  if (brokers === undefined || databaseUrl === undefined) {
    const [given, missing] = brokers === undefined ? [V.databaseUrl, V.kafkaBrokers] : [V.kafkaBrokers, V.databaseUrl];
    throw invalidEnv(
      `${given} is set but ${missing} is not: the Kafka + PostgreSQL engine needs both (unset ${given} to use the embedded engine in ${V.dataDir})`,
    );
  }
  const kafka = readKafka(env, brokers);
  postgresUrl(databaseUrl, V.databaseUrl);
  // definedOnly: an unset HERALD_PG_POOL_SIZE must leave no `poolSize: undefined` to overwrite the caller's option
  const postgres = definedOnly({ connectionString: databaseUrl, poolSize: integer(env, V.pgPoolSize, { min: 1, max: 1000 }) }) as PostgresEnvSettings;
  return { kind: 'kafka-postgres', kafka, postgres };
}

function readKafka(env: EngineEnv, brokersValue: string): KafkaEnvSettings {
  const brokers = brokersValue.split(',').map((b) => b.trim()).filter((b) => b.length > 0);
  if (brokers.length === 0) throw invalidEnv(`${V.kafkaBrokers} must list at least one host:port`);
  for (const broker of brokers) {
    const port = bootstrapPort(broker);
    if (port === undefined || Number(port) < 1 || Number(port) > 65_535) refuseBroker(broker);
  }
  const sessionTimeoutMs = integer(env, V.kafkaSessionTimeoutMs, { min: 1, max: HOUR_MS });
  const heartbeatIntervalMs = integer(env, V.kafkaHeartbeatIntervalMs, { min: 1, max: HOUR_MS });
  refuseSlowHeartbeat({ sessionTimeoutMs, heartbeatIntervalMs });
  return definedOnly({
    brokers,
    clientId: text(env, V.kafkaClientId),
    ssl: boolean(env, V.kafkaSsl),
    sasl: readSasl(env),
    compression: oneOf(env, V.kafkaCompression, COMPRESSIONS),
    group: nonEmpty(
      definedOnly({
        sessionTimeoutMs,
        heartbeatIntervalMs,
        rebalanceTimeoutMs: integer(env, V.kafkaRebalanceTimeoutMs, { min: 1, max: HOUR_MS }),
      }),
    ),
    fetch: nonEmpty(definedOnly({ maxWaitMs: integer(env, V.kafkaFetchMaxWaitMs, { min: 0, max: 60_000 }) })),
  }) as KafkaEnvSettings;
}

/** The port of a bootstrap server `host:port` or `[IPv6 address]:port`, undefined when it is neither. */
function bootstrapPort(broker: string): string | undefined {
  const v6 = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/.exec(broker);
  if (v6) return isIPv6(v6[1]!) ? v6[2] : undefined;
  return /^[^\s:/[\]]+:(\d{1,5})$/.exec(broker)?.[1];
}

function refuseBroker(broker: string): never {
  // `user:password@host:port` or a URL with credentials: the error must not carry them into a log
  const at = broker.lastIndexOf('@');
  if (at >= 0) {
    const credentials = `credentials go in ${V.kafkaSaslMechanism}, ${V.kafkaSaslUsername} and ${V.kafkaSaslPassword}`;
    throw invalidEnv(`${V.kafkaBrokers} must be comma-separated host:port pairs, got "...${broker.slice(at)}" (${credentials})`);
  }
  // an IPv6 address without brackets cannot be told from its port
  if (!broker.startsWith('[') && broker.split(':').length > 2 && !broker.includes('/')) {
    throw invalidEnv(`${V.kafkaBrokers} holds "${broker}", an IPv6 address without brackets: write it [address]:port, as [::1]:9092`);
  }
  throw invalidEnv(`${V.kafkaBrokers} must be comma-separated host:port pairs, got "${broker}"`);
}

/**
 * The consumer group settings the Kafka broker gets: the environment's over the code's. A heartbeat
 * interval at or above the session timeout is refused here, naming the variable that made it so
 * (the broker would name only its own option), with what the other value is and where it came from.
 */
export function kafkaGroupSettings(
  fromEnv: KafkaEnvSettings['group'],
  fromCode: KafkaBrokerOptions['group'],
  defaults: { readonly sessionTimeoutMs: number; readonly heartbeatIntervalMs: number },
): NonNullable<KafkaBrokerOptions['group']> {
  refuseSlowHeartbeat(fromEnv ?? {}, fromCode ?? {}, defaults);
  return { ...fromCode, ...definedOnly(fromEnv ?? {}) };
}

type HeartbeatSettings = { readonly sessionTimeoutMs?: number | undefined; readonly heartbeatIntervalMs?: number | undefined };

/** Refuses a heartbeat at or above the session timeout when a variable set either (values not given by the environment come from the code, else `defaults`). */
function refuseSlowHeartbeat(fromEnv: HeartbeatSettings, fromCode: HeartbeatSettings = {}, defaults?: Required<HeartbeatSettings>): void {
  if (fromEnv.sessionTimeoutMs === undefined && fromEnv.heartbeatIntervalMs === undefined) return;
  const value = (name: keyof HeartbeatSettings, variable: string, what: string): { value: number; said: string } | undefined => {
    const env = fromEnv[name];
    if (env !== undefined) return { value: env, said: `${variable} (${env})` };
    const code = fromCode[name];
    const fallback = code ?? defaults?.[name];
    if (fallback === undefined) return undefined;
    return { value: fallback, said: `the ${what} (${fallback}, ${code !== undefined ? 'set in code' : 'the default'}; ${variable} sets it)` };
  };
  const heartbeat = value('heartbeatIntervalMs', V.kafkaHeartbeatIntervalMs, 'heartbeat interval');
  const session = value('sessionTimeoutMs', V.kafkaSessionTimeoutMs, 'session timeout');
  if (heartbeat && session && heartbeat.value >= session.value) throw invalidEnv(`${heartbeat.said} must be below ${session.said}`);
}

/** SASL needs all three of mechanism, username and password, or none of them. */
function readSasl(env: EngineEnv): KafkaSaslOptions | undefined {
  const mechanism = oneOf(env, V.kafkaSaslMechanism, SASL_MECHANISMS);
  const username = text(env, V.kafkaSaslUsername);
  // a password may legitimately start or end with spaces: only emptiness counts as unset
  const password = env[V.kafkaSaslPassword] ? env[V.kafkaSaslPassword] : undefined;
  const given = [mechanism, username, password].filter((v) => v !== undefined).length;
  if (given === 0) return undefined;
  if (given < 3) {
    throw invalidEnv(`SASL needs ${V.kafkaSaslMechanism}, ${V.kafkaSaslUsername} and ${V.kafkaSaslPassword} together; missing ${[
      mechanism === undefined ? V.kafkaSaslMechanism : undefined,
      username === undefined ? V.kafkaSaslUsername : undefined,
      password === undefined ? V.kafkaSaslPassword : undefined,
    ]
      .filter(Boolean)
      .join(', ')}`);
  }
  return { mechanism: mechanism!, username: username!, password: password! };
}

/**
 * Parses a `postgres://` or `postgresql://` URL. The error names `name` and never repeats the value
 * (it may hold a password), nor carries `URL`'s own error, whose `input` is the whole value.
 */
export function postgresUrl(value: string, name: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalidEnv(`${name} is not a URL (expected postgres://user:password@host:5432/database)`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw invalidEnv(`${name} must start with postgres:// or postgresql://, got "${url.protocol}//..."`);
  }
  return url;
}

/**
 * `value` as the absolute directory the embedded engine opens, resolved once against the working
 * directory, so the engine, its relay thread and every log line name the same place. Refuses with
 * `invalid-options` naming `name` a value that still holds shell syntax: a `~` at the start or a
 * `$NAME`, `${...}` or `$(...)` anywhere means no shell expanded it (quoted, or written in a file
 * no shell reads), and Node does not either, so it would become a directory literally named `~` or
 * `$HOME` here. A `$` no shell would expand (`/srv/price$/data`) is taken.
 */
/** A shell variable or substitution no shell expanded: `$HOME`, `${XDG_DATA_HOME}`, `$(pwd)`. */
const SHELL_VARIABLE = /\$(?:[A-Za-z_{(])/;

export function dataDirectory(value: string, name: string): string {
  if (value.length === 0) throw invalidEnv(`${name} must be a directory path, got an empty string`);
  if (value.startsWith('~') || SHELL_VARIABLE.test(value)) {
    const syntax = value.startsWith('~') ? '"~"' : '"$"';
    throw invalidEnv(`${name} is "${value}": no shell expanded its ${syntax} (the value was quoted, or set where no shell reads it) and Herald does not; write the path out, e.g. /var/lib/herald`);
  }
  return resolve(value);
}

/** Where a PostgreSQL URL points, for logs: `host:port/database`, no user, no password, no query. */
export function describePostgresUrl(url: URL): string {
  return `${url.host || 'local socket'}${url.pathname}`;
}

/** `value` without its undefined fields, so that spreading it never overwrites a field with undefined. */
export function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function nonEmpty<T extends object>(value: T): T | undefined {
  return Object.keys(value).length > 0 ? value : undefined;
}
