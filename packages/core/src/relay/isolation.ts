import { isRetriable } from '../model/errors.js';
import { toError } from '../model/errorCodes.js';
import type { Clock } from '../ports/clock.js';
import type { OutboxRecord } from '../ports/stores/outbox.js';
import { backoffDelay, type BackoffOptions } from '../timing/backoff.js';

/** A record the broker refused for good (a non-retriable failure): tried again alone, after a backoff. */
interface Refusal {
  /** The record's key: held back (skipped by claims) until the record may be tried again. */
  readonly key: string;
  /** Failed attempts so far. */
  readonly attempts: number;
  /** When it may be tried again (clock ms). */
  readonly retryAt: number;
}

/** The records a relay holds that the broker refused for good, by id, with their backoff. */
export interface Refusals {
  /**
   * The keys of the refused records not due yet: the next claim skips them (`skipKeys`), so their
   * later records cannot fill it. A key whose record is due is claimed again, from that record.
   */
  heldKeys(): string[];
  /**
   * Plans a round over a claim made skipping `skipped` (see {@link planSends}); forgets the refused
   * records it did not return and did not skip (published elsewhere, or no longer held).
   */
  plan(claimed: readonly OutboxRecord[], skipped: ReadonlySet<string>): SendPlan;
  /** Records one more refusal of `record`; returns its attempts so far and the wait before the next one. */
  refused(record: OutboxRecord): { readonly attempts: number; readonly retryInMs: number };
  /** Forgets `id`, published at last; returns how many attempts failed before, if it was refused. */
  published(id: string): number | undefined;
  /** How long until a refused record may be tried again, at most `ms`. */
  nextRetryWithin(ms: number): number;
}

export function createRefusals(options: { readonly backoff: Required<BackoffOptions>; readonly clock: Clock }): Refusals {
  const { backoff, clock } = options;
  const refusals = new Map<string, Refusal>();
  return {
    heldKeys() {
      const now = clock.now();
      const keys = new Set<string>();
      for (const { key, retryAt } of refusals.values()) if (retryAt > now) keys.add(key);
      return [...keys];
    },
    plan(claimed, skipped) {
      if (refusals.size > 0) {
        const ids = new Set(claimed.map((r) => r.id));
        for (const [id, { key }] of refusals) if (!ids.has(id) && !skipped.has(key)) refusals.delete(id);
      }
      return planSends(claimed, refusals, clock.now());
    },
    refused({ id, key }) {
      const attempts = (refusals.get(id)?.attempts ?? 0) + 1;
      const retryInMs = backoffDelay(backoff, attempts);
      refusals.set(id, { key, attempts, retryAt: clock.now() + retryInMs });
      return { attempts, retryInMs };
    },
    published(id) {
      const refusal = refusals.get(id);
      refusals.delete(id);
      return refusal?.attempts;
    },
    nextRetryWithin(ms) {
      const now = clock.now();
      for (const { retryAt } of refusals.values()) ms = Math.min(ms, Math.max(1, retryAt - now));
      return ms;
    },
  };
}

/** How one round sends its claim: runs of records published together, in append order. */
export interface SendPlan {
  /** The runs, in order; a refused record that is due is a run of its own. */
  readonly runs: readonly (readonly OutboxRecord[])[];
  /** Keys held back this round: a record of the key before these was refused. Grows while sending. */
  readonly blocked: Set<string>;
}

/** What a round's sends came to (filled in as they go, so a retriable failure midway keeps what was published). */
export interface Sent {
  /** Ids the broker accepted, in append order. */
  readonly published: string[];
  /** The records refused for good in this round, each tried alone, in order, with the refusal. */
  readonly refused: { readonly record: OutboxRecord; readonly error: Error }[];
}

/**
 * Plans a round over `claimed` (append order). A refused record not yet due holds back every
 * claimed record of its key (per-key order); one that is due is sent alone, in its place, so a
 * record that still fails costs one publish, not a split of the whole batch.
 */
function planSends(claimed: readonly OutboxRecord[], refusals: ReadonlyMap<string, Refusal>, now: number): SendPlan {
  const blocked = new Set<string>();
  const runs: OutboxRecord[][] = [];
  let run: OutboxRecord[] = [];
  for (const record of claimed) {
    if (blocked.has(record.key)) continue;
    const refusal = refusals.get(record.id);
    if (refusal === undefined) {
      run.push(record);
    } else if (refusal.retryAt > now) {
      blocked.add(record.key);
    } else {
      if (run.length > 0) runs.push(run);
      runs.push([record]);
      run = [];
    }
  }
  if (run.length > 0) runs.push(run);
  return { runs, blocked };
}

/**
 * Publishes the plan's runs in order, recording into `sent` as it goes. A run the broker refuses
 * for good (a non-retriable error) is split in halves, each sent in turn, down to single records:
 * the records that can be published are, the ones that cannot are found and added to
 * `sent.refused`, and every later record of a refused record's key is held back (left out of later
 * sends). At most 2n - 1 publishes for n records. A retriable failure is thrown at once; what was
 * published before it is in `sent`.
 */
export async function sendIsolating(publish: (records: readonly OutboxRecord[]) => Promise<void>, plan: SendPlan, sent: Sent): Promise<void> {
  async function send(records: readonly OutboxRecord[]): Promise<void> {
    const open = records.filter((r) => !plan.blocked.has(r.key));
    if (open.length === 0) return;
    try {
      await publish(open);
    } catch (thrown) {
      if (isRetriable(thrown)) throw thrown;
      if (open.length === 1) {
        sent.refused.push({ record: open[0]!, error: toError(thrown) });
        plan.blocked.add(open[0]!.key);
        return;
      }
      const middle = Math.ceil(open.length / 2);
      await send(open.slice(0, middle));
      await send(open.slice(middle));
      return;
    }
    for (const record of open) sent.published.push(record.id);
  }
  for (const run of plan.runs) await send(run);
}
