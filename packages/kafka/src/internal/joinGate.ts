import type net from 'node:net';
import type { ISocketFactory } from 'kafkajs';
import type { Logger } from '@herald/core';
import { defaultSocketFactory } from './sockets.js';

/** Kafka's JoinGroup request (API key 11). */
const JOIN_GROUP = 11;
/** Newest JoinGroup version with the classic (non-flexible) encoding this parser reads; kafkajs 2.2.4 sends up to 5. */
const LAST_CLASSIC_VERSION = 5;

export interface JoinGatesDeps {
  /** Makes the real sockets; default kafkajs's (TCP, or TLS when `ssl` is set). */
  readonly inner?: ISocketFactory;
  /** Longest a JoinGroup is held; past it the request is sent anyway and the overlap is logged. */
  readonly holdMs: number;
  readonly logger: Logger;
}

/**
 * Holds a group member's JoinGroup request until the member has let go of its partitions.
 *
 * Why: with the eager protocol every member must give up its partitions before the group is
 * assigned again; the broker's join round waits for every member's JoinGroup (up to the rebalance
 * timeout), so no member can start on a partition before its old owner joined. Java's consumer runs
 * `onPartitionsRevoked` (handlers stopped, offsets committed) before it sends JoinGroup. kafkajs
 * 2.2.4 does not: on a "rebalance in progress" answer its runner emits REBALANCING (a plain event,
 * which cannot delay anything) and calls `joinAndSync` at once; GROUP_JOIN comes after SyncGroup,
 * when the new owner may already be fetching. Herald's handlers run apart from kafkajs's fetch
 * loop, so the old owner's handlers would still run on a partition its new owner already handles.
 *
 * kafkajs offers no hook before JoinGroup but takes a `socketFactory`: the sockets made here write
 * every request at once, except a JoinGroup of a registered member (its group and member id read
 * from the request), which is written once the member's `letGo` settled, at most `holdMs` later.
 * Requests sent meanwhile (the commits `letGo` makes) are written past it; kafkajs matches answers
 * by correlation id, and the broker answers a connection's requests in the order they came. A
 * member that is new to the group (empty member id) owns nothing and is never held.
 *
 * Kafka accepts commits of the ending generation while the group waits for its members to join,
 * which is what lets `revoked` commit here. librdkafka's mock cluster refuses them
 * (REBALANCE_IN_PROGRESS): on it the new owner starts from the commit made before, which only
 * means redeliveries, after the old owner stopped.
 */
export interface JoinGates {
  readonly socketFactory: ISocketFactory;
  /** Holds `member`'s JoinGroups in `group` until `letGo` settles; returns the undo. */
  register(group: string, member: string, letGo: () => Promise<void>): () => void;
}

/**
 * How long a member may hold its JoinGroup: the broker drops a member that neither heartbeats nor
 * joins within the session timeout, or that has not joined within the rebalance timeout of the
 * rebalance's start; the member learns of the rebalance up to one heartbeat interval after it began,
 * and the held request still has to travel, so two heartbeat intervals are left as a margin.
 */
export function joinHoldMs(group: { readonly sessionTimeoutMs: number; readonly rebalanceTimeoutMs: number; readonly heartbeatIntervalMs: number }): number {
  return Math.max(0, Math.min(group.sessionTimeoutMs, group.rebalanceTimeoutMs) - 2 * group.heartbeatIntervalMs);
}

export function createJoinGates(deps: JoinGatesDeps): JoinGates {
  const inner = deps.inner ?? defaultSocketFactory;
  const gates = new Map<string, () => Promise<void>>();
  const key = (group: string, member: string) => `${group}\u0000${member}`;

  async function held(join: JoinRequest): Promise<void> {
    const letGo = gates.get(key(join.group, join.member));
    if (!letGo) return;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => (timer = setTimeout(() => resolve('expired'), deps.holdMs)));
    const outcome = await Promise.race([letGo().then(() => 'done' as const, () => 'done' as const), expired]);
    clearTimeout(timer);
    if (outcome === 'expired') {
      deps.logger.warn('kafka: joining the rebalance before this member let go of its partitions (its handlers or commits outlived the hold); the new owner may handle them while these still run', {
        group: join.group,
        holdMs: deps.holdMs,
      });
    }
  }

  return {
    socketFactory: (args) => gate(inner(args), held),
    register(group, member, letGo) {
      const k = key(group, member);
      gates.set(k, letGo);
      return () => {
        if (gates.get(k) === letGo) gates.delete(k);
      };
    },
  };
}

interface JoinRequest {
  readonly group: string;
  readonly member: string;
}

/** Makes `socket` write a JoinGroup only once `hold` settled; every other write goes out at once. */
function gate(socket: net.Socket, hold: (join: JoinRequest) => Promise<void>): net.Socket {
  const write = socket.write.bind(socket) as (chunk: unknown, ...rest: unknown[]) => boolean;
  socket.write = ((chunk: unknown, ...rest: unknown[]) => {
    const join = Buffer.isBuffer(chunk) ? readJoinGroup(chunk) : undefined;
    if (!join || join.member === '') return write(chunk, ...rest);
    void hold(join).then(() => {
      // the connection closed meanwhile: kafkajs already failed the request
      if (!socket.destroyed && socket.writable) write(chunk, ...rest);
    });
    return true;
  }) as typeof socket.write;
  return socket;
}

/**
 * The group and member id of a JoinGroup request (size, API key, version, correlation id, client
 * id, then group id, session timeout, rebalance timeout from version 1, member id), or undefined.
 */
export function readJoinGroup(request: Buffer): JoinRequest | undefined {
  if (request.length < 14 || request.readInt16BE(4) !== JOIN_GROUP) return undefined;
  const version = request.readInt16BE(6);
  if (version > LAST_CLASSIC_VERSION) return undefined;
  let at = 12;
  const string = (): string | undefined => {
    if (at + 2 > request.length) return undefined;
    const length = request.readInt16BE(at);
    at += 2;
    if (length < 0) return '';
    if (at + length > request.length) return undefined;
    const value = request.toString('utf8', at, at + length);
    at += length;
    return value;
  };
  if (string() === undefined) return undefined; // client id
  const group = string();
  at += version >= 1 ? 8 : 4; // session timeout, rebalance timeout
  const member = string();
  return group === undefined || member === undefined ? undefined : { group, member };
}
