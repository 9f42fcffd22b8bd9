// Windowed streams running in the live app the exposition test scrapes, so the stream metrics it
// finds are series of a running topology, not only declared names.
import { HeraldError, defineEvent, type App, type StreamFact } from '@herald/core';
import { TimeWindows, createTopology } from '@herald/stream';
import type { MemoryTx } from '@herald/testing';
import { Type } from '@sinclair/typebox';
import { eventually } from '../../packages/metrics/test/support/app.js';

const Tick = defineEvent({ type: 'Tick', topic: 'ticks', key: (d) => d.source, schema: Type.Object({ source: Type.String() }) });
const Pulse = defineEvent({ type: 'Pulse', topic: 'pulses', key: (d) => d.source, schema: Type.Object({ source: Type.String() }) });

/** The stream facts that give every stream metric a series. */
const KINDS: readonly StreamFact['kind'][] = ['records-late', 'window-results', 'stream-time', 'punctuation-failed'];

/**
 * Installs two topologies on `app` (before its start): `ticks` counts ticks per source and 1 s
 * window (only records move its stream time), `pulses` counts pulses per 1 ms window into a sink
 * that is down (a retriable failure), so its idle punctuation fails at every tick. `drive()` (once
 * the app runs) sends three ticks of one source (a window closed by the second, the third late
 * for it) and a pulse, and resolves once every kind of stream fact was emitted.
 */
export function runningStreams(app: App<MemoryTx>): { drive(): Promise<void> } {
  const ticks = createTopology<MemoryTx>({ name: 'ticks', idleTimeoutMs: false });
  ticks
    .from(Tick)
    .groupByKey()
    .windowedBy(TimeWindows.ofSizeWithNoGrace(1_000))
    .count('per-source', { late: { handler: async () => {} } })
    .forEach(async () => {});
  ticks.install(app);
  const pulses = createTopology<MemoryTx>({ name: 'pulses', idleTimeoutMs: 10, punctuateIntervalMs: 10, handler: { retry: { maxAttempts: 1_000 } } });
  pulses
    .from(Pulse)
    .groupByKey()
    .windowedBy(TimeWindows.ofSizeWithNoGrace(1))
    .count('per-source', { late: { handler: async () => {} } })
    .forEach(async () => {
      throw new HeraldError('sink-down', 'the pulses sink is down', { retriable: true });
    });
  pulses.install(app);
  const seen = new Set<string>();
  app.instrumentation.on((fact) => {
    if ((KINDS as readonly string[]).includes(fact.kind)) seen.add(fact.kind);
  });
  return {
    async drive() {
      for (const at of [1_000, 5_000, 1_500]) await app.publishDirect(Tick, { source: 's-1' }, { occurredAt: new Date(at) });
      await app.publishDirect(Pulse, { source: 's-1' }, { occurredAt: new Date(1_000) });
      await eventually(() => KINDS.every((kind) => seen.has(kind)), 'every kind of stream fact');
    },
  };
}
