import { CoreErrors } from '../model/errorCodes.js';
import { HeraldError } from '../model/errors.js';
import { describeGiven } from '../model/given.js';

/** Structured logging. Fields are merged into each line. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** A logger that adds `fields` to every line. */
  child(fields: Record<string, unknown>): Logger;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

/**
 * A logger writing one JSON object per line (`time`, `level`, `msg`, fields) to `write`
 * (stderr by default), dropping lines below `level` (default: `HERALD_LOG_LEVEL`, read once here,
 * else `info`). A level that is none of debug, info, warn, error or silent, given or in
 * `HERALD_LOG_LEVEL`, throws `invalid-options`: a typo would otherwise log at another level.
 */
export function jsonLogger(
  options: { level?: LogLevel; fields?: Record<string, unknown>; write?: (line: string) => void } = {},
): Logger {
  const threshold = options.level === undefined ? logLevelFromEnv() : checkedLevel(options.level);
  const min = RANK[threshold];
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const base = options.fields ?? {};
  const log = (level: Exclude<LogLevel, 'silent'>) => (message: string, fields?: Record<string, unknown>) => {
    if (RANK[level] < min) return;
    write(JSON.stringify({ time: new Date().toISOString(), level, msg: message, ...base, ...fields }, errorReplacer));
  };
  return {
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    child: (fields) => jsonLogger({ ...options, level: threshold, fields: { ...base, ...fields } }),
  };
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    return { name: value.name, message: value.message, code: (value as { code?: unknown }).code, stack: value.stack };
  }
  return value;
}

/** A logger that drops everything. */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};

const LEVELS = Object.keys(RANK).join(', ');

function checkedLevel(level: unknown): LogLevel {
  if (typeof level === 'string' && Object.hasOwn(RANK, level)) return level as LogLevel;
  throw new HeraldError(CoreErrors.invalidOptions, `jsonLogger: level must be one of ${LEVELS}, got ${describeGiven(level)}`);
}

/**
 * `HERALD_LOG_LEVEL` of `env` (default `process.env`): trimmed, any case; unset or empty means
 * `info`; anything else is `invalid-options`. Every logger Herald makes, the engine's settings and
 * the CLI read it so.
 */
export function logLevelFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): LogLevel {
  const raw = env['HERALD_LOG_LEVEL']?.trim();
  if (raw === undefined || raw === '') return 'info';
  const level = raw.toLowerCase();
  if (Object.hasOwn(RANK, level)) return level as LogLevel;
  throw new HeraldError(CoreErrors.invalidOptions, `HERALD_LOG_LEVEL must be one of ${LEVELS}, got "${raw}"`);
}
