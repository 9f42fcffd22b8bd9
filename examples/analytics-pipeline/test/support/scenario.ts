/**
 * Seed 001's end-to-end scenario, and what every query must answer, computed here from what the
 * test sends and nothing else. Deterministic (seeded), and built so that which events are on time,
 * late or final never depends on timing:
 * - minute slices, sent one after the other (each acknowledged before the next): slice k holds
 *   events of every user in minute k, and out-of-order events of minute k-1 (on time: with a grace
 *   of one minute, minute k-1 closes only once a partition sees minute k+1); every user in every
 *   slice, so every partition's stream time moves with the slices;
 * - duplicates (an event id sent again, in its slice or slices later: counted once, never late);
 * - invalid events the producer refuses (422), a batch refused whole, and events the consumer
 *   dead-letters (an unknown type, properties that do not match);
 * - late events, sent after the slices, for minutes long closed;
 * - a flush: one event per user two hours after the data, so every window of the data is final
 *   (the flush's own minute stays open and is never counted).
 */

export const BASE = Date.UTC(2026, 0, 1, 10, 0, 0);
export const GRACE_MS = 60_000;
const MINUTE = 60_000;
const SLICES = 12;
const USERS = Array.from({ length: 24 }, (_, i) => `user-${String(i).padStart(2, '0')}`);
const TYPES = ['page_view', 'click', 'search', 'purchase', 'signup'] as const;
export const FLUSH_AT = BASE + 3 * 3_600_000;
/** A range holding every window of the data and the flush. */
export const RANGE = { from: new Date(BASE - 3_600_000).toISOString(), to: new Date(FLUSH_AT + 3_600_000).toISOString() };

/** One event as the client sends it. */
export interface SentEvent {
  readonly eventId: string;
  readonly userId: string;
  readonly type: string;
  readonly timestamp: string;
  readonly properties: Record<string, unknown>;
}

/** One metric sample as the client sends it. */
export interface SentMetric {
  /** Set on every other sample: the client sends those twice (a retry after a lost answer). */
  readonly sampleId?: string;
  readonly name: string;
  readonly value: number;
  readonly timestamp: string;
  readonly labels: Record<string, string>;
}

/** What the consumer will do with an accepted event. */
type Fate = 'counted' | 'late' | 'dead' | 'open';

export interface Scenario {
  /** Slices of valid events (the producer accepts them), sent in order. */
  readonly slices: readonly SentEvent[][];
  /** Late events, sent after the slices. */
  readonly late: readonly SentEvent[];
  /** Sent last: one per user, far ahead. */
  readonly flush: readonly SentEvent[];
  /** Events the producer refuses (each alone: 422). */
  readonly refused: readonly unknown[];
  /** A batch with one invalid event at `invalidIndex`: 422, nothing appended. */
  readonly refusedBatch: { readonly events: readonly unknown[]; readonly invalidIndices: readonly number[] };
  readonly metrics: readonly SentMetric[];
  /** The event ids the consumer dead-letters, with the reason. */
  readonly deadLetters: ReadonlyMap<string, string>;
  readonly fates: ReadonlyMap<string, { event: SentEvent; fate: Fate }>;
}

/** A small seeded generator (mulberry32), so every run sends the same events. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const propertiesOf = (type: string, n: number): Record<string, unknown> =>
  ({
    page_view: { page: `/p/${n % 7}` },
    click: { element: `button-${n % 3}` },
    search: { query: `q${n % 5}` },
    purchase: { amount: 1 + (n % 50), currency: 'EUR' },
    signup: { referrer: 'ads' },
  })[type]!;

export function buildScenario(prefix: string, seed = 1): Scenario {
  const rand = random(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
  let n = 0;
  const event = (at: number, userId = pick(USERS), type: string = pick(TYPES)): SentEvent => {
    n++;
    return { eventId: `${prefix}-${n}`, userId, type, timestamp: new Date(at).toISOString(), properties: propertiesOf(type, n) };
  };
  const fates = new Map<string, { event: SentEvent; fate: Fate }>();
  const deadLetters = new Map<string, string>();
  const slices: SentEvent[][] = [];
  for (let k = 0; k < SLICES; k++) {
    const slice: SentEvent[] = [];
    const start = BASE + k * MINUTE;
    for (const user of USERS) for (let i = 0, count = 1 + Math.floor(rand() * 3); i < count; i++) slice.push(event(start + Math.floor(rand() * MINUTE), user));
    if (k > 0) for (let i = 0; i < 4; i++) slice.push(event(start - MINUTE + Math.floor(rand() * MINUTE)));
    slice.forEach((e) => fates.set(e.eventId, { event: e, fate: 'counted' }));
    // duplicates: some of this slice, and some of a slice whose minutes closed long ago
    const valid = [...slice];
    for (let i = 0; i < 3; i++) slice.push({ ...pick(valid) });
    if (k >= 3) for (let i = 0; i < 2; i++) slice.push({ ...pick(slices[k - 3]!.filter((e) => fates.get(e.eventId)!.fate === 'counted')) });
    if (k % 3 === 1) {
      const unknown = { ...event(start + 1_000), type: 'teleport', properties: { to: 'mars' } };
      const broken = { ...event(start + 2_000, pick(USERS), 'purchase'), properties: { amount: 'ten', currency: 'EUR' } };
      for (const [e, reason] of [
        [unknown, 'unknown-analytics-type'],
        [broken, 'invalid-analytics-properties'],
      ] as const) {
        slice.push(e);
        fates.set(e.eventId, { event: e, fate: 'dead' });
        deadLetters.set(e.eventId, reason);
      }
    }
    slices.push(shuffle(slice, rand));
  }
  const late = Array.from({ length: 10 }, (_, i) => event(BASE + (i % 6) * MINUTE + Math.floor(rand() * MINUTE)));
  late.forEach((e) => fates.set(e.eventId, { event: e, fate: 'late' }));
  const lateWithDuplicate = [...late, { ...late[0]! }];
  const flush = USERS.map((user) => event(FLUSH_AT, user, 'page_view'));
  flush.forEach((e) => fates.set(e.eventId, { event: e, fate: 'open' }));

  const refused: unknown[] = [
    { userId: 'user-00', type: 'click', timestamp: 'yesterday', properties: {} },
    { eventId: `${prefix}-x1`, type: 'click', timestamp: new Date(BASE).toISOString(), properties: {} },
    { eventId: `${prefix}-x2`, userId: 'user-01', type: 'click', timestamp: new Date(BASE).toISOString(), properties: {}, extra: true },
  ];
  const good = (i: number) => ({ eventId: `${prefix}-b${i}`, userId: 'user-02', type: 'click', timestamp: new Date(BASE + i).toISOString(), properties: { element: 'b' } });
  const refusedBatch = { events: [good(1), { ...good(2), userId: '' }, good(3), { ...good(4), timestamp: '1969-12-31T23:59:59Z' }], invalidIndices: [1, 3] };

  const metrics: SentMetric[] = [];
  for (let i = 0; i < 120; i++) {
    const name = i % 3 === 0 ? 'checkout_latency_ms' : 'cart_size';
    const sample = { name, value: Math.floor(rand() * 1000), timestamp: new Date(BASE + Math.floor(rand() * 10 * MINUTE)).toISOString(), labels: { region: pick(['eu', 'us']) } };
    metrics.push(i % 2 === 0 ? { sampleId: `${prefix}-m${i}`, ...sample } : sample);
  }
  return { slices, late: lateWithDuplicate, flush, refused, refusedBatch, metrics, deadLetters, fates };
}

function shuffle<T>(items: T[], rand: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

const iso = (ms: number) => new Date(ms).toISOString();
const counted = (s: Scenario) => [...s.fates.values()].filter((f) => f.fate === 'counted').map((f) => f.event);

/** `GET /v1/analytics/counts` over {@link RANGE}: every window of counted events is final (the flush's is not, and holds nothing counted). */
export function expectedCounts(s: Scenario, windowMs: number, type?: string) {
  const windows = new Map<number, { count: number; users: Set<string> }>();
  for (const e of counted(s)) {
    if (type && e.type !== type) continue;
    const t = Date.parse(e.timestamp);
    const start = t - (t % windowMs);
    const w = windows.get(start) ?? { count: 0, users: new Set<string>() };
    w.count++;
    w.users.add(e.userId);
    windows.set(start, w);
  }
  return {
    // RANGE is on the boundaries of every window size: the answer covers it as it is
    from: RANGE.from,
    to: RANGE.to,
    series: [...windows.entries()]
      .sort(([a], [b]) => a - b)
      .map(([start, w]) => ({ windowStart: iso(start), windowEnd: iso(start + windowMs), count: w.count, uniqueUsers: w.users.size })),
  };
}

/** `GET /v1/analytics/users/{userId}`: counted events only (late, dead-lettered and the open flush are not). */
export function expectedUser(s: Scenario, userId: string) {
  const mine = counted(s).filter((e) => e.userId === userId);
  const times = mine.map((e) => Date.parse(e.timestamp));
  const byType: Record<string, number> = {};
  for (const e of mine) byType[e.type] = (byType[e.type] ?? 0) + 1;
  return { userId, events: mine.length, firstSeen: iso(Math.min(...times)), lastSeen: iso(Math.max(...times)), byType };
}

/** `GET /v1/analytics/top-types`: by count descending, then type. */
export function expectedTopTypes(s: Scenario, from: number, to: number, limit: number) {
  const byType = new Map<string, number>();
  for (const e of counted(s)) {
    const t = Date.parse(e.timestamp);
    if (t >= from && t < to) byType.set(e.type, (byType.get(e.type) ?? 0) + 1);
  }
  const types = [...byType.entries()].map(([type, count]) => ({ type, count }));
  types.sort((a, b) => b.count - a.count || (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
  return { types: types.slice(0, limit) };
}

/**
 * `GET /v1/analytics/late` over `range` (epoch ms on minute boundaries; {@link RANGE} by default):
 * late events (each id once) per type and one-minute window starting in it, by window then type.
 */
export function expectedLate(s: Scenario, range: { from: number; to: number } = { from: Date.parse(RANGE.from), to: Date.parse(RANGE.to) }) {
  const windows = new Map<string, { type: string; start: number; count: number }>();
  for (const { event, fate } of s.fates.values()) {
    if (fate !== 'late') continue;
    const t = Date.parse(event.timestamp);
    const start = t - (t % 60_000);
    if (start < range.from || start >= range.to) continue;
    const key = `${start}|${event.type}`;
    const w = windows.get(key) ?? { type: event.type, start, count: 0 };
    w.count++;
    windows.set(key, w);
  }
  return {
    from: iso(range.from),
    to: iso(range.to),
    late: [...windows.values()]
      .sort((a, b) => a.start - b.start || (a.type < b.type ? -1 : 1))
      .map((w) => ({ type: w.type, windowStart: iso(w.start), windowEnd: iso(w.start + 60_000), count: w.count })),
  };
}

/** `GET /v1/metrics/{name}/summary`: p95 is the continuous percentile (linear interpolation). */
export function expectedSummary(s: Scenario, name: string, windowMs: number) {
  const windows = new Map<number, number[]>();
  for (const m of s.metrics) {
    if (m.name !== name) continue;
    const t = Date.parse(m.timestamp);
    const start = t - (t % windowMs);
    windows.set(start, [...(windows.get(start) ?? []), m.value]);
  }
  return {
    from: RANGE.from,
    to: RANGE.to,
    series: [...windows.entries()]
      .sort(([a], [b]) => a - b)
      .map(([start, values]) => {
        const sorted = [...values].sort((a, b) => a - b);
        const rank = (sorted.length - 1) * 0.95;
        const low = Math.floor(rank);
        const high = Math.ceil(rank);
        const p95 = sorted[low]! + (rank - low) * (sorted[high]! - sorted[low]!);
        return {
          windowStart: iso(start),
          windowEnd: iso(start + windowMs),
          count: sorted.length,
          min: sorted[0]!,
          max: sorted[sorted.length - 1]!,
          avg: sorted.reduce((a, b) => a + b, 0) / sorted.length,
          p95,
        };
      }),
  };
}
