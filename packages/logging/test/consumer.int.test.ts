import { createApp, defineEvent } from '@herald/core';
import { eventually, memoryBroker, memoryStores, type MemoryTx } from '@herald/testing';
import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { pinoLogger } from '../src/index.js';
import { topLevelKeys } from './jsonKeys.js';

const Greeted = defineEvent({ type: 'Greeted', topic: 'greetings', key: (d) => d.name, schema: Type.Object({ name: Type.String() }) });

describe('a consumer group logging through pino', () => {
  it('names its group once on each of its lines, through the logger it is given', async () => {
    const lines: string[] = [];
    const logger = pinoLogger({ destination: { write: (chunk: string) => void lines.push(...chunk.split('\n').filter(Boolean)) }, fields: { service: 'greeter' } });
    const app = createApp<MemoryTx>({ broker: memoryBroker({ partitions: 2 }), stores: memoryStores(), logger, events: [Greeted], relay: { idleMs: 2 } });
    const greeted: string[] = [];
    app.on(Greeted, { group: 'greeter' }, async (event) => void greeted.push(event.data.name));
    await app.start();
    await app.publish(Greeted, { name: 'Ada' });
    await eventually(() => (greeted.length === 1 ? true : undefined), 10_000, 'the greeting handled');
    await app.close();

    const entries = lines.map((line) => ({ line, entry: JSON.parse(line) as Record<string, unknown> }));
    const consumerLines = entries.filter(({ entry }) => entry['msg'] === 'partitions assigned' || entry['msg'] === 'partitions revoked');
    expect(consumerLines.map(({ entry }) => entry['msg'])).toEqual(['partitions assigned', 'partitions revoked']);
    for (const { entry } of consumerLines) expect(entry).toMatchObject({ service: 'greeter', group: 'greeter', partitions: ['greetings/0', 'greetings/1'] });
    for (const { line } of entries) {
      const keys = topLevelKeys(line);
      expect(keys, line).toEqual([...new Set(keys)]);
    }
  });
});
