// Renders docs/errors.md from every package's error catalogue, so the documentation of each code
// (what it means, whether retrying helps, what to do) cannot drift from the code that throws it.
// Run `npm run docs:errors` after changing a catalogue; a test fails while the file is stale.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AnalyticsErrors } from '@herald/analytics';
import { CliErrors } from '@herald/cli';
import { CoreErrors, type ErrorCodeSpec } from '@herald/core';
import { HttpErrors } from '@herald/http';
import { KafkaErrors } from '@herald/kafka';
import { MetricsErrors } from '@herald/metrics';
import { PgErrors } from '@herald/postgres';
import { ReplyErrors } from '@herald/reply';
import { SagaErrors } from '@herald/saga';
import { SqliteErrors } from '@herald/sqlite';
import { StreamErrors } from '@herald/stream';
import { TracingErrors } from '@herald/tracing';

/** Every package's catalogue, in the order the document lists them. */
export const CATALOGUES: readonly { readonly pkg: string; readonly specs: Readonly<Record<string, ErrorCodeSpec>> }[] = [
  { pkg: '@herald/core', specs: CoreErrors },
  { pkg: '@herald/sqlite', specs: SqliteErrors },
  { pkg: '@herald/postgres', specs: PgErrors },
  { pkg: '@herald/kafka', specs: KafkaErrors },
  { pkg: '@herald/http', specs: HttpErrors },
  { pkg: '@herald/reply', specs: ReplyErrors },
  { pkg: '@herald/cli', specs: CliErrors },
  { pkg: '@herald/metrics', specs: MetricsErrors },
  { pkg: '@herald/tracing', specs: TracingErrors },
  { pkg: '@herald/analytics', specs: AnalyticsErrors },
  { pkg: '@herald/saga', specs: SagaErrors },
  { pkg: '@herald/stream', specs: StreamErrors },
];

export function renderErrorsDoc(): string {
  const lines = [
    '# Error codes',
    '',
    'Every error Herald raises is a `HeraldError` with a stable `code`, a `retriable` flag and often a',
    '`cause`. Check errors by code (`error.code === ErrorCodes.timeout`), not by class. A dead',
    "letter's `reason` is its error's code, so the CLI and the console group failures by these.",
    'Each package declares its codes in one catalogue (`defineErrorCodes`); this page is generated',
    'from them by `npm run docs:errors`.',
    '',
    '"Retriable" is the default of the code: the pipeline retries retriable failures with backoff and',
    'dead-letters the others at once. A throw site may know better and say so on the error itself.',
  ];
  for (const { pkg, specs } of CATALOGUES) {
    lines.push('', `## ${pkg}`, '', '| code | retriable | what it means | what to do |', '| --- | --- | --- | --- |');
    for (const spec of Object.values(specs)) {
      lines.push(`| \`${spec.code}\` | ${spec.retriable ? 'yes' : 'no'} | ${cell(spec.meaning)} | ${cell(spec.action)} |`);
    }
  }
  return lines.join('\n') + '\n';
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

export const ERRORS_DOC = fileURLToPath(new URL('../docs/errors.md', import.meta.url));

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(ERRORS_DOC, renderErrorsDoc());
  console.log(`wrote ${ERRORS_DOC}`);
}
