import { defineErrorCodes } from '@herald/core';

/**
 * The error codes the metrics package adds to the core's (bad options are the core's
 * `invalid-options`); check them with `error.code`.
 */
export const { specs: MetricsErrors, codes: MetricsErrorCodes } = defineErrorCodes({
  listenFailed: {
    code: 'metrics-listen-failed',
    retriable: false,
    meaning: 'The standalone metrics server could not listen on its host and port (in use, not permitted, or no such address).',
    action: 'Choose a free port (0 lets the system pick one) or another host; the cause says what the system refused.',
  },
  registryConflict: {
    code: 'metrics-registry-conflict',
    retriable: false,
    meaning: "A registry given to createMetrics already holds a metric with one of Herald's names (two apps, or two createMetrics, on one registry).",
    action: 'Give each app its own registry (the default), or create the metrics once per registry.',
  },
});
