import { describe, expect, it } from 'vitest';
import { slugOf, summaryOf, terms } from '../src/text.js';

describe('terms', () => {
  it('gives a word the same term whether its accents are composed or decomposed', () => {
    expect(terms('Cafe\u0301 CAFÉ café')).toEqual(['café']);
    expect(terms('cafe')).toEqual(['cafe']);
  });

  it('keeps a word with its combining marks (Devanagari vowel signs, a virama) whole', () => {
    expect(terms('हिन्दी संगीत')).toEqual(['हिन्दी', 'संगीत']);
  });

  it('keeps letters and digits of any script, in lower case, each once', () => {
    expect(terms('Группа крови, 1988 — группа!')).toEqual(['группа', 'крови', '1988']);
  });
});

/** Whether `text` holds a UTF-16 surrogate without its other half (PostgreSQL stores it as U+FFFD). */
const hasLoneSurrogate = (text: string): boolean => /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);

describe('summaryOf and slugOf', () => {
  it('never cut a character outside the Basic Multilingual Plane in two', () => {
    const summary = summaryOf(`${'a'.repeat(159)}🎵🎵 more`);
    expect(hasLoneSurrogate(summary), JSON.stringify(summary)).toBe(false);
    expect(summary).toBe(`${'a'.repeat(159)}…`);
    // U+20000 is a CJK letter, so it is part of the slug's words
    const slug = slugOf(`${'a'.repeat(59)}\u{20000}`, '01a2511a-7dff-7278-a0b5-52075f6497b2');
    expect(hasLoneSurrogate(slug), JSON.stringify(slug)).toBe(false);
    expect(slug).toBe(`${'a'.repeat(59)}-5f6497b2`);
  });
});
