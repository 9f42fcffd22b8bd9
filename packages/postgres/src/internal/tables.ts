/** Schema-qualified, quoted names of the stores' tables, computed once per store. */
export interface Tables {
  readonly schema: string;
  /** Prefix of prepared statement names, unique per schema and short (names are cut at 63 bytes). */
  readonly statementPrefix: string;
  readonly outbox: string;
  readonly outboxClaims: string;
  readonly outboxSlots: string;
  readonly outboxMarks: string;
  readonly inbox: string;
  readonly deadLetters: string;
  readonly idempotency: string;
  readonly timers: string;
  readonly sagas: string;
  readonly windowPartitions: string;
  readonly windows: string;
  readonly migrations: string;
}

/** What a schema name may be: it is spliced into SQL, so nothing that would need quoting. */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Whether `name` is a schema name the stores accept (see {@link SCHEMA_NAME}). */
export function isSchemaName(name: string): boolean {
  return SCHEMA_NAME.test(name);
}

/** Validates a schema name (lower-case letters, digits, `_`) and names the tables in it. */
export function tablesFor(schema: string): Tables {
  if (!isSchemaName(schema)) {
    throw new RangeError(`pgStores: schema must match ${SCHEMA_NAME} (lower-case letters, digits, _), got ${JSON.stringify(schema)}`);
  }
  const q = (table: string) => `"${schema}"."${table}"`;
  return {
    schema: `"${schema}"`,
    statementPrefix: `herald_${schema.length > 40 ? hash(schema) : schema}_`,
    outbox: q('outbox'),
    outboxClaims: q('outbox_claims'),
    outboxSlots: q('outbox_slots'),
    outboxMarks: q('outbox_marks'),
    inbox: q('inbox'),
    deadLetters: q('dead_letters'),
    idempotency: q('idempotency_keys'),
    timers: q('timers'),
    sagas: q('sagas'),
    windowPartitions: q('window_partitions'),
    windows: q('windows'),
    migrations: q('schema_migrations'),
  };
}

/**
 * The database clock in epoch milliseconds. Leases and publication times use it rather than each
 * process's clock, so relays on different hosts agree on when a claim lapses.
 */
export const NOW_MS = `(extract(epoch from now()) * 1000)::bigint`;

function hash(text: string): string {
  let h = 5381;
  for (let i = 0; i < text.length; i++) h = (Math.imul(h, 33) ^ text.charCodeAt(i)) >>> 0;
  return h.toString(36);
}
