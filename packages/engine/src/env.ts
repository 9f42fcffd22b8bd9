import { ErrorCodes, HeraldError } from '@herald/core';

/** The environment as engine selection reads it (`process.env` fits). */
export type EngineEnv = Readonly<Record<string, string | undefined>>;

/**
 * Small readers of environment variables: each treats an empty value as unset, and throws
 * `invalid-options` naming the variable and the value it refused.
 */
export function text(env: EngineEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/** A whole number in `[min, max]`, or undefined when unset. */
export function integer(env: EngineEnv, name: string, range: { min: number; max: number }): number | undefined {
  const raw = text(env, name);
  if (raw === undefined) return undefined;
  const value = wholeNumber(raw);
  if (Number.isNaN(value) || value < range.min || value > range.max) {
    throw invalidEnv(`${name} must be a whole number in [${range.min}, ${range.max}], got "${raw}"`);
  }
  return value;
}

/**
 * `raw` as a safe integer when it is written in decimal digits (with an optional `-`), else NaN:
 * `Number()` alone would take `0x10`, `0b1`, `1e4` and `10.0` for integers.
 */
export function wholeNumber(raw: string): number {
  if (!/^-?\d+$/.test(raw)) return Number.NaN;
  const value = Number(raw) + 0; // + 0: `-0` is 0
  return Number.isSafeInteger(value) ? value : Number.NaN;
}

/** `true` or `false` (any case), or undefined when unset. */
export function boolean(env: EngineEnv, name: string): boolean | undefined {
  const raw = text(env, name);
  if (raw === undefined) return undefined;
  const lower = raw.toLowerCase();
  if (lower !== 'true' && lower !== 'false') throw invalidEnv(`${name} must be true or false, got "${raw}"`);
  return lower === 'true';
}

/** One of `allowed` (compared in lower case), or undefined when unset. */
export function oneOf<T extends string>(env: EngineEnv, name: string, allowed: readonly T[]): T | undefined {
  const raw = text(env, name);
  if (raw === undefined) return undefined;
  const lower = raw.toLowerCase();
  if (!(allowed as readonly string[]).includes(lower)) throw invalidEnv(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
  return lower as T;
}

/** The configuration error every reader throws. */
export function invalidEnv(message: string): HeraldError {
  return new HeraldError(ErrorCodes.invalidOptions, `engine configuration: ${message}`);
}
