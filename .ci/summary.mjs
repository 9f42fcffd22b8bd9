// Prints vitest's JSON results as the plain line the CI log reader understands.
import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? '.vitest-results.json';
let results;
try {
  results = JSON.parse(readFileSync(file, 'utf8'));
} catch {
  console.log('0 passed, 1 failed');
  process.exit(0);
}
const skipped = (results.numPendingTests ?? 0) + (results.numTodoTests ?? 0);
const failed = (results.numFailedTests ?? 0) + (results.numRuntimeErrorTestSuites ?? 0);
console.log(`${results.numPassedTests ?? 0} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ''));
