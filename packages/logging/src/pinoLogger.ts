import { CoreErrors, HeraldError, logLevelFromEnv } from '@herald/core';
import type { Logger, LogLevel } from '@herald/core';
import pino from 'pino';
import { prettyLines, type LineSink } from './pretty.js';
import { bindingFields, bindingKey, lineFields, lineMessage } from './fields.js';

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
  /**
   * The pino instance under this logger, for code that takes a pino logger. Its lines are written
   * as this logger's are: the message (after pino's `%s` placeholders are filled) redacted and cut
   * past 32 KB, the fields and a child's bindings made ready (errors whole, credentials redacted,
   * pino's own keys renamed `fields.<key>`). A child given its own `serializers.msg` or
   * `formatters.log` replaces that.
   */
  readonly pino: pino.Logger;
}

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

/**
 * A logger implementing the core's `Logger` port on pino: one JSON object per line (`level` as a
 * name, `time` in ISO 8601, the logger's fields, the line's fields, `msg`), on stderr by default.
 * Each key is written once: a field named `level`, `time` or `msg` is written as `fields.level`
 * (and so on), and a field a child or a line gives again replaces the earlier value.
 * Errors anywhere among a line's fields (in plain objects and arrays too) are written whole: name,
 * message, code and the rest of their own properties, stack, and their `cause` chain (see
 * `serializeError`). In a terminal, or with `pretty: true`, lines are written for people instead
 * (see `prettyLines`). Give it to `createApp({ logger })` and the HTTP gateway logs through it too
 * (fastify included), with each request's request id, correlation id and trace id.
 *
 * @example
 * const logger = pinoLogger({ fields: { service: 'orders' } });
 * const app = createApp({ ...engine, logger });
 * logger.error('payment failed', { orderId, error }); // error.cause chain kept
 */
export function pinoLogger(options: PinoLoggerOptions = {}): PinoLogger {
  const level = options.level ?? logLevelFromEnv();
  if (!LEVELS.includes(level)) throw invalid(`pinoLogger: level must be one of ${LEVELS.join(', ')}, got ${JSON.stringify(level)}`);
  const target = options.destination ?? 2;
  const terminal = typeof target === 'number' ? isTerminal(target) : target.isTTY === true;
  const pretty = options.pretty === undefined || options.pretty === 'auto' ? (envPretty() ?? terminal) : options.pretty;
  const sink = typeof target === 'number' && !pretty ? pino.destination({ fd: target, sync: true }) : streamOf(target);
  const destination = pretty ? prettyLines(sink, { colors: options.colors ?? (terminal && !process.env['NO_COLOR']) }) : sink;
  const root = pino(
    {
      level,
      // no pid or hostname; the logger's own fields are bound like a child's, so a child can replace them
      base: null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }), log: lineFields },
      // errors are already serialized by `lineFields`: pino's `err` serializer would redo it and drop the causes;
      // pino applies a serializer named like its message key to the message, once formatted: the
      // one place a message is redacted, on this logger's lines and on `logger.pino`'s alike
      serializers: { err: (value: unknown) => value, msg: lineMessage },
    },
    destination as pino.DestinationStream,
  );
  const chain: Chain = { root, bound: {}, spawn: readyChildren(root) };
  return options.fields === undefined ? wrap(root, chain) : bind(root, chain, options.fields);
}

type Method = 'debug' | 'info' | 'warn' | 'error';

/** The pino logger every Herald logger here derives from, and the fields bound so far, under the names they are written with. */
interface Chain {
  readonly root: pino.Logger;
  readonly bound: Readonly<Record<string, unknown>>;
  /** pino's own `child`, for fields made ready already (see {@link readyChildren}). */
  readonly spawn: Spawn;
}

/** pino's `child`, on loggers without custom levels (as this package's are). */
type Spawn = (this: pino.Logger, bindings: pino.Bindings, options?: pino.ChildLoggerOptions<never>) => pino.Logger;

/**
 * Makes the bindings of `root`'s children (and theirs) ready as a line's fields are (see
 * `bindingFields`): `logger.pino.child({ password })` would otherwise write it as it is, since
 * pino applies `formatters.bindings` to a root's own bindings only. A child is made from its
 * parent with `Object.create`, so the method set here is every descendant's. Returns pino's own
 * `child`, for this package's loggers, whose fields are ready when they bind them.
 */
function readyChildren(root: pino.Logger): Spawn {
  const spawn: Spawn = root.child;
  const child: Spawn = function child(bindings, options) {
    return spawn.call(this, bindingFields(bindings), options);
  };
  // pino's typings make `child` generic over custom levels, which these loggers never have, and refuse any other function
  Object.assign(root, { child });
  return spawn;
}

/**
 * pino writes a child's bindings, then the line's fields, without deduping: a key given twice
 * (a child rebinding it, a line repeating it) would be written twice. Here the latest value is
 * the only one written: a child that rebinds a key is made from the root with all its fields
 * merged (see `bind`), and a line that repeats one goes through such a logger without that key
 * (rare, so the common line pays only a lookup per field).
 */
function wrap(instance: pino.Logger, chain: Chain): PinoLogger {
  const rebinds = !isEmpty(chain.bound);
  const through = (fields: Record<string, unknown>): pino.Logger => {
    let repeated: string[] | undefined;
    for (const key in fields) if (fields[key] !== undefined && Object.hasOwn(chain.bound, bindingKey(key))) (repeated ??= []).push(bindingKey(key));
    if (repeated === undefined) return instance;
    const rest = { ...chain.bound };
    for (const key of repeated) delete rest[key];
    return chain.spawn.call(chain.root, rest, { level: instance.level });
  };
  const write =
    (method: Method) =>
    (message: string, fields?: Record<string, unknown>): void => {
      if (!instance.isLevelEnabled(method)) return;
      // the fields are made ready by `lineFields`, the message by the `msg` serializer
      if (fields === undefined || !rebinds) instance[method](fields ?? {}, message);
      else through(fields)[method](fields, message);
    };
  return {
    pino: instance,
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    child: (fields) => bind(instance, chain, fields),
  };
}

/** A logger writing `fields` on every line too, through `instance`; one rebinding a key is made from the root, for the latest value to be the only one. */
function bind(instance: pino.Logger, chain: Chain, fields: Record<string, unknown>): PinoLogger {
  const added = bindingFields(fields);
  let rebound = false;
  let unset = false;
  for (const key in added) {
    if (added[key] === undefined) unset = true;
    else if (Object.hasOwn(chain.bound, key)) rebound = true;
  }
  // pino skips undefined bindings, so they are not bound here either; Object.assign is the fast copy
  const bound = Object.assign({}, chain.bound, unset ? defined(added) : added);
  const next = rebound ? chain.spawn.call(chain.root, bound, { level: instance.level }) : chain.spawn.call(instance, added);
  return wrap(next, { ...chain, bound });
}

function defined(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}

function isEmpty(fields: Readonly<Record<string, unknown>>): boolean {
  for (const _ in fields) return false;
  return true;
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

function envPretty(): boolean | undefined {
  const value = process.env['HERALD_LOG_PRETTY']?.trim().toLowerCase();
  if (value === '1' || value === 'true') return true;
  if (value === '0' || value === 'false') return false;
  return undefined;
}

function invalid(message: string): HeraldError {
  return new HeraldError(CoreErrors.invalidOptions, message);
}
