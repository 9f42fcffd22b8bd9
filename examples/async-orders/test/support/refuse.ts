import type { AsyncOrders } from '../../src/system.js';

/** Where the writes are refused: a table, and a condition on the row written (`NEW`), in each engine's SQL. */
export interface Refusal {
  /** Names the trigger (and PostgreSQL's function): letters, digits and `_`. */
  readonly name: string;
  readonly table: { readonly sqlite: string; readonly postgres: string };
  readonly when: { readonly sqlite: string; readonly postgres: string };
}

/** The saga store's table on each engine (the PostgreSQL stores' default schema is `herald`). */
export const SAGA_TABLE = { sqlite: 'herald_sagas', postgres: 'herald.sagas' } as const;

/**
 * Makes the database refuse the inserts and updates of `table` that match `when` — a constraint the
 * services do not know of — on the engine `system` runs on: every attempt of a handler writing such
 * a row fails, and once its attempts are spent its event is a dead letter. Resolves to a function
 * that lifts the refusal (the cause fixed, as an operator would before a redrive).
 */
export async function refuseWrites(system: AsyncOrders, refusal: Refusal): Promise<() => Promise<void>> {
  const { name } = refusal;
  const execute = (sql: string) => system.engine.stores.transaction((tx) => tx.execute(sql, []));
  if (system.engine.kind === 'embedded') {
    const { table, when } = { table: refusal.table.sqlite, when: refusal.when.sqlite };
    for (const event of ['INSERT', 'UPDATE']) {
      await execute(`CREATE TRIGGER ${name}_${event.toLowerCase()} BEFORE ${event} ON ${table} WHEN ${when} BEGIN SELECT RAISE(ABORT, '${name}'); END`);
    }
    return async () => {
      for (const event of ['insert', 'update']) await execute(`DROP TRIGGER ${name}_${event}`);
    };
  }
  const { table, when } = { table: refusal.table.postgres, when: refusal.when.postgres };
  await execute(`CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF ${when} THEN RAISE EXCEPTION '${name}'; END IF; RETURN NEW; END $$`);
  await execute(`CREATE TRIGGER ${name} BEFORE INSERT OR UPDATE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${name}()`);
  return async () => {
    await execute(`DROP TRIGGER ${name} ON ${table}`);
    await execute(`DROP FUNCTION ${name}()`);
  };
}
