import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { CoreErrors, ValidationError, type ValidationIssue } from './errorCodes.js';
import { HeraldError } from './errors.js';
import { registerFormats } from './formats.js';
import { describeGiven } from './given.js';

/**
 * A typed event: its type name and version, the topic it goes to, how its partition key is derived
 * from its data, and its schema. The schema (TypeBox) gives the TypeScript type, a compiled runtime
 * validator and the JSON Schema (`definition.jsonSchema`) in one declaration.
 */
export interface EventDefinition<S extends TSchema = TSchema> {
  readonly type: string;
  readonly version: number;
  readonly topic: string;
  readonly schema: S;
  /** The JSON Schema of `data` (TypeBox schemas are JSON Schema). */
  readonly jsonSchema: Readonly<Record<string, unknown>>;
  /** Derives the partition key from the data: events of one key keep their order. */
  key(data: Static<S>): string;
  /** Returns the issues found in `data`; an empty array means valid. */
  check(data: unknown): ValidationIssue[];
  /** Throws a {@link ValidationError} when `data` is invalid; returns it typed otherwise. */
  parse(data: unknown): Static<S>;
  /**
   * The version this one reads events of, and how: handlers of this definition receive events of
   * that version (and of the versions it reads, in turn) with their data upcast to this version.
   */
  readonly upcast?: EventUpcast;
}

/** How a definition reads the events of its previous version (see {@link EventDefinitionOptions.upcast}). */
export interface EventUpcast<P extends TSchema = TSchema, T = unknown> {
  /** The previous version's definition: same type and topic, a lower version. */
  readonly from: EventDefinition<P>;
  /** Its data as this version's: a pure function; its result is checked against this version's schema. */
  readonly data: (previous: Static<P>) => T;
}

/** The TypeScript type of an event definition's data. */
export type EventData<D> = D extends EventDefinition<infer S> ? Static<S> : never;

/** What {@link defineEvent} takes. */
export interface EventDefinitionOptions<S extends TSchema, P extends TSchema = TSchema> {
  readonly type: string;
  /** Schema version, a positive integer; defaults to 1. */
  readonly version?: number;
  readonly topic: string;
  readonly schema: S;
  readonly key: (data: Static<S>) => string;
  /**
   * Reads the events of an earlier version: `from` is that version's definition, `data` turns its
   * data into this version's. A handler of this definition then receives events of either version
   * as this one (the envelope's `version` and `data` upcast; its id, key and headers unchanged),
   * so consumers can be deployed before the producers that publish the new version. Chains: the
   * earlier definition may read an earlier one still. Without it, an event of another version than
   * the handler's is a dead letter (`unknown-event-type`).
   */
  readonly upcast?: EventUpcast<P, Static<S>>;
}

const NAME = /^[A-Za-z0-9._-]{1,200}$/;

/**
 * Defines an event type.
 *
 * @example
 * const OrderCreated = defineEvent({
 *   type: 'OrderCreated', topic: 'orders', key: (d) => d.orderId,
 *   schema: Type.Object({ orderId: Type.String(), priceCents: Type.Integer({ minimum: 1 }) }),
 * });
 */
export function defineEvent<S extends TSchema, P extends TSchema = TSchema>(options: EventDefinitionOptions<S, P>): EventDefinition<S> {
  const version = options.version ?? 1;
  if (!NAME.test(options.type)) throw invalid(`event type "${options.type}" must match ${NAME}`);
  if (!NAME.test(options.topic)) throw invalid(`topic "${options.topic}" must match ${NAME}`);
  if (!Number.isInteger(version) || version < 1) throw invalid(`version of ${options.type} must be a positive integer`);
  if (typeof options.key !== 'function') throw invalid(`${options.type} needs key: a function from the event's data to its partition key`);
  if (!options.schema || typeof options.schema !== 'object') throw invalid(`${options.type} needs schema: a TypeBox schema of its data`);
  const upcast = options.upcast === undefined ? undefined : checkedUpcast(options.type, version, options.topic, options.upcast as unknown as EventUpcast);
  registerFormats();
  const compiled: TypeCheck<S> = TypeCompiler.Compile(options.schema);
  const check = (data: unknown): ValidationIssue[] => {
    if (compiled.Check(data)) return [];
    const issues: ValidationIssue[] = [];
    for (const error of compiled.Errors(data)) {
      issues.push({ path: error.path, message: error.message });
      if (issues.length >= 20) break;
    }
    return issues;
  };
  return {
    type: options.type,
    version,
    topic: options.topic,
    schema: options.schema,
    jsonSchema: JSON.parse(JSON.stringify(options.schema)) as Record<string, unknown>,
    key: options.key,
    check,
    parse(data) {
      if (compiled.Check(data)) return data;
      throw new ValidationError(options.type, check(data));
    },
    ...(upcast ? { upcast } : {}),
  };
}

/**
 * Throws `invalid-options` unless `value` has the shape of an event definition (as
 * {@link defineEvent} returns it), naming `argument` (`publish: definition`) and what was given.
 * Plain JavaScript passes a type name or a bare `{ type, topic }` where a definition goes, which
 * otherwise fails later as a TypeError or a misleading error about a topic. A handful of `typeof`
 * checks: cheap enough for every publish.
 */
export function assertEventDefinition(value: unknown, argument: string): asserts value is EventDefinition {
  const d = value as Partial<EventDefinition> | null | undefined;
  if (typeof d === 'object' && d !== null && typeof d.parse === 'function' && typeof d.key === 'function' && typeof d.type === 'string' && typeof d.topic === 'string') return;
  throw invalid(`${argument}: expected an event definition from defineEvent(), got ${describeGiven(value)}`);
}

function checkedUpcast(type: string, version: number, topic: string, upcast: EventUpcast): EventUpcast {
  const { from, data } = upcast ?? {};
  const name = `${type}@${version}`;
  if (!from || typeof from !== 'object' || typeof from.check !== 'function') throw invalid(`${name}: upcast.from must be the event definition of an earlier version`);
  if (from.type !== type) throw invalid(`${name}: upcast.from is ${from.type}, not an earlier version of ${type}`);
  if (!(from.version < version)) throw invalid(`${name}: upcast.from must be an earlier version, got version ${from.version}`);
  // events of both versions share the topic (and so their keys' order): the consumer reads one
  if (from.topic !== topic) throw invalid(`${name}: upcast.from goes to topic ${from.topic}; every version of ${type} must go to ${topic}`);
  if (typeof data !== 'function') throw invalid(`${name}: upcast.data must be a function from version ${from.version}'s data to version ${version}'s`);
  return { from, data };
}

function invalid(message: string): HeraldError {
  return new HeraldError(CoreErrors.invalidOptions, message);
}

/** Looks event definitions up by type and version. */
export interface EventRegistry {
  register(definition: EventDefinition): void;
  /** The definition of `type` at `version`, or undefined. */
  get(type: string, version: number): EventDefinition | undefined;
  /** Whether any version of `type` is known. */
  knows(type: string): boolean;
  all(): readonly EventDefinition[];
}

/** Creates an {@link EventRegistry}. Registering a different definition under a taken type and version throws. */
export function createEventRegistry(definitions: readonly EventDefinition[] = []): EventRegistry {
  const byKey = new Map<string, EventDefinition>();
  const types = new Set<string>();
  const registry: EventRegistry = {
    register(definition) {
      // the versions a definition reads are defined too: their events are this app's to read
      for (let d: EventDefinition | undefined = definition; d; d = d.upcast?.from) {
        const id = `${d.type}@${d.version}`;
        const existing = byKey.get(id);
        if (existing && existing !== d && existing.topic !== d.topic) {
          throw invalid(`${id} is already defined for topic ${existing.topic}`);
        }
        if (!existing || d === definition) byKey.set(id, d);
        types.add(d.type);
      }
    },
    get: (type, version) => byKey.get(`${type}@${version}`),
    knows: (type) => types.has(type),
    all: () => [...byKey.values()],
  };
  if (!Array.isArray(definitions)) throw invalid(`createEventRegistry: definitions: expected an array of event definitions, got ${describeGiven(definitions)}`);
  definitions.forEach((d, i) => {
    assertEventDefinition(d, `createEventRegistry: definitions[${i}]`);
    registry.register(d);
  });
  return registry;
}
