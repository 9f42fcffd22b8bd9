// The metrics a deployed service runs, attached to a benchmark app: bench/engines.ts'
// `embedded+metrics` measures what they cost against `embedded` in the same run.
import type { App, Component, SqlTx } from '@herald/core';
import { createMetrics, parseExposition, sumSamples } from '@herald/metrics';

/** How often the benchmark scrapes and reads the read side: far more often than Prometheus' 15 s, so the cost shows. */
const EVERY_MS = 1000;

/**
 * @herald/metrics on `app`, as a component: every fact counted (so the instrument step builds a
 * `handled` fact per delivery), the read side (lag, outbox backlog, dead letters) read and the
 * whole registry, process metrics included, scraped every second. Fails at close if the metrics
 * saw nothing: a variant that measured no metrics would report a false overhead.
 */
export function benchMetrics(app: App<SqlTx>): Component {
  const metrics = createMetrics({ app, pollIntervalMs: EVERY_MS });
  let timer: NodeJS.Timeout | undefined;
  return {
    name: 'bench-metrics',
    async start(signal) {
      await metrics.start(signal);
      timer = setInterval(() => void metrics.scrape(), EVERY_MS);
    },
    ready: () => metrics.ready!(),
    async close(options) {
      clearInterval(timer);
      const handled = sumSamples(parseExposition((await metrics.scrape()).body), 'herald_events_handled_total');
      await metrics.close(options);
      if (handled === 0) throw new Error('bench: the metrics counted no handled event');
    },
  };
}
