import { FormatRegistry, Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { defineEvent, registerFormats } from '../src/index.js';

const Stamped = defineEvent({
  type: 'Stamped',
  topic: 'stamped',
  key: (d) => d.id,
  schema: Type.Object({
    id: Type.String({ format: 'uuid' }),
    at: Type.String({ format: 'date-time' }),
    day: Type.Optional(Type.String({ format: 'date' })),
    email: Type.Optional(Type.String({ format: 'email' })),
    link: Type.Optional(Type.String({ format: 'uri' })),
  }),
});
const ID = '0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b';
const problems = (data: Record<string, unknown>) => Stamped.check({ id: ID, at: '2026-12-05T10:00:00Z', ...data }).map((i) => i.path);

describe('standard string formats in event schemas', () => {
  it('accepts RFC 3339 date-times with a zone, fractions and offsets, and real dates', () => {
    for (const at of ['2026-12-05T10:00:00Z', '2026-12-05t10:00:00.123456z', '2024-02-29T23:59:60+02:00', '2026-12-05T10:00:00-11:30']) expect(problems({ at })).toEqual([]);
    expect(problems({ day: '2024-02-29', email: 'ana@example.com', link: 'https://example.com/a?b=c' })).toEqual([]);
  });

  it('refuses date-times without a zone, impossible dates and times, and malformed values', () => {
    for (const at of ['2026-12-05T10:00:00', '2026-12-05 10:00:00Z', '2026-02-30T10:00:00Z', '2026-12-05T24:00:00Z', '2026-12-05T10:00:00+24:00', 'yesterday', '']) {
      expect(problems({ at }), at).toEqual(['/at']);
    }
    expect(problems({ day: '2023-02-29' })).toEqual(['/day']);
    expect(problems({ email: 'ana@localhost' })).toEqual(['/email']);
    expect(problems({ link: 'not a uri' })).toEqual(['/link']);
    expect(Stamped.check({ id: 'not-a-uuid', at: '2026-12-05T10:00:00Z' }).map((i) => i.path)).toEqual(['/id']);
  });

  it('leaves a format the application registered in place', () => {
    const strict = (value: string) => value.endsWith('@example.com');
    FormatRegistry.Delete('email');
    FormatRegistry.Set('email', strict);
    try {
      registerFormats();
      expect(FormatRegistry.Get('email')).toBe(strict);
    } finally {
      FormatRegistry.Delete('email');
      registerFormats();
    }
    expect(FormatRegistry.Get('email')).not.toBe(strict);
    expect(FormatRegistry.Get('email')!('ana@example.org')).toBe(true);
  });
});
