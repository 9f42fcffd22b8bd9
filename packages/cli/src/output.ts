import type { CliIo } from './io.js';

/**
 * What a terminal would act on rather than show, or shows as nothing: the controls (`Cc`: C0,
 * where ESC starts a sequence that moves the cursor, clears the screen or retitles the window and
 * a newline starts a fake row; DEL; C1, where U+009B is a one-character ESC [), the line and
 * paragraph separators, lone surrogates, and the format characters (`Cf`: bidi overrides and
 * isolates, which reorder the text after them, zero-width spaces and marks, soft hyphens, a BOM:
 * a key that reads as another), but the zero-width joiner, which joins an emoji sequence.
 */
const UNPRINTABLE = /[\p{Cc}\p{Zl}\p{Zp}\p{Cs}]|(?!\u200d)\p{Cf}/gu;

/**
 * `text` as a terminal shows it faithfully: each character of {@link UNPRINTABLE} written as its
 * escape (`\x1b`, `\n`, `\u202e`). Keys, values and error messages come from records any
 * producer wrote; the table and tail lines print them through this. `--json` prints them exact.
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, escapeChar);
}

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeChar(char: string): string {
  const code = char.codePointAt(0)!;
  if (NAMED[char] !== undefined) return NAMED[char];
  if (code <= 0xff) return `\\x${code.toString(16).padStart(2, '0')}`;
  return code <= 0xffff ? `\\u${code.toString(16).padStart(4, '0')}` : `\\u{${code.toString(16)}}`;
}

/** Columns padded to their widest cell, two spaces apart; the last column is not padded. Every cell is {@link printable}. */
export function table(headers: readonly string[], cells: readonly (readonly string[])[]): string {
  const rows = cells.map((row) => row.map(printable));
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((row) => (row[i] ?? '').length)));
  return all.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}

/** One JSON document on stdout (what `--json` prints). */
export function printJson(io: CliIo, value: unknown): void {
  io.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Text longer than `max` characters, cut with an ellipsis (one line: newlines become spaces). */
export function clip(text: string, max: number): string {
  const line = text.replace(/\s+/g, ' ');
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

/** ISO time of a ms timestamp. */
export const iso = (ms: number): string => new Date(ms).toISOString();
