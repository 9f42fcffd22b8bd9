import type { App, Component, WindowStore } from '@herald/core';
import type { Activity } from './activity.js';
import type { TopologyPlan } from './plan.js';
import { punctuate } from './run.js';

/**
 * The component that closes idle partitions' windows: every `punctuateIntervalMs` (on the app's
 * clock) it looks for partitions of the topology's groups that this member holds and that
 * received nothing for `idleTimeoutMs`, and moves their aggregations' stream time on with the
 * wall clock, each partition in one app transaction: the windows it closes are deleted and their
 * results published together. A failed punctuation is logged and tried again at the next tick.
 */
export function createPunctuator<Tx>(app: App<Tx>, plan: TopologyPlan, activity: Activity, windows: WindowStore<unknown>): Component {
  const stop = new AbortController();
  const logger = app.logger.child({ component: `stream:${plan.name}` });
  let loop: Promise<void> | undefined;

  async function tick(): Promise<void> {
    const now = app.clock.now();
    for (const group of plan.groups) {
      if (group.aggregations.length === 0) continue;
      for (const partition of activity.idle(group.group, now)) {
        if (stop.signal.aborted) return;
        await app.transaction((tx, publish) =>
          punctuate(group, { tx, publish, logger, group: group.group, partition, windows }, (node, stored) => activity.target(group.group, partition, node.store, stored, now)),
        );
      }
    }
  }

  async function run(): Promise<void> {
    while (!stop.signal.aborted) {
      await app.clock.sleep(plan.punctuateIntervalMs, stop.signal).catch(() => {});
      if (stop.signal.aborted) return;
      await tick().catch((error: unknown) => logger.warn('stream punctuation failed; trying again at the next tick', { error }));
    }
  }

  return {
    name: `stream:${plan.name}`,
    async start() {
      loop = run();
    },
    async close() {
      stop.abort();
      await loop;
    },
  };
}
