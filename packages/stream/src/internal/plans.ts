import type { TopologyPlan } from './plan.js';

/** Each topology's plan, for the package's own modules (install, the test driver), out of the public API. */
const plans = new WeakMap<object, () => TopologyPlan>();

export function registerPlan(topology: object, plan: () => TopologyPlan): void {
  plans.set(topology, plan);
}

export function planOf(topology: object): TopologyPlan {
  const plan = plans.get(topology);
  if (!plan) throw new TypeError('not a topology made by createTopology()');
  return plan();
}
