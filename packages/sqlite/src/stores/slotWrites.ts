import type { SlotRow, SlotTake, SlotWrites, StoreDeps } from './outbox.js';
import type { TxScope } from './txRunner.js';

/**
 * Leases, marks and releases settle at COMMIT: losing any of them in a power cut only means some
 * records are published again, which consumers' inboxes absorb. (A claim waits for what it read to
 * be on disk instead: see `claim` in outbox.ts.)
 */
const MARK = { durable: 'none' } as const;

/** The slot writes on this process's writer, in its group commits (see {@link SlotWrites}). */
export function createSlotWrites(deps: StoreDeps): SlotWrites {
  const { writer, runner, clock } = deps;
  const s = {
    slots: writer.prepare<[], SlotRow>('SELECT slot, published_seq, relay_id, lease_expires_at FROM herald_outbox_slots ORDER BY slot'),
    catchUp: writer.prepare('UPDATE herald_outbox_slots SET published_seq = ? WHERE slot = ? AND published_seq < ?'),
    lease: writer.prepare('UPDATE herald_outbox_slots SET relay_id = ?, lease_expires_at = ? WHERE slot = ?'),
    located: writer.prepare<[string], { seq: number; slot: number }>('SELECT seq, slot FROM herald_outbox WHERE id IN (SELECT value FROM json_each(?))'),
    between: writer.prepare<[number, number, number], { seq: number; done: number }>(
      // a rowid range (the claim's stretch), the slot's rows filtered out of it
      'SELECT seq, published_at IS NOT NULL AS done FROM herald_outbox WHERE slot = ? AND seq > ? AND seq <= ? ORDER BY seq',
    ),
    outOfOrder: writer.prepare('UPDATE herald_outbox SET published_at = ? WHERE seq = ? AND published_at IS NULL'),
    advance: writer.prepare('UPDATE herald_outbox_slots SET published_seq = ? WHERE slot = ? AND published_seq < ?'),
    mark: writer.prepare('INSERT INTO herald_outbox_marks (slot, up_to_seq, published_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
    endLease: writer.prepare('UPDATE herald_outbox_slots SET relay_id = NULL, lease_expires_at = NULL WHERE slot = ? AND relay_id = ?'),
  };
  /** Per relay: the newest seq it claimed in each slot it leases (to end the lease once published). */
  const claims = new Map<string, Map<number, number>>();

  /**
   * Takes the plan under the write lock, briefly: a slot whose watermark or lease changed since the
   * plan was read (another relay) is left out with its rows; the others are leased. Open slots with
   * nothing pending in the scanned stretch (and no key skipped) catch up (nothing of them can appear there later: seq
   * only grows), so later scans start further on.
   */
  function take(scope: TxScope, plan: SlotTake): number[] {
    const { relayId } = plan;
    const mine = claims.get(relayId) ?? new Map<number, number>();
    claims.set(relayId, mine);
    const watermark = new Map(plan.watermark);
    const newest = new Map(plan.newest);
    const held = new Set(plan.held);
    const kept: number[] = [];
    const expires = plan.now + plan.leaseMs;
    for (const slot of scope.all(s.slots, [])) {
      const planned = watermark.get(slot.slot);
      const unchanged = planned === slot.published_seq && !(slot.relay_id !== null && slot.relay_id !== relayId && slot.lease_expires_at! > plan.now);
      const taken = newest.get(slot.slot);
      if (taken !== undefined && unchanged) {
        scope.run(s.lease, [relayId, expires, slot.slot]);
        mine.set(slot.slot, taken);
        kept.push(slot.slot);
        continue;
      }
      if (slot.relay_id === relayId) {
        // nothing of this slot in this claim: the relay no longer holds it
        scope.run(s.endLease, [slot.slot, relayId]);
        mine.delete(slot.slot);
      }
      // only as far as the plan saw: rows committed since were not looked at; never a held slot, whose
      // skipped rows the scan did not see and which wait unpublished
      if (taken === undefined && unchanged && planned !== undefined && plan.scannedTo > planned && !held.has(slot.slot)) {
        scope.run(s.catchUp, [plan.scannedTo, slot.slot, plan.scannedTo]);
      }
    }
    return kept;
  }

  /** The fast path of a mark: each slot's claimed records, from its watermark to `top`, all published. */
  function advance(scope: TxScope, relayId: string, tops: readonly (readonly [number, number])[]): void {
    const now = clock.now();
    const mine = claims.get(relayId);
    for (const [slot, top] of tops) {
      // what a claim returned of a slot is every pending row from its watermark to its cut
      if (scope.run(s.advance, [top, slot, top]) === 0) continue;
      scope.run(s.mark, [slot, top, now]);
      if ((mine?.get(slot) ?? Infinity) <= top) {
        scope.run(s.endLease, [slot, relayId]);
        mine!.delete(slot);
      }
    }
  }

  function markRows(scope: TxScope, relayId: string, ids: readonly string[]): void {
    const now = clock.now();
    const bySlot = new Map<number, Set<number>>();
    for (const { seq, slot } of scope.all(s.located, [JSON.stringify(ids)])) {
      let seqs = bySlot.get(slot);
      if (!seqs) bySlot.set(slot, (seqs = new Set()));
      seqs.add(seq);
    }
    if (bySlot.size === 0) return;
    const slots = new Map(scope.all(s.slots, []).map((row) => [row.slot, row]));
    const mine = claims.get(relayId);
    for (const [slot, seqs] of bySlot) {
      const from = slots.get(slot)?.published_seq ?? 0;
      // only an unbroken run from the watermark is published: a gap would mark a record nobody sent
      let upTo = from;
      for (const { seq, done } of scope.all(s.between, [slot, from, Math.max(...seqs)])) {
        if (!done && !seqs.has(seq)) break;
        upTo = seq;
      }
      // past a gap, a marked record is published on its own: the watermark passes it later
      for (const seq of seqs) if (seq > upTo) scope.run(s.outOfOrder, [now, seq]);
      if (upTo === from) continue;
      scope.run(s.advance, [upTo, slot, upTo]);
      scope.run(s.mark, [slot, upTo, now]);
      const claimedUpTo = mine?.get(slot);
      if (claimedUpTo !== undefined && claimedUpTo <= upTo) {
        scope.run(s.endLease, [slot, relayId]);
        mine!.delete(slot);
      }
    }
  }

  return {
    async take(plan) {
      const kept = await runner.run((scope) => take(scope, plan), MARK);
      // the rows were read once committed; hand them out only once on disk, never a record whose
      // transaction could still vanish in a power cut
      if (kept.length > 0) await deps.flushed();
      return kept;
    },
    advance: (relayId, tops) => runner.run((scope) => advance(scope, relayId, tops), MARK),
    markIds: (relayId, ids) => runner.run((scope) => markRows(scope, relayId, ids), MARK),
    release(relayId, ids) {
      return runner.run((scope) => {
        const mine = claims.get(relayId);
        for (const slot of new Set(scope.all(s.located, [JSON.stringify(ids)]).map((row) => row.slot))) {
          scope.run(s.endLease, [slot, relayId]);
          mine?.delete(slot);
        }
      }, MARK);
    },
  };
}
