// The code blocks of Herald's documentation, extracted and type-checked against the workspace's
// sources (test/docSnippets.unit.test.ts), so that a renamed export, option or parameter fails a
// test instead of a reader. One TypeScript program holds every block: the packages' sources are
// parsed and bound once, which keeps the check to a few seconds.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The documentation whose code blocks are checked: the READMEs and docs/*.md. */
export function documentationFiles(root: string = ROOT): string[] {
  const files = ['README.md'];
  for (const dir of ['packages', 'examples']) {
    for (const name of readdirSync(join(root, dir)).sort()) {
      if (existsSync(join(root, dir, name, 'README.md'))) files.push(`${dir}/${name}/README.md`);
    }
  }
  for (const name of readdirSync(join(root, 'docs')).sort()) if (name.endsWith('.md')) files.push(`docs/${name}`);
  return files;
}

/**
 * A block that is not meant to compile is marked on the line right before its fence:
 * `<!-- fragment: why -->`. The reason is required, so skipping a block is a decision.
 */
export const FRAGMENT_MARKER = /^<!--\s*fragment:\s*(\S.*?)\s*-->\s*$/;

/**
 * A block that builds on the block before it in the same file (uses the names that one declared)
 * is marked `<!-- continues -->` on the line right before its fence: it is checked after that
 * block's code (and what that one continues).
 */
export const CONTINUES_MARKER = /^<!--\s*continues\s*-->\s*$/;

/** Any line that means to be one of the two markers, well-formed or not. */
const ANY_MARKER = /^\s*<!--\s*(fragment|continues)\b/;

/** Checked languages (the fence's info string) and the extension each is compiled as. */
const LANGUAGES: Readonly<Record<string, '.mts' | '.mjs'>> = { ts: '.mts', typescript: '.mts', js: '.mjs', javascript: '.mjs' };

export interface Snippet {
  /** Repository-relative path of the markdown file. */
  readonly file: string;
  /** 1-based line of the block's first code line (the line after the opening fence). */
  readonly line: number;
  readonly code: string;
  readonly extension: '.mts' | '.mjs';
  /** Why the block is not checked, when it is marked as a fragment. */
  readonly fragment?: string;
  /** The block it continues (marked `<!-- continues -->`): the checked block before it in the file. */
  readonly continues?: Snippet;
}

export interface Extracted {
  readonly snippets: readonly Snippet[];
  /** Markers that mark nothing or cannot be honoured, as `file:line: what is wrong`. */
  readonly problems: readonly string[];
}

/** The ```ts and ```js blocks of one markdown text (fences of three or more backticks or tildes). */
export function extractSnippets(file: string, markdown: string): Extracted {
  const lines = markdown.split(/\r?\n/);
  const snippets: Snippet[] = [];
  const problems: string[] = [];
  const marked = new Set<number>();
  for (let i = 0; i < lines.length; i++) {
    const open = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)/.exec(lines[i]!);
    if (!open) continue;
    const fence = open[1]!;
    let end = i + 1;
    while (end < lines.length && !lines[end]!.trimStart().startsWith(fence)) end++;
    const extension = LANGUAGES[open[2]!.toLowerCase()];
    const before = i > 0 ? lines[i - 1]! : '';
    if (extension !== undefined && (FRAGMENT_MARKER.test(before) || CONTINUES_MARKER.test(before))) marked.add(i - 1);
    if (extension !== undefined) {
      const fragment = FRAGMENT_MARKER.exec(before)?.[1];
      const continues = CONTINUES_MARKER.test(before) ? snippets.at(-1) : undefined;
      if (CONTINUES_MARKER.test(before) && (continues === undefined || continues.fragment !== undefined)) {
        problems.push(`${file}:${i}: <!-- continues --> needs a checked code block before it in the file`);
      }
      const code = lines.slice(i + 1, end).join('\n') + '\n';
      snippets.push({ file, line: i + 2, code, extension, ...(fragment === undefined ? {} : { fragment }), ...(continues === undefined ? {} : { continues }) });
    }
    i = end;
  }
  lines.forEach((text, i) => {
    if (ANY_MARKER.test(text) && !marked.has(i)) {
      problems.push(`${file}:${i + 1}: "${text.trim()}" must be "<!-- fragment: why -->" or "<!-- continues -->" on the line right before a ts or js fence`);
    }
  });
  return { snippets, problems };
}

/** Every snippet of the documentation, read from disk. */
export function documentationSnippets(root: string = ROOT): Extracted {
  const all = documentationFiles(root).map((file) => extractSnippets(file, readFileSync(join(root, file), 'utf8')));
  return { snippets: all.flatMap((e) => e.snippets), problems: all.flatMap((e) => e.problems) };
}

export interface SnippetResult {
  readonly snippet: Snippet;
  /** The compiler's diagnostics, each as `file:line:column: TSnnnn message` in the markdown file. */
  readonly diagnostics: readonly string[];
}

/** The code a snippet is checked as: the blocks it continues, then its own. */
function sourceOf(snippet: Snippet): { readonly code: string; readonly prefixLines: number } {
  const prefix = snippet.continues === undefined ? '' : sourceOf(snippet.continues).code;
  return { code: prefix + snippet.code, prefixLines: prefix.split('\n').length - 1 };
}

/**
 * Type-checks every snippet in one program, with the root tsconfig's options (strict, NodeNext,
 * the `@herald/source` condition, so `@herald/*` resolves to `src/*.ts`). Each snippet is its own
 * ES module placed at the repository's root, so its imports resolve as an app's would here; a
 * JavaScript block is checked as JavaScript (`checkJs`). Diagnostics in the blocks a snippet
 * continues are left to those blocks.
 */
export function checkSnippets(snippets: readonly Snippet[], root: string = ROOT): SnippetResult[] {
  const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  });
  if (!config) throw new Error('tsconfig.json could not be read');
  const options: ts.CompilerOptions = { ...config.options, noEmit: true, allowJs: true, checkJs: true, moduleDetection: ts.ModuleDetectionKind.Force };
  const virtual = new Map(snippets.map((s, i) => [join(root, `.doc-snippet-${i}${s.extension}`), { snippet: s, ...sourceOf(s) }]));
  const host = ts.createCompilerHost(options, true);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (name) => virtual.has(name) || fileExists.call(host, name);
  host.readFile = (name) => virtual.get(name)?.code ?? readFile.call(host, name);
  host.getSourceFile = (name, language, ...rest) => {
    const found = virtual.get(name);
    return found ? ts.createSourceFile(name, found.code, language, true) : getSourceFile.call(host, name, language, ...rest);
  };
  const program = ts.createProgram({ rootNames: [...virtual.keys()], options, host });
  const global = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()];
  if (global.length > 0) throw new Error(ts.formatDiagnostics(global, formatHost(root)));
  return [...virtual].map(([name, { snippet, prefixLines }]) => {
    const source = program.getSourceFile(name)!;
    const found = [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)];
    const diagnostics = found.flatMap((d) => {
      const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : prefixLines;
      return line < prefixLines ? [] : [describe(d, snippet, prefixLines)];
    });
    return { snippet, diagnostics };
  });
}

function describe(diagnostic: ts.Diagnostic, snippet: Snippet, prefixLines: number): string {
  const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n    ');
  if (diagnostic.file === undefined || diagnostic.start === undefined) return `${snippet.file}:${snippet.line}: TS${diagnostic.code} ${message}`;
  const { line, character } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
  return `${snippet.file}:${snippet.line + line - prefixLines}:${character + 1}: TS${diagnostic.code} ${message}`;
}

function formatHost(root: string): ts.FormatDiagnosticsHost {
  return { getCanonicalFileName: (f) => relative(root, f), getCurrentDirectory: () => root, getNewLine: () => '\n' };
}
