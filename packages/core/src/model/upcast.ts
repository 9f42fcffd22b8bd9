import type { Static, TSchema } from '@sinclair/typebox';
import type { Envelope } from './envelope.js';
import { CoreErrors, ValidationError } from './errorCodes.js';
import { HeraldError } from './errors.js';
import { assertEventDefinition, type EventDefinition } from './events.js';
import { describeGiven } from './given.js';

/**
 * `event` as `definition` reads it: checked against its own version's schema and, when it is of an
 * earlier version the definition reads (`upcast`, in a chain), its data upcast step by step, each
 * step's result checked against that version's schema. An event of the definition's own version is
 * returned as it is. The envelope's id, key, headers and times never change: only `version` and
 * `data`.
 *
 * Throws `unknown-event-type` for another type or a version the definition does not read (a newer
 * one: its consumer is older than its producer), `schema-violation` for data its own version's
 * schema refuses, and `upcast-failed` when an upcast throws or returns data the next version's
 * schema refuses; `invalid-options` when `definition` is not an event definition.
 */
export function readEvent<S extends TSchema>(definition: EventDefinition<S>, event: Envelope): Envelope<Static<S>> {
  assertEventDefinition(definition, 'readEvent: definition');
  if (event.type !== definition.type) {
    throw new HeraldError(CoreErrors.unknownEventType, `a ${event.type} event is not a ${definition.type}`);
  }
  if (event.version === definition.version) {
    const issues = definition.check(event.data);
    if (issues.length > 0) throw new ValidationError(event.type, issues);
    return event as Envelope<Static<S>>;
  }
  // the definitions from the handler's version down to the event's
  const path: EventDefinition[] = [definition];
  let found: EventDefinition | undefined;
  for (let d = definition.upcast?.from; d; d = d.upcast?.from) {
    if (d.version === event.version) {
      found = d;
      break;
    }
    path.push(d);
  }
  if (!found) throw unreadable(definition, event);
  const own = found.check(event.data);
  if (own.length > 0) throw new ValidationError(`${event.type} version ${event.version}`, own);
  let data: unknown = event.data;
  let from = found;
  for (let i = path.length - 1; i >= 0; i--) {
    const to = path[i]!;
    const step = `${event.type} upcast from version ${from.version} to ${to.version}`;
    try {
      data = to.upcast!.data(data as never);
    } catch (error) {
      // anything may be thrown, an object String() cannot print too (no prototype): said by its kind
      throw new HeraldError(CoreErrors.upcastFailed, `${step} threw: ${error instanceof Error ? error.message : describeGiven(error)}`, { cause: error });
    }
    if (isPromise(data)) {
      // an async function (JavaScript lets one through): its rejection must not go unhandled
      data.then(undefined, () => {});
      throw new HeraldError(CoreErrors.upcastFailed, `${step} returned a promise: an upcast is a synchronous function of the earlier data`);
    }
    const issues = to.check(data);
    if (issues.length > 0) {
      const first = issues.slice(0, 3).map((issue) => `${issue.path || '/'} ${issue.message}`).join('; ');
      throw new HeraldError(CoreErrors.upcastFailed, `${step} does not match version ${to.version}'s schema: ${first}`, { details: { issues } });
    }
    from = to;
  }
  return { ...event, version: definition.version, data: data as Static<S> };
}

function unreadable(definition: EventDefinition, event: Envelope): HeraldError {
  const { type, version } = definition;
  if (event.version > version) {
    return new HeraldError(
      CoreErrors.unknownEventType,
      `version ${event.version} of ${type} is newer than this consumer reads (version ${version}): deploy a consumer that defines it, then redrive`,
    );
  }
  const versions: number[] = [];
  for (let d: EventDefinition | undefined = definition; d; d = d.upcast?.from) versions.unshift(d.version);
  const reads = versions.length === 1 ? `only version ${version}` : `versions ${versions.slice(0, -1).join(', ')} and ${version}`;
  return new HeraldError(CoreErrors.unknownEventType, `version ${event.version} of ${type} is not one this consumer reads (${reads})`);
}

function isPromise(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}
