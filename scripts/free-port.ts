/** A free loopback port for the benches' servers, asked of the OS (modbus-serial's ServerTCP takes port 0 as "use 502"). */
import { createServer, type AddressInfo } from 'node:net';

/** Binds port 0 on 127.0.0.1, reads the port the OS gave, and closes again. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((res, rej) => {
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => res());
  });
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((res) => s.close(() => res()));
  return port;
}
