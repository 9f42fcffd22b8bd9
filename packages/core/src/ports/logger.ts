import { CoreErrors } from '../model/errorCodes.js';
import { HeraldError } from '../model/errors.js';
import { describeGiven } from '../model/given.js';
import { redactedCut } from './logging/largeValues.js';
import { describeThrown } from './logging/describeThrown.js';
import { renameReservedFields } from './logging/reservedFields.js';
import { jsonReadyFields } from './logging/serializeError.js';

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
 *
 * Fields are written as `@herald/logging` writes them (see {@link jsonReadyFields}): errors
 * anywhere among them (in plain objects and arrays too) whole, with their own properties (a
 * Herald error's `code`, `retriable`, `details`), stack, `cause` chain and an `AggregateError`'s
 * `errors`; credentials, in the fields, the logger's and its children's fields and the message
 * alike, as `"[redacted]"` (see `redactText`); binary as `[binary: N bytes]`, and the message, a
 * string field over 32 KB or an array (a Map, a Set) over 1,000 items cut with a marker of what was left out
 * (log backends cap a line). A child's fields are made ready once, when
 * it is made. A field named `time`, `level` or `msg` is written `fields.time` (and so on), so a
 * line keeps its own. Writing a line never throws over its data: data more than 8 levels down is
 * written `"[too deep]"`, a value that cannot be read `"[unreadable: why]"`, a BigInt as its digits
 * in a string, and a line JSON refuses whole (a `toJSON` that throws) without its fields, saying why.
 *
 * @example
 * const logger = jsonLogger({ fields: { service: 'orders' } });
 * logger.error('payment failed', { orderId, error }); // error.cause chain kept, credentials redacted
 */
export function jsonLogger(
  options: { level?: LogLevel; fields?: Record<string, unknown>; write?: (line: string) => void } = {},
): Logger {
  const threshold = options.level === undefined ? logLevelFromEnv() : checkedLevel(options.level);
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  return lineLogger({ min: RANK[threshold], write }, childFields(options.fields ?? {}));
}

interface LineSink {
  readonly min: number;
  readonly write: (line: string) => void;
}

/** A logger writing to `sink` with `base`, already JSON-ready, on every line. */
function lineLogger(sink: LineSink, base: Record<string, unknown>): Logger {
  const log = (level: Exclude<LogLevel, 'silent'>) =>
    function writeLine(message: string, fields?: Record<string, unknown>): void {
      if (RANK[level] < sink.min) return;
      const time = new Date().toISOString();
      const msg = redactedCut(message);
      let line: string;
      try {
        const ready = fields === undefined ? undefined : jsonReadyFields(renameReservedFields(fields, WRITTEN));
        line = lineJson({ time, level, msg, ...base, ...ready });
      } catch (error) {
        // the fields themselves could not be read (a getter on the object passed): the line is written without them
        line = JSON.stringify({ time, level, msg, logError: `fields not written: ${describeThrown(error)}` });
      }
      sink.write(line);
    };
  return {
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    child: (fields) => lineLogger(sink, { ...base, ...childFields(fields) }),
  };
}

/** A child's fields, ready once; never throws (a logger is made where work is set up, and must not fail it). */
function childFields(fields: Record<string, unknown>): Record<string, unknown> {
  try {
    return jsonReadyFields(renameReservedFields(fields, WRITTEN));
  } catch (error) {
    return { logError: `child fields not written: ${describeThrown(error)}` };
  }
}

/** Keys the logger writes on every line: a field named so is written `fields.<key>` (see {@link renameReservedFields}). */
const WRITTEN = ['time', 'level', 'msg'] as const;

/** `line` as JSON: plain `JSON.stringify` (no replacer, the fast path), else {@link safeJson} for the rare line it refuses. */
function lineJson(line: Record<string, unknown>): string {
  try {
    return JSON.stringify(line);
  } catch {
    return safeJson(line);
  }
}

/**
 * `line` as JSON where plain `JSON.stringify` throws: a cycle deeper than `jsonReadyFields`
 * walks (`"[circular]"`), a BigInt (its digits, as a string), else, say a `toJSON` that throws,
 * the line's time, level and message and why its fields are missing.
 */
function safeJson(line: Record<string, unknown>): string {
  const ancestors: unknown[] = [];
  try {
    return JSON.stringify(line, function ancestry(this: unknown, _key: string, value: unknown): unknown {
      if (typeof value === 'bigint') return value.toString();
      if (typeof value !== 'object' || value === null) return value;
      // `this` holds `value`: whatever was entered after it has been left
      while (ancestors.length > 0 && ancestors[ancestors.length - 1] !== this) ancestors.pop();
      if (ancestors.includes(value)) return '[circular]';
      ancestors.push(value);
      return value;
    });
  } catch (error) {
    const { time, level, msg } = line;
    return JSON.stringify({ time, level, msg, logError: `fields not written: ${describeThrown(error)}` });
  }
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
