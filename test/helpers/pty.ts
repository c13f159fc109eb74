/**
 * A pseudo-terminal pair made by Debian's socat, standing in for a serial cable: what is
 * written to one end comes out of the other. Started and stopped by the test that needs it.
 * Bytes cross instantly whatever the baud rate: only our own timing rules (3.5 characters,
 * inter-frame delays, timeouts) shape the traffic.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

export const SOCAT = '/usr/bin/socat';

export interface PtyPair {
  /** The two ends: give one to the slave, the other to the master. */
  a: string;
  b: string;
  stop(): Promise<void>;
}

/** True when socat is installed. */
export function haveSocat(): boolean {
  return existsSync(SOCAT);
}

/** Starts socat and resolves once both links exist (at most `timeoutMs`). */
export async function startPtyPair(timeoutMs = 5000): Promise<PtyPair> {
  const base = `/tmp/pc-${process.pid}-${randomBytes(4).toString('hex')}`;
  const a = `${base}A`;
  const b = `${base}B`;
  const child: ChildProcess = spawn(SOCAT, ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    // Only the start-up lines are of interest; keep the buffer small.
    if (stderr.length < 4000) stderr += d.toString();
  });
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  const deadline = Date.now() + timeoutMs;
  // Bounded by time: poll for both links every 10 ms.
  while (!(existsSync(a) && existsSync(b))) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      await exited;
      throw new Error(`socat did not create ${a} and ${b} within ${timeoutMs} ms: ${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  let stopping: Promise<void> | undefined;
  return {
    a,
    b,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode === null) child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}
