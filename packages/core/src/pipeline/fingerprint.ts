import { createHash } from 'node:crypto';
import { dirname, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Herald's own packages sit side by side (`packages/*` in the repository, `node_modules/@herald/*`
 * when installed): frames under that directory are never the application's.
 */
const HERALD_PACKAGES = dirname(dirname(dirname(dirname(fileURLToPath(import.meta.url))))) + sep;
const FRAME = /^\s*at (?:(.+?) \()?(.+?):(\d+):\d+\)?$/;

/**
 * The first stack frame of application code in `stack`, as `function (file)` or `file:line`
 * with the file relative to the working directory; empty when there is none (an error raised by
 * Herald itself, such as a schema violation). Node internals, `node_modules` and Herald's own
 * packages are skipped.
 */
export function firstApplicationFrame(stack: string | undefined): string {
  if (!stack) return '';
  for (const line of stack.split('\n')) {
    const match = FRAME.exec(line);
    if (!match) continue;
    const [, fn, location, lineNo] = match;
    const file = location!.startsWith('file://') ? fileURLToPath(location!) : location!;
    if (file.startsWith('node:') || !file.includes(sep) || file.includes(`${sep}node_modules${sep}`) || file.startsWith(HERALD_PACKAGES)) continue;
    const shown = relative(process.cwd(), file);
    const name = fn?.replace(/^async /, '');
    return name && name !== '<anonymous>' ? `${name} (${shown})` : `${shown}:${lineNo}`;
  }
  return '';
}

/**
 * Groups failures that are the same failure: a short hash of the error code and the first
 * application frame, so one bug in one handler is one group however many events it hit, while
 * the line number of an anonymous function still tells two of them apart.
 */
export function fingerprintOf(reason: string, stack: string | undefined): string {
  return createHash('sha256').update(`${reason}\n${firstApplicationFrame(stack)}`).digest('hex').slice(0, 16);
}

/** How deep {@link fingerprintOfError} looks into a cause chain (a longer one, or a cycle, is cut there). */
const MAX_CAUSE_DEPTH = 5;

/**
 * {@link fingerprintOf} for an error: by its own first application frame, or, when it has none (an
 * error Herald raised around the application's, such as a failed upcast wrapping what the upcast
 * threw), by that of the first error of its cause chain that has one. Two different failures of
 * application code wrapped by Herald then stay two groups.
 */
export function fingerprintOfError(reason: string, error: Error): string {
  let current: unknown = error;
  for (let depth = 0; depth <= MAX_CAUSE_DEPTH && current instanceof Error; depth++) {
    if (firstApplicationFrame(current.stack) !== '') return fingerprintOf(reason, current.stack);
    current = current.cause;
  }
  return fingerprintOf(reason, error.stack);
}
