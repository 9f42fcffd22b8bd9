import type { DeadLetter, DeadLetterStore } from '@herald/core';
import { printable } from '../output.js';

/** A `park-key` key that stays held: letters of it still dead or parked in its group. */
export interface HeldKey {
  readonly group: string;
  readonly topic: string;
  readonly key: string;
  /** The key's letters still dead or parked (outside the discard): each holds the key. */
  readonly letters: number;
}

const keyOf = (l: { group: string; topic: string; key: string }) => `${l.group}\u0000${l.topic}\u0000${l.key}`;

/**
 * The `park-key` keys of `letters` that stay held once they are discarded. A group parks a new
 * event of a key while any `park-key` letter of that key is dead or parked (`isKeyParked`), and a
 * parked letter is an event never handled: discarding the dead letter at the head of a key leaves
 * the letters parked behind it holding the key, and every later event parks behind them until they
 * are redriven (in order) or discarded too. Keys in the order of their first letter.
 */
export async function keysStillHeld(store: DeadLetterStore, letters: readonly DeadLetter[]): Promise<HeldKey[]> {
  const leaving = new Set(letters.map((l) => l.id));
  const keys = new Map<string, DeadLetter>();
  for (const l of letters) if (l.policy === 'park-key' && !keys.has(keyOf(l))) keys.set(keyOf(l), l);
  const held: HeldKey[] = [];
  for (const l of keys.values()) {
    const [dead, parked] = await Promise.all([store.list({ group: l.group, key: l.key, status: 'dead' }), store.list({ group: l.group, key: l.key, status: 'parked' })]);
    const holding = [...dead, ...parked].filter((other) => other.topic === l.topic && other.policy === 'park-key' && !leaving.has(other.id)).length;
    if (holding > 0) held.push({ group: l.group, topic: l.topic, key: l.key, letters: holding });
  }
  return held;
}

/** A value as one shell word: as it is when it needs no quoting, else single-quoted (then escaped for the terminal). */
function shellWord(value: string): string {
  return /^[\w.:@%+,/-]+$/.test(value) ? value : printable(`'${value.replaceAll("'", `'\\''`)}'`);
}

/** The command that releases a held key: redrives its letters, in order (discarding them is the other way). */
export function releaseCommand(held: HeldKey): string {
  return `herald dlq redrive --group ${shellWord(held.group)} --topic ${shellWord(held.topic)} --key ${shellWord(held.key)}`;
}

/**
 * What stays held, for the prompt (`when` = 'will stay') and the output ('stay'): the keys, each
 * with its count of letters, the first few named in full with the command that releases them.
 */
export function describeHeld(held: readonly HeldKey[], when: 'stay' | 'will stay'): string {
  if (held.length === 0) return '';
  const shown = held.slice(0, 3).map((h) => `key ${printable(h.key)} of ${printable(h.group)} on ${printable(h.topic)}, ${h.letters} letter(s) (${releaseCommand(h)})`);
  const more = held.length > shown.length ? `; and ${held.length - shown.length} more key(s) (herald dlq list --status parked)` : '';
  return (
    `${held.length} park-key key(s) ${when} held by their letters still parked or dead, and every new event of them parks behind those until they are redriven or discarded too: ` +
    `${shown.join('; ')}${more}`
  );
}
