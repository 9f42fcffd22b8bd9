export { pinoLogger } from './pinoLogger.js';
export type { PinoLogger, PinoLoggerOptions } from './pinoLogger.js';
// the core's, re-exported: `jsonLogger` and `pinoLogger` write errors the same way
export { serializeError } from '@herald/core';
export { formatLine, prettyLines } from './pretty.js';
export type { LineSink } from './pretty.js';
