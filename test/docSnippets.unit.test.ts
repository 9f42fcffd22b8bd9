import { beforeAll, describe, expect, it } from 'vitest';
import { checkSnippets, documentationFiles, documentationSnippets, extractSnippets, type Extracted, type SnippetResult } from './docSnippets.js';

// The documentation's blocks, and two probes that show the check can fail and says where: all in
// one TypeScript program (loading the packages' sources is most of the time).
const PROBES = extractSnippets(
  'probe.md',
  [
    'A wrong type on the second line:',
    '```ts',
    "import { createApp } from '@herald/core';",
    'const count: number = createApp;',
    '```',
    '',
    '<!-- continues -->',
    '```ts',
    "const app: string = 'ok';",
    'app.missing();',
    '```',
  ].join('\n'),
);

let docs: Extracted;
let results: readonly SnippetResult[];
let probes: readonly SnippetResult[];

beforeAll(() => {
  docs = documentationSnippets();
  const all = checkSnippets([...docs.snippets, ...PROBES.snippets]);
  results = all.slice(0, docs.snippets.length);
  probes = all.slice(docs.snippets.length);
});

describe("the documentation's code blocks", () => {
  it('are found in the READMEs and docs/*.md, and every marker marks a block', () => {
    expect(documentationFiles()).toEqual(expect.arrayContaining(['README.md', 'packages/core/README.md', 'examples/ticket-orders/README.md', 'docs/concepts.md']));
    expect(docs.snippets.length).toBeGreaterThan(20);
    expect(docs.problems).toEqual([]);
  });

  it('type-check against the packages, unless marked <!-- fragment: why --> (then file:line and the diagnostics)', () => {
    const failures = results.filter((r) => r.snippet.fragment === undefined && r.diagnostics.length > 0);
    const report = failures.map((r) => `${r.snippet.file}:${r.snippet.line - 1}: this block does not compile:\n  ${r.diagnostics.join('\n  ')}`);
    expect(report.join('\n\n'), 'fix the block, or mark a block not meant to compile with <!-- fragment: why --> right before its fence').toBe('');
  });

  it('marked as fragments still fail to compile (a block that compiles needs no marker)', () => {
    const stale = results.filter((r) => r.snippet.fragment !== undefined && r.diagnostics.length === 0);
    expect(stale.map((r) => `${r.snippet.file}:${r.snippet.line - 1}`)).toEqual([]);
  });

  it('are few fragments: most blocks are whole programs', () => {
    const fragments = results.filter((r) => r.snippet.fragment !== undefined);
    expect(fragments.length).toBeLessThanOrEqual(Math.floor(results.length / 10));
  });
});

describe('the check itself', () => {
  it('reports a wrong block with its markdown file, line and the compiler message', () => {
    expect(PROBES.problems).toEqual([]);
    expect(probes[0]!.diagnostics).toEqual([expect.stringMatching(/^probe\.md:4:7: TS2322 Type .* is not assignable to type 'number'/)]);
  });

  it('checks a continued block after the one before it, reporting its own lines only', () => {
    expect(probes[1]!.diagnostics).toEqual([expect.stringMatching(/^probe\.md:10:5: TS2339 Property 'missing' does not exist on type 'string'/)]);
  });

  it('refuses markers that mark nothing, lack a reason, or continue nothing', () => {
    const { snippets, problems } = extractSnippets('m.md', ['<!-- fragment -->', '```ts', 'x', '```', '<!-- continues -->', '', '```ts', 'y', '```', '<!-- fragment: a sketch -->', '```sh', 'ls', '```'].join('\n'));
    expect(snippets.map((s) => [s.line, s.fragment, s.continues?.line])).toEqual([
      [3, undefined, undefined],
      [8, undefined, undefined],
    ]);
    expect(problems).toEqual([expect.stringMatching(/^m\.md:1: /), expect.stringMatching(/^m\.md:5: /), expect.stringMatching(/^m\.md:10: /)]);
  });

  it('reads a continued and a fragment block with their lines, and skips other languages', () => {
    const { snippets, problems } = extractSnippets('m.md', ['```sh', 'npm test', '```', '```ts', 'a', '```', '<!-- continues -->', '~~~ts', 'b', '~~~', '<!-- fragment: needs an app -->', '```js', 'c', '```'].join('\n'));
    expect(problems).toEqual([]);
    expect(snippets.map((s) => [s.line, s.code, s.extension, s.fragment, s.continues?.line])).toEqual([
      [5, 'a\n', '.mts', undefined, undefined],
      [9, 'b\n', '.mts', undefined, 5],
      [13, 'c\n', '.mjs', 'needs an app', undefined],
    ]);
  });
});
