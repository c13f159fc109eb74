/**
 * An RS-485-style shared line for tests: N pseudo-terminals joined by a small relay (Python,
 * in its own process) that copies what any end writes to every other end, as a two-wire bus
 * does: every unit hears the master's requests to the others and the others' answers. No
 * end hears itself. Bytes cross at once whatever the baud rate, so only the programs' own
 * timing shapes the traffic, as with a socat pty pair (pty.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

export const PYTHON = '/usr/bin/python3';

const RELAY_PY = `
import json, os, select, sys, termios, tty
n = int(sys.argv[1])
ends = []
for _ in range(n):
    master, slave = os.openpty()
    tty.setraw(slave)
    attrs = termios.tcgetattr(slave)
    attrs[3] &= ~termios.ECHO
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    os.set_blocking(master, False)
    # The slave stays open here too, so an end nobody has open does not hang the line up.
    ends.append((master, slave, os.ttyname(slave)))
print(json.dumps([e[2] for e in ends]), flush=True)
masters = [e[0] for e in ends]
while True:
    ready, _, _ = select.select(masters + [sys.stdin], [], [])
    if sys.stdin in ready:
        line = sys.stdin.readline()
        if not line:
            sys.exit(0)
        # "flush N": forget what end N's input holds (it was carried while nobody had the end open).
        termios.tcflush(ends[int(line.split()[1])][1], termios.TCIFLUSH)
        print("flushed", flush=True)
    for m in ready:
        if m is sys.stdin:
            continue
        try:
            data = os.read(m, 4096)
        except (BlockingIOError, OSError):
            continue
        for other in masters:
            if other != m:
                try:
                    os.write(other, data)
                except (BlockingIOError, OSError):
                    pass  # an end nobody reads: its bytes are lost, as on a bus
`;

export interface SharedLine {
  /** One serial device path per station; open each from one program. */
  ports: string[];
  /** Drops what station `i`'s end has received so far (traffic from before anyone opened it). */
  flush(i: number): Promise<void>;
  stop(): Promise<void>;
}

/** True when the relay can run (Debian's python3). */
export function haveRelay(): boolean {
  return existsSync(PYTHON);
}

/** Starts the relay with `stations` ends; resolves once every end exists (at most `timeoutMs`). */
export async function startSharedLine(stations: number, timeoutMs = 5000): Promise<SharedLine> {
  const child: ChildProcess = spawn(PYTHON, ['-c', RELAY_PY, String(stations)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (stderr.length < 4000) stderr += d.toString();
  });
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  const ports = await new Promise<string[]>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`relay did not start within ${timeoutMs} ms: ${stderr.trim()}`)), timeoutMs);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      resolve(JSON.parse(out.slice(0, nl)) as string[]);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`relay exited with ${code}: ${stderr.trim()}`));
    });
  });
  let stopping: Promise<void> | undefined;
  return {
    ports,
    flush(i) {
      return new Promise<void>((resolve) => {
        const onData = (d: Buffer): void => {
          if (!d.toString().includes('flushed')) return;
          child.stdout?.off('data', onData);
          resolve();
        };
        child.stdout?.on('data', onData);
        child.stdin?.write(`flush ${i}\n`);
      });
    },
    stop() {
      stopping ??= (async () => {
        // Closing its stdin ends the relay; a kill is the fallback.
        child.stdin?.end();
        const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}
