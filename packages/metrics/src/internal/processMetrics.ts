import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * prom-client's gauges named like counters (`promtool check metrics`: "non-counter metrics should
 * not have _total suffix"). Each is the sum of a gauge that stays, per type: `nodejs_active_handles`,
 * `nodejs_active_requests`, `nodejs_active_resources` (`sum(...)` gives the same number).
 */
const MISNAMED = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

let shared: Registry | undefined;

/**
 * The process metrics (prom-client's default metrics: CPU, memory, heap, event loop lag, GC,
 * handles, Node version), in one registry per process, created on first use. They describe the
 * process, not an app, and prom-client's collectors cannot be stopped once started (the GC
 * observer and the event loop monitor stay on), so creating them per app would leak one set per
 * app (in tests, one per test); every app's scrape appends this one registry instead.
 */
export function processRegistry(): Registry {
  if (!shared) {
    shared = new Registry();
    collectDefaultMetrics({ register: shared });
    for (const name of MISNAMED) shared.removeSingleMetric(name);
  }
  return shared;
}
