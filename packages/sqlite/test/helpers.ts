import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Delivery, DeliveryBatch, DeliverySink, Subscription, TopicPartition } from '@herald/core';

/** A fresh directory under the OS temp dir, and a function that removes it. */
export function tempDir(prefix = 'herald-sqlite-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The `name`s of table `rows` committed in the file at `path`, as another process sees them, sorted. */
export function committedNames(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare<[], string>('SELECT name FROM rows ORDER BY name').pluck().all();
  } finally {
    db.close();
  }
}

/** Polls `condition` until it holds or `timeoutMs` passes (integration tests only). */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A sink that records what it receives and, optionally, commits after each batch. */
export function recordingSink(options: { autoCommit?: () => Subscription | undefined } = {}) {
  const deliveries: Delivery[] = [];
  const batches: DeliveryBatch[] = [];
  const owned = new Set<string>();
  const events: string[] = [];
  const sink: DeliverySink = {
    async deliver(batch) {
      batches.push(batch);
      deliveries.push(...batch.deliveries);
      const subscription = options.autoCommit?.();
      if (subscription) {
        await subscription.commit([{ topic: batch.topic, partition: batch.partition, offset: batch.deliveries.at(-1)!.offset + 1 }]);
      }
    },
    assigned(partitions: readonly TopicPartition[]) {
      for (const tp of partitions) owned.add(`${tp.topic}/${tp.partition}`);
      events.push(`assigned ${partitions.length}`);
    },
    async revoked(partitions: readonly TopicPartition[]) {
      for (const tp of partitions) owned.delete(`${tp.topic}/${tp.partition}`);
      events.push(`revoked ${partitions.length}`);
    },
  };
  return { sink, deliveries, batches, owned, events };
}
