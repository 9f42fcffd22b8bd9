import { CoreErrors, HeraldError } from '@herald/core';

/** Throws `invalid-options` unless `value` is a finite number > 0 (an integer when `integer`). */
export function positive(component: string, name: string, value: number, integer = false): number {
  const ok = typeof value === 'number' && Number.isFinite(value) && value > 0 && (!integer || Number.isInteger(value));
  if (!ok) {
    throw new HeraldError(CoreErrors.invalidOptions, `${component}: ${name} must be a positive ${integer ? 'integer' : 'number'}, got ${String(value)}`);
  }
  return value;
}

/** Throws `invalid-options` unless `value` is a non-empty string. */
export function nonEmpty(component: string, name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new HeraldError(CoreErrors.invalidOptions, `${component}: ${name} must be a non-empty string`);
  }
  return value;
}

/** Throws `invalid-options` unless `value` is one of `allowed`. */
export function oneOf<T extends string>(component: string, name: string, value: T, allowed: readonly T[]): T {
  if (!allowed.includes(value)) {
    throw new HeraldError(CoreErrors.invalidOptions, `${component}: ${name} must be one of ${allowed.join(', ')}, got ${String(value)}`);
  }
  return value;
}

/** `{ a: undefined }` must not override a default. */
export function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
