import * as grpc from '@grpc/grpc-js';
import { isHeraldError, type Logger } from '@herald/core';
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

/** What a server does with a failed call: counts it, and logs what is not a refusal. */
export interface CallFailures {
  /** Counts a failed call by its status name (`errors_total{source="grpc"}`). */
  readonly onError: (code: string) => void;
  /** Where an unexpected failure (not a HeraldError: a bug, a driver's error) is logged, with its stack. */
  readonly logger: Logger;
}

/**
 * The status a failed call ends with (see `toServiceError`), counted; a failure that is not a
 * HeraldError is logged too, since its status (INTERNAL, "internal error") tells the client
 * nothing and nothing else would keep what happened.
 */
export function failedCall(error: unknown, context: CallFailures & { readonly method: string; readonly trailer?: grpc.Metadata }): Partial<grpc.ServiceError> {
  const status = toServiceError(error, context.trailer);
  const code = grpc.status[status.code!];
  context.onError(code);
  if (!isHeraldError(error)) context.logger.error('gRPC call failed unexpectedly', { method: context.method, status: code, error });
  return status;
}

/** Turns an async unary handler into a grpc-js one: a throw becomes a status (see {@link failedCall}), counted, and logged when unexpected. */
export function unary<Req, Res>(handle: (request: Req) => Promise<Res>, failures: CallFailures): grpc.handleUnaryCall<Req, Res> {
  return function unaryCall(call, callback) {
    handle(call.request)
      .then(
        (reply) => callback(null, reply),
        (error: unknown) => callback(failedCall(error, { ...failures, method: call.getPath() })),
      )
      // grpc-js throws when it cannot send the answer: logged, not an unhandled rejection ending the process
      .catch((error: unknown) => failures.logger.error('gRPC call could not be answered', { method: call.getPath(), error }));
  };
}

/** A server of `service` with `implementation`, taking messages up to {@link MAX_MESSAGE_BYTES}. */
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
