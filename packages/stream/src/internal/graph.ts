import type { Envelope, EventDefinition } from '@herald/core';
import type { EmitMode, LateOutput, StreamContext, StreamRecord } from '../types.js';
import type { Windows } from '../windows.js';

/**
 * The topology as a graph: what the builder makes and the plan compiles. Values are `unknown`
 * here; the builder's types keep user code typed.
 */
export type Node = SourceNode | FilterNode | MapNode | MergeNode | RepartitionNode | AggregateNode | SinkNode | ForEachNode;

interface NodeBase {
  readonly id: number;
  /** Where this node's records go, in the order they were attached. */
  readonly children: Node[];
}

/** Reads events of some definitions; a repartition topic's source turns its records back into stream records. */
export interface SourceNode extends NodeBase {
  readonly kind: 'source';
  readonly definitions: readonly EventDefinition[];
  /** The record of one event (key, value, event time); `now` is the app's clock when its batch began. */
  readonly read: (event: Envelope, now: number) => StreamRecord<unknown>;
  /** Set on the source reading a repartition topic. */
  readonly repartition?: RepartitionNode;
}

export interface FilterNode extends NodeBase {
  readonly kind: 'filter';
  readonly predicate: (record: StreamRecord<unknown>) => boolean;
}

export interface MapNode extends NodeBase {
  readonly kind: 'map';
  readonly mapper: (record: StreamRecord<unknown>) => unknown;
}

/** Two or more streams flowing on as one. */
export interface MergeNode extends NodeBase {
  readonly kind: 'merge';
}

/** Re-keys records and publishes them to a repartition topic, read back by its `source`. */
export interface RepartitionNode extends NodeBase {
  readonly kind: 'repartition';
  readonly name: string;
  readonly keyOf: (record: StreamRecord<unknown>) => string;
  readonly definition: EventDefinition;
  readonly partitions: number | undefined;
  /** The source of the sub-topology reading the repartition topic. */
  readonly source: SourceNode;
}

export interface AggregateNode extends NodeBase {
  readonly kind: 'aggregate';
  readonly name: string;
  /** The window store's name for it: `<topology>.<name>`. */
  readonly store: string;
  readonly windows: Windows;
  readonly initial: () => unknown;
  readonly add: (aggregate: unknown, record: StreamRecord<unknown>) => unknown;
  readonly merge: ((left: unknown, right: unknown) => unknown) | undefined;
  readonly emit: EmitMode;
  readonly late: LateOutput<unknown, unknown>;
}

export interface SinkNode extends NodeBase {
  readonly kind: 'sink';
  readonly definition: EventDefinition;
  readonly map: ((record: StreamRecord<unknown>) => unknown) | undefined;
}

export interface ForEachNode extends NodeBase {
  readonly kind: 'forEach';
  readonly handler: (record: StreamRecord<unknown>, ctx: StreamContext<unknown>) => Promise<void>;
}
