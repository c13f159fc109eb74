/**
 * A loopback TCP relay in front of a broker, so a test decides when the plant may reach the
 * broker again: `cut()` drops every connection and stops listening, `open()` listens again on
 * the same port. TLS passes through untouched (the plant still verifies the broker).
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  cut(): Promise<void>;
  open(): Promise<void>;
  close(): Promise<void>;
}

/** Starts a relay from a free loopback port to `target`. */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  let port = 0;
  const listen = async (): Promise<void> => {
    const s = createServer((inbound) => {
      const outbound = connect(target.port, target.host);
      for (const x of [inbound, outbound]) {
        sockets.add(x);
        x.on('error', () => undefined);
        x.once('close', () => {
          sockets.delete(x);
          inbound.destroy();
          outbound.destroy();
        });
      }
      inbound.pipe(outbound);
      outbound.pipe(inbound);
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    port = (s.address() as { port: number }).port;
    server = s;
  };
  const cut = async (): Promise<void> => {
    const s = server;
    server = null;
    for (const x of sockets) x.destroy();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  };
  await listen();
  return {
    get port() {
      return port;
    },
    cut,
    open: listen,
    close: cut,
  };
}
