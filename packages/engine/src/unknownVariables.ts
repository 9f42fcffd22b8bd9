import { editDistance, type HeraldError } from '@herald/core';
import type { EngineEnv } from './env.js';

/** What {@link refuseUnknownVariables} checks against: one reader's variables. */
export interface KnownVariables {
  /** Every variable the reader reads: never refused, and the names suggested. */
  readonly known: readonly string[];
  /**
   * The reader's own namespaces: a set variable matching it that the reader does not read is a
   * mistake (a typo, a missing `_MS`, a guessed name), never another component's setting.
   */
  readonly namespace: RegExp;
  /** Who reads them, for the message: `engine selection`, `the Herald runtime settings`. */
  readonly reader: string;
  /** Other readers' variables, never refused here (they check their own). */
  readonly others?: readonly string[];
  /** What to say of a name that is wrong in a way of its own (`HERALD_ENGINE`), else undefined. */
  readonly explain?: (name: string) => string | undefined;
  /** The reader's own `invalid-options` error. */
  readonly invalid: (message: string) => HeraldError;
}

/**
 * Refuses, with one `invalid-options` listing them all, the set variables that look meant for a
 * reader but that it would silently ignore: any unknown name in its namespaces, and any other
 * `HERALD_*` name within a typo of a known one (`HERALD_DATADIR`, `HERALD_DATABASE_URL`,
 * `HERALD_SERVICES`, or a known name without its `_MS`). Each names the closest known variable
 * when one is close. Empty values count as unset; values are never repeated (a misspelt password
 * variable holds a password).
 */
export function refuseUnknownVariables(env: EngineEnv, reader: KnownVariables): void {
  const problems: string[] = [];
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith('HERALD_') || reader.known.includes(name) || reader.others?.includes(name) || !env[name]?.trim()) continue;
    const match = closest(name, reader.known);
    if (reader.namespace.test(name) || (match !== undefined && isNearMiss(name, match))) problems.push(describe(name, match, reader));
  }
  if (problems.length === 0) return;
  const one = problems.length === 1;
  throw reader.invalid(
    `${problems.join(', ')} ${one ? 'is not a variable' : 'are not variables'} of ${reader.reader}, which would ignore ${one ? 'it' : 'them'} (its variables are listed in the @herald/engine README)`,
  );
}

/** Outside the namespaces, only a near miss: one edit from a short name, two from a longer one, or the name without its unit. */
function isNearMiss(name: string, match: Match): boolean {
  const length = canonical(match.name).length;
  return match.distance <= (length <= 8 ? 1 : 2) || `${canonical(name)}_MS` === canonical(match.name);
}

function describe(name: string, match: Match | undefined, { known, explain }: KnownVariables): string {
  const explained = explain?.(name);
  if (explained !== undefined) return `${name} (${explained})`;
  // a suggestion within a third of the name's length; else the family's own names, when it has some
  if (match !== undefined && match.distance <= Math.floor(canonical(match.name).length / 3)) return `${name} (did you mean ${match.name}?)`;
  const family = known.filter((k) => k !== name && familyOf(k) !== undefined && familyOf(k) === familyOf(name));
  return family.length > 0 ? `${name} (known: ${family.join(', ')})` : name;
}

interface Match {
  readonly name: string;
  readonly distance: number;
}

/** The known name nearest to `name` once both are {@link canonical}, the first of equals. */
function closest(name: string, known: readonly string[]): Match | undefined {
  let best: Match | undefined;
  for (const candidate of known) {
    const distance = editDistance(canonical(name), canonical(candidate));
    if (best === undefined || distance < best.distance) best = { name: candidate, distance };
  }
  return best;
}

/** Without `HERALD_`, PostgreSQL spelt `PG`: `HERALD_POSTGRES_POOL_SIZE` is `PG_POOL_SIZE`, `HERALD_DATABASE_URL` is `DATABASE_URL`. */
function canonical(name: string): string {
  return name.replace(/^HERALD_/, '').replace(/^(POSTGRESQL|POSTGRES)_/, 'PG_');
}

/** The first word after `HERALD_` (`KAFKA`, `PG`, `RETRY`), when another follows it. */
function familyOf(name: string): string | undefined {
  return /^([A-Z0-9]+)_/.exec(canonical(name))?.[1];
}
