import type { OutgoingRecord } from '../ports/broker.js';
import type { DeadLetter, DeadLetterStore } from '../ports/stores/deadLetters.js';

/**
 * Record headers of a redrive through the log (what `herald dlq redrive` does from outside the
 * app's process): the letter's original envelope is appended to its topic again, addressed to one
 * consumer group.
 */
export const REDRIVE_HEADERS = {
  /** The consumer group the record is for; every other group ignores it (outcome `ignored`). */
  group: 'herald-redrive-group',
  /** The dead letter it redrives. */
  letter: 'herald-redrive-letter',
  /** One id per redrive run, shared by all the records it appends (see {@link keyParkedFor}). */
  run: 'herald-redrive-run',
} as const;

/**
 * The dead letters these deliveries redrive through the log to `group`, by id. Once the group has
 * handled such a delivery (applied, a duplicate, or failed again into a letter of its own), its
 * letter is settled: the consumer marks it `redriven` then, not the command that appended it, so
 * the letter keeps holding its key (policy `park-key`) while its record is on its way, and a later
 * record of the key that the group reads first parks behind it instead of overtaking it.
 */
export function redrivenLetters(deliveries: readonly { readonly headers: Readonly<Record<string, string>> }[], group: string): string[] {
  const letters: string[] = [];
  for (const { headers } of deliveries) {
    const redrive = redriveTargetOf(headers);
    if (redrive?.group === group) letters.push(redrive.letter);
  }
  return letters;
}

/** What a record's headers say about a redrive through the log, if it is one. */
export interface RedriveTarget {
  /** The group it is addressed to: the others had the event already. */
  readonly group: string;
  /** The dead letter it redrives. */
  readonly letter: string;
  /** The redrive run that appended it. */
  readonly run: string;
}

/** A consumer group's name, as `createApp` takes it. */
const GROUP_NAME = /^[A-Za-z0-9._-]{1,200}$/;
/** A dead letter's id: a UUID (`recordDeadLetter` makes a UUIDv7). */
const LETTER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The redrive through the log a record is, or undefined for an ordinary record. A record is one
 * only when it carries every header {@link redriveRecord} writes, each well formed: a group name, a
 * letter id, a run. A record that a bridge or a foreign producer wrote with only some of them
 * (copied headers, a name clash) is an event like any other: taken for a redrive addressed to
 * another group it would be ignored without a letter or a log line, and taken for one of this
 * group's it would wait behind one run's letters alone.
 */
export function redriveTargetOf(headers: Readonly<Record<string, string>>): RedriveTarget | undefined {
  const group = headers[REDRIVE_HEADERS.group];
  if (group === undefined) return undefined;
  const letter = headers[REDRIVE_HEADERS.letter];
  const run = headers[REDRIVE_HEADERS.run];
  if (!GROUP_NAME.test(group) || letter === undefined || !LETTER_ID.test(letter) || run === undefined || run.length === 0) return undefined;
  return { group, letter, run };
}

/**
 * The record that redrives `letter` through the log: its original envelope, untouched (same event
 * id, so an inbox that applied it sees a duplicate), on its topic and key (so its partition and
 * per-key order), with its original headers plus the redrive headers naming its group, the letter
 * and the run. Appending a key's letters in their original order keeps that key's order.
 *
 * The letter stays as it is (dead or parked) until its group handles the record, which then marks
 * it `redriven` (see {@link redrivenLetters}).
 *
 * @example
 * await broker.publish(letters.map((letter) => redriveRecord(letter, runId)));
 */
export function redriveRecord(letter: DeadLetter, run: string): OutgoingRecord {
  return {
    topic: letter.topic,
    key: letter.key,
    value: letter.envelope,
    headers: { ...letter.headers, [REDRIVE_HEADERS.group]: letter.group, [REDRIVE_HEADERS.letter]: letter.id, [REDRIVE_HEADERS.run]: run },
  };
}

/**
 * Whether a delivery of `key` in `group` must be parked behind a dead letter (policy `park-key`).
 *
 * An ordinary delivery waits while any `park-key` letter of its key is dead or parked in the group.
 * A redrive through the log of run R only waits behind letters that run R itself produced (an
 * earlier record of the run that failed again, or was parked behind one): the letters the run
 * redrives stay dead or parked until the group handles their records, and letters parked while it
 * ran belong to events that came later, so neither may hold it back. A key's records of one run arrive in
 * order (same partition), so the key keeps its order either way.
 */
export async function keyParkedFor(
  store: DeadLetterStore,
  delivery: { readonly topic: string; readonly key: string; readonly headers: Readonly<Record<string, string>> },
  group: string,
): Promise<boolean> {
  const redrive = redriveTargetOf(delivery.headers);
  if (redrive === undefined || redrive.group !== group) return store.isKeyParked(group, delivery.topic, delivery.key);
  return keyParkedBesides(store, delivery, group, []);
}

/**
 * {@link keyParkedFor}, leaving the letters `besides` out: whether a delivery parked as those
 * letters still has a letter to wait behind. Read from the store's lists (the parking path only).
 */
export async function keyParkedBesides(
  store: DeadLetterStore,
  delivery: { readonly topic: string; readonly key: string; readonly headers: Readonly<Record<string, string>> },
  group: string,
  besides: readonly string[],
): Promise<boolean> {
  const redrive = redriveTargetOf(delivery.headers);
  const run = redrive?.group === group ? redrive.run : undefined;
  const [dead, parked] = await Promise.all([store.list({ group, key: delivery.key, status: 'dead' }), store.list({ group, key: delivery.key, status: 'parked' })]);
  return [...dead, ...parked].some(
    (l) => !besides.includes(l.id) && l.topic === delivery.topic && l.policy === 'park-key' && (run === undefined || l.headers[REDRIVE_HEADERS.run] === run),
  );
}
