import { ErrorCodes, type ReadTransactions, type Stores } from '@herald/core';
import { expect } from 'vitest';
import type { StoreFixture } from './fixture.js';

/** Stores with read-only transactions. */
export type ReadTestStores<Tx> = Stores<Tx> & ReadTransactions<Tx>;
type F<Tx> = StoreFixture<Tx, ReadTestStores<Tx>>;

/** A promise and the function that resolves it: holds a transaction open until the test lets it go. */
function gate(): { readonly opened: Promise<void>; open(): void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** The effects `tx` sees, sorted, through the harness's `readEffectsIn`. */
async function seen<Tx>(f: F<Tx>, tx: Tx): Promise<string[]> {
  const readEffectsIn = f.harness.readEffectsIn;
  if (!readEffectsIn) throw new Error('the read transaction suite needs the harness to have readEffectsIn(tx)');
  return [...(await readEffectsIn.call(f.harness, tx))].sort();
}

/** Commits one effect, so the harness's tables exist before a read. */
async function commitEffect<Tx>(f: F<Tx>, id: string): Promise<void> {
  await f.stores.transaction((tx) => f.harness.writeEffect(tx, id));
}

/**
 * A read running while another transaction is between two of its writes sees neither, even when
 * that transaction's work finishes before the read ends (group commit would then commit both
 * together); once it commits, a new read sees both.
 */
export async function seesNoHalfDoneTransaction<Tx>(f: F<Tx>): Promise<void> {
  await commitEffect(f, 'before');
  const between = gate();
  const proceed = gate();
  const secondWritten = gate();
  const writer = f.stores.transaction(async (tx) => {
    await f.harness.writeEffect(tx, 'first');
    between.open();
    await proceed.opened;
    await f.harness.writeEffect(tx, 'second');
    secondWritten.open();
  });
  try {
    await between.opened;
    const during = await f.stores.read(async (tx) => {
      const effects = await seen(f, tx);
      proceed.open();
      await secondWritten.opened;
      return effects;
    });
    expect(during, 'a read between the writes of an open transaction').toEqual(['before']);
  } finally {
    proceed.open();
    await writer;
  }
  expect(await f.stores.read((tx) => seen(f, tx)), 'a read after it committed').toEqual(['before', 'first', 'second']);
}

/** A write inside a read (a statement, a store operation) fails with `read-only-transaction`, not retriable, and changes nothing. */
export async function refusesWrites<Tx>(f: F<Tx>): Promise<void> {
  await commitEffect(f, 'before');
  const writing = f.stores.read(async (tx) => {
    await f.harness.writeEffect(tx, 'written in a read');
    return 'resolved';
  });
  await expect(writing).rejects.toMatchObject({ code: ErrorCodes.readOnlyTransaction, retriable: false });
  const record = f.record('order-1');
  const appending = f.stores.read((tx) => f.stores.outbox.append(tx, [record]));
  await expect(appending, 'an outbox append with the read tx').rejects.toMatchObject({ code: ErrorCodes.readOnlyTransaction, retriable: false });
  expect(await f.stores.outbox.findByCorrelation(record.correlationId)).toEqual([]);
  // the work swallowing the error changes nothing either
  await f.stores.read(async (tx) => {
    await f.harness.writeEffect(tx, 'swallowed').catch(() => undefined);
  }).catch(() => undefined);
  expect([...(await f.harness.readEffects())].sort()).toEqual(['before']);
}

/** Two statements of one read see one snapshot: a transaction committed between them is not seen. */
export async function readsOneSnapshot<Tx>(f: F<Tx>): Promise<void> {
  await commitEffect(f, 'before');
  const [first, second] = await f.stores.read(async (tx) => {
    const before = await seen(f, tx);
    await commitEffect(f, 'committed meanwhile');
    return [before, await seen(f, tx)];
  });
  expect(first).toEqual(['before']);
  expect(second, 'the second statement of the same read').toEqual(['before']);
  expect(await f.stores.read((tx) => seen(f, tx)), 'a new read').toEqual(['before', 'committed meanwhile']);
}
