import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineFromEnv, type Engine } from '@herald/engine';
import { afterEach, describe, expect, it } from 'vitest';
import { migrate } from '../src/schema.js';
import { recordSurge, surgeInForce, surgeRowAt } from '../src/services/pricing.js';

// Pricing's surge table on a real SQLite file: what a booking is priced with, whenever pricing
// gets to it, and a data dir of an earlier version migrated.

const WINDOW_MS = 300_000;
const HOLD_MS = WINDOW_MS + 10_000;
const opened: { engine: Engine; dir: string }[] = [];
afterEach(async () => {
  for (const { engine, dir } of opened.splice(0)) {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

async function open(dir = mkdtempSync(join(tmpdir(), 'herald-ride-pricing-'))): Promise<Engine> {
  const engine = await engineFromEnv({ HERALD_DATA_DIR: dir, HERALD_LOG_LEVEL: 'silent' });
  opened.push({ engine, dir });
  return engine;
}

const surge = (windowEnd: number, multiplier: number) => ({ regionId: 'sochi', windowEnd, multiplier, bookings: Math.round(multiplier * 10) });

describe('pricing\'s surge table', () => {
  it('prices a booking with the surge of the window before its creation, even when priced after later windows closed', async () => {
    const { stores } = await open();
    await migrate(stores, 'embedded');
    // pricing lagged: the results of [0, 5 min) (quiet) and [5, 10 min) (a surge) are in before the bookings
    await stores.transaction(async (tx) => {
      await recordSurge(tx, surge(300_000, 1), HOLD_MS);
      await recordSurge(tx, surge(600_000, 2), HOLD_MS);
    });
    const priced = (createdAt: number) => stores.transaction(async (tx) => surgeInForce(await surgeRowAt(tx, 'sochi', createdAt), createdAt, HOLD_MS));
    expect(await priced(180_000)).toBe(1); // in [0, 5 min): before any window ended
    expect(await priced(420_000)).toBe(1); // after [0, 5 min), quiet; not the later window's 2
    expect(await priced(599_999)).toBe(1);
    expect(await priced(720_000)).toBe(2); // the window that follows [5, 10 min)
    expect(await priced(600_000 + HOLD_MS - 1)).toBe(2);
    expect(await priced(600_000 + HOLD_MS)).toBe(1); // no result for [10, 15 min): the surge is over
  });

  it('keeps the table bounded: a region\'s rows more than a hold older than its newest are deleted', async () => {
    const { stores } = await open();
    await migrate(stores, 'embedded');
    await stores.transaction(async (tx) => {
      for (let end = WINDOW_MS; end <= 20 * WINDOW_MS; end += WINDOW_MS) await recordSurge(tx, surge(end, 1.5), HOLD_MS);
      await recordSurge(tx, { ...surge(WINDOW_MS, 2), regionId: 'msk-center' }, HOLD_MS);
      // a result older than that, arriving late, is not kept either
      await recordSurge(tx, surge(WINDOW_MS, 2.5), HOLD_MS);
    });
    const rows = await stores.transaction((tx) => tx.query<{ region_id: string; window_end: number }>('SELECT region_id, window_end FROM pricing_surge_windows ORDER BY region_id, window_end'));
    expect(rows.map((r) => [r.region_id, Number(r.window_end)])).toEqual([
      ['msk-center', WINDOW_MS],
      ['sochi', 19 * WINDOW_MS],
      ['sochi', 20 * WINDOW_MS],
    ]);
  });

  it('migrates a data dir of the version that kept one row per region, with its surge', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-ride-pricing-'));
    const before = await engineFromEnv({ HERALD_DATA_DIR: dir, HERALD_LOG_LEVEL: 'silent' });
    await before.stores.transaction(async (tx) => {
      await tx.execute('CREATE TABLE pricing_surge (region_id TEXT PRIMARY KEY, multiplier DOUBLE PRECISION NOT NULL, bookings INTEGER NOT NULL, window_end BIGINT NOT NULL)');
      await tx.execute('INSERT INTO pricing_surge (region_id, multiplier, bookings, window_end) VALUES ($1, $2, $3, $4)', ['sochi', 1.7, 27, 600_000]);
    });
    await before.close();
    const { stores } = await open(dir);
    await migrate(stores, 'embedded');
    await migrate(stores, 'embedded'); // at every start: the rows moved once
    const row = await stores.transaction((tx) => surgeRowAt(tx, 'sochi', 720_000));
    expect(row && { ...row, window_end: Number(row.window_end) }).toEqual({ multiplier: 1.7, bookings: 27, window_end: 600_000 });
    expect(await stores.transaction((tx) => tx.query('SELECT * FROM pricing_surge'))).toEqual([]);
  });
});
