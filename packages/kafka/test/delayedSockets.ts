import net from 'node:net';
import type { ISocketFactory } from 'kafkajs';

/** Kafka protocol API keys the tests delay or count. */
export const ApiKeys = { fetch: 1, heartbeat: 12, syncGroup: 14 } as const;

/**
 * A socket factory that holds back the first `times` requests with API key `apiKey` for `delayMs`
 * (and whatever the client writes on that connection meanwhile, so the broker still sees the
 * connection's requests in order). Tests use it to lose a race on purpose instead of by luck.
 */
export function delayedRequests(options: { apiKey: number; delayMs: number; times?: number }): { socketFactory: ISocketFactory; delayed(): number } {
  let left = options.times ?? 1;
  let delayed = 0;
  return {
    delayed: () => delayed,
    socketFactory: ({ host, port, onConnect }) => {
      const socket = net.connect({ host, port }, onConnect);
      const write = socket.write.bind(socket) as (chunk: Buffer, encoding: BufferEncoding) => boolean;
      let held: Promise<void> | undefined;
      // kafkajs writes each request with one call: int32 size, then int16 API key
      socket.write = ((chunk: Buffer, encoding: BufferEncoding) => {
        if (left > 0 && Buffer.isBuffer(chunk) && chunk.length >= 6 && chunk.readInt16BE(4) === options.apiKey) {
          left--;
          delayed++;
          held = (held ?? Promise.resolve()).then(() => new Promise((resolve) => setTimeout(resolve, options.delayMs)));
        }
        if (!held) return write(chunk, encoding);
        held = held.then(() => {
          if (socket.writable) write(chunk, encoding);
        });
        return true;
      }) as typeof socket.write;
      return socket;
    },
  };
}

/** A socket factory that counts the requests the client writes, by API key (kafkajs writes each request with one call). */
export function countedRequests(): { socketFactory: ISocketFactory; count(apiKey: number): number } {
  const counts = new Map<number, number>();
  return {
    count: (apiKey) => counts.get(apiKey) ?? 0,
    socketFactory: ({ host, port, onConnect }) => {
      const socket = net.connect({ host, port }, onConnect);
      const write = socket.write.bind(socket) as (chunk: Buffer, encoding: BufferEncoding) => boolean;
      socket.write = ((chunk: Buffer, encoding: BufferEncoding) => {
        if (Buffer.isBuffer(chunk) && chunk.length >= 6) counts.set(chunk.readInt16BE(4), (counts.get(chunk.readInt16BE(4)) ?? 0) + 1);
        return write(chunk, encoding);
      }) as typeof socket.write;
      return socket;
    },
  };
}
