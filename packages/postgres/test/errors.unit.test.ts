import { describe, expect, it } from 'vitest';
import { toStoreError } from '../src/errors.js';
import { PgErrorCodes } from '../src/index.js';

// How the server's errors map to retriable or not (the real server's are in transaction.int.test.ts;
// the DDL race below shows up there only when the timing falls that way).

const pgError = (code: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(`server says ${code}`), { code, ...extra });

describe('toStoreError', () => {
  it('maps every way the server reports two sessions creating the same object to a retriable conflict', () => {
    for (const race of [pgError('23505', { constraint: 'pg_type_typname_nsp_index' }), pgError('42P07'), pgError('42710')]) {
      expect(toStoreError(race, 'execute', { idempotentDdl: true })).toMatchObject({ code: PgErrorCodes.conflict, retriable: true });
    }
  });

  it('keeps an existing object named by a plain CREATE a failure, not retried until the budget runs out', () => {
    for (const duplicate of [pgError('42P07'), pgError('42710')]) {
      expect(toStoreError(duplicate, 'execute')).toMatchObject({ code: PgErrorCodes.failed, retriable: false });
    }
  });

  it('keeps a unique violation of the application’s own data a constraint error, not retried', () => {
    expect(toStoreError(pgError('23505', { constraint: 'orders_pkey' }), 'execute')).toMatchObject({ code: PgErrorCodes.constraint, retriable: false });
  });

  it('maps a cancelled statement (statement_timeout) to a retriable timeout, as a lock timeout is retried', () => {
    expect(toStoreError(pgError('57014'), 'execute')).toMatchObject({ code: PgErrorCodes.timeout, retriable: true, details: { sqlState: '57014' } });
    expect(toStoreError(pgError('55P03'), 'execute')).toMatchObject({ code: PgErrorCodes.conflict, retriable: true });
  });

  it('maps a server out of resources, closing an idle transaction’s session, or in recovery (a standby refusing writes), to retriable unavailability', () => {
    for (const code of ['53000', '53100', '53200', '53300', '53400', '25P03', '25006']) {
      expect(toStoreError(pgError(code), 'execute'), code).toMatchObject({ code: PgErrorCodes.unavailable, retriable: true });
    }
  });
});
