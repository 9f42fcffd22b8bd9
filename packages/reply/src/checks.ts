import { assertEventDefinition, closestName, CoreErrors, describeGiven, HeraldError } from '@herald/core';
import type { RequestDefinition } from './definition.js';

// Checks of what plain JavaScript callers pass to the package's factories and calls: each refuses
// bad input with `invalid-options` naming the argument, what arrived and what is expected, the way
// the core's createApp, app.on and app.publish do, instead of a TypeError from deep inside (or, for
// a misspelt option, silently running with the default).

export function invalid(message: string): HeraldError {
  return new HeraldError(CoreErrors.invalidOptions, message);
}

/**
 * Throws unless `value` is an options object (`{ ... }`, not an array, a string or a number) whose
 * keys are all in `known`; an unknown key names the option it most likely meant. `example` shows
 * the valid form. A misspelt option (`timeout: 5_000`) would otherwise be ignored, and the call
 * run with the default.
 */
export function checkOptions(where: string, value: unknown, known: readonly string[], example: string): asserts value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(`${where}: expected an options object such as ${example}, got ${describeGiven(value)}`);
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const meant = closestName(key, known);
    throw invalid(`${where}: unknown option "${key}" (${meant ? `did you mean "${meant}"?` : `the options are ${known.join(', ')}`})`);
  }
}

/** Throws unless `value` is a request definition: `{ request, reply }` event definitions, as `defineRequest` returns it. */
export function checkRequestDefinition(value: unknown, argument: string): asserts value is RequestDefinition {
  const d = value as Partial<RequestDefinition> | null | undefined;
  if (typeof d !== 'object' || d === null || Array.isArray(d)) throw invalid(`${argument}: expected a request definition from defineRequest(), got ${describeGiven(value)}`);
  assertEventDefinition(d.request, `${argument}.request`);
  assertEventDefinition(d.reply, `${argument}.reply`);
}

/** Throws unless `value` is undefined or a non-empty string. */
export function checkOptionalName(value: unknown, argument: string): asserts value is string | undefined {
  if (value !== undefined && !(typeof value === 'string' && value.length > 0)) throw invalid(`${argument}: expected a non-empty string, got ${describeGiven(value)}`);
}
