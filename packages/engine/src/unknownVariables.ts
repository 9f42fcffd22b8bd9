import { editDistance } from '@herald/core';
import { invalidEnv, type EngineEnv } from './env.js';

/**
 * The engine's own namespaces: a variable in one of them that engine selection does not read is a
 * mistake (a typo, a missing `_MS`, a guessed name), never another component's setting, because no
 * other Herald package and no example reads `HERALD_KAFKA_*`, `HERALD_PG_*`, `HERALD_POSTGRES_*`
 * or `HERALD_ENGINE*`. Other `HERALD_*` names are left alone: the runtime settings, the examples
 * (`HERALD_INSTANCE_ID`, `HERALD_LOG_PRETTY`) and the benchmarks (`HERALD_BENCH_*`) read their own.
 */
const NAMESPACE = /^HERALD_(KAFKA|PG|POSTGRES|POSTGRESQL)_|^HERALD_ENGINE(_|$)/;

/** What {@link refuseUnknownVariables} checks against. */
export interface KnownVariables {
  /** Every variable engine selection reads. */
  readonly known: readonly string[];
  /** How the engine is chosen, said to whoever set `HERALD_ENGINE`. */
  readonly howSelected: string;
}

/**
 * Refuses, with one `invalid-options` listing them all, the set variables that look meant for
 * engine selection but that it would silently ignore: any unknown name in the engine's namespaces,
 * and any other `HERALD_*` name within a typo of a known one (`HERALD_DATADIR`,
 * `HERALD_DATABASE_URL`). Each names the closest known variable when one is close. Empty values
 * count as unset; values are never repeated (a misspelt password variable holds a password).
 */
export function refuseUnknownVariables(env: EngineEnv, { known, howSelected }: KnownVariables): void {
  const problems: string[] = [];
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith('HERALD_') || known.includes(name) || !env[name]?.trim()) continue;
    const match = closest(name, known);
    // outside the namespaces, only a near miss: one edit from a short name, two from a longer one
    const nearMiss = match !== undefined && match.distance <= (canonical(match.name).length <= 8 ? 1 : 2);
    if (NAMESPACE.test(name) || nearMiss) problems.push(describe(name, match, { known, howSelected }));
  }
  if (problems.length === 0) return;
  const one = problems.length === 1;
  throw invalidEnv(
    `${problems.join(', ')} ${one ? 'is not a variable' : 'are not variables'} of engine selection, which would ignore ${one ? 'it' : 'them'} (its variables are listed in the @herald/engine README)`,
  );
}

function describe(name: string, match: Match | undefined, { known, howSelected }: KnownVariables): string {
  if (/^HERALD_ENGINE(_|$)/.test(name)) return `${name} (${howSelected})`;
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

function familyOf(name: string): string | undefined {
  return /^(KAFKA|PG)_/.exec(canonical(name))?.[1];
}
