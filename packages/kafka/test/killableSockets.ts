import net from 'node:net';
import type { ISocketFactory } from 'kafkajs';

/**
 * A socket factory whose `kill()` cuts every connection and refuses new ones, so a broker built
 * with it behaves like a process killed with SIGKILL: no LeaveGroup, no heartbeat, no commit; the
 * group notices only when the member's session times out.
 */
export function killableSockets(): { socketFactory: ISocketFactory; kill(): void } {
  const open = new Set<net.Socket>();
  let dead = false;
  return {
    socketFactory: ({ host, port, onConnect }) => {
      if (dead) {
        const refused = new net.Socket();
        process.nextTick(() => refused.destroy(new Error('connection refused: this member was killed')));
        return refused;
      }
      const socket = net.connect({ host, port }, onConnect);
      open.add(socket);
      socket.once('close', () => open.delete(socket));
      return socket;
    },
    kill() {
      dead = true;
      for (const socket of open) socket.destroy();
    },
  };
}
