import * as grpc from '@grpc/grpc-js';
import type { Logger } from '@herald/core';
import { toServiceError } from './status.js';

/** A gRPC server of one service: listens on `listen()`, drains on `close()`. */
export interface GrpcServer {
  /** Binds `host:port` (0: a free port) and resolves with the address clients dial (`127.0.0.1:50051`). */
  listen(options: { host: string; port: number }): Promise<string>;
  /** Stops taking calls, lets calls in flight finish until `deadlineMs`, then cuts them. Idempotent. */
  close(deadlineMs: number): Promise<void>;
}

/** Largest message a server takes (as the HTTP body limit): larger is RESOURCE_EXHAUSTED. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

/** Turns an async unary handler into a grpc-js one: a throw becomes a status (see `toServiceError`), counted by `onError`. */
export function unary<Req, Res>(handle: (request: Req) => Promise<Res>, onError: (code: string) => void): grpc.handleUnaryCall<Req, Res> {
  return function unaryCall(call, callback) {
    handle(call.request).then(
      (reply) => callback(null, reply),
      (error: unknown) => {
        const status = toServiceError(error);
        onError(grpc.status[status.code!]);
        callback(status);
      },
    );
  };
}

/** A server of `service` with `implementation`; unexpected server errors are logged. */
export function createGrpcServer(service: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation, logger: Logger): GrpcServer {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': MAX_MESSAGE_BYTES });
  server.addService(service, implementation);
  let closing: Promise<void> | undefined;
  return {
    listen: ({ host, port }) =>
      new Promise((resolve, reject) => {
        server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (error, bound) => {
          if (error) reject(error);
          else resolve(`${host}:${bound}`);
        });
      }),
    close(deadlineMs) {
      closing ??= new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          logger.warn('gRPC calls still in flight at the deadline: cut', { deadlineMs });
          server.forceShutdown();
          resolve();
        }, deadlineMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      return closing;
    },
  };
}
