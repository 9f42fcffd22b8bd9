import { HeraldError, type InstrumentationEvent, type RelayOptions, type RelaySentGroup } from '@herald/core';
import type { Durability } from '../internal/database.js';
import type { Appended } from '../log/handOver.js';
import type { SlotTake } from '../stores/outbox.js';

/** What the relay thread is started with (structured-clonable: no functions). */
/** The options of the app's log that the relay thread's own handle on the file must apply alike. */
export interface RelayLogOptions {
  readonly durability: Durability;
  readonly busyTimeoutMs: number;
  /** Partitions of a topic the relay creates (one the app did not declare). */
  readonly defaultPartitions: number;
}

export interface RelayThreadData {
  readonly storePath: string;
  readonly logPath: string;
  readonly relay: Omit<RelayOptions, 'chaos'> & { readonly chaos?: { readonly failRate?: number; readonly failAfterAcceptRate?: number } };
  /** The store file's busy timeout (the thread reads it). */
  readonly storeBusyTimeoutMs: number;
  /** The app's log options the thread's handle on the log file must share (it creates topics and appends). */
  readonly log: RelayLogOptions;
  /** Report each publish (`sent`) to the app's thread: it asked with `onSent`. */
  readonly reportSends: boolean;
  /**
   * One Int32 shared by both threads: 1 while a `wake` is on its way to the relay thread. The
   * app's thread sends a wake only when none is (appends meanwhile are covered by it: the relay
   * claims after reading it), so a stream of small transactions costs a message per relay round,
   * not one per commit.
   */
  readonly wakePending: SharedArrayBuffer;
}

/** The outbox writes the relay thread has the app's thread run (see `SlotWrites`). */
export type SlotOp =
  | { readonly op: 'take'; readonly take: SlotTake }
  | { readonly op: 'advance'; readonly relayId: string; readonly tops: readonly (readonly [number, number])[] }
  | { readonly op: 'markIds' | 'release'; readonly relayId: string; readonly ids: readonly string[] };

/** An error as it crosses between threads: what a HeraldError needs to be rebuilt. */
export interface PlainError {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly retriable?: boolean;
  readonly stack?: string;
}

/** From the app's thread to the relay thread. */
export type ToRelayThread =
  | { readonly kind: 'wake' }
  | { readonly kind: 'slots-done'; readonly id: number; readonly kept?: readonly number[]; readonly error?: PlainError }
  | { readonly kind: 'drain'; readonly id: number }
  | { readonly kind: 'close'; readonly deadlineMs: number };

/** From the relay thread to the app's thread. */
export type FromRelayThread =
  | { readonly kind: 'started' }
  | { readonly kind: 'fact'; readonly fact: InstrumentationEvent }
  | { readonly kind: 'log'; readonly level: 'debug' | 'info' | 'warn' | 'error'; readonly message: string; readonly fields?: Record<string, unknown> }
  /** The relay's log append committed (its fsync may still be running): the heads it moved, and maybe the records (see `Tail`). */
  | { readonly kind: 'published'; readonly appended: Appended }
  | { readonly kind: 'sent'; readonly startedAt: number; readonly endedAt: number; readonly groups: readonly RelaySentGroup[]; readonly error?: PlainError }
  | { readonly kind: 'slots'; readonly id: number; readonly request: SlotOp }
  | { readonly kind: 'drained'; readonly id: number; readonly count?: number; readonly error?: PlainError }
  | { readonly kind: 'closed' }
  | { readonly kind: 'failed'; readonly error: PlainError };

export function plainError(error: unknown): PlainError {
  const e = error instanceof Error ? error : new Error(String(error));
  const { code, retriable } = e as { code?: unknown; retriable?: unknown };
  return {
    name: e.name,
    message: e.message,
    ...(typeof code === 'string' ? { code } : {}),
    ...(typeof retriable === 'boolean' ? { retriable } : {}),
    ...(e.stack ? { stack: e.stack } : {}),
  };
}

/** The error again on this side: a HeraldError when it had a code (code and retriability kept). */
export function revive(error: PlainError): Error {
  const revived = error.code ? new HeraldError(error.code, error.message, { retriable: error.retriable }) : new Error(error.message);
  if (error.stack) revived.stack = error.stack;
  return revived;
}
