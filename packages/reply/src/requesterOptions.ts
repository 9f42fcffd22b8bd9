import { describeGiven, uuidv7 } from '@herald/core';
import { checkOptionalName, checkOptions, checkRequestDefinition, invalid } from './checks.js';
import type { RequestOptions, RequesterOptions } from './requester.js';
import { checkTimeoutMs } from './timeouts.js';

/** Every default of a requester, in one place. */
export const REQUESTER_DEFAULTS = { defaultTimeoutMs: 30_000, rememberedRequests: 10_000, name: 'requester' } as const;

/** Every option `createRequester` reads: a record of `RequesterOptions`' keys, so a new option cannot be left out. */
const REQUESTER_OPTION_KEYS = Object.keys({
  app: true,
  requests: true,
  instanceId: true,
  name: true,
  defaultTimeoutMs: true,
  rememberedRequests: true,
} satisfies Readonly<Record<keyof RequesterOptions, true>>);
const REQUEST_OPTION_KEYS = Object.keys({ timeoutMs: true, correlationId: true, headers: true, cause: true, signal: true } satisfies Readonly<Record<keyof RequestOptions, true>>);

const INSTANCE_ID = /^[A-Za-z0-9._-]{1,180}$/;

export interface RequesterSettings {
  readonly instanceId: string;
  readonly defaultTimeoutMs: number;
  readonly rememberedRequests: number;
}

/** Checks `createRequester`'s options and fills in the defaults; throws `invalid-options` naming the first bad one. */
export function requesterSettings(options: RequesterOptions): RequesterSettings {
  const where = 'createRequester';
  checkOptions(where, options, REQUESTER_OPTION_KEYS, '{ app, requests: [GetProfile] }');
  const { app } = options as Partial<RequesterOptions>;
  if (typeof app?.publish !== 'function' || typeof app.broker?.subscribe !== 'function' || typeof app.instrumentation?.emit !== 'function' || !app.clock || !app.logger) {
    throw invalid(`${where}: app: expected a Herald app (createApp), got ${describeGiven(app)}`);
  }
  const { requests } = options as { requests: unknown };
  if (!Array.isArray(requests) || requests.length === 0) throw invalid(`${where}: requests: expected an array of at least one request definition (defineRequest), got ${describeGiven(requests)}`);
  const seen = new Map<string, string>();
  requests.forEach((d: unknown, i) => {
    checkRequestDefinition(d, `${where}: requests[${i}]`);
    const other = seen.get(d.reply.topic);
    if (other !== undefined && other !== d.reply.type) throw invalid(`${where}: replies ${other} and ${d.reply.type} share the topic ${d.reply.topic}; give each reply type its own topic`);
    seen.set(d.reply.topic, d.reply.type);
  });
  checkOptionalName(options.name, `${where}: name`);
  // a number passed the pattern as its text, and the instance then ignored its own replies (the header is text)
  if (options.instanceId !== undefined && !(typeof options.instanceId === 'string' && INSTANCE_ID.test(options.instanceId))) {
    throw invalid(`${where}: instanceId: expected 1-180 letters, digits, '.', '_' or '-', got ${describeGiven(options.instanceId)}`);
  }
  const instanceId = options.instanceId ?? `${options.name ?? REQUESTER_DEFAULTS.name}-${uuidv7()}`;
  if (!INSTANCE_ID.test(instanceId)) throw invalid(`${where}: name: expected letters, digits, '.', '_' or '-' (it prefixes the instance id), got ${describeGiven(options.name)}`);
  const settings = {
    instanceId,
    defaultTimeoutMs: options.defaultTimeoutMs ?? REQUESTER_DEFAULTS.defaultTimeoutMs,
    rememberedRequests: options.rememberedRequests ?? REQUESTER_DEFAULTS.rememberedRequests,
  };
  checkTimeoutMs(settings.defaultTimeoutMs, { name: 'defaultTimeoutMs', owner: where, integer: true });
  if (!(Number.isInteger(settings.rememberedRequests) && settings.rememberedRequests > 0)) {
    throw invalid(`${where}: rememberedRequests must be a positive integer, got ${describeGiven(settings.rememberedRequests)}`);
  }
  return settings;
}

/**
 * Checks one `request()`'s options (`{}` when none); throws `invalid-options` naming the first bad
 * one. Checked before anything is registered or sent; the data is checked by the request's schema
 * when it is published.
 */
export function checkRequestOptions(options: unknown): asserts options is RequestOptions {
  const where = 'requester.request: options';
  checkOptions(where, options, REQUEST_OPTION_KEYS, '{ timeoutMs: 5_000 }');
  const { correlationId, headers, cause, signal } = options;
  checkOptionalName(correlationId, `${where}.correlationId`);
  if (headers !== undefined && !(typeof headers === 'object' && headers !== null && !Array.isArray(headers) && Object.values(headers).every((v) => typeof v === 'string'))) {
    throw invalid(`${where}.headers: expected an object of string names and string values, got ${describeGiven(headers)}`);
  }
  const envelope = cause as { id?: unknown; correlationId?: unknown; headers?: unknown } | undefined;
  if (cause !== undefined && !(typeof envelope === 'object' && envelope !== null && typeof envelope.id === 'string' && typeof envelope.correlationId === 'string' && typeof envelope.headers === 'object')) {
    throw invalid(`${where}.cause: expected the envelope being handled (a handler's event), got ${describeGiven(cause)}`);
  }
  const s = signal as Partial<AbortSignal> | undefined;
  if (signal !== undefined && !(typeof s === 'object' && s !== null && typeof s.aborted === 'boolean' && typeof s.addEventListener === 'function' && typeof s.throwIfAborted === 'function')) throw invalid(`${where}.signal: expected an AbortSignal, got ${describeGiven(signal)}`);
}
