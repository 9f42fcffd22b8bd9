/** A statement rewritten for SQLite: `?` placeholders and which `$n` feeds each of them. */
export interface TranslatedSql {
  readonly sql: string;
  /** Zero-based parameter index per `?`, in order; `null` when it is simply 0, 1, 2... */
  readonly order: readonly number[] | null;
}

/**
 * Rewrites PostgreSQL-style `$1, $2...` placeholders as SQLite `?`, recording which parameter each
 * one takes, so `$n` may repeat and appear in any order. Text inside string literals, quoted
 * identifiers and comments is left alone, as is a `$` that continues an identifier (`a$1`).
 */
export function translatePlaceholders(sql: string): TranslatedSql {
  let out = '';
  const order: number[] = [];
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const ch = sql[i]!;
    if (ch === "'" || ch === '"' || ch === '`') {
      const end = closing(sql, i, ch);
      out += sql.slice(i, end);
      i = end;
    } else if (ch === '[') {
      const end = sql.indexOf(']', i + 1);
      const stop = end < 0 ? n : end + 1;
      out += sql.slice(i, stop);
      i = stop;
    } else if (ch === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      const stop = end < 0 ? n : end;
      out += sql.slice(i, stop);
      i = stop;
    } else if (ch === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      const stop = end < 0 ? n : end + 2;
      out += sql.slice(i, stop);
      i = stop;
    } else if (ch === '$' && isDigit(sql.charCodeAt(i + 1)) && !continuesIdentifier(sql, i)) {
      let j = i + 1;
      while (j < n && isDigit(sql.charCodeAt(j))) j++;
      order.push(Number(sql.slice(i + 1, j)) - 1);
      out += '?';
      i = j;
    } else {
      out += ch;
      i++;
    }
  }
  const sequential = order.every((value, index) => value === index);
  return { sql: out, order: sequential ? null : order };
}

/** Index just past the quote closing the one at `start` (a doubled quote is an escaped one). */
function closing(sql: string, start: number, quote: string): number {
  let i = start + 1;
  for (;;) {
    const next = sql.indexOf(quote, i);
    if (next < 0) return sql.length;
    if (sql[next + 1] === quote) {
      i = next + 2;
      continue;
    }
    return next + 1;
  }
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

function continuesIdentifier(sql: string, index: number): boolean {
  if (index === 0) return false;
  const code = sql.charCodeAt(index - 1);
  return (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95 || code === 36 || code > 127;
}
