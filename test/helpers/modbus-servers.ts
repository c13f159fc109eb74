/**
 * Modbus TCP servers on 127.0.0.1 for tests: a well-behaved one (modbus-serial's ServerTCP over
 * mutable arrays) and a hand-written one that misbehaves in one chosen way on every request.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { ServerTCP } from 'modbus-serial';

export interface RegisterTables {
  coils: number[];
  discrete: number[];
  input: number[];
  holding: number[];
}

export interface TestServer {
  readonly port: number;
  /** Closes the listener and destroys every connection; resolves when all are closed. */
  stop(): Promise<void>;
}

export interface VectorServer extends TestServer {
  /** The served tables; change them from the test, the next read sees the change. */
  regs: RegisterTables;
  /** Connections accepted so far. */
  connections(): number;
  /** Connections currently open (server side). */
  openConnections(): number;
}

const illegalAddress = (): Error => Object.assign(new Error('illegal data address'), { modbusErrorCode: 2 });

function word(table: number[], addr: number): number {
  const v = table[addr];
  if (v === undefined) throw illegalAddress();
  return v;
}

/** Asks the OS for a free loopback port (ServerTCP treats port 0 as "use 502"). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((res, rej) => {
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => res());
  });
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((res) => s.close(() => res()));
  return port;
}

async function listenVector(regs: RegisterTables, port: number, count: () => void, ignoreWrites = false): Promise<ServerTCP> {
  const vector = {
    getCoil: (addr: number) => word(regs.coils, addr) !== 0,
    getDiscreteInput: (addr: number) => word(regs.discrete, addr) !== 0,
    getInputRegister: (addr: number) => word(regs.input, addr),
    getHoldingRegister: (addr: number) => word(regs.holding, addr),
    // One snapshot per request, so multi-register values are never torn.
    getMultipleInputRegisters: (addr: number, len: number) => Array.from({ length: len }, (_, i) => word(regs.input, addr + i)),
    getMultipleHoldingRegisters: (addr: number, len: number) => Array.from({ length: len }, (_, i) => word(regs.holding, addr + i)),
    // A device that acknowledges FC6/FC16 to a served register and keeps its old value (readback tests).
    ...(ignoreWrites ? { setRegister: (addr: number) => void word(regs.holding, addr) } : {}),
  };
  const server = new ServerTCP(vector, { host: '127.0.0.1', port, unitID: 255 });
  server.on('socketError', () => undefined);
  server.on('error', () => undefined);
  await new Promise<void>((res, rej) => {
    server.once('initialized', () => res());
    server.once('serverError', (err) => rej(err ?? new Error('listen failed')));
  });
  // ServerTCP keeps its net.Server private; count connections through its public socket map.
  const socks = server.socks;
  const origSet = socks.set.bind(socks);
  socks.set = (k, v) => {
    count();
    return origSet(k, v);
  };
  return server;
}

/**
 * A modbus-serial ServerTCP serving `regs` (any unit id). Pass `port` to reuse a port (e.g. to
 * restart a stopped server); otherwise a free port is picked.
 */
export async function startVectorServer(
  regs: Partial<RegisterTables> = {},
  opts: { port?: number; ignoreWrites?: boolean } = {},
): Promise<VectorServer> {
  const tables: RegisterTables = {
    coils: regs.coils ?? [],
    discrete: regs.discrete ?? [],
    input: regs.input ?? [],
    holding: regs.holding ?? [],
  };
  let conns = 0;
  let server: ServerTCP | null = null;
  let port = opts.port ?? 0;
  // A port probed free can be taken before we bind it; try a few times.
  for (let attempt = 0; attempt < 5 && !server; attempt++) {
    const p = opts.port ?? (await freePort());
    try {
      server = await listenVector(tables, p, () => conns++, opts.ignoreWrites);
      port = p;
    } catch (err) {
      if (opts.port !== undefined || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  }
  if (!server) throw new Error('could not bind a vector server');
  const s = server;
  return {
    port,
    regs: tables,
    connections: () => conns,
    openConnections: () => s.socks.size,
    stop: () =>
      new Promise<void>((res) => {
        s.close(() => res());
      }),
  };
}

export type FaultMode =
  | 'silent'
  | 'garbage'
  | 'short'
  | 'wrong-unit'
  | 'wrong-function'
  | 'bad-bytecount'
  | 'exception'
  | 'close-mid-frame'
  /** Not a fault: answers well, but the first request only after LATE_FIRST_MS; data words = request number. */
  | 'late-first';

/** How late 'late-first' answers the first request. */
export const LATE_FIRST_MS = 300;

/** The eight misbehaviours (every mode but 'late-first'). */
export const FAULT_MODES = [
  'silent',
  'garbage',
  'short',
  'wrong-unit',
  'wrong-function',
  'bad-bytecount',
  'exception',
  'close-mid-frame',
] as const satisfies readonly FaultMode[];

export interface FaultServer extends TestServer {
  /** Requests received so far. */
  requests(): number;
  /** Connections accepted so far. */
  connections(): number;
  /** Connections currently open (server side). */
  openConnections(): number;
}

interface Request {
  tid: number;
  unit: number;
  fc: number;
  count: number;
}

/** A well-formed answer PDU (function code, byte count, data) for a read request. */
function answerPdu(req: Request, fillWord?: number): Buffer {
  const bytes = req.fc <= 2 ? Math.ceil(req.count / 8) : req.count * 2;
  const pdu = Buffer.alloc(2 + bytes);
  pdu[0] = req.fc;
  pdu[1] = bytes;
  for (let i = 2; i < pdu.length; i++) {
    // Registers get the word high byte first; bit answers get its low byte in every data byte.
    if (fillWord === undefined) pdu[i] = i & 0xff;
    else pdu[i] = req.fc > 2 && i % 2 === 0 ? (fillWord >> 8) & 0xff : fillWord & 0xff;
  }
  return pdu;
}

/** MBAP header + unit id + PDU; the length field covers unit id and PDU. */
function frame(tid: number, unit: number, pdu: Buffer): Buffer {
  const head = Buffer.alloc(7);
  head.writeUInt16BE(tid, 0);
  head.writeUInt16BE(0, 2);
  head.writeUInt16BE(pdu.length + 1, 4);
  head.writeUInt8(unit, 6);
  return Buffer.concat([head, pdu]);
}

function respond(mode: FaultMode, req: Request, sock: Socket, n: number, timers: Set<NodeJS.Timeout>): void {
  switch (mode) {
    case 'late-first': {
      const answer = frame(req.tid, req.unit, answerPdu(req, n));
      if (n > 1) {
        sock.write(answer);
        return;
      }
      const t = setTimeout(() => {
        timers.delete(t);
        if (!sock.destroyed) sock.write(answer);
      }, LATE_FIRST_MS);
      timers.add(t);
      return;
    }
    case 'silent':
      return;
    case 'garbage': {
      const junk = Buffer.alloc(9 + Math.floor(Math.random() * 12));
      for (let i = 0; i < junk.length; i++) junk[i] = Math.floor(Math.random() * 256);
      // Random bytes, but never by chance a valid Modbus TCP protocol id (0).
      if (junk[2] === 0 && junk[3] === 0) junk[2] = 0xa5;
      sock.write(junk);
      return;
    }
    case 'short': {
      // Consistent framing, but the data is cut to half of what the byte count announces.
      const pdu = answerPdu(req);
      const cut = pdu.subarray(0, 2 + Math.floor((pdu.length - 2) / 2));
      sock.write(frame(req.tid, req.unit, cut));
      return;
    }
    case 'wrong-unit':
      sock.write(frame(req.tid, (req.unit + 1) & 0xff, answerPdu(req)));
      return;
    case 'wrong-function': {
      const pdu = answerPdu(req);
      // Same length as the right answer, so only the function code is wrong.
      pdu[0] = req.fc === 3 ? 4 : 3;
      sock.write(frame(req.tid, req.unit, pdu));
      return;
    }
    case 'bad-bytecount': {
      const pdu = answerPdu(req);
      pdu[1] = (pdu[1]! + 2) & 0xff;
      sock.write(frame(req.tid, req.unit, pdu));
      return;
    }
    case 'exception':
      sock.write(frame(req.tid, req.unit, Buffer.from([req.fc | 0x80, 2])));
      return;
    case 'close-mid-frame': {
      const full = frame(req.tid, req.unit, answerPdu(req));
      sock.write(full.subarray(0, Math.ceil(full.length / 2)), () => sock.destroy());
      return;
    }
  }
}

/** A raw Modbus TCP server that answers every request in the way `mode` names. */
export async function startFaultServer(mode: FaultMode): Promise<FaultServer> {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let requests = 0;
  let conns = 0;
  const server: Server = createServer((sock) => {
    conns++;
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      // Bounded by the bytes received: each pass consumes one whole request or stops.
      while (buf.length >= 7) {
        const len = buf.readUInt16BE(4);
        if (buf.length < 6 + len) break;
        const req: Request = {
          tid: buf.readUInt16BE(0),
          unit: buf.readUInt8(6),
          fc: buf.readUInt8(7),
          count: len >= 6 ? buf.readUInt16BE(10) : 1,
        };
        buf = buf.subarray(6 + len);
        requests++;
        respond(mode, req, sock, requests, timers);
      }
    });
  });
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => res());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    requests: () => requests,
    connections: () => conns,
    openConnections: () => sockets.size,
    stop: () =>
      new Promise<void>((res) => {
        server.close(() => res());
        for (const s of sockets) s.destroy();
        for (const t of timers) clearTimeout(t);
        timers.clear();
      }),
  };
}
