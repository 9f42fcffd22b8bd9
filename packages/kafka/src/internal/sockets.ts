import net from 'node:net';
import tls from 'node:tls';
import type { ISocketFactory } from 'kafkajs';

/** kafkajs's own keep-alive on the sockets it makes. */
const KEEP_ALIVE_DELAY_MS = 60_000;

/** kafkajs 2.2.4's default socket factory (not exported by it), for the factories here to wrap. */
export const defaultSocketFactory: ISocketFactory = ({ host, port, ssl, onConnect }) => {
  const socket = ssl ? tls.connect({ host, port, ...(net.isIP(host) ? {} : { servername: host }), ...ssl }, onConnect) : net.connect({ host, port }, onConnect);
  socket.setKeepAlive(true, KEEP_ALIVE_DELAY_MS);
  return socket;
};

/**
 * The name an IPv6 address goes to kafkajs under, in the `ipv6-literal.net` form (`::1` is
 * `--1.ipv6-literal.net`): kafkajs 2.2 cuts a bootstrap server's host from its port at the first
 * `:`, so `[::1]:9092` would dial host `[`. {@link dialIpv6Literals} dials the address again.
 */
const LITERAL_SUFFIX = '.ipv6-literal.net';

/**
 * A bootstrap server as `host:port` or `[IPv6 address]:port` (RFC 3986's brackets; no zone id),
 * with a port in 1..65535; undefined when it is neither.
 */
export function parseBootstrapServer(server: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]/@]+)):(\d{1,5})$/.exec(server);
  const port = Number(match?.[3]);
  if (!match || port < 1 || port > 65_535) return undefined;
  if (match[1] !== undefined) return net.isIPv6(match[1]) ? { host: match[1], port } : undefined;
  return { host: match[2]!, port };
}

/** The bootstrap server as kafkajs takes it: a bracketed IPv6 address under its literal name. */
export function toKafkajsServer(server: string): string {
  const parsed = parseBootstrapServer(server);
  if (!parsed || !net.isIPv6(parsed.host)) return server;
  return `${parsed.host.replaceAll(':', '-')}${LITERAL_SUFFIX}:${parsed.port}`;
}

/** Wraps `inner` so a host in the literal form of {@link toKafkajsServer} dials the IPv6 address it stands for. */
export function dialIpv6Literals(inner: ISocketFactory): ISocketFactory {
  return (args) => {
    if (!args.host.endsWith(LITERAL_SUFFIX)) return inner(args);
    const address = args.host.slice(0, -LITERAL_SUFFIX.length).replaceAll('-', ':');
    return inner({ ...args, host: net.isIPv6(address) ? address : args.host });
  };
}
