import { format } from 'node:util';
import type { Logger } from '@herald/core';
import type { FastifyBaseLogger } from 'fastify';

type Serializers = Readonly<Record<string, (value: never) => unknown>>;
type Level = 'debug' | 'info' | 'warn' | 'error';

const HERALD_LOGGER = Symbol('herald.logger');

/**
 * A fastify logger over Herald's `Logger` port, so fastify's own lines and `request.log` go through
 * the app's logger, whichever it is (`jsonLogger`, `@herald/logging`'s pino logger, a test's
 * capture), with the same fields. It follows pino's calling convention, as fastify does:
 * `(fields, message, ...args)` or `(message, ...args)`, `util.format` placeholders, an Error as
 * first argument. `fatal` maps to `error` and `trace` to `debug`; an `err` field is named
 * `error`, as everywhere in Herald; the serializers fastify hands to `child` (req, res) apply
 * as pino would apply them, but errors are passed as they are, for the Herald logger to keep
 * their causes. Levels are the Herald logger's business: this passes every call.
 */
export function fastifyLogger(logger: Logger, serializers: Serializers = {}): FastifyBaseLogger {
  const emit = (level: Level) =>
    function log(first: unknown, ...rest: unknown[]): void {
      if (typeof first === 'string') return logger[level](rest.length > 0 ? format(first, ...rest) : first);
      if (first instanceof Error) return logger[level](messageOf(rest, first.message), { error: first });
      logger[level](messageOf(rest, ''), fieldsOf(first, serializers));
    };
  const adapter = {
    level: 'trace',
    fatal: emit('error'),
    error: emit('error'),
    warn: emit('warn'),
    info: emit('info'),
    debug: emit('debug'),
    trace: emit('debug'),
    silent: () => {},
    child(bindings: Record<string, unknown>, options?: { serializers?: Serializers }) {
      const merged = options?.serializers ? { ...serializers, ...options.serializers } : serializers;
      return fastifyLogger(logger.child(fieldsOf(bindings, merged) ?? {}), merged);
    },
    [HERALD_LOGGER]: logger,
  };
  return adapter as unknown as FastifyBaseLogger;
}

/** The Herald logger under a logger made by {@link fastifyLogger}, else undefined. */
export function heraldLoggerOf(log: FastifyBaseLogger): Logger | undefined {
  return (log as unknown as { [HERALD_LOGGER]?: Logger })[HERALD_LOGGER];
}

function messageOf(rest: readonly unknown[], fallback: string): string {
  const [message, ...args] = rest;
  if (typeof message !== 'string') return fallback;
  return args.length > 0 ? format(message, ...args) : message;
}

function fieldsOf(value: unknown, serializers: Serializers): Record<string, unknown> | undefined {
  if (value === null || typeof value !== 'object') return value === undefined ? undefined : { value };
  const fields: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    // errors stay errors: the Herald logger serializes them, causes included
    const serialize = field instanceof Error ? undefined : serializers[key];
    fields[key === 'err' ? 'error' : key] = serialize ? serialize(field as never) : field;
  }
  return fields;
}
