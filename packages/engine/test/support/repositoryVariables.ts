import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Every `HERALD_*` name the repository's packages, examples, deployment, benchmarks and docs write,
 * but this package's (whose sources, tests and README name refused variables on purpose) and the
 * TypeScript constants named so (`const HERALD_SERVICES = [...]` is a list, no variable). Whole
 * names only: `HERALD_KAFKA_*` and `HERALD_RETRY_...` in prose are families, not variables.
 */
export function repositoryHeraldNames(): string[] {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
  const sources = ['README.md', 'docs', 'deploy', 'bench', 'examples', 'packages']
    .flatMap((entry) => filesUnder(root, entry))
    .filter((file) => !file.startsWith(join(root, 'packages', 'engine') + '/'));
  const names = new Set<string>();
  const constants = new Set<string>();
  for (const file of sources) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/HERALD_[A-Z0-9_]*[A-Z0-9](?![A-Z0-9_*])/g)) names.add(m[0]);
    for (const m of text.matchAll(/\b(?:const|let|var)\s+(HERALD_[A-Z0-9_]+)\b/g)) constants.add(m[1]!);
  }
  return [...names].filter((name) => !constants.has(name)).sort();
}

/** Text files under `root/entry` (a file or a folder), without dependencies or build output. */
function filesUnder(root: string, entry: string): string[] {
  const path = join(root, entry);
  if (!readdirSync(dirname(path)).includes(entry.split('/').at(-1)!)) return [];
  if (/\.(md|ts|json|ya?ml|sh)$|Dockerfile/.test(entry)) return [path];
  return readdirSync(path, { recursive: true, encoding: 'utf8' })
    .filter((file) => /\.(md|ts|json|ya?ml|sh)$|Dockerfile$/.test(file) && !/(^|\/)(node_modules|dist|\.herald)(\/|$)/.test(file))
    .map((file) => join(path, file));
}
