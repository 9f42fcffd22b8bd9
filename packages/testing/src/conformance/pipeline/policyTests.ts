import { encodeEnvelope, policyStep, type DeliveryOutcome, type Middleware } from '@herald/core';
import { expect } from 'vitest';
import { counts, effectId, type PipelineFixture } from './fixture.js';

interface Seen {
  readonly key: string;
  readonly outcome: DeliveryOutcome | undefined;
  readonly attempts: number;
  readonly failedOnce: boolean;
}

/**
 * Two policies written as a user would, with only the public API: `recorder`, outside the
 * dead-letter policy, reads each delivery's state once it is over; `audit`, inside the
 * transaction, writes an audit row through `ctx.tx` that commits with the handler's effect. A
 * transient failure shows as two attempts, a poison handler as a dead letter, the same event
 * delivered again (its wire value republished) as a duplicate — and a rolled-back attempt leaves no audit row.
 */
export async function runsUserPolicies<Tx>(f: PipelineFixture<Tx>): Promise<void> {
  const group = f.group('policies');
  const seen: Seen[] = [];
  const recorder = policyStep<Tx>('recorder', (next) =>
    async function recorderHandler(event, ctx) {
      try {
        await next(event, ctx);
      } finally {
        seen.push({ key: event.key, outcome: ctx.state.outcome, attempts: ctx.state.attempts, failedOnce: ctx.state.firstFailureAt !== undefined });
      }
    },
  );
  const audit: Middleware<Tx> = (next) =>
    async function auditHandler(event, ctx) {
      await next(event, ctx);
      await f.harness.writeEffect(ctx.tx, `audit:${event.key}:attempt-${ctx.attempt}`);
    };
  const failures = new Map<string, number>();
  const app = f
    .app({ pipeline: (p) => p.insertAfter('instrument', recorder).insertAfter('inbox', policyStep('audit', audit)) })
    .on(f.Step, { group }, async (event, ctx) => {
      const { orderId } = event.data;
      if (orderId === 'poison') throw new Error('never works');
      if (orderId === 'flaky' && !failures.has(orderId)) {
        failures.set(orderId, 1);
        await f.harness.writeEffect(ctx.tx, 'rolled-back');
        throw new Error('works the second time');
      }
      await f.harness.writeEffect(ctx.tx, effectId(event.data));
    });
  await app.start();
  const fine = await app.publish(f.Step, { orderId: 'fine', seq: 0 });
  await app.publish(f.Step, { orderId: 'flaky', seq: 0 });
  await app.publish(f.Step, { orderId: 'poison', seq: 0 });
  await f.harness.broker.publish([{ topic: f.topic, key: fine.key, value: encodeEnvelope(fine) }]);

  await f.waitFor('four deliveries recorded', () => seen.length >= 4);
  const byKey = (key: string) => seen.filter((s) => s.key === key);
  expect(byKey('fine')).toEqual([
    { key: 'fine', outcome: 'applied', attempts: 1, failedOnce: false },
    { key: 'fine', outcome: 'duplicate', attempts: 1, failedOnce: false },
  ]);
  expect(byKey('flaky')).toEqual([{ key: 'flaky', outcome: 'applied', attempts: 2, failedOnce: true }]);
  expect(byKey('poison')).toEqual([{ key: 'poison', outcome: 'dead-lettered', attempts: 2, failedOnce: true }]);
  const effects = counts(await f.effects());
  expect(effects.get('fine:0')).toBe(1);
  expect(effects.get('flaky:0')).toBe(1);
  expect(effects.get('rolled-back'), 'the failed attempt rolled back').toBeUndefined();
  expect(effects.get('audit:fine:attempt-1'), 'audit commits with the effect, once').toBe(1);
  expect(effects.get('audit:flaky:attempt-2')).toBe(1);
  expect([...effects.keys()].filter((id) => id.startsWith('audit:poison'))).toEqual([]);
}
