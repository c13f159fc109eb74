/**
 * Byte streams under the Modbus channels: a TCP socket (Modbus TCP, RTU over TCP) or a serial
 * port (RTU). Each one opens on demand, can be dropped and reopened, reports every close with
 * its cause, and `close()` resolves only once the OS handle is really gone, so a stopped line
 * leaves nothing behind. Errors are always listened to: an unhandled 'error' event would crash
 * the process.
 */
import { Socket } from 'node:net';
import type { SerialPort as SerialPortType, SerialPortOpenOptions } from 'serialport';
import type { AutoDetectTypes } from '@serialport/bindings-cpp';
import { ConsoleError } from '../core/errors';

export interface ByteStream {
  /** For messages: `host:port` or the serial device path. */
  readonly address: string;
  readonly isOpen: boolean;
  /** Opens (connects); rejects with MODBUS_CONNECT, or MODBUS_CLOSED once `close()` was called. */
  open(timeoutMs: number): Promise<void>;
  write(buf: Buffer): Promise<void>;
  /** Gives up the current connection; the next `open()` makes a new one. */
  drop(): void;
  /** Closes for good; resolves once every handle is closed. */
  close(): Promise<void>;
  onData: (chunk: Buffer) => void;
  /** The open stream went away (peer closed, reset, device unplugged). */
  onClose: (err: NodeJS.ErrnoException | null) => void;
}

function closedByConsole(address: string): ConsoleError {
  return new ConsoleError('MODBUS_CLOSED', `connection to ${address} closed by the console`);
}

/** A TCP connection to a Modbus TCP device, gateway or serial device server. */
export class TcpStream implements ByteStream {
  readonly address: string;
  onData: (chunk: Buffer) => void = () => undefined;
  onClose: (err: NodeJS.ErrnoException | null) => void = () => undefined;
  private socket: Socket | null = null;
  private connected = false;
  private closed = false;
  private lastError: NodeJS.ErrnoException | null = null;
  /** Close events of every socket not yet fully closed (a dropped one may still be closing). */
  private readonly closing = new Set<Promise<void>>();

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {
    this.address = `${host}:${port}`;
  }

  get isOpen(): boolean {
    return this.connected && this.socket !== null && !this.socket.destroyed;
  }

  async open(timeoutMs: number): Promise<void> {
    if (this.closed) throw closedByConsole(this.address);
    if (this.isOpen) return;
    this.socket?.destroy();
    const socket = new Socket();
    this.socket = socket;
    this.connected = false;
    this.lastError = null;
    const gone = new Promise<void>((res) => socket.once('close', () => res()));
    this.closing.add(gone);
    void gone.then(() => this.closing.delete(gone));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (this.socket === socket) this.lastError = err;
    });
    await new Promise<void>((resolve, reject) => {
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        socket.destroy();
      }, timeoutMs);
      const onConnect = (): void => {
        clearTimeout(timer);
        socket.off('close', onEarlyClose);
        resolve();
      };
      const onEarlyClose = (): void => {
        clearTimeout(timer);
        socket.off('connect', onConnect);
        if (this.closed) reject(closedByConsole(this.address));
        else if (timedOut)
          reject(new ConsoleError('MODBUS_CONNECT', `cannot connect to ${this.address}: no answer within ${timeoutMs} ms`));
        else reject(connectError(this.address, this.lastError));
      };
      socket.once('connect', onConnect);
      socket.once('close', onEarlyClose);
      socket.connect({ host: this.host, port: this.port });
    });
    if (this.socket !== socket || socket.destroyed) {
      socket.destroy();
      throw new ConsoleError('MODBUS_CLOSED', `connection to ${this.address} closed while it was being set up`);
    }
    socket.setNoDelay(true);
    this.connected = true;
    socket.on('data', (chunk: Buffer) => {
      if (this.socket === socket) this.onData(chunk);
    });
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.connected = false;
      this.onClose(this.lastError);
    });
  }

  write(buf: Buffer): Promise<void> {
    const socket = this.socket;
    if (!socket || !this.isOpen)
      return Promise.reject(new ConsoleError('MODBUS_CLOSED', `connection to ${this.address} closed before the request could be sent`));
    return new Promise((resolve, reject) => {
      socket.write(buf, (err) => {
        if (err)
          reject(new ConsoleError('MODBUS_CLOSED', `connection to ${this.address} failed while sending: ${err.message}`, { cause: err }));
        else resolve();
      });
    });
  }

  drop(): void {
    const s = this.socket;
    this.socket = null;
    this.connected = false;
    s?.destroy();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.drop();
    await Promise.all([...this.closing]);
  }
}

function connectError(address: string, err: NodeJS.ErrnoException | null): ConsoleError {
  const code = err?.code;
  const why =
    code === 'ECONNREFUSED'
      ? 'connection refused (nothing listens on that port, or a firewall rejects it)'
      : code === 'EHOSTUNREACH' || code === 'ENETUNREACH'
        ? 'host unreachable (check cabling, IP address and routes)'
        : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
          ? 'host name not found'
          : code === 'ECONNRESET'
            ? 'connection reset'
            : (err?.message ?? 'connection closed');
  return new ConsoleError('MODBUS_CONNECT', `cannot connect to ${address}: ${why}${code ? ` (${code})` : ''}`, { cause: err ?? undefined });
}

export interface SerialSettings {
  path: string;
  baudRate: number;
  parity: 'none' | 'even' | 'odd';
  dataBits: 8;
  stopBits: 1 | 2;
}

type SerialPortCtor = new (opts: SerialPortOpenOptions<AutoDetectTypes>) => SerialPortType;

let serialPortCtor: Promise<SerialPortCtor> | null = null;

/**
 * serialport, loaded on first use. It comes with modbus-serial rather than from our own
 * dependencies, so the specifier is kept out of the bundler's sight: the native binding must be
 * loaded from node_modules at run time, and only by consoles that have a serial line. Never call
 * its `list()`: it spawns udevadm, which crashes the process where udevadm is missing.
 */
export function loadSerialPort(): Promise<SerialPortCtor> {
  const specifier = ['serial', 'port'].join('');
  serialPortCtor ??= (import(specifier) as Promise<{ SerialPort: SerialPortCtor }>).then((m) => m.SerialPort);
  return serialPortCtor;
}

/** A serial port (RTU). */
export class SerialStream implements ByteStream {
  readonly address: string;
  onData: (chunk: Buffer) => void = () => undefined;
  onClose: (err: NodeJS.ErrnoException | null) => void = () => undefined;
  private port: SerialPortType | null = null;
  private closed = false;
  private readonly closing = new Set<Promise<void>>();

  constructor(private readonly settings: SerialSettings) {
    this.address = settings.path;
  }

  get isOpen(): boolean {
    return this.port?.isOpen === true;
  }

  async open(timeoutMs: number): Promise<void> {
    if (this.closed) throw closedByConsole(this.address);
    if (this.isOpen) return;
    this.drop();
    await Promise.all([...this.closing]);
    let Ctor: SerialPortCtor;
    try {
      Ctor = await loadSerialPort();
    } catch (err) {
      throw new ConsoleError('MODBUS_CONNECT', `cannot open ${this.address}: serial support (the serialport package) is not installed`, {
        cause: err,
      });
    }
    const s = this.settings;
    const port = new Ctor({
      path: s.path,
      baudRate: s.baudRate,
      parity: s.parity,
      dataBits: s.dataBits,
      stopBits: s.stopBits,
      autoOpen: false,
    });
    this.port = port;
    port.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        reject(new ConsoleError('MODBUS_CONNECT', `cannot open ${this.address}: no response from the driver within ${timeoutMs} ms`));
      }, timeoutMs);
      port.open((err) => {
        clearTimeout(timer);
        if (settled) return;
        if (err) reject(serialOpenError(this.address, err as NodeJS.ErrnoException));
        else resolve();
      });
    }).catch((err: unknown) => {
      if (this.port === port) this.port = null;
      throw err;
    });
    if (this.closed || this.port !== port) {
      await this.closePort(port);
      throw closedByConsole(this.address);
    }
    // Bytes that reached the port while nobody had it open answer nothing we will ask.
    await new Promise<void>((resolve) => port.flush(() => resolve()));
    const gone = new Promise<void>((res) => port.once('close', () => res()));
    this.closing.add(gone);
    void gone.then(() => this.closing.delete(gone));
    port.on('data', (chunk: Buffer) => {
      if (this.port === port) this.onData(chunk);
    });
    port.on('close', (err: NodeJS.ErrnoException | null) => {
      if (this.port !== port) return;
      this.port = null;
      this.onClose(err ?? null);
    });
  }

  write(buf: Buffer): Promise<void> {
    const port = this.port;
    if (!port || !port.isOpen)
      return Promise.reject(new ConsoleError('MODBUS_CLOSED', `serial port ${this.address} closed before the request could be sent`));
    return new Promise((resolve, reject) => {
      port.write(buf);
      // drain (tcdrain) returns once the bytes left the UART, so timeouts start after sending.
      port.drain((err) => {
        if (err)
          reject(new ConsoleError('MODBUS_CLOSED', `serial port ${this.address} failed while sending: ${err.message}`, { cause: err }));
        else resolve();
      });
    });
  }

  drop(): void {
    const port = this.port;
    this.port = null;
    if (port) void this.closePort(port);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.drop();
    await Promise.all([...this.closing]);
  }

  private closePort(port: SerialPortType): Promise<void> {
    if (!port.isOpen) return Promise.resolve();
    const done = new Promise<void>((resolve) => port.close(() => resolve()));
    this.closing.add(done);
    void done.then(() => this.closing.delete(done));
    return done;
  }
}

function serialOpenError(path: string, err: NodeJS.ErrnoException): ConsoleError {
  const msg = err.message ?? String(err);
  const why = /ENOENT|no such file/i.test(msg)
    ? 'no such device (check the path, the cable and the USB adapter)'
    : /EACCES|permission/i.test(msg)
      ? 'permission denied (the console user needs access to the port, e.g. the dialout group)'
      : /EBUSY|lock|resource temporarily unavailable/i.test(msg)
        ? 'in use by another program'
        : msg;
  return new ConsoleError('MODBUS_CONNECT', `cannot open ${path}: ${why}`, { cause: err });
}
