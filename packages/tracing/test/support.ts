import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { startTracing, type TracingSdk } from '../src/index.js';

/** An SDK exporting every span as it ends to memory, registered globally (with a context manager when asked). */
export function recordSpans(options: { activeContext?: boolean } = {}): { readonly sdk: TracingSdk; readonly exporter: InMemorySpanExporter; spans(): ReadableSpan[] } {
  const exporter = new InMemorySpanExporter();
  const sdk = startTracing({ exporter, processor: 'simple', serviceName: 'tracing-test', activeContext: options.activeContext });
  return { sdk, exporter, spans: () => exporter.getFinishedSpans() };
}

/** The one span matching, failing with what there is otherwise. */
export function only(spans: readonly ReadableSpan[], where: (span: ReadableSpan) => boolean, what: string): ReadableSpan {
  const found = spans.filter(where);
  if (found.length !== 1) throw new Error(`expected one ${what}, found ${found.length} among: ${spans.map(describe).join('; ')}`);
  return found[0]!;
}

export const named = (name: string) => (span: ReadableSpan) => span.name === name;

/** Whether `child`'s parent is `parent` (same trace, parent span id). */
export function isChildOf(child: ReadableSpan, parent: ReadableSpan): boolean {
  return child.spanContext().traceId === parent.spanContext().traceId && child.parentSpanContext?.spanId === parent.spanContext().spanId;
}

export function describe(span: ReadableSpan): string {
  return `${span.name} [${SpanKind[span.kind]}] ${span.spanContext().spanId} <- ${span.parentSpanContext?.spanId ?? 'root'}`;
}

/** Resolves when `condition` holds, polling; fails after `timeoutMs` with `what`. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
