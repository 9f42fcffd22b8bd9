import type { CliOutput } from './io.js';

/** Progress of a long operation over a known number of items. */
export interface Progress {
  /** `count` more items are done. */
  advance(count: number): void;
  /** The operation ended (a bar is completed with its line). */
  done(): void;
}

const WIDTH = 30;
const REDRAW_MS = 100;

/**
 * Reports progress on `out` (stderr): a bar redrawn in place when it is a terminal, plain lines
 * (`label: done/total`) otherwise, so logs and pipes get one readable line per step.
 */
export function progress(out: CliOutput, options: { readonly label: string; readonly total: number; readonly now?: () => number }): Progress {
  const now = options.now ?? Date.now;
  const total = Math.max(0, options.total);
  let completed = 0;
  let drawnAt = Number.NEGATIVE_INFINITY;
  /** What the bar on the terminal shows: `done` only ends its line when it shows the last count. */
  let drawn = -1;

  function bar(): string {
    const filled = total === 0 ? WIDTH : Math.round((completed / total) * WIDTH);
    return `\r${options.label} [${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${completed}/${total}`;
  }

  return {
    advance(count) {
      completed = Math.min(total, completed + count);
      if (!out.isTTY) {
        out.write(`${options.label}: ${completed}/${total}\n`);
        return;
      }
      if (now() - drawnAt < REDRAW_MS && completed < total) return;
      drawnAt = now();
      drawn = completed;
      out.write(bar());
    },
    done() {
      if (out.isTTY) out.write(drawn === completed ? '\n' : `${bar()}\n`);
    },
  };
}
