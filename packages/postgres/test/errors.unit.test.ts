import { describe, expect, it } from 'vitest';
import { toStoreError } from '../src/errors.js';
import { PgErrorCodes } from '../src/index.js';

// How the server's errors map to retriable or not (the real server's are in transaction.int.test.ts;
// the DDL race below shows up there only when the timing falls that way).

const pgError = (code: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(`server says ${code}`), { code, ...extra });

describe('toStoreError', () => {
  it('maps every way the server reports two sessions creating the same object to a retriable conflict', () => {
    for (const race of [pgError('23505', { constraint: 'pg_type_typname_nsp_index' }), pgError('42P07'), pgError('42710')]) {
      expect(toStoreError(race, 'execute')).toMatchObject({ code: PgErrorCodes.conflict, retriable: true });
    }
  });

  it('keeps a unique violation of the application’s own data a constraint error, not retried', () => {
    expect(toStoreError(pgError('23505', { constraint: 'orders_pkey' }), 'execute')).toMatchObject({ code: PgErrorCodes.constraint, retriable: false });
  });
});
