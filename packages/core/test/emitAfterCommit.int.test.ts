import { afterEach, describe, expect, it } from 'vitest';
import { createHandlerContext, isHeraldError, type InstrumentationEvent } from '@herald/core';
import { closeApps, newApp, Step } from './appFixture.js';
import { eventually } from './support.js';

afterEach(closeApps);

/** A fact a handler records: the saga package's kind serves, any kind of the union would. */
const factOf = (key: string, attempt: number): InstrumentationEvent => ({ kind: 'saga', saga: `${key}@${attempt}`, transition: 'started' });

describe('ctx.emitAfterCommit', () => {
  it("emits a handler's facts once its transaction committed: none of an attempt that failed, none of a delivery dead-lettered", async () => {
    const { app } = newApp();
    const seen: string[] = [];
    app.instrumentation.on((fact) => {
      if (fact.kind === 'saga') seen.push(fact.saga);
      if (fact.kind === 'handled') seen.push(`handled ${fact.outcome}`);
    });
    app.on(Step, { group: 'worker' }, async (event, ctx) => {
      ctx.emitAfterCommit(factOf(event.data.key, ctx.attempt));
      // `fail` attempts fail after recording; past maxAttempts (3) the delivery is dead-lettered
      if (ctx.attempt <= (event.data.fail ?? 0)) throw new Error(`attempt ${ctx.attempt} fails`);
    });
    await app.start();
    await app.publish(Step, { key: 'second-time', seq: 1, fail: 1 });
    await eventually(() => seen.includes('handled applied'), 'the retried event applied');
    await app.publish(Step, { key: 'never', seq: 2, fail: 9 });
    await eventually(async () => (await app.deadLetters()).length === 1, 'the failing event dead-lettered');
    await eventually(() => seen.includes('handled dead-lettered'), 'its handled fact');
    expect(seen).toEqual(['second-time@2', 'handled applied', 'handled dead-lettered']);
  });

  it('is refused outside the transaction policy, as ctx.tx is', () => {
    const delivery = { topic: 'steps', partition: 0, offset: 0, key: 'k', value: '{}', headers: {}, timestamp: 0 };
    const ctx = createHandlerContext({ group: 'g', handler: 'g:Step', delivery });
    let thrown: unknown;
    try {
      ctx.emitAfterCommit(factOf('k', 1));
    } catch (error) {
      thrown = error;
    }
    expect(isHeraldError(thrown) && thrown.code).toBe('invalid-options');
    expect(String(thrown)).toMatch(/ctx\.emitAfterCommit is only available inside the transaction policy's scope/);
  });
});
