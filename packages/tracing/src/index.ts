export { createTracing } from './tracing.js';
export type { Tracing, TracingOptions } from './tracing.js';
export { startTracing } from './sdk.js';
export type { StartTracingOptions, TracingSdk } from './sdk.js';
export type { HttpRequestInfo, HttpRequestTrace, HttpTracer } from './http.js';
export { ERROR_TYPE, HERALD, HERALD_SYSTEM, HTTP, MESSAGING, OPERATION, systemAttributes } from './conventions.js';
export { TracingErrors, TracingErrorCodes } from './errors.js';
