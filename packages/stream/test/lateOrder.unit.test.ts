import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { defineEvent } from '@herald/core';
import { memoryStores, type MemoryTx } from '@herald/testing';
import { TimeWindows, createTopology, streamTest } from '../src/index.js';

// The order a batch hands an aggregation's output on: its late records, then the results of the
// windows it closes. An application that keeps a window's records aside (analytics-pipeline's
// minute events) takes a late one back before the window's result reads them.

const Click = defineEvent({ type: 'Click', topic: 'clicks', key: (d) => d.userId, schema: Type.Object({ userId: Type.String() }) });

describe('within one batch', () => {
  it("hands an aggregation's late records to the side output before the results of the windows the batch closes", async () => {
    const seen: string[] = [];
    const topology = createTopology<MemoryTx>({ name: 'clicks', idleTimeoutMs: false });
    topology
      .from(Click)
      .groupByKey()
      .windowedBy(TimeWindows.ofSizeWithNoGrace(10_000))
      .count('per-user', {
        late: {
          handler: async (late) => {
            seen.push(`late ${late.timestamp}`);
          },
        },
      })
      .forEach(async (result) => {
        seen.push(`result ${result.value.start}`);
      });
    const t = streamTest(topology, { stores: memoryStores() });
    await t.given(Click, [{ userId: 'u-1' }, { userId: 'u-1' }], { at: (_, i) => [1_000, 15_000][i]! });
    expect(seen).toEqual(['result 0']);
    // one batch: the record that closes [10 000, 20 000) comes first, the late one for [0, 10 000) after it
    await t.when(Click, [{ userId: 'u-1' }, { userId: 'u-1' }], { at: (_, i) => [25_000, 2_000][i]! });
    expect(seen).toEqual(['result 0', 'late 2000', 'result 10000']);
  });
});
