import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { createTxRunner, type TxScope } from '../src/stores/txRunner.js';

function setup(durable: () => Promise<void>, flushed: () => Promise<void> = () => Promise.resolve()) {
  const db = new Database(':memory:');
  db.exec('CREATE TABLE t (v TEXT)');
  const insert = db.prepare('INSERT INTO t VALUES (?)');
  const committed: TxScope[][] = [];
  const runner = createTxRunner({ db, maxBatch: 100, transactionTimeoutMs: 1000, busyTimeoutMs: 1000, durable, flushed, committed: (scopes) => void committed.push([...scopes]) });
  return { db, runner, insert, committed };
}

describe('store transaction runner', () => {
  it('settles transactions only once their commit is durable; a failed fsync fails them (retriable)', async () => {
    let syncs = 0;
    let finishSync: (error?: Error) => void = () => {};
    const { db, runner, insert, committed } = setup(() => {
      syncs++;
      return new Promise<void>((resolve, reject) => (finishSync = (error) => (error ? reject(error) : resolve())));
    });
    let settled = false;
    const first = runner.run((scope) => scope.run(insert, ['a'])).finally(() => (settled = true));
    while (syncs === 0) await new Promise((resolve) => setImmediate(resolve));
    expect(db.prepare('SELECT v FROM t').all()).toEqual([{ v: 'a' }]); // committed...
    expect(settled).toBe(false); // ...but not acknowledged before the fsync
    expect(committed).toEqual([]);
    finishSync();
    await expect(first).resolves.toBe(1);
    expect(committed).toHaveLength(1);
    const second = runner.run((scope) => scope.run(insert, ['b']));
    while (syncs === 1) await new Promise((resolve) => setImmediate(resolve));
    finishSync(new Error('EIO'));
    await expect(second).rejects.toMatchObject({ code: 'store-unavailable', retriable: true });
  });

  it('settles durable:none transactions at commit, and read-only ones after the fsyncs under way, starting none', async () => {
    let syncs = 0;
    let finishFlush: () => void = () => {};
    const { runner, insert, db } = setup(
      () => (syncs++, new Promise<void>(() => {})),
      () => new Promise<void>((resolve) => (finishFlush = resolve)),
    );
    await expect(runner.run((scope) => scope.run(insert, ['hint']), { durable: 'none' })).resolves.toBe(1);
    const select = db.prepare('SELECT count(*) AS n FROM t');
    let readSettled = false;
    const read = runner.run((scope) => scope.get(select, [])).finally(() => (readSettled = true));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(readSettled).toBe(false);
    finishFlush();
    await expect(read).resolves.toEqual({ n: 1 });
    expect(syncs).toBe(0);
  });

  it("settles a 'prior' transaction (a relay claim) only once earlier commits it may have read are on disk", async () => {
    let running: Promise<void> | undefined;
    let finishSync: () => void = () => {};
    const { runner, insert } = setup(
      () => (running = new Promise<void>((resolve) => (finishSync = resolve))),
      () => running ?? Promise.resolve(),
    );
    let producerSettled = false;
    const producer = runner.run((scope) => scope.run(insert, ['event'])).finally(() => (producerSettled = true));
    while (!running) await new Promise((resolve) => setImmediate(resolve));
    let claimSettled = false;
    const claim = runner.run((scope) => scope.run(insert, ['claim']), { durable: 'prior' }).finally(() => (claimSettled = true));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect([producerSettled, claimSettled]).toEqual([false, false]);
    finishSync();
    await Promise.all([producer, claim]);
  });

  it('fails a transaction at once when its work fails, without waiting for an fsync', async () => {
    const { runner } = setup(() => new Promise<void>(() => {}));
    await expect(runner.run(() => Promise.reject(new Error('work failed')))).rejects.toThrow('work failed');
  });
});
