import { describe } from 'vitest';
import type { Stores } from '@herald/core';
import { suiteTests } from '../suiteTests.js';
import { withStores, type StoreFixture } from './fixture.js';
import type { StoreConformanceOptions } from './harness.js';

/** One test of a store suite: its title, its body, and the guarantees it needs. */
export type StorePlanEntry<Tx, S extends Stores<Tx>, Name extends string> = readonly [Name, (f: StoreFixture<Tx, S>) => Promise<void>, readonly 'durable'[]];

/**
 * Declares one store suite (the required stores', or an optional ability's) as a vitest `describe`
 * block: every test gets fresh stores from `options.create`, skips are printed with their reasons,
 * and `durable` tests run only for adapters that declare durability.
 */
export function describeStoreSuite<Tx, S extends Stores<Tx>, Name extends string>(
  title: string,
  names: readonly Name[],
  plan: readonly StorePlanEntry<Tx, S, Name>[],
  options: StoreConformanceOptions<Tx, S, Name>,
): void {
  const suite = `${title}: ${options.name}`;
  describe(suite, () => {
    const tests = suiteTests({
      suite,
      names,
      skip: options.skip,
      guarantees: options.durable ? ['durable'] : [],
      timeoutMs: options.testTimeoutMs ?? 30_000,
    });
    for (const [name, run, requires] of plan) tests.test(name, () => withStores(options, run), requires);
  });
}
