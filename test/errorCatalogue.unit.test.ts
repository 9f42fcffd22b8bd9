import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CATALOGUES, ERRORS_DOC, renderErrorsDoc } from '../scripts/errorCatalogue.js';

describe('the error catalogue', () => {
  it('is documented in docs/errors.md exactly as the catalogues say (npm run docs:errors)', () => {
    expect(readFileSync(ERRORS_DOC, 'utf8')).toBe(renderErrorsDoc());
  });

  it('documents every code, and a code shared by two packages is equally retriable in both', () => {
    const byCode = new Map<string, boolean>();
    for (const { pkg, specs } of CATALOGUES) {
      for (const spec of Object.values(specs)) {
        expect(spec.meaning.length, `${pkg} ${spec.code}: meaning`).toBeGreaterThan(10);
        expect(spec.action.length, `${pkg} ${spec.code}: what to do`).toBeGreaterThan(3);
        const seen = byCode.get(spec.code);
        if (seen !== undefined) expect(spec.retriable, `${spec.code} is retriable in one package and not in another`).toBe(seen);
        byCode.set(spec.code, spec.retriable);
      }
    }
    expect(byCode.size).toBeGreaterThan(20);
  });
});
