// building a topology
export { createTopology, TOPOLOGY_DEFAULTS } from './topology.js';
export type { GroupedStream, Stream, Topology, TopologyOptions, WindowedStream } from './topology.js';
export { MAX_WINDOWS_PER_RECORD, SessionWindows, TimeWindows, closeAt, windowsFor } from './windows.js';
export type { SessionWindowsSpec, TimeWindowsSpec, WindowBounds, Windows } from './windows.js';
export type { AggregateOptions, CountOptions, EmitMode, FromOptions, LateOutput, LateRecord, StreamContext, StreamRecord, WindowResult } from './types.js';
export { defineLateEvent, lateRecordSchema } from './late.js';

// errors
export { StreamErrors, StreamErrorCodes } from './errors.js';

// testing: given/when/then on a manual clock
export { streamTest } from './testDriver.js';
export type { FeedOptions, StreamTest, StreamTestOptions } from './testDriver.js';
