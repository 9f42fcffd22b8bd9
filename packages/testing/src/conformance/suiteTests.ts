import { it } from 'vitest';

/** One test a suite should not run against an adapter, and why (printed in CI output). */
export interface SkippedTest<Name extends string = string> {
  /** The test's exact title, one of the suite's exported test names. */
  readonly test: Name;
  readonly reason: string;
}

/** Registers a suite's tests, turning skipped and not-guaranteed ones into printed skips. */
export interface SuiteTests<Name extends string> {
  /**
   * Registers `name`. It runs unless the skip list names it or `requires` lists a guarantee the
   * adapter does not declare; then it is registered with `it.skip`, the reason in its title, and
   * a line `SKIP <suite> › <name>: <reason>` is printed once.
   */
  test(name: Name, run: () => Promise<void>, requires?: readonly string[]): void;
}

/**
 * Creates the registrar for one suite. Throws at collection time when the skip list names a test
 * the suite does not have, so stale skip lists fail loudly instead of hiding nothing.
 */
export function suiteTests<Name extends string>(options: {
  readonly suite: string;
  readonly names: readonly Name[];
  readonly skip?: readonly SkippedTest<Name>[];
  readonly guarantees?: readonly string[];
  readonly timeoutMs: number;
}): SuiteTests<Name> {
  const skips = new Map<string, string>();
  for (const { test, reason } of options.skip ?? []) {
    if (!options.names.includes(test)) throw new Error(`${options.suite}: skip list names an unknown test "${test}"; known: ${options.names.join(', ')}`);
    if (!reason.trim()) throw new Error(`${options.suite}: skipping "${test}" needs a reason`);
    skips.set(test, reason.trim());
  }
  const declared = new Set(options.guarantees ?? []);
  return {
    test(name, run, requires = []) {
      const missing = requires.filter((g) => !declared.has(g));
      const reason = skips.get(name) ?? (missing.length > 0 ? `not guaranteed by the adapter: ${missing.join(', ')}` : undefined);
      if (reason === undefined) {
        it(name, run, options.timeoutMs);
        return;
      }
      console.log(`SKIP ${options.suite} › ${name}: ${reason}`);
      it.skip(`${name} [skipped: ${reason}]`, run);
    },
  };
}

/** Polls `condition` until it holds, failing with `what` after `timeoutMs`. */
export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Settles with `promise`, or fails with `what` after `timeoutMs` (so a hang fails the test clearly). */
export async function within<T>(what: string, promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms: ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Unique names for topics, groups, keys: letters, digits and dashes only (valid on every engine). */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
