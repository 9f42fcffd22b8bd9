import { CoreErrors, HeraldError } from '@herald/core';
import type { TopologyPlan } from './plan.js';

/**
 * The names each app's installed topologies go by, and whose each one is. They are not the
 * topology's own: its window state (`<topology>.<aggregation>`), its consumer groups (`<topology>`,
 * `<topology>-<groupBy>`) and its repartition topics are the app's, and names from two topologies
 * can meet there (`a` + `b.x` and `a.b` + `x`; `shop` + `by-page` and `shop-by` + `page`; one name
 * used twice). Two aggregations sharing window state would count each other's records in the same
 * windows and share one stream time, without a word.
 */
const claimed = new WeakMap<object, Map<string, string>>();

/**
 * Claims the names `plan` goes by on `app`, or refuses with `invalid-options`, naming the first
 * taken and its owner, when one is another installed topology's (or this one's: it is installed
 * already). Nothing is claimed when it refuses.
 */
export function claimNames(app: object, plan: TopologyPlan): void {
  let names = claimed.get(app);
  if (!names) claimed.set(app, (names = new Map()));
  const wanted = [
    ...plan.groups.flatMap((g) => g.aggregations.map((a) => `window state ${a.store}`)),
    ...plan.groups.map((g) => `consumer group ${g.group}`),
    ...[...plan.repartitions.keys()].map((topic) => `repartition topic ${topic}`),
  ];
  for (const name of wanted) {
    const owner = names.get(name);
    if (owner === undefined) continue;
    throw new HeraldError(
      CoreErrors.invalidOptions,
      `topology ${plan.name}: its ${name} is already topology ${owner}'s on this app${owner === plan.name ? ' (a topology is installed once; give each its own name)' : ''}: the two would share it, and count each other's records in the same windows. Rename one of them`,
      { details: { topology: plan.name, name, owner } },
    );
  }
  for (const name of wanted) names.set(name, plan.name);
}
