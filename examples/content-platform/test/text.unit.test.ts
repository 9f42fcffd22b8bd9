import { describe, expect, it } from 'vitest';
import { terms } from '../src/text.js';

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
