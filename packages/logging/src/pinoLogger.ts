import { CoreErrors, HeraldError } from '@herald/core';
import type { Logger, LogLevel } from '@herald/core';
import pino from 'pino';
import { prettyLines, type LineSink } from './pretty.js';
import { withSerializedErrors } from './serializeError.js';

/** Options of {@link pinoLogger}; every one has a default. */
export interface PinoLoggerOptions {
  /** Lowest level written. Default: `HERALD_LOG_LEVEL`, else `info`. */
  readonly level?: LogLevel;
  /** Fields on every line, e.g. `{ service: 'orders' }`. */
  readonly fields?: Readonly<Record<string, unknown>>;
  /**
   * Readable lines instead of JSON: `true`, `false`, or `'auto'` (the default): when the
   * destination is a terminal. `HERALD_LOG_PRETTY=1` or `0` decides in place of `'auto'`.
   */
  readonly pretty?: boolean | 'auto';
  /** Colors in readable lines. Default: when the destination is a terminal and `NO_COLOR` is unset. */
  readonly colors?: boolean;
  /** Where lines go: a file descriptor (default 2, stderr, written synchronously) or anything with `write`. */
  readonly destination?: number | (LineSink & { readonly isTTY?: boolean });
}

/** A Herald logger on pino, with the pino instance under it. */
export interface PinoLogger extends Logger {
  readonly pino: pino.Logger;
}

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

/**
 * A logger implementing the core's `Logger` port on pino: one JSON object per line (`level` as a
 * name, `time` in ISO 8601, the logger's fields, the line's fields, `msg`), on stderr by default.
 * Errors anywhere among a line's fields are written whole: name, message, code and the rest of
 * their own properties, stack, and their `cause` chain (see `serializeError`). In a terminal, or
 * with `pretty: true`, lines are written for people instead (see `prettyLines`). Give it to
 * `createApp({ logger })` and the HTTP gateway logs through it too (fastify included), with each
 * request's request id, correlation id and trace id.
 *
 * @example
 * const logger = pinoLogger({ fields: { service: 'orders' } });
 * const app = createApp({ ...engine, logger });
 * logger.error('payment failed', { orderId, error }); // error.cause chain kept
 */
export function pinoLogger(options: PinoLoggerOptions = {}): PinoLogger {
  const level = options.level ?? envLevel();
  if (!LEVELS.includes(level)) throw invalid(`pinoLogger: level must be one of ${LEVELS.join(', ')}, got ${JSON.stringify(level)}`);
  const target = options.destination ?? 2;
  const terminal = typeof target === 'number' ? isTerminal(target) : target.isTTY === true;
  const pretty = options.pretty === undefined || options.pretty === 'auto' ? (envPretty() ?? terminal) : options.pretty;
  const sink = typeof target === 'number' && !pretty ? pino.destination({ fd: target, sync: true }) : streamOf(target);
  const destination = pretty ? prettyLines(sink, { colors: options.colors ?? (terminal && !process.env['NO_COLOR']) }) : sink;
  const instance = pino(
    {
      level,
      base: { ...options.fields },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }), log: withSerializedErrors },
    },
    destination as pino.DestinationStream,
  );
  return wrap(instance);
}

function wrap(instance: pino.Logger): PinoLogger {
  return {
    pino: instance,
    debug: (message, fields) => instance.debug(fields ?? {}, message),
    info: (message, fields) => instance.info(fields ?? {}, message),
    warn: (message, fields) => instance.warn(fields ?? {}, message),
    error: (message, fields) => instance.error(fields ?? {}, message),
    child: (fields) => wrap(instance.child(withSerializedErrors(fields))),
  };
}

function streamOf(target: number | LineSink): LineSink {
  if (typeof target !== 'number') return target;
  if (target === 1) return process.stdout;
  if (target === 2) return process.stderr;
  return pino.destination({ fd: target, sync: true });
}

function isTerminal(fd: number): boolean {
  if (fd === 1) return process.stdout.isTTY === true;
  if (fd === 2) return process.stderr.isTTY === true;
  return false;
}

function envLevel(): LogLevel {
  const value = process.env['HERALD_LOG_LEVEL'];
  return value !== undefined && (LEVELS as readonly string[]).includes(value) ? (value as LogLevel) : 'info';
}

function envPretty(): boolean | undefined {
  const value = process.env['HERALD_LOG_PRETTY']?.trim().toLowerCase();
  if (value === '1' || value === 'true') return true;
  if (value === '0' || value === 'false') return false;
  return undefined;
}

function invalid(message: string): HeraldError {
  return new HeraldError(CoreErrors.invalidOptions, message);
}
