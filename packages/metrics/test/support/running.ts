import { afterEach } from 'vitest';
import { parseExposition, type ExpositionSample, type HeraldMetrics } from '../../src/index.js';
import { eventually, type TestApp } from './app.js';

/**
 * Apps a test file starts, closed after each test (last started, first closed): registers the
 * `afterEach` in the calling file. `started` runs an app with `metrics` in it until ready; `onClose`
 * adds a closing step of the test's own.
 */
export function useStartedApps() {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });
  return {
    async started(fixture: TestApp, metrics: HeraldMetrics): Promise<void> {
      fixture.app.use(metrics);
      await fixture.app.start();
      closers.push(() => fixture.app.close({ deadlineMs: 2000 }));
      await fixture.app.ready();
    },
    onClose(close: () => Promise<void>): void {
      closers.push(close);
    },
  };
}

export async function scrape(metrics: HeraldMetrics): Promise<ExpositionSample[]> {
  return parseExposition((await metrics.scrape()).body);
}

/** Reads the read side until both groups committed on all 4 partitions of their topic and have no lag left. */
export async function caughtUp(metrics: HeraldMetrics): Promise<void> {
  await eventually(async () => {
    await metrics.poll();
    const lags = (await scrape(metrics)).filter((x) => x.name === 'herald_consumer_lag');
    return ['billing', 'audit'].every((group) => {
      const own = lags.filter((x) => x.labels['group'] === group);
      return own.length === 4 && own.every((x) => x.value === 0);
    });
  }, 'both groups caught up on every partition');
}
