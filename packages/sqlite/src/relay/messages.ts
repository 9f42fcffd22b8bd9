import type { InstrumentationEvent, RelayOptions } from '@herald/core';
import type { Durability } from '../internal/database.js';

/** What the relay thread is started with (structured-clonable: no functions). */
export interface RelayThreadData {
  readonly storePath: string;
  readonly logPath: string;
  readonly relay: Omit<RelayOptions, 'chaos'> & { readonly chaos?: { readonly failRate?: number; readonly failAfterAcceptRate?: number } };
  readonly durability: Durability;
  readonly busyTimeoutMs: number;
}

/** From the app's thread to the relay thread. */
export type ToRelayThread =
  | { readonly kind: 'wake' }
  | { readonly kind: 'drain'; readonly id: number }
  | { readonly kind: 'close'; readonly deadlineMs: number };

/** From the relay thread to the app's thread. */
export type FromRelayThread =
  | { readonly kind: 'started' }
  | { readonly kind: 'fact'; readonly fact: InstrumentationEvent }
  | { readonly kind: 'log'; readonly level: 'debug' | 'info' | 'warn' | 'error'; readonly message: string; readonly fields?: Record<string, unknown> }
  | { readonly kind: 'published' }
  | { readonly kind: 'drained'; readonly id: number; readonly count?: number; readonly error?: Error }
  | { readonly kind: 'closed' }
  | { readonly kind: 'failed'; readonly error: Error };
