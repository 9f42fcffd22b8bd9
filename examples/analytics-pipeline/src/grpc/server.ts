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

/** One call a server answered: its method (`/herald.analytics.v1.Producer/Ingest`), kind, status name and duration. */
export interface FinishedCall {
  readonly method: string;
  readonly type: 'unary' | 'client_stream';
  /** The status name: `OK`, `INVALID_ARGUMENT`, ... */
  readonly code: string;
  readonly durationMs: number;
}

/**
 * What a server does with each call, as seed 001's gRPC interceptors: tells `onCall` (metrics by
 * method and status, errors counted) and logs one `gRPC call completed` line, as the HTTP gateways
 * log `request completed`; a failure that is not a refusal is logged with its stack too.
 */
export interface CallObserver {
  /** Told of every call once it is answered, OK or not. */
  readonly onCall: (call: FinishedCall) => void;
  /** Where each call, and an unexpected failure (not a HeraldError: a bug, a driver's error) with its stack, is logged. */
  readonly logger: Logger;
}

/**
 * The status a failed call ends with (see `toServiceError`); a failure that is not a HeraldError
 * is logged, since its status (INTERNAL, "internal error") tells the client nothing and nothing
 * else would keep what happened.
 */
export function failedCall(error: unknown, context: { readonly logger: Logger; readonly method: string; readonly trailer?: grpc.Metadata }): Partial<grpc.ServiceError> {
  const status = toServiceError(error, context.trailer);
  if (!isHeraldError(error)) context.logger.error('gRPC call failed unexpectedly', { method: context.method, status: grpc.status[status.code!], error });
  return status;
}

/** Reports a call answered with `status` (undefined: OK) since `startedAt` (`performance.now()`). */
export function finishCall(observer: CallObserver, call: { readonly method: string; readonly type: FinishedCall['type']; readonly startedAt: number }, status: Partial<grpc.ServiceError> | undefined): void {
  const finished: FinishedCall = { method: call.method, type: call.type, code: grpc.status[status?.code ?? grpc.status.OK], durationMs: Math.round((performance.now() - call.startedAt) * 1000) / 1000 };
  observer.onCall(finished);
  observer.logger.info('gRPC call completed', { ...finished });
}

/** Turns an async unary handler into a grpc-js one: a throw becomes a status (see {@link failedCall}); every call is reported (see {@link finishCall}). */
export function unary<Req, Res>(handle: (request: Req) => Promise<Res>, observer: CallObserver): grpc.handleUnaryCall<Req, Res> {
  return function unaryCall(call, callback) {
    const started = { method: call.getPath(), type: 'unary' as const, startedAt: performance.now() };
    handle(call.request)
      .then(
        (reply) => {
          finishCall(observer, started, undefined);
          callback(null, reply);
        },
        (error: unknown) => {
          const status = failedCall(error, { logger: observer.logger, method: started.method });
          finishCall(observer, started, status);
          callback(status);
        },
      )
      // grpc-js throws when it cannot send the answer: logged, not an unhandled rejection ending the process
      .catch((error: unknown) => observer.logger.error('gRPC call could not be answered', { method: started.method, error }));
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
