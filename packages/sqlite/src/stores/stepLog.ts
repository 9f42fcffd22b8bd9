import { isDeepStrictEqual } from 'node:util';
import { SqliteErrors } from '../errors.js';
import type Database from 'better-sqlite3';
import { CoreErrors, HeraldError } from '@herald/core';
import { toStoreError } from '../internal/storeErrors.js';
import type { Member, TxScope } from './txTypes.js';

type Method = 'run' | 'all' | 'get';

/** One statement a member executed, and what it returned (or the error code it threw). */
interface Step {
  readonly member: Member;
  readonly stmt: Database.Statement<unknown[]>;
  readonly method: Method;
  readonly args: readonly unknown[];
  readonly result: unknown;
  readonly errorCode?: string;
  /** The log's `epoch` when it ran. */
  readonly epoch: number;
}

/** The statements of the open physical transaction, in execution order, for replaying parts of it. */
export interface StepLog {
  /** A fresh scope whose statements run at once and are recorded for `member`. */
  scope(member: Member): TxScope;
  /**
   * Rolls the open physical transaction back (if any), begins a new one and runs again, in their
   * original order, the statements of `members` only, checking that each returns what it returned
   * before. A member for which one does not (it had read writes of someone left out) is set aside
   * and the replay starts over without it. Returns the members set aside; the new transaction
   * holds exactly the writes of the others.
   */
  replay(members: readonly Member[]): Member[];
  /** Forgets the statements of these members. */
  drop(members: Iterable<Member>): void;
  clear(): void;
}

/** What the step log asks of the runner, which owns the physical transaction. */
export interface StepLogHooks {
  /**
   * Called before a statement runs outside any physical transaction: begins one and replays the
   * running members' statements into it (the runner closes the physical transaction whenever it
   * commits or yields the write lock, and reopens it lazily); throws when it cannot.
   */
  readonly ensure: () => void;
  /** A scope's `lock` (see `TxScope.lock`). */
  readonly lock: () => Promise<void> | undefined;
}

export function createStepLog(db: Database.Database, hooks: StepLogHooks): StepLog {
  const { ensure } = hooks;
  const at = { path: db.name, context: 'stores' };
  let steps: Step[] = [];
  const begin = db.prepare('BEGIN IMMEDIATE');
  // changes when another connection commits (not when this one does)
  const dataVersion = db.prepare('PRAGMA data_version').pluck();
  let seenVersion = dataVersion.get();
  /**
   * Moves on whenever the database may have changed under the recorded steps other than by their
   * replay: another connection committed, or members that wrote left the log (committed, failed).
   * A statement that returns something else on replay with no move since it ran, and no step left
   * out before it, read nothing that changed: its SQL answers differently on each run.
   */
  let epoch = 0;

  function execute(stmt: Database.Statement<unknown[]>, method: Method, args: readonly unknown[]): unknown {
    const value = stmt[method](...args);
    return method === 'run' ? (value as Database.RunResult).changes : value;
  }

  function record(member: Member, scope: TxScope, stmt: Database.Statement<unknown[]>, method: Method, args: readonly unknown[]): unknown {
    if (!scope.active) throw member.broke ?? (member.doomed ? conflict(member) : finished());
    if (!db.inTransaction) {
      ensure();
      // the replay may have found this member's own earlier reads invalidated
      if (!scope.active) throw conflict(member);
    }
    let result: unknown;
    try {
      result = execute(stmt, method, args);
    } catch (error) {
      if (!db.inTransaction) throw broke(member, error);
      steps.push({ member, stmt, method, args, result: undefined, errorCode: codeOf(error), epoch });
      throw constraintOfOthers(member, error) ?? toStoreError(error, at);
    }
    if (!db.inTransaction) throw broke(member, undefined);
    steps.push({ member, stmt, method, args, result, epoch });
    if (!stmt.readonly && (method !== 'run' || (result as number) > 0)) scope.wrote = true;
    return result;
  }

  /**
   * A constraint refusal while other transactions' uncommitted writes share the physical
   * transaction: the row in the way may be theirs, and they may still roll back (on PostgreSQL the
   * statement would wait for them). So it is `store-constraint` but retriable: run again, it
   * succeeds, or meets the committed row and fails for good. Undefined for any other failure.
   */
  function constraintOfOthers(member: Member, error: unknown): HeraldError | undefined {
    if (!codeOf(error).startsWith('SQLITE_CONSTRAINT') || !steps.some((step) => step.member !== member && step.member.scope.wrote)) return undefined;
    const mapped = toStoreError(error, at) as HeraldError;
    return new HeraldError(SqliteErrors.storeConstraint, `${mapped.message} (other transactions' uncommitted writes were in the way: it may pass when run again)`, {
      retriable: true,
      cause: error,
      ...(mapped.details ? { details: mapped.details } : {}),
    });
  }

  /**
   * Replays the steps of `included` once; returns the first member whose statement diverged, if any
   * (with what is known of why in its `divergence`).
   */
  function pass(included: ReadonlySet<Member>): Member | undefined {
    if (db.inTransaction) db.exec('ROLLBACK');
    begin.run();
    const version = dataVersion.get();
    if (version !== seenVersion) {
      seenVersion = version;
      epoch++;
    }
    let leftOut = false;
    for (const step of steps) {
      if (!included.has(step.member)) {
        leftOut = true;
        continue;
      }
      let result: unknown;
      let errorCode: string | undefined;
      try {
        result = execute(step.stmt, step.method, step.args);
      } catch (error) {
        errorCode = codeOf(error);
      }
      // it did not end the transaction the first time (see `broke`): it read writes left out
      if (!db.inTransaction) return step.member;
      if (errorCode !== step.errorCode || (errorCode === undefined && !isDeepStrictEqual(result, step.result))) {
        step.member.divergence = { sql: step.stmt.source, alone: !leftOut && step.epoch === epoch };
        return step.member;
      }
    }
    return undefined;
  }

  /**
   * `member`'s statement ended the physical transaction (`INSERT OR ROLLBACK`, a trigger's
   * `RAISE(ROLLBACK)`, SQLite rolling back after SQLITE_FULL or SQLITE_IOERR): everyone's writes
   * are gone. The member fails for good (it would do it again) and is left out of replays; the
   * others get their writes back in a new physical transaction when they next need it, so no
   * statement runs outside one. The disk's failures keep their own retriable error
   * (`store-unavailable`): the member may well succeed later; the SQL's are `transaction-control`.
   */
  function broke(member: Member, cause: unknown): HeraldError {
    const mapped = toStoreError(cause, at);
    const error =
      mapped instanceof HeraldError && mapped.retriable
        ? mapped
        : new HeraldError(
            SqliteErrors.transactionControl,
            'stores: a statement ended the transaction (a conflict clause OR ROLLBACK, a trigger RAISE(ROLLBACK), or SQLite rolling back after an error); this transaction was rolled back, the others sharing its commit were not affected',
            { cause },
          );
    member.broke = error;
    member.doomed = true;
    member.scope.active = false;
    steps = steps.filter((step) => step.member !== member);
    return error;
  }

  return {
    scope: (member) => new RecordingScope(member, record, hooks.lock),
    replay(members) {
      const included = new Set(members);
      const diverged: Member[] = [];
      for (let member = pass(included); member; member = pass(included)) {
        included.delete(member);
        diverged.push(member);
      }
      return diverged;
    },
    drop(members) {
      const gone = new Set(members);
      if (gone.size === 0) return;
      const kept = steps.filter((step) => !gone.has(step.member));
      // what they wrote is now committed, or gone
      if (steps.some((step) => gone.has(step.member) && !step.stmt.readonly)) epoch++;
      steps = kept;
    },
    clear() {
      steps = [];
    },
  };
}

type Recorder = (member: Member, scope: TxScope, stmt: Database.Statement<unknown[]>, method: Method, args: readonly unknown[]) => unknown;

/**
 * A member's scope. A class rather than an object of closures: one is made per transaction on the
 * hot path, and methods on a prototype cost nothing to create.
 */
class RecordingScope implements TxScope {
  active = true;
  appended = false;
  wrote = false;
  constructor(
    private readonly member: Member,
    private readonly record: Recorder,
    private readonly locker: () => Promise<void> | undefined,
  ) {}
  lock(): Promise<void> | undefined {
    // a finished or doomed scope's statement throws its own error at once
    return this.active ? this.locker() : undefined;
  }
  run(stmt: Database.Statement<unknown[]>, args: readonly unknown[]): number {
    return this.record(this.member, this, stmt, 'run', args) as number;
  }
  all<Row>(stmt: Database.Statement<unknown[], Row>, args: readonly unknown[]): Row[] {
    return this.record(this.member, this, stmt as Database.Statement<unknown[]>, 'all', args) as Row[];
  }
  get<Row>(stmt: Database.Statement<unknown[], Row>, args: readonly unknown[]): Row | undefined {
    return this.record(this.member, this, stmt as Database.Statement<unknown[]>, 'get', args) as Row | undefined;
  }
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'ERROR';
}

/** The error for a handle used after its transaction settled. */
export function finished(): HeraldError {
  return new HeraldError(CoreErrors.transactionFinished, 'stores: this tx was used after its transaction settled; use it only inside the work function');
}

/**
 * The error of a member whose reads were invalidated too many times in a row. When nothing but
 * its own SQL can explain the last invalidation (see `Member.divergence`), it says so: a
 * transaction alone fails this way whenever its work awaits longer than the runner holds the lock.
 */
export function conflict(member: Member): HeraldError {
  const divergence = member.divergence;
  const sql = divergence && `\`${divergence.sql.length > 200 ? `${divergence.sql.slice(0, 200)}...` : divergence.sql}\``;
  const message = !divergence
    ? 'stores: this transaction kept reading writes of concurrent transactions that then failed; it was rolled back and can be retried'
    : divergence.alone
      ? `stores: statement ${sql} of this transaction returned something else when the transaction's statements were replayed, though no other transaction had changed what it read: its SQL answers differently on each run (random(), randomblob(), datetime('now'), a default from the clock returned by RETURNING...). The engine replays a transaction's statements when its work awaits longer than a few milliseconds (see "Transactions" in @herald/sqlite's README), so ids, random values and timestamps must come from JavaScript parameters ($1, $2...), not SQL functions. The transaction was rolled back`
      : `stores: this transaction kept reading writes of concurrent transactions that then failed (last, ${sql} returned something else when replayed); it was rolled back and can be retried. If no other transaction writes what it reads, that SQL answers differently on each run: take ids, random values and timestamps from JavaScript parameters, not SQL functions`;
  return new HeraldError(SqliteErrors.transactionConflict, message, { retriable: true });
}
