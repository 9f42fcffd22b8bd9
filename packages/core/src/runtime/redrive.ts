import { toError } from '../model/errorCodes.js';
import type { Delivery } from '../ports/broker.js';
import type { DeadLetter, DeadLetterFilter, DeadLetterStore } from '../ports/stores/deadLetters.js';
import { contextFor, resolveDelivery, type GroupDispatchDeps } from './dispatcher.js';

/** Which dead letters to redrive: a group's, narrowed by handler, ids or key. */
export interface RedriveOptions {
  readonly group: string;
  readonly handler?: string;
  readonly ids?: readonly string[];
  readonly key?: string;
  readonly limit?: number;
}

export interface RedriveResult {
  /** Letters that went through the handler (or were found already applied). */
  readonly redriven: number;
  /** Letters that failed again and stay dead. */
  readonly failed: number;
  /** Parked letters still waiting because an earlier letter of their key failed again. */
  readonly stillParked: number;
}

/**
 * Sends dead letters back through their handler, oldest first, with their original envelopes (so
 * their original ids: the inbox makes a second redrive of an applied event a no-op). Per key, a
 * letter that fails again stops the key: its later letters stay where they are, so per-key order
 * holds. A `park-key` key moves as a whole: selecting one of its letters (by `ids`, `handler` or
 * `limit`) brings in its others still dead or parked, the dead one first. Letters parked while the
 * redrive ran are picked up by the next pass.
 */
export async function redriveLetters<Tx>(deps: GroupDispatchDeps<Tx>, options: RedriveOptions): Promise<RedriveResult> {
  const store = deps.stores.deadLetters;
  const blockedKeys = new Set<string>();
  const done = new Set<string>();
  let redriven = 0;
  let failed = 0;
  for (let pass = 0; pass < 10; pass++) {
    const letters = (await pendingLetters(deps, options)).filter((l) => !done.has(l.id));
    if (letters.length === 0) break;
    for (const letter of letters) {
      done.add(letter.id);
      const keyId = keyOf(letter);
      if (blockedKeys.has(keyId)) continue;
      try {
        await redriveOne(letter);
        await store.setStatus([letter.id], 'redriven');
        redriven++;
      } catch (error) {
        failed++;
        if (letter.policy === 'park-key') blockedKeys.add(keyId);
        deps.logger.warn('redrive failed; the letter stays', { id: letter.id, error });
      }
    }
    if (options.limit !== undefined || options.ids !== undefined) break;
  }
  const remaining = await pendingLetters(deps, { ...options, limit: undefined });
  const stillParked = remaining.filter((l) => l.status === 'parked').length;
  if (deps.instrumentation.active && redriven > 0) {
    deps.instrumentation.emit({ kind: 'redriven', group: deps.group, handler: options.handler ?? '*', count: redriven });
  }
  return { redriven, failed, stillParked };

  async function redriveOne(letter: DeadLetter): Promise<void> {
    const delivery: Delivery = {
      topic: letter.topic,
      partition: letter.partition,
      offset: letter.offset,
      key: letter.key,
      value: letter.envelope,
      headers: letter.headers,
      timestamp: letter.firstFailureAt,
    };
    const resolution = resolveDelivery(deps, delivery);
    if (resolution.kind === 'ignore') return;
    if (resolution.kind === 'poison') throw resolution.error;
    const ctx = contextFor(deps, resolution.entry, delivery, { redrive: true });
    try {
      await resolution.entry.pipeline(resolution.event, ctx);
    } catch (error) {
      throw toError(error);
    }
  }
}

/**
 * The letters to redrive, in order. A key under `park-key` moves as a whole, as `herald dlq redrive`
 * plans it: a selected letter (by id, handler or limit) brings in every other `park-key` letter of
 * its group, topic and key still dead or parked, since redriving a later one before the dead one it
 * waits behind would apply it first. Each key's dead letters go first, then its parked ones (each by
 * the order they were added); keys follow one another by their first letter.
 */
async function pendingLetters<Tx>(deps: GroupDispatchDeps<Tx>, options: RedriveOptions): Promise<readonly DeadLetter[]> {
  const store = deps.stores.deadLetters;
  const base = { group: deps.group, handler: options.handler, key: options.key, ids: options.ids };
  const selected = [...(await openLetters(store, base))].sort(byId);
  const chosen = new Map((options.limit === undefined ? selected : selected.slice(0, options.limit)).map((l) => [l.id, l]));
  const parkedKeys = new Map<string, DeadLetter>();
  for (const l of chosen.values()) if (l.policy === 'park-key') parkedKeys.set(keyOf(l), l);
  for (const l of parkedKeys.values()) {
    for (const other of await openLetters(store, { group: deps.group, key: l.key })) {
      if (other.topic === l.topic && other.policy === 'park-key') chosen.set(other.id, other);
    }
  }
  const byKey = new Map<string, DeadLetter[]>();
  for (const l of [...chosen.values()].sort(byId)) {
    const list = byKey.get(keyOf(l)) ?? [];
    list.push(l);
    byKey.set(keyOf(l), list);
  }
  return [...byKey.values()].flatMap((list) => [...list.filter((l) => l.status === 'dead'), ...list.filter((l) => l.status === 'parked')]);
}

/** The letters a filter matches that are still dead or parked. */
async function openLetters(store: DeadLetterStore, filter: Omit<DeadLetterFilter, 'status'>): Promise<readonly DeadLetter[]> {
  const [dead, parked] = await Promise.all([store.list({ ...filter, status: 'dead' }), store.list({ ...filter, status: 'parked' })]);
  return [...dead, ...parked];
}

const byId = (a: DeadLetter, b: DeadLetter) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const keyOf = (l: DeadLetter) => `${l.topic}\u0000${l.key}`;
