/**
 * Forwards every audit record to the plant's syslog collector over TLS (RFC 5425), as one
 * RFC 5424 message each (syslog-format.ts, docs/syslog.md).
 *
 * Nothing is lost while the collector is away: the queue is the audit log itself, re-read by
 * sequence from a persisted cursor (meta `audit.syslog.cursor`, the last record the collector
 * confirmed). RFC 5425 has no acknowledgements, so the only proof that the collector read a
 * record is its orderly close: after each burst (and every CHECKPOINT_EVERY records) the
 * forwarder closes the connection (TLS close_notify, FIN) and moves the cursor only when the
 * collector closes its side in turn, having read everything before our end of stream. A
 * connection that breaks instead (reset, the collector gone, no close in time) moves nothing:
 * its records go again on the next connection, so delivery is at least once and a duplicate
 * carries the same `seq` and `hash`.
 *
 * While records wait, they are counted (`backlog`), every failure is counted and logged, and
 * after `alarmAfterS` of failing with records waiting a plant-level alarm rises (kind `audit`),
 * cleared once they went through; health and the audit page show the link.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { SyslogLinkView } from '../../src-preload/contract';
import { PLANT_ALARM_MACHINE } from '../alarms/rules';
import { ConsoleError } from '../core/errors';
import type { Logger } from '../core/log';
import { systemClock, type Clock } from '../core/types';
import { backoffDelay } from '../modbus/backoff';
import type { StoreDb } from '../store/schema';
import type { ExternalAlarms } from '../uplink/outbox-alarm';
import { TLS_CODES } from '../uplink/mqtt-link';
import { AUDIT_COLUMNS, recordFromRow, type AuditRecord, type AuditRow } from './record';
import type { SyslogConfig } from './syslog-config';
import { frame, syslogIdentity, syslogMessage, unreadableMessage, type SyslogIdentity } from './syslog-format';

export const SYSLOG_ALARM_RULE = 'audit:syslog';
const CURSOR = 'audit.syslog.cursor';
const BATCH = 500;
/** Records on one connection before it is closed to confirm them. */
const CHECKPOINT_EVERY = 1000;
const TICK_MS = 5000;

/** What the forwarder needs besides its config section. */
export interface SyslogForwarderOptions {
  db: StoreDb;
  audit: { onAppend(handler: (rec: AuditRecord) => void): () => void };
  config: SyslogConfig;
  /** The PEM files the config names, read. */
  tls: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  alarms?: ExternalAlarms;
  log: Logger;
  clock?: Clock;
  random?: () => number;
  /** HOSTNAME and PROCID overrides (tests); the rest comes from the config. */
  identity?: Partial<SyslogIdentity>;
  /** Watch the backlog on a timer (default true): records another process appended, the alarm's delay. */
  timers?: boolean;
}

/** A broken connection or refused handshake, in words plant IT can act on. */
export function describeSyslogError(err: unknown, target: string): string {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : null;
  const msg = typeof e.message === 'string' ? e.message : String(err);
  if (code && TLS_CODES.has(code))
    return `The collector's certificate is not trusted (${code}): not sending. Check audit.syslog.tls.ca and servername.`;
  if (code === 'ECONNREFUSED') return `Nothing accepts connections at ${target} (ECONNREFUSED): is the collector running?`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `The collector's name does not resolve (${code}): check audit.syslog.host.`;
  if (code) return `The connection to ${target} failed (${code}): ${msg}`;
  return `The connection to ${target} failed: ${msg}`;
}

/** The forwarding of one store's audit log to one collector. */
export class SyslogForwarder {
  readonly target: string;
  private readonly clock: Clock;
  private readonly identity: SyslogIdentity;
  private readonly q;
  private readonly off: () => void;
  private readonly tick: ReturnType<typeof setInterval> | null;
  private cursor: number;
  /** The last record written on the open connection (≥ cursor). */
  private sent: number;
  private socket: TLSSocket | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private retry: ReturnType<typeof setTimeout> | null = null;
  private attempt = 0;
  private state: SyslogLinkView['state'] = 'connecting';
  private forwarded = 0;
  private failures = 0;
  private truncated = 0;
  private lastError: string | null = null;
  private failingSince: number | null = null;
  private alarmRaised = false;
  private stopped = false;
  private readonly updateHandlers = new Set<(v: SyslogLinkView) => void>();

  constructor(private readonly o: SyslogForwarderOptions) {
    this.clock = o.clock ?? systemClock;
    const host = o.config.host.includes(':') && !o.config.host.startsWith('[') ? `[${o.config.host}]` : o.config.host;
    this.target = `${host}:${o.config.port}`;
    this.identity = syslogIdentity({
      facility: o.config.facility,
      enterpriseId: o.config.enterpriseId,
      maxMessageBytes: o.config.maxMessageBytes,
      ...(o.config.hostname ? { hostname: o.config.hostname } : {}),
      ...o.identity,
    });
    this.q = {
      cursor: o.db.prepare('SELECT value FROM meta WHERE key = ?').raw(),
      setCursor: o.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      pending: o.db.prepare(`SELECT ${AUDIT_COLUMNS} FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?`),
      tail: o.db.prepare('SELECT seq FROM audit_log ORDER BY seq DESC LIMIT 1').raw(),
    };
    const v = (this.q.cursor.get([CURSOR]) as [string] | undefined)?.[0];
    this.cursor = v === undefined ? 0 : Number(v);
    this.sent = this.cursor;
    // Later, not inside the append: the record's transaction has committed by then.
    this.off = o.audit.onAppend(() => setImmediate(() => this.kick()));
    if (o.timers !== false) {
      this.tick = setInterval(() => {
        this.checkAlarm();
        if (this.backlog() > 0) this.kick();
      }, TICK_MS);
      this.tick.unref?.();
    } else this.tick = null;
    this.kick();
  }

  /** What health and the audit page show. */
  view(): SyslogLinkView {
    return {
      target: this.target,
      state: this.state,
      forwarded: this.forwarded,
      failures: this.failures,
      backlog: this.backlog(),
      lastError: this.lastError,
      failingSince: this.failingSince,
    };
  }

  /** Records cut to fit maxMessageBytes since start (each logged). */
  truncatedCount(): number {
    return this.truncated;
  }

  /** The last record the collector confirmed. */
  confirmedSeq(): number {
    return this.cursor;
  }

  /** Calls `handler` after every change of the link's state or backlog; returns the unsubscribe. */
  onUpdate(handler: (v: SyslogLinkView) => void): () => void {
    this.updateHandlers.add(handler);
    return () => void this.updateHandlers.delete(handler);
  }

  /** Sends what is pending now (unless waiting out a failure's backoff). */
  kick(): void {
    if (this.stopped || this.retry) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.run().finally(() => {
      this.running = null;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  /** One last go at what is pending (bounded), then stops; what is left goes at the next start. */
  async close(): Promise<void> {
    if (this.stopped) return;
    this.kick();
    if (this.running) await Promise.race([this.running, new Promise((r) => setTimeout(r, this.o.config.connectTimeoutMs).unref())]);
    this.stopped = true;
    this.off();
    if (this.tick) clearInterval(this.tick);
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    this.socket?.destroy();
    this.socket = null;
    this.state = 'stopped';
    this.changed();
  }

  private backlog(): number {
    const tail = (this.q.tail.get() as [number] | undefined)?.[0] ?? 0;
    return Math.max(0, tail - this.cursor);
  }

  private async run(): Promise<void> {
    try {
      // Until a connection worked, a run connects even with nothing to send: a wrong CA or address shows
      // at start, and a failing collector is said to work again only once it does.
      let probe = this.state !== 'connected';
      for (;;) {
        this.again = false;
        const rows = this.q.pending.all([this.sent, BATCH]) as AuditRow[];
        if (rows.length === 0) break;
        probe = false;
        const s = this.socket ?? (this.socket = await this.open());
        for (const row of rows) {
          await this.write(s, frame(this.messageOf(row)));
          this.sent = row.seq;
        }
        if (this.sent - this.cursor >= CHECKPOINT_EVERY) await this.confirm();
      }
      if (probe && !this.socket) this.socket = await this.open();
      if (this.socket) await this.confirm();
      this.succeeded();
    } catch (err) {
      this.failed(err);
    }
  }

  private messageOf(row: AuditRow): string {
    let rec: AuditRecord;
    try {
      rec = recordFromRow(row);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.o.log.log('error', `Audit record ${row.seq} cannot be read: forwarded to syslog as unreadable`, { seq: row.seq, reason });
      return unreadableMessage(row, reason, this.identity);
    }
    const m = syslogMessage(rec, this.identity);
    if (m.truncated) {
      this.truncated++;
      this.o.log.log('warn', `Audit record ${rec.seq} is longer than audit.syslog.maxMessageBytes: its detail was cut in the syslog copy`, {
        seq: rec.seq,
        maxMessageBytes: this.identity.maxMessageBytes,
      });
    }
    return m.text;
  }

  private open(): Promise<TLSSocket> {
    const c = this.o.config;
    return new Promise((resolve, reject) => {
      const s = tlsConnect({
        host: c.host.replace(/^\[(.*)\]$/, '$1'),
        port: c.port,
        servername: c.tls.servername ?? c.host,
        rejectUnauthorized: true,
        minVersion: 'TLSv1.2',
        ...(this.o.tls.ca ? { ca: this.o.tls.ca } : {}),
        ...(this.o.tls.cert ? { cert: this.o.tls.cert } : {}),
        ...(this.o.tls.key ? { key: this.o.tls.key } : {}),
      });
      const timer = setTimeout(
        () => fail(Object.assign(new Error(`no TLS handshake within ${c.connectTimeoutMs} ms`), { code: 'ETIMEDOUT' })),
        c.connectTimeoutMs,
      );
      const fail = (err: Error): void => {
        clearTimeout(timer);
        s.destroy();
        reject(err);
      };
      s.once('error', fail);
      s.once('secureConnect', () => {
        clearTimeout(timer);
        s.off('error', fail);
        // Kept for the connection's life: write and confirm read them.
        const st = { error: null as Error | null, peerEnded: false };
        connState.set(s, st);
        s.on('error', (e) => (st.error ??= e));
        s.on('end', () => (st.peerEnded = true));
        resolve(s);
      });
    });
  }

  private write(s: TLSSocket, buf: Buffer): Promise<void> {
    const st = connState.get(s);
    if (st?.error) return Promise.reject(st.error);
    if (st?.peerEnded || s.destroyed) return Promise.reject(new Error('the collector closed the connection'));
    if (s.write(buf)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = (err?: Error): void => {
        s.off('drain', onDrain);
        s.off('close', onClose);
        if (err) reject(err);
        else resolve();
      };
      const onDrain = (): void => done();
      const onClose = (): void => done(st?.error ?? new Error('the connection closed while sending'));
      s.once('drain', onDrain);
      s.once('close', onClose);
    });
  }

  /** Ends the connection and waits for the collector's close: only then did it read everything. */
  private async confirm(): Promise<void> {
    const s = this.socket;
    if (!s) return;
    const st = connState.get(s);
    if (s.destroyed) {
      this.socket = null;
      throw st?.error ?? new Error('the connection closed before the records were confirmed');
    }
    await new Promise<void>((resolve, reject) => {
      const closedFirst = st?.peerEnded === true;
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`the collector did not close the connection within ${this.o.config.connectTimeoutMs} ms of the last record`));
      }, this.o.config.connectTimeoutMs);
      s.once('close', () => {
        clearTimeout(timer);
        if (st?.error) reject(st.error);
        else if (closedFirst || !st?.peerEnded) reject(new Error('the collector closed the connection before confirming the records'));
        else resolve();
      });
      s.end();
    });
    this.socket = null;
    const n = this.sent - this.cursor;
    if (n > 0) {
      this.q.setCursor.run([CURSOR, String(this.sent)]);
      this.cursor = this.sent;
      this.forwarded += n;
    }
  }

  private succeeded(): void {
    this.state = 'connected';
    this.attempt = 0;
    if (this.failingSince !== null)
      this.o.log.log('info', `Audit records reach the syslog collector at ${this.target} again`, {
        confirmedSeq: this.cursor,
        failures: this.failures,
      });
    this.failingSince = null;
    this.lastError = null;
    this.checkAlarm();
    this.changed();
  }

  private failed(err: unknown): void {
    this.socket?.destroy();
    this.socket = null;
    // What the collector did not confirm goes again on the next connection.
    this.sent = this.cursor;
    if (this.stopped) return;
    const text = describeSyslogError(err, this.target);
    this.failures++;
    this.attempt++;
    this.failingSince ??= this.clock.now();
    if (text !== this.lastError || this.state !== 'failing')
      this.o.log.log('error', `Audit records cannot be forwarded to syslog: ${text}`, {
        target: this.target,
        backlog: this.backlog(),
        failures: this.failures,
      });
    this.lastError = text;
    this.state = 'failing';
    this.checkAlarm();
    this.changed();
    const delay = backoffDelay(this.attempt, this.o.config.backoff, this.o.random);
    this.retry = setTimeout(() => {
      this.retry = null;
      this.kick();
    }, delay);
    this.retry.unref?.();
  }

  /** Raises the plant alarm once records have waited alarmAfterS for a failing collector; clears it when they went. */
  private checkAlarm(): void {
    const alarms = this.o.alarms;
    if (!alarms) return;
    const waiting = this.failingSince !== null && this.backlog() > 0;
    const due = waiting && this.clock.now() - this.failingSince! >= this.o.config.alarmAfterS * 1000;
    if (due && !this.alarmRaised) {
      this.alarmRaised = true;
      alarms.raiseExternal({
        kind: 'audit',
        machineId: PLANT_ALARM_MACHINE,
        ruleId: SYSLOG_ALARM_RULE,
        priority: 'medium',
        message: `Audit records are not reaching the plant's syslog collector (${this.target}): they wait in the audit log`,
      });
    } else if (!waiting && this.alarmRaised) {
      this.alarmRaised = false;
      alarms.clearExternal(PLANT_ALARM_MACHINE, SYSLOG_ALARM_RULE);
    }
  }

  private changed(): void {
    if (this.updateHandlers.size === 0) return;
    const v = this.view();
    for (const h of [...this.updateHandlers]) h(v);
  }
}

/** Per connection: its first error, and who ended it first. */
const connState = new WeakMap<TLSSocket, { error: Error | null; peerEnded: boolean }>();

/** Reads the PEM files `audit.syslog.tls` names (relative to the config file's directory). */
export function readSyslogTls(config: SyslogConfig, configDir: string): SyslogForwarderOptions['tls'] {
  const read = (path: string | undefined, what: string): Buffer | undefined => {
    if (path === undefined) return undefined;
    const full = isAbsolute(path) ? path : resolve(configDir, path);
    try {
      return readFileSync(full);
    } catch (err) {
      throw new ConsoleError(
        'CONFIG_UNREADABLE',
        `audit.syslog.tls.${what}: cannot read ${full} (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
        { cause: err },
      );
    }
  };
  const ca = read(config.tls.ca, 'ca');
  const cert = read(config.tls.cert, 'cert');
  const key = read(config.tls.key, 'key');
  return { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
}
