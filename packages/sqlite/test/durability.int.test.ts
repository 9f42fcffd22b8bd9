import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { startFixture, type Child } from './child.js';
import { tempDir } from './helpers.js';

const tmp = tempDir();
const children: Child[] = [];
afterAll(() => {
  for (const child of children) child.kill();
  tmp.remove();
});

/** Runs the fixture until it acknowledged `atLeast` writes, kills it with SIGKILL, returns the acks it printed. */
async function runAndKill(fixture: string, args: readonly string[], atLeast: number): Promise<string[]> {
  const child = startFixture(fixture, args);
  children.push(child);
  await child.waitForLine((line) => line === 'ready');
  await child.waitForLine(() => child.lines.length > atLeast);
  child.kill('SIGKILL');
  expect(await child.exited).toBe('SIGKILL');
  return child.lines.filter((line) => line.startsWith('ack '));
}

describe('durability under kill -9', () => {
  it('keeps every record whose publish resolved, across three kills at random moments', async () => {
    const path = join(tmp.dir, 'log.db');
    const acked: string[] = [];
    for (let round = 0; round < 3; round++) acked.push(...(await runAndKill('publishLoop', [path, String(round * 1_000_000)], 300 + Math.floor(Math.random() * 2000))));
    const db = new Database(path, { readonly: true });
    try {
      const rows = db.prepare<[], { pid: number; position: number; key: string; value: string }>('SELECT pid, position, key, value FROM herald_records ORDER BY pid, position').all();
      const stored = new Set(rows.map((r) => `${r.key} ${(JSON.parse(r.value) as { n: number }).n}`));
      const missing = acked.map((line) => line.slice(4)).filter((ack) => !stored.has(ack));
      expect(acked.length).toBeGreaterThan(900);
      expect(missing).toEqual([]);
      // offsets stay dense per partition and the heads agree with the records
      const heads = db.prepare<[], { pid: number; next_offset: number }>('SELECT pid, next_offset FROM herald_partitions').all();
      for (const { pid, next_offset } of heads) {
        const positions = rows.filter((r) => r.pid === pid).map((r) => r.position);
        expect(positions).toEqual(positions.map((_, i) => i));
        expect(next_offset).toBe(positions.length);
      }
    } finally {
      db.close();
    }
  });

  it('keeps every store transaction that resolved, with its outbox record', async () => {
    const path = join(tmp.dir, 'store.db');
    const acked: string[] = [];
    for (let round = 0; round < 2; round++) acked.push(...(await runAndKill('transactionLoop', [path], 300 + Math.floor(Math.random() * 1500))));
    const db = new Database(path, { readonly: true });
    try {
      const rows = new Set(db.prepare<[], number>('SELECT n FROM acks').pluck().all());
      const outbox = new Set(db.prepare<[], string>('SELECT id FROM herald_outbox').pluck().all());
      const numbers = acked.map((line) => Number(line.slice(4)));
      expect(numbers.length).toBeGreaterThan(600);
      expect(numbers.filter((n) => !rows.has(n))).toEqual([]);
      expect(numbers.filter((n) => !outbox.has(`e-${n}`))).toEqual([]);
      // and nothing half-done: every application row has its outbox record and vice versa
      expect(rows.size).toBe(outbox.size);
    } finally {
      db.close();
    }
  });
});
