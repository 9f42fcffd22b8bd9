import type { Migration } from './migration.js';

/** Version 15: the census of saga instances in flight, read by an index of its own. */
export const SAGA_CENSUS: readonly Migration[] = [
  {
    version: 15,
    name: 'saga instances in flight',
    // The metrics poll how many saga instances are in flight, per saga and status, and the oldest
    // first save (sagas/countSagasInFlight.ts), every 10 s from every process. `sagas_status` holds
    // every instance kept (ended ones until retention deletes them) and not `created_at`, so that
    // census read the whole index and a heap row per match; this index holds only the instances in
    // flight, with what the census reads (an index-only scan), and its condition is the census's,
    // word for word, so the planner can prove the census's rows are in it. A saga's saves write it
    // while it runs and leave it as it ends. Building it reads the table once and blocks saga saves
    // meanwhile: on a large sagas table, migrate when quiet.
    sql: (t) => `
      CREATE INDEX sagas_in_flight ON ${t.sagas} (saga, status, created_at) WHERE status IN ('running', 'awaiting-start');
    `,
  },
];
