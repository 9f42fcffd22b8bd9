import { ErrorCodes, HeraldError } from '@herald/core';
import type { EngineEnv } from './env.js';

/**
 * Readers of a service's own settings from its environment, beside the engine's: an empty value is
 * unset (the fallback), and a bad one throws `invalid-options` naming the variable and the value.
 */
export interface SettingsReader {
  /** The value, trimmed, or `fallback` when unset. */
  text(name: string, fallback: string): string;
  /** A safe integer in `[min, max]`. */
  integer(name: string, fallback: number, min: number, max: number): number;
  /** A number in `[0, 1]`. */
  fraction(name: string, fallback: number): number;
  /** One of `allowed`, exactly. */
  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T;
}

/** A {@link SettingsReader} of `env` (`process.env` fits). */
export function settingsFrom(env: EngineEnv): SettingsReader {
  const raw = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  return {
    text: (name, fallback) => raw(name) ?? fallback,
    integer(name, fallback, min, max) {
      const text = raw(name);
      if (text === undefined) return fallback;
      const value = Number(text);
      if (!Number.isSafeInteger(value) || value < min || value > max) throw invalidSetting(`${name} must be an integer in [${min}, ${max}], got "${text}"`);
      return value;
    },
    fraction(name, fallback) {
      const text = raw(name);
      if (text === undefined) return fallback;
      const value = Number(text);
      if (!(value >= 0 && value <= 1)) throw invalidSetting(`${name} must be a number in [0, 1], got "${text}"`);
      return value;
    },
    oneOf(name, allowed, fallback) {
      const text = raw(name);
      if (text === undefined) return fallback;
      if (!(allowed as readonly string[]).includes(text)) throw invalidSetting(`${name} must be one of ${allowed.join(', ')}, got "${text}"`);
      return text as (typeof allowed)[number];
    },
  };
}

/**
 * The services a process runs, of `all`: `--service a,b` (or `--service=a,b`) on the command line,
 * else `HERALD_SERVICE`, else every one (`all` also names every one). A name may carry a
 * `-service` suffix (`payment-service` is `payment`). Throws `invalid-options` on a name not in
 * `all`, listing the ones there are.
 */
export function selectServices<S extends string>(all: readonly S[], argv: readonly string[], env: EngineEnv): readonly S[] {
  const value = serviceArgument(argv) ?? env['HERALD_SERVICE'] ?? 'all';
  if (value.trim() === 'all') return all;
  const names = value.split(',').map((name) => name.trim().replace(/-service$/, ''));
  const unknown = names.find((name) => !(all as readonly string[]).includes(name));
  if (unknown !== undefined) throw invalidSetting(`unknown service "${unknown}"; use all or one or more of ${all.join(', ')}`);
  return [...new Set(names)] as S[];
}

function serviceArgument(argv: readonly string[]): string | undefined {
  const at = argv.findIndex((arg) => arg === '--service' || arg.startsWith('--service='));
  if (at < 0) return undefined;
  const arg = argv[at]!;
  return arg === '--service' ? (argv[at + 1] ?? '') : arg.slice('--service='.length);
}

/** The `invalid-options` error of a bad setting. */
export function invalidSetting(message: string): HeraldError {
  return new HeraldError(ErrorCodes.invalidOptions, message);
}
