import { sqliteLog } from '@herald/sqlite';
import type { Subscription } from '@herald/core';
import { rmSync } from 'node:fs';
rmSync('/tmp/hs/dbg', { recursive: true, force: true });
const path = '/tmp/hs/dbg/log.db';
const log = sqliteLog({ path, topics: [{ name: 'orders', partitions: 4 }], logger: (await import('@herald/core')).jsonLogger({ level: 'debug' }) });
await log.publish(Array.from({ length: 10 }, (_, i) => ({ topic: 'orders', key: 'same', value: `v${i}` })));
const first: string[] = [];
let subscription: Subscription | undefined;
subscription = await log.subscribe({ group: 'g', topics: ['orders'], maxBatch: 3 }, {
  async deliver(batch) {
    first.push(...batch.deliveries.map((d) => d.value));
    if (first.length <= 6) await subscription!.commit([{ topic: batch.topic, partition: batch.partition, offset: batch.deliveries.at(-1)!.offset + 1 }]);
  },
  async revoked() {},
});
await new Promise((r) => setTimeout(r, 300));
console.log(first);
await log.close();
const again = sqliteLog({ path, topics: [{ name: 'orders', partitions: 4 }] });
const second: string[] = [];
await again.subscribe({ group: 'g', topics: ['orders'] }, { async deliver(b) { second.push(...b.deliveries.map((d) => d.value)); }, async revoked() {} });
await new Promise((r) => setTimeout(r, 300));
console.log(second);
await again.close();
