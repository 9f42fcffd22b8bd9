/** Longest piece of a given string quoted in an error message. */
const QUOTED = 60;
/** Most keys of a given object named in an error message. */
const KEYS = 5;

/**
 * What a caller passed, for an error message's "got ...": its kind and, where short, its value
 * (`a string ("Greeted")`, `an object with keys type, topic`, `undefined`). Plain JavaScript
 * passes anything; the message has to say what arrived, not only what was expected.
 */
export function describeGiven(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'string') return `a string (${JSON.stringify(value.length > QUOTED ? `${value.slice(0, QUOTED)}…` : value)})`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `a ${typeof value} (${String(value)})`;
  if (typeof value === 'function') return value.name ? `a function (${value.name})` : 'a function';
  if (typeof value === 'symbol') return 'a symbol';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  const keys = Object.keys(value);
  if (keys.length === 0) return 'an empty object';
  const shown = keys.slice(0, KEYS).join(', ');
  return `an object with keys ${keys.length > KEYS ? `${shown}, …` : shown}`;
}

/**
 * The name in `known` that `name` was most likely meant to be (a typo, a wrong case: `relayy`,
 * `Relay`), or undefined when none is close: at most two edits apart, and fewer than half of its
 * characters changed.
 */
export function closestName(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  // one more than the most edits allowed
  let bestDistance = Math.min(2, Math.ceil(name.length / 2) - 1) + 1;
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance: the fewest insertions, deletions and substitutions turning `a` into `b`. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
