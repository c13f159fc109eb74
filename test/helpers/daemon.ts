/**
 * A server program a test starts, stops and starts again on the same loopback port (a broker, a
 * syslog collector): started in the foreground, ready once its port accepts a connection (polled,
 * bounded, since its start-up is not ours), stopped with SIGTERM and awaited.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Daemon {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** What it wrote to stdout and stderr so far (for failure messages). */
  output(): string;
}

/** `command args` listening on 127.0.0.1:`port`; not started until `start()`. */
export function daemon(command: string, args: string[], port: number): Daemon {
  const name = command.split('/').at(-1)!;
  let child: ChildProcess | null = null;
  let output = '';
  return {
    output: () => output,
    async start() {
      const c = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child = c;
      c.stdout!.on('data', (d: Buffer) => (output += d.toString()));
      c.stderr!.on('data', (d: Buffer) => (output += d.toString()));
      const until = Date.now() + 10_000;
      while (Date.now() < until) {
        if (c.exitCode !== null) throw new Error(`${name} exited at start: ${output}`);
        const ok = await new Promise<boolean>((r) => {
          const s = connect(port, '127.0.0.1', () => {
            s.destroy();
            r(true);
          });
          s.on('error', () => r(false));
        });
        if (ok) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`${name} did not listen on ${port} within 10 s: ${output}`);
    },
    async stop() {
      const c = child;
      child = null;
      if (!c || c.exitCode !== null) return;
      await new Promise<void>((r) => {
        c.once('exit', () => r());
        c.kill('SIGTERM');
      });
    },
  };
}
