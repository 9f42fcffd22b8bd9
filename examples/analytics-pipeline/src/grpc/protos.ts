import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';

/** Where the example's .proto files are. */
export const PROTO_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'proto');

/**
 * How the .proto files are read, on the servers and in clients: camelCase field names (eventId),
 * 64-bit integers as numbers (counts stay far below 2^53), every field present with its default.
 */
export const PROTO_OPTIONS: Options = { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true };

interface Loaded {
  readonly herald: { readonly analytics: { readonly v1: Record<string, grpc.ServiceClientConstructor> } };
}

/** The Producer and Analytics services of `proto/`, as grpc-js service definitions and client constructors. */
export function loadServices(): { readonly Producer: grpc.ServiceClientConstructor; readonly Analytics: grpc.ServiceClientConstructor } {
  const definition = loadSync([join(PROTO_DIR, 'producer.proto'), join(PROTO_DIR, 'analytics.proto')], PROTO_OPTIONS);
  const v1 = (grpc.loadPackageDefinition(definition) as unknown as Loaded).herald.analytics.v1;
  return { Producer: v1['Producer']!, Analytics: v1['Analytics']! };
}
