// Tracing a benchmark app as a deployed service would: bench/rows.ts' `embedded+tracing` measures
// what @herald/tracing costs against `embedded` in the same run.
import type { AppOptions, Publish, SqlTx } from '@herald/core';
import { createTracing, startTracing, type StartTracingOptions } from '@herald/tracing';
import type { Engine } from './engines.js';

/**
 * `engine` with @herald/tracing's defaults: a create, a send and a process span per event (a
 * create span per `publish.many` call), every one sampled and handed to the SDK's batch processor,
 * whose exporter counts and drops them (a collector's network cost is not ours to measure;
 * building and batching spans is). Fails at cleanup if no span was exported with every span
 * sampled: a variant that traced nothing would report a false overhead.
 */
export function benchTracing(engine: Engine, options: { sampleRatio?: number } = {}): Engine {
  if (options.sampleRatio !== undefined) {
    // as a deployment samples: the root decides by trace id, the rest follows its parent (this row
    // runs in its own process, so setting the standard variables here touches no other row)
    process.env['OTEL_TRACES_SAMPLER'] = 'parentbased_traceidratio';
    process.env['OTEL_TRACES_SAMPLER_ARG'] = String(options.sampleRatio);
  }
  let exported = 0;
  const exporter: NonNullable<StartTracingOptions['exporter']> = {
    export(spans, done) {
      exported += spans.length;
      done({ code: 0 });
    },
    shutdown: async () => {},
  };
  const sdk = startTracing({ exporter, serviceName: 'bench', register: false });
  const tracing = createTracing({ tracerProvider: sdk.provider });
  return {
    ...engine,
    name: `${engine.name}+tracing`,
    instrument: {
      app: (options: AppOptions<SqlTx>) => tracing.app(options),
      publish: (publish: Publish) => tracing.publish(publish),
    },
    async cleanup() {
      await sdk.shutdown();
      await engine.cleanup();
      // every span sampled: none exported means nothing was traced. With a ratio, a short run may
      // sample no trace at all (20 calls of the batch shape at 10%: one run in eight). With none
      // sampled, a span exported was recorded below an unsampled parent: work the row must not do
      if (exported === 0 && options.sampleRatio === undefined) throw new Error('bench: the tracing exported no span');
      if (exported > 0 && options.sampleRatio === 0) throw new Error(`bench: the tracing exported ${exported} spans with no trace sampled`);
    },
  };
}
