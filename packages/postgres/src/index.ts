export { pgStores } from './pgStores.js';
export type { PgStores } from './pgStores.js';
export type { PgStoresOptions } from './options.js';
export { migrate } from './migrate.js';
export type { MigrateOptions, MigrateResult } from './migrate.js';
export type { ForeignIdRepair } from './internal/foreignIds/foreignIds.js';
export { PgErrorCodes, PgErrors, toStoreError, type StoreErrorOptions } from './errors.js';
