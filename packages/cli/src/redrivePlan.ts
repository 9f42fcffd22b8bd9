import { HeraldError, systemClock, type Clock, type DeadLetter, type DeadLetterBrowser, type DeadLetterQuery, type DeadLetterStatus, type DeadLetterStore } from '@herald/core';
import { CliErrors } from './errors.js';
import { untilStopped } from './io.js';

/** Which dead letters a command means: ids, a query, or both (ids narrowed by the query), in some statuses. */
export interface LetterSelection {
  readonly ids: readonly string[];
  readonly query: Omit<DeadLetterQuery, 'status'>;
  readonly statuses: readonly DeadLetterStatus[];
}

type Store = DeadLetterStore & DeadLetterBrowser;

const PAGE = 1000;
const ID_CHUNK = 500;
/**
 * How long a selection waits for a page the store holds back (PostgreSQL, behind a running
 * transaction): past a handler transaction's default limit (`transactionTimeoutMs`, 30 s) and then some.
 */
const HELD_BACK_MS = 120_000;

/** Whether a letter matches every field of a query (for letters fetched by id). */
function matches(letter: DeadLetter, query: LetterSelection['query']): boolean {
  return (
    (query.group === undefined || letter.group === query.group) &&
    (query.handler === undefined || letter.handler === query.handler) &&
    (query.topic === undefined || letter.topic === query.topic) &&
    (query.key === undefined || letter.key === query.key) &&
    (query.eventType === undefined || letter.eventType === query.eventType) &&
    (query.reason === undefined || letter.reason === query.reason) &&
    (query.fingerprint === undefined || letter.fingerprint === query.fingerprint) &&
    (query.since === undefined || letter.lastFailureAt >= query.since) &&
    (query.until === undefined || letter.lastFailureAt < query.until)
  );
}

/**
 * The selected letters, in the order they were added: ids looked up, or the query paged through.
 * An id no dead letter has (a typo, or one retention deleted) is refused with `nothing-matched`
 * before anything is touched, rather than the others acted on as if it had been found; a letter
 * that exists but is in another status or outside the query is left out. A store may hold a page
 * back (PostgreSQL, behind a transaction still running: an empty page that goes on): the selection
 * waits for it, backing off, up to 2 minutes, then fails with `held-back`.
 */
export async function selectLetters(store: Store, selection: LetterSelection, wait: SelectionWait = {}): Promise<DeadLetter[]> {
  const statuses = new Set(selection.statuses);
  if (selection.ids.length > 0) {
    const found: DeadLetter[] = [];
    const ids = [...new Set(selection.ids)];
    for (let i = 0; i < ids.length; i += ID_CHUNK) found.push(...(await store.list({ ids: ids.slice(i, i + ID_CHUNK) })));
    const known = new Set(found.map((l) => l.id));
    const unknown = ids.filter((id) => !known.has(id));
    if (unknown.length > 0) {
      const named = unknown.length > 5 ? `${unknown.slice(0, 5).join(', ')} and ${unknown.length - 5} more` : unknown.join(', ');
      throw new HeraldError(CliErrors.nothingMatched, `no dead letter has id ${named}; nothing was changed (see herald dlq list --status all)`);
    }
    return found.filter((l) => statuses.has(l.status) && matches(l, selection.query)).sort(byId);
  }
  const letters: DeadLetter[] = [];
  let cursor: string | undefined;
  let heldSince: number | undefined;
  const clock = wait.clock ?? systemClock;
  do {
    const reading = store.page({ ...selection.query, status: [...statuses], limit: PAGE, ...(cursor ? { cursor } : {}) });
    const page = wait.signal ? await untilStopped({ signal: wait.signal }, reading, 'selecting dead letters') : await reading;
    letters.push(...page.letters);
    cursor = page.next ?? undefined;
    if (page.letters.length > 0 || cursor === undefined) {
      heldSince = undefined;
      continue;
    }
    // an empty page that goes on: the store holds letters back behind a transaction still running
    heldSince ??= clock.now();
    const waited = clock.now() - heldSince;
    const bound = wait.heldBackMs ?? HELD_BACK_MS;
    if (waited >= bound) {
      throw new HeraldError(
        CliErrors.heldBack,
        `waited ${Math.round(waited / 1000)} s for a transaction still running to end: the dead letters after the ${letters.length} read so far cannot be paged past it yet; nothing was changed (see docs/errors.md#held-back)`,
      );
    }
    await clock.sleep(Math.min(2000, 200 * 2 ** Math.floor(waited / 1000), bound - waited), wait.signal).catch(() => {});
    if (wait.signal?.aborted) throw new HeraldError(CliErrors.interrupted, `stopped while selecting dead letters; nothing was changed`);
  } while (cursor);
  return letters;
}

/** What a selection paging through a query waits with: a stop signal, and (for tests) a clock and the wait's bound. */
export interface SelectionWait {
  readonly signal?: AbortSignal;
  readonly clock?: Pick<Clock, 'now' | 'sleep'>;
  readonly heldBackMs?: number;
}

const byId = (a: DeadLetter, b: DeadLetter) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const keyOf = (l: DeadLetter) => `${l.group}\u0000${l.topic}\u0000${l.key}`;

/** What a redrive through the log will append, in order, and how many letters it added to the selection. */
export interface RedrivePlan {
  readonly letters: readonly DeadLetter[];
  /** Letters added because a selected `park-key` letter's key has them dead or parked behind it. */
  readonly added: number;
}

/**
 * Plans a redrive through the log. A key under `park-key` moves as a whole: selecting any of its
 * letters brings in every letter of that key still dead or parked in its group (otherwise a later
 * event could apply before an earlier one). Each key's letters go in their original order, the dead
 * letter first and the parked ones behind it (each by the order they were added); keys follow one
 * another by their first letter.
 */
export async function planRedrive(store: Store, selected: readonly DeadLetter[]): Promise<RedrivePlan> {
  const chosen = new Map(selected.map((l) => [l.id, l]));
  const parkedKeys = new Map<string, DeadLetter>();
  for (const l of selected) if (l.policy === 'park-key') parkedKeys.set(keyOf(l), l);
  for (const l of parkedKeys.values()) {
    const [dead, parked] = await Promise.all([store.list({ group: l.group, key: l.key, status: 'dead' }), store.list({ group: l.group, key: l.key, status: 'parked' })]);
    for (const other of [...dead, ...parked]) if (other.topic === l.topic && other.policy === 'park-key' && !chosen.has(other.id)) chosen.set(other.id, other);
  }
  const byKey = new Map<string, DeadLetter[]>();
  for (const l of [...chosen.values()].sort(byId)) {
    const list = byKey.get(keyOf(l)) ?? [];
    list.push(l);
    byKey.set(keyOf(l), list);
  }
  // Map keeps insertion order: keys by their first letter
  const letters = [...byKey.values()].flatMap((list) => [...list.filter((l) => l.status !== 'parked'), ...list.filter((l) => l.status === 'parked')]);
  return { letters, added: chosen.size - selected.length };
}

/**
 * The planned letters still in the status they were planned in, in the plan's order: a letter
 * another operator discarded or redrove while this one confirmed is left out, not sent again.
 */
export async function unchangedSince(store: Store, planned: readonly DeadLetter[]): Promise<DeadLetter[]> {
  const now = new Map<string, DeadLetter>();
  for (let i = 0; i < planned.length; i += ID_CHUNK) {
    for (const l of await store.list({ ids: planned.slice(i, i + ID_CHUNK).map((p) => p.id) })) now.set(l.id, l);
  }
  return planned.filter((l) => now.get(l.id)?.status === l.status);
}
