import { describe, expect, it } from 'vitest';
import { CoreErrors, HeraldError } from '@herald/core';
import { CliErrors, EXIT_CODES, exitCodeOf } from '../src/index.js';
import { parseReplayTarget } from '../src/commands/replay.js';
import { printable, table } from '../src/output.js';
import { formatAge, parseCount, parseTime } from '../src/time.js';

describe('command line values', () => {
  const now = Date.parse('2025-06-01T12:00:00Z');

  it('reads times as ISO date-times or durations ago', () => {
    expect(parseTime('2025-05-31T10:00:00Z', '--to', now)).toBe(Date.parse('2025-05-31T10:00:00Z'));
    expect(parseTime('90s', '--since', now)).toBe(now - 90_000);
    expect(parseTime('15m', '--since', now)).toBe(now - 900_000);
    expect(parseTime('2h', '--since', now)).toBe(now - 7_200_000);
    expect(parseTime('7d', '--since', now)).toBe(now - 604_800_000);
    for (const bad of ['yesterday', '15', '-1h', '1w', '']) expect(() => parseTime(bad, '--since', now)).toThrow(/--since must be an ISO date-time/);
  });

  it('refuses dates that do not exist instead of rolling them over, and a time of day without a zone', () => {
    expect(parseTime('2025-06-01', '--to', now), 'a date alone is UTC midnight').toBe(Date.parse('2025-06-01T00:00:00Z'));
    expect(parseTime('2025-06-01T14:00:00+02:00', '--to', now)).toBe(Date.parse('2025-06-01T12:00:00Z'));
    expect(parseTime('2025-06-01T12:00Z', '--to', now)).toBe(Date.parse('2025-06-01T12:00:00Z'));
    expect(parseTime('2024-02-29T23:59:59.999Z', '--to', now)).toBe(Date.parse('2024-02-29T23:59:59.999Z'));
    // RFC 3339's other spellings, and the offset as logs write it
    for (const same of ['2025-06-01 12:00:00Z', '2025-06-01t12:00:00z', '2025-06-01T14:00:00+0200', '2025-06-01T08:30:00-0330', '2025-06-01 14:00+02:00']) {
      expect(parseTime(same, '--to', now), same).toBe(Date.parse('2025-06-01T12:00:00Z'));
    }
    for (const impossible of ['2025-02-31', '2025-02-29', '2025-13-01', '2025-06-00', '2025-06-01T24:00:00Z', '2025-06-01T12:60:00Z', '2025-06-01T12:00:00+25:00', '2025-06-01T12:00:00+0260']) {
      expect(() => parseTime(impossible, '--to', now), impossible).toThrow(`--to must be a date and time that exist, got "${impossible}" (no such day, hour or offset)`);
    }
    for (const local of ['2025-06-01T12:00:00', '2025-06-01T12:00', '2025-06-01T12:00:00.5']) {
      expect(() => parseTime(local, '--since', now), local).toThrow(`--since needs a zone with a time of day: add Z (UTC) or an offset such as +02:00, got "${local}"`);
    }
    expect(() => parseReplayTarget('2025-02-31')).toThrow('--to must be a date and time that exist');
    expect(() => parseReplayTarget('soon')).toThrow('--to takes earliest, latest');
  });

  it('reads counts within their range', () => {
    expect(parseCount('50', '--limit', { min: 1, max: 1000 })).toBe(50);
    for (const bad of ['0', '1001', '1.5', 'ten', '-3']) expect(() => parseCount(bad, '--limit', { min: 1, max: 1000 })).toThrow('--limit must be a whole number in [1, 1000]');
  });

  it('prints ages for people', () => {
    expect([850, 12_000, 192_000, 3_720_000, 200_000_000].map(formatAge)).toEqual(['850 ms', '12s', '3m 12s', '1h 02m', '2d 07h']);
  });
});

describe('terminal output', () => {
  it('escapes what a terminal would act on: C0 and C1 controls, DEL, bidi overrides and isolates', () => {
    expect(printable('a\x1b[2J\nb\r\tc')).toBe('a\\x1b[2J\\nb\\r\\tc');
    expect(printable('\u0000\u0007\u001f\u007f\u0080\u009b31m')).toBe('\\x00\\x07\\x1f\\x7f\\x80\\x9b31m');
    expect(printable('user\u202egnp.exe \u2066x\u2069 \u202a\u202d')).toBe('user\\u202egnp.exe \\u2066x\\u2069 \\u202a\\u202d');
    // characters shown as nothing, so a key would read as another: zero-width, marks, soft hyphen, BOM, separators, a lone surrogate, a tag
    expect(printable('order\u200b-1 \u200e\u00ad\ufeff\u061c\u2028\u2029 \ud800 \u{e0041}')).toBe('order\\u200b-1 \\u200e\\xad\\ufeff\\u061c\\u2028\\u2029 \\ud800 \\u{e0041}');
    // what is text stays as it is: letters of any script, emoji, a zero-width joiner, a backslash
    for (const text of ['café', 'улица', 'مرحبا', '👩‍💻', 'C:\\dir', ' ~ ']) expect(printable(text)).toBe(text);
  });

  it('prints every table cell printable, so a row stays one row and the columns stay aligned', () => {
    const out = table(['KEY', 'ERROR'], [['a\x1b[2J\nb', 'boom'], ['k', 'x\u202ey']]);
    expect(out).toBe('KEY          ERROR\na\\x1b[2J\\nb  boom\nk            x\\u202ey\n');
  });
});

describe('exit codes', () => {
  it('maps each documented refusal to its code, and anything else to failure', () => {
    expect(exitCodeOf(new HeraldError(CoreErrors.invalidOptions, 'x'))).toBe(EXIT_CODES.usage);
    expect(exitCodeOf(new HeraldError(CliErrors.confirmationRequired, 'x'))).toBe(EXIT_CODES.usage);
    expect(exitCodeOf(new HeraldError(CoreErrors.groupActive, 'x'))).toBe(EXIT_CODES.groupActive);
    expect(exitCodeOf(new HeraldError(CliErrors.nothingMatched, 'x'))).toBe(EXIT_CODES.nothingMatched);
    expect(exitCodeOf(new HeraldError(CliErrors.declined, 'x'))).toBe(EXIT_CODES.declined);
    expect(exitCodeOf(new HeraldError(CliErrors.noEngine, 'x'))).toBe(EXIT_CODES.usage);
    expect(exitCodeOf(new HeraldError(CliErrors.interrupted, 'x'))).toBe(EXIT_CODES.interrupted);
    expect(exitCodeOf(new HeraldError(CoreErrors.brokerUnavailable, 'x'))).toBe(EXIT_CODES.failure);
    expect(exitCodeOf(new Error('x'))).toBe(EXIT_CODES.failure);
    expect(new Set(Object.values(EXIT_CODES)).size, 'codes are distinct').toBe(Object.keys(EXIT_CODES).length);
  });
});
