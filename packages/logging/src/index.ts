export { pinoLogger } from './pinoLogger.js';
export type { PinoLogger, PinoLoggerOptions } from './pinoLogger.js';
export { serializeError } from './serializeError.js';
export { formatLine, prettyLines } from './pretty.js';
export type { LineSink } from './pretty.js';
