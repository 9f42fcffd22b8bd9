import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { tablesFor } from '../src/internal/tables.js';
import { appendOutbox } from '../src/internal/outbox/appendOutbox.js';
import { claimRows } from '../src/internal/outbox/claimOutbox.js';
import { positionsBetween } from '../src/internal/outbox/markOutboxPublished.js';
import { sweepOutbox, sweepOutboxMarks } from '../src/internal/outbox/sweepOutbox.js';
import { usePostgres } from './support.js';

const pgs = usePostgres();

describe('outbox query plans', () => {
  it("reads a relay round's rows, retention's marks, and an append's slot heads through the slot index, not the whole table", async () => {
    // a statement the partial index cannot serve reads every row once per slot (or per mark), and
    // costs more the longer the outbox grows (a relay's mark did cost 250 ms per round at 60,000 rows)
    const url = await pgs.database();
    const stores = await pgs.stores({ url });
    await stores.transaction((tx) => stores.outbox.append(tx, [{ id: 'warm', topic: 'orders', key: 'warm', type: 'T', correlationId: 'c-warm', value: 'warm', headers: {}, createdAt: 1 }]));
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(
        `INSERT INTO herald.outbox (id, topic, key, type, correlation_id, value, headers, created_at)
         SELECT 'bulk-' || g, 'orders', 'k' || (g % 1000), 'T', 'c-' || g, repeat('x', 200), '{}', g FROM generate_series(1, 30000) g`,
      );
      // old watermark moves, as retention finds them
      await client.query(
        `INSERT INTO herald.outbox_marks (slot, up_to_txid, up_to_seq, published_at)
         SELECT g % 16, (SELECT max(txid) FROM herald.outbox), g * 10, 0 FROM generate_series(1, 300) g`,
      );
      await client.query('ANALYZE');
      const [{ txid }] = (await client.query<{ txid: string }>("SELECT max(txid)::text AS txid FROM herald.outbox")).rows;
      const t = tablesFor('herald');
      const slots = Array.from({ length: 16 }, (_, slot) => ({ slot, txid: '0', seq: '0' }));
      const record = (id: string, value = 'v') => ({ id, topic: 'orders', key: `k-${id}`, type: 'T', correlationId: 'c', value, headers: {}, createdAt: 1 });
      const statements = {
        appendOne: appendOutbox(t, [record('a1')]),
        appendMany: appendOutbox(t, [record('a2'), record('a3')]),
        appendArrays: appendOutbox(t, [record('a4', 'emoji \u{1F600}'), record('a5')]),
        claim: claimRows(t, { slots, xmin: String(BigInt(txid!) + 1n), limit: 100 }),
        // a relay holding keys back behind refused records: the same index scans, filtered
        claimSkipping: claimRows(t, { slots, xmin: String(BigInt(txid!) + 1n), limit: 100, skipKeys: Array.from({ length: 50 }, (_, i) => `k${i}`) }),
        mark: positionsBetween(t, slots.map(({ slot }) => ({ slot, fromTxid: '0', fromSeq: '0', toTxid: txid!, toSeq: '200' }))),
        sweepMarks: sweepOutboxMarks(t, { retentionMs: 1000, limit: 100 }),
      };
      // prepared statements run generic plans after a few executions: that is the plan to check
      await client.query('SET plan_cache_mode = force_generic_plan');
      for (const [name, statement] of Object.entries(statements)) {
        const { rows } = await client.query<{ 'QUERY PLAN': unknown }>({ text: `EXPLAIN (FORMAT JSON) ${statement.text}`, values: statement.values as unknown[] });
        const scanned = relationsScanned(rows[0]!['QUERY PLAN']);
        expect({ name, scanned }).toEqual({ name, scanned: scanned.filter((scan) => scan !== 'Seq Scan outbox') });
        expect(scanned.some((scan) => scan.endsWith(' outbox')), `${name} reads the outbox`).toBe(true);
      }
    } finally {
      await client.end();
    }
  });

  it('finds the watermark moves retention deletes through an index of their times, not by reading every move', async () => {
    // relays record a move per slot and round, kept a whole retention: a sweep reading them all
    // cost 120 ms per 200,000 moves, in every process, at every sweep
    const url = await pgs.database();
    await pgs.stores({ url });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(
        `INSERT INTO herald.outbox_marks (slot, up_to_txid, up_to_seq, published_at)
         SELECT g % 16, '3'::xid8, g, (extract(epoch from now()) * 1000)::bigint - (g % 1000) FROM generate_series(1, 50000) g`,
      );
      await client.query('ANALYZE');
      const t = tablesFor('herald');
      const week = 7 * 86_400_000;
      for (const [name, statement] of Object.entries({ sweepOutbox: sweepOutbox(t, { retentionMs: week, limit: 5000 }), sweepMarks: sweepOutboxMarks(t, { retentionMs: week, limit: 5000 }) })) {
        const { rows } = await client.query<{ 'QUERY PLAN': unknown }>({ text: `EXPLAIN (FORMAT JSON) ${statement.text}`, values: statement.values as unknown[] });
        const scanned = relationsScanned(rows[0]!['QUERY PLAN']);
        expect({ name, scanned }).toEqual({ name, scanned: scanned.filter((scan) => scan !== 'Seq Scan outbox_marks') });
        expect(scanned.some((scan) => scan.endsWith(' outbox_marks')), `${name} reads the moves`).toBe(true);
      }
    } finally {
      await client.end();
    }
  });
});

/** "<node type> <relation>" of every plan node that reads a relation. */
function relationsScanned(plan: unknown): string[] {
  const out: string[] = [];
  const walk = (node: Record<string, unknown>) => {
    if (typeof node['Relation Name'] === 'string') out.push(`${String(node['Node Type'])} ${node['Relation Name']}`);
    for (const child of (node['Plans'] as Record<string, unknown>[] | undefined) ?? []) walk(child);
  };
  for (const root of plan as { Plan: Record<string, unknown> }[]) walk(root.Plan);
  return out;
}
