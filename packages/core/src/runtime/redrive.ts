import { toError } from '../model/errorCodes.js';
import type { Delivery } from '../ports/broker.js';
import type { DeadLetter } from '../ports/stores/deadLetters.js';
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
 * holds. Letters parked while the redrive ran are picked up by the next pass.
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
      const keyId = `${letter.topic}\u0000${letter.key}`;
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

async function pendingLetters<Tx>(deps: GroupDispatchDeps<Tx>, options: RedriveOptions): Promise<readonly DeadLetter[]> {
  const base = { group: deps.group, handler: options.handler, key: options.key, ids: options.ids };
  const [dead, parked] = await Promise.all([
    deps.stores.deadLetters.list({ ...base, status: 'dead' }),
    deps.stores.deadLetters.list({ ...base, status: 'parked' }),
  ]);
  const all = [...dead, ...parked].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return options.limit === undefined ? all : all.slice(0, options.limit);
}
