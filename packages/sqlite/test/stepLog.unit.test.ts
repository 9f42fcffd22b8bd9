import { afterAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { createStepLog } from '../src/stores/stepLog.js';
import type { Member } from '../src/stores/txTypes.js';
import { tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.remove());

/** A step log on a file of its own, and members made by hand (the runner's part played by the test). */
function setup(name: string) {
  const path = `${tmp.dir}/${name}.db`;
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE rows (name TEXT NOT NULL)');
  const log = createStepLog(db, { ensure: () => void (db.inTransaction || db.exec('BEGIN IMMEDIATE')), lock: () => undefined });
  const member = (): Member => {
    const m: Member = { work: () => undefined, resolve: () => {}, reject: () => {}, durable: 'own', scope: undefined!, runs: 1, startedAt: 0, state: 'running', doomed: false };
    m.scope = log.scope(m);
    return m;
  };
  const count = db.prepare('SELECT count(*) AS n FROM rows');
  const insert = db.prepare('INSERT INTO rows VALUES (?)');
  return { path, db, log, member, count, insert };
}

describe('statement log replays', () => {
  it('tells a statement whose SQL answers differently on each run, in a transaction alone, from one that read changed data', () => {
    const { db, log, member } = setup('alone');
    const m = member();
    m.scope.get(db.prepare('SELECT lower(hex(randomblob(8))) AS id'), []);
    db.exec('ROLLBACK'); // the lock yielded while the work awaits
    expect(log.replay([m])).toEqual([m]);
    expect(m.divergence).toEqual({ sql: 'SELECT lower(hex(randomblob(8))) AS id', alone: true });
    db.close();
  });

  it('does not blame the SQL when a transaction left out of the replay wrote before it', () => {
    const { db, log, member, count, insert } = setup('left-out');
    const writer = member();
    const reader = member();
    writer.scope.run(insert, ['uncommitted']);
    reader.scope.get(count, []);
    expect(log.replay([reader])).toEqual([reader]);
    expect(reader.divergence).toMatchObject({ alone: false });
    db.close();
  });

  it('does not blame the SQL when another connection committed since it ran', () => {
    const { path, db, log, member, count } = setup('other-connection');
    const reader = member();
    reader.scope.get(count, []);
    db.exec('ROLLBACK');
    const other = new Database(path);
    other.prepare('INSERT INTO rows VALUES (?)').run('other');
    other.close();
    expect(log.replay([reader])).toEqual([reader]);
    expect(reader.divergence).toMatchObject({ alone: false });
    db.close();
  });

  it('does not blame the SQL when a transaction that wrote after it committed meanwhile', () => {
    const { db, log, member, count, insert } = setup('committed');
    const reader = member();
    const writer = member();
    reader.scope.get(count, []);
    writer.scope.run(insert, ['committed']);
    // the runner commits both, keeping the reader's steps for a replay (as when it is still running)
    db.exec('COMMIT');
    log.drop([writer]);
    expect(log.replay([reader])).toEqual([reader]);
    expect(reader.divergence).toMatchObject({ alone: false });
    db.close();
  });
});
