import { runtimeSettings, selectServices, settingsFrom, type RuntimeSettings } from '@herald/engine';

/**
 * Seed 002's services; `all` runs every one in one process. `api` is the HTTP front of the
 * publishing services (auth, artist, content, comment) and of the query sides; the others consume.
 */
export const SERVICES = ['api', 'content', 'comment', 'search', 'notification'] as const;
/** One of {@link SERVICES}. */
export type Service = (typeof SERVICES)[number];

/** Everything the example reads from its environment, with defaults filled in. */
export interface ContentPlatformConfig {
  /** Which services this process runs (`--service a,b`, or `HERALD_SERVICE`; default all). */
  readonly services: readonly Service[];
  /** `PORT`, default 8080 (0 picks a free port). */
  readonly port: number;
  /** `HOST`, default 127.0.0.1 (0.0.0.0 in a container). */
  readonly host: string;
  /** `SEARCH_INDEX_GENERATION`: raise it by one to rebuild the search index from the log. Default 1. */
  readonly searchIndexGeneration: number;
  /** Herald's own variables (`HERALD_RETRY_*`, the relay's lease and chaos, deadlines, log level, `METRICS_PORT`…): see `runtimeSettings`. */
  readonly runtime: RuntimeSettings;
}

/**
 * Reads the example's configuration from `env` and the command line. Throws `invalid-options`
 * naming the variable on a bad value. The engine (embedded in `HERALD_DATA_DIR`, or Kafka +
 * PostgreSQL) is chosen by `engineFromEnv` from `@herald/engine`, not here.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, argv: readonly string[] = process.argv.slice(2)): ContentPlatformConfig {
  const read = settingsFrom(env);
  return {
    services: selectServices(SERVICES, argv, env),
    port: read.integer('PORT', 8080, 0, 65_535),
    host: read.text('HOST', '127.0.0.1'),
    searchIndexGeneration: read.integer('SEARCH_INDEX_GENERATION', 1, 1, 1_000_000),
    runtime: runtimeSettings(env),
  };
}
