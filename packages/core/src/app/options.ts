import { DEFAULT_MAX_EVENT_BYTES } from '../model/envelope.js';
import { CoreErrors } from '../model/errorCodes.js';
import { HeraldError } from '../model/errors.js';
import { assertEventDefinition } from '../model/events.js';
import { closestName, describeGiven } from '../model/given.js';
import type { StartPosition } from '../ports/broker.js';
import { MAX_TIMER_MS } from '../ports/clock.js';
import { RETRY_DEFAULTS } from '../pipeline/policies/retry.js';
import type { HandlerSettings } from '../pipeline/preset.js';
import { resolveBackoff } from '../timing/backoff.js';
import type { OffsetOutOfRangePolicy } from '../runtime/groupConsumer.js';
import type { AppOptions, GroupOptions, HandlerOptions, HandlerPolicy } from './types.js';

/** Every default of an app, its groups and its handlers, in one place. */
export const APP_DEFAULTS = {
  maxEventBytes: DEFAULT_MAX_EVENT_BYTES,
  closeDeadlineMs: 10_000,
  /** Transactions per store transaction, for handlers and the app alike: off unless asked for. */
  transactionBatch: 1,
  group: {
    concurrency: 16,
    maxInFlight: 2000,
    commitIntervalMs: 200,
    start: 'earliest' as StartPosition,
    transactionBatch: 1,
    maxBatch: 500,
    onOffsetOutOfRange: 'earliest' as OffsetOutOfRangePolicy,
  },
  handler: { timeoutMs: 30_000, deadLetter: 'skip' as const },
} as const;

const NAME = /^[A-Za-z0-9._-]{1,200}$/;

/** Every option `createApp` reads: typed as a record of `AppOptions`' keys, so a new option cannot be left out. */
const APP_OPTION_KEYS: Readonly<Record<keyof AppOptions<unknown>, true>> = {
  name: true,
  broker: true,
  stores: true,
  events: true,
  topics: true,
  clock: true,
  logger: true,
  maxEventBytes: true,
  handlerDefaults: true,
  groups: true,
  pipeline: true,
  relay: true,
  relayHost: true,
  timers: true,
  transactionBatch: true,
  closeDeadlineMs: true,
};

/** Every handler option, and so (less `group`, `name` and `pipeline`) every key of `handlerDefaults`. */
const HANDLER_OPTION_KEYS: Readonly<Record<keyof HandlerOptions<unknown>, true>> = {
  group: true,
  name: true,
  pipeline: true,
  retry: true,
  timeoutMs: true,
  deadLetter: true,
  middleware: true,
};
const HANDLER_POLICY_KEYS: Readonly<Record<keyof HandlerPolicy<unknown>, true>> = { retry: true, timeoutMs: true, deadLetter: true, middleware: true };
const GROUP_OPTION_KEYS: Readonly<Record<keyof GroupOptions<unknown>, true>> = {
  concurrency: true,
  maxInFlight: true,
  commitIntervalMs: true,
  start: true,
  onOffsetOutOfRange: true,
  transactionBatch: true,
  maxBatch: true,
  pipeline: true,
};

/**
 * Keys an engine object carries besides `broker`, `stores` and `relayHost` (`@herald/engine`'s
 * `Engine`: `kind`, `description`, `close`; `sqliteEngine`'s: `close`): `createApp({ ...engine })`
 * spreads them in, and the app has no use for them (it closes the broker and the stores itself).
 */
const ENGINE_KEYS: ReadonlySet<string> = new Set(['kind', 'description', 'close']);

export interface ResolvedGroupOptions {
  readonly concurrency: number;
  readonly maxInFlight: number;
  readonly commitIntervalMs: number;
  readonly start: StartPosition;
  readonly transactionBatch: number;
  readonly maxBatch: number;
  readonly onOffsetOutOfRange: OffsetOutOfRangePolicy;
}

/** Checks the app-wide options; throws `invalid-options` naming the first bad one. */
export function validateAppOptions<Tx>(options: AppOptions<Tx>): void {
  if (!options || typeof options !== 'object') throw invalid('createApp: options are required ({ broker, stores, ... })');
  refuseUnknownOptions('createApp', options, APP_OPTION_KEYS, ENGINE_KEYS);
  if (!options.broker || typeof options.broker.publish !== 'function') throw invalid('createApp: broker is required');
  if (!options.stores || typeof options.stores.transaction !== 'function') throw invalid('createApp: stores are required');
  if (options.name !== undefined && !NAME.test(options.name)) throw invalid(`createApp: name "${options.name}" must match ${NAME}`);
  if (options.maxEventBytes !== undefined) positive('maxEventBytes', options.maxEventBytes);
  if (options.closeDeadlineMs !== undefined) duration('closeDeadlineMs', options.closeDeadlineMs, nonNegative);
  if (options.transactionBatch !== undefined) positiveInteger('transactionBatch', options.transactionBatch);
  if (options.events !== undefined) {
    if (!Array.isArray(options.events)) throw invalid(`createApp: events: expected an array of event definitions, got ${describeGiven(options.events)}`);
    options.events.forEach((definition, i) => assertEventDefinition(definition, `createApp: events[${i}]`));
  }
  for (const [group, settings] of Object.entries(options.groups ?? {})) {
    groupName(group);
    resolveGroupOptions(group, settings);
  }
  if (options.handlerDefaults !== undefined) refuseUnknownOptions('createApp: handlerDefaults', options.handlerDefaults, HANDLER_POLICY_KEYS);
  if (options.handlerDefaults?.timeoutMs !== undefined) duration('handlerDefaults.timeoutMs', options.handlerDefaults.timeoutMs);
  if (options.handlerDefaults?.retry !== undefined) resolveBackoff(options.handlerDefaults.retry, RETRY_DEFAULTS);
}

export function resolveGroupOptions<Tx>(group: string, options: GroupOptions<Tx> = {}): ResolvedGroupOptions {
  refuseUnknownOptions(`groups.${group}`, options, GROUP_OPTION_KEYS);
  const d = APP_DEFAULTS.group;
  const resolved = {
    concurrency: options.concurrency ?? d.concurrency,
    maxInFlight: options.maxInFlight ?? d.maxInFlight,
    commitIntervalMs: options.commitIntervalMs ?? d.commitIntervalMs,
    start: options.start ?? d.start,
    transactionBatch: options.transactionBatch ?? d.transactionBatch,
    maxBatch: options.maxBatch ?? d.maxBatch,
    onOffsetOutOfRange: options.onOffsetOutOfRange ?? d.onOffsetOutOfRange,
  };
  positiveInteger(`groups.${group}.concurrency`, resolved.concurrency);
  positiveInteger(`groups.${group}.maxInFlight`, resolved.maxInFlight);
  duration(`groups.${group}.commitIntervalMs`, resolved.commitIntervalMs);
  positiveInteger(`groups.${group}.transactionBatch`, resolved.transactionBatch);
  positiveInteger(`groups.${group}.maxBatch`, resolved.maxBatch);
  if (resolved.onOffsetOutOfRange !== 'earliest' && resolved.onOffsetOutOfRange !== 'stop') {
    throw invalid(`groups.${group}.onOffsetOutOfRange must be 'earliest' or 'stop', got ${String(resolved.onOffsetOutOfRange)}`);
  }
  const start = resolved.start;
  if (start !== 'earliest' && start !== 'latest' && !(typeof start === 'object' && Number.isFinite(start?.timestamp))) {
    throw invalid(`groups.${group}.start must be 'earliest', 'latest' or { timestamp }`);
  }
  return resolved;
}

/**
 * Refuses a key the call does not read, naming it and the option it most likely meant: a typo
 * (`relayy: false`, `retries: 3`) would otherwise be ignored, and the app run with the default.
 */
function refuseUnknownOptions(where: string, options: object, known: Readonly<Record<string, true>>, also: ReadonlySet<string> = new Set()): void {
  for (const key of Object.keys(options)) {
    if (Object.hasOwn(known, key) || also.has(key)) continue;
    const meant = closestName(key, Object.keys(known));
    const hint = meant ? `did you mean "${meant}"?` : `the options are ${Object.keys(known).join(', ')}`;
    throw invalid(`${where}: unknown option "${key}" (${hint})`);
  }
}

/**
 * A handler's settings: its own options over the app's handler defaults over Herald's. `where`
 * names the call (`on()`, `onBatch()`) in the errors.
 */
export function resolveHandlerSettings<Tx>(
  where: string,
  options: HandlerOptions<Tx>,
  definitionTypes: readonly string[],
  defaults: AppOptions<Tx>['handlerDefaults'] = {},
): HandlerSettings {
  handlerGroup(where, options);
  refuseUnknownOptions(where, options, HANDLER_OPTION_KEYS);
  if (options.name !== undefined && (typeof options.name !== 'string' || options.name.length === 0)) throw invalid(`${where}: name must be a non-empty string`);
  const timeoutMs = options.timeoutMs ?? defaults.timeoutMs ?? APP_DEFAULTS.handler.timeoutMs;
  duration('timeoutMs', timeoutMs);
  const deadLetter = options.deadLetter ?? defaults.deadLetter ?? APP_DEFAULTS.handler.deadLetter;
  if (deadLetter !== 'skip' && deadLetter !== 'park-key') throw invalid(`deadLetter must be 'skip' or 'park-key', got ${String(deadLetter)}`);
  return {
    name: options.name ?? `${options.group}:${definitionTypes.join('+')}`,
    group: options.group,
    retry: { ...defaults.retry, ...options.retry },
    timeoutMs,
    deadLetter,
  };
}

/**
 * The deadline a `close({ deadlineMs })` call asks for: a number >= 0, `Infinity` meaning "as long
 * as it takes". It becomes timers, so it is capped at `MAX_TIMER_MS` (about 24.8 days): Node fires
 * a longer timer after 1 ms, which abandoned every running handler at once.
 */
export function closeDeadline(value: number): number {
  if (value !== Number.POSITIVE_INFINITY) nonNegative('close({ deadlineMs })', value);
  return Math.min(value, MAX_TIMER_MS);
}

/** The handler options' group: JavaScript callers leave it out or pass the group name alone. */
function handlerGroup(where: string, options: unknown): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw invalid(`${where}: options must be an object such as { group: 'billing' }, got ${describeGiven(options)}`);
  }
  const { group } = options as { group?: unknown };
  if (group === undefined) throw invalid(`${where}: options.group is required, e.g. { group: 'billing' }`);
  if (typeof group !== 'string' || !NAME.test(group)) throw invalid(`${where}: options.group must be a name matching ${NAME}, got ${describeGiven(group)}`);
}

export function groupName(group: string): void {
  if (typeof group !== 'string' || !NAME.test(group)) throw invalid(`group "${String(group)}" must match ${NAME}`);
}

function positive(name: string, value: number): void {
  if (!(typeof value === 'number' && value > 0 && Number.isFinite(value))) throw invalid(`${name} must be a positive number, got ${String(value)}`);
}

function nonNegative(name: string, value: number): void {
  if (!(typeof value === 'number' && value >= 0 && Number.isFinite(value))) throw invalid(`${name} must be a number >= 0, got ${String(value)}`);
}

/** A duration that becomes a timer: at most `MAX_TIMER_MS`, since Node fires a longer timer after 1 ms. */
function duration(name: string, value: number, check: (name: string, value: number) => void = positive): void {
  check(name, value);
  if (value > MAX_TIMER_MS) throw invalid(`${name} must be at most ${MAX_TIMER_MS} ms (the longest timer), got ${value}`);
}

function positiveInteger(name: string, value: number): void {
  if (!(Number.isInteger(value) && value > 0)) throw invalid(`${name} must be a positive integer, got ${String(value)}`);
}

function invalid(message: string): HeraldError {
  return new HeraldError(CoreErrors.invalidOptions, message);
}
