import { describe, expect, it } from 'vitest';
import { translatePlaceholders } from '@herald/sqlite';

describe('translatePlaceholders', () => {
  it('turns $1..$n in order into ? with no reordering needed', () => {
    expect(translatePlaceholders('SELECT * FROM t WHERE a = $1 AND b = $2')).toEqual({ sql: 'SELECT * FROM t WHERE a = ? AND b = ?', order: null });
  });

  it('maps repeated and out-of-order placeholders to the right parameters', () => {
    expect(translatePlaceholders('UPDATE t SET a = $2 WHERE id = $1 OR parent = $1')).toEqual({
      sql: 'UPDATE t SET a = ? WHERE id = ? OR parent = ?',
      order: [1, 0, 0],
    });
  });

  it('handles multi-digit placeholders', () => {
    const params = Array.from({ length: 12 }, (_, i) => `$${i + 1}`).join(', ');
    const { sql, order } = translatePlaceholders(`VALUES (${params}, $10)`);
    expect(sql).toBe(`VALUES (${Array(13).fill('?').join(', ')})`);
    expect(order).toEqual([...Array.from({ length: 12 }, (_, i) => i), 9]);
  });

  it('leaves string literals, quoted identifiers and comments alone', () => {
    const sql = `SELECT '$1', 'it''s $2', "col$3", [x $4], \`y $5\` -- $6\n FROM t /* $7 */ WHERE a = $1`;
    const out = translatePlaceholders(sql);
    expect(out.sql).toBe(`SELECT '$1', 'it''s $2', "col$3", [x $4], \`y $5\` -- $6\n FROM t /* $7 */ WHERE a = ?`);
    expect(out.order).toBeNull();
  });

  it('does not treat a $ inside an identifier as a placeholder', () => {
    expect(translatePlaceholders('SELECT a$1 FROM t WHERE b = $1').sql).toBe('SELECT a$1 FROM t WHERE b = ?');
  });

  it('keeps an unterminated literal as is', () => {
    expect(translatePlaceholders("SELECT 'abc $1").sql).toBe("SELECT 'abc $1");
  });
});
