/**
 * Audit records to plant IT's syslog collector, a real Debian rsyslog over TLS (RFC 5425):
 * a configured plant (startPlant with `audit.syslog`) sends every record, also those from before
 * the connection, as the exact RFC 5424 message docs/syslog.md describes; rsyslog's own parser
 * reads the structured data and the message back so that the record's hash recomputes from what
 * the collector kept, values from outside included. Records written while rsyslog is stopped are
 * counted as backlog, alarmed and shown in health, and arrive once, in order, after it restarts.
 * A collector whose certificate the configured CA did not sign gets nothing.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'libsql';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startPlant, type RunningPlant } from '../../src-main/app/bootstrap';
import { AuditLog } from '../../src-main/audit/log';
import { auditRecordHash, type AuditRecord } from '../../src-main/audit/record';
import { SyslogConfigSchema } from '../../src-main/audit/syslog-config';
import { SyslogForwarder, SYSLOG_ALARM_RULE } from '../../src-main/audit/syslog-forwarder';
import { syslogIdentity, syslogMessage, unescapeParamValue } from '../../src-main/audit/syslog-format';
import { memoryLogger } from '../../src-main/core/log';
import { signingKeyPair } from '../../src-main/protocol/keys';
import { migrate } from '../../src-main/store/schema';
import type { Caller, SyslogLinkView } from '../../src-preload/contract';
import { describeNeeding } from '../helpers/needs-package';
import { rsyslogAvailable, startCollector, type Collector, type ParsedSyslog } from '../helpers/rsyslog';

const ADMIN: Caller = { user: 'anna', role: 'admin', origin: 'local' };
const HOSTNAME = 'plant-nord-ipc';
const dir = mkdtempSync(join(tmpdir(), 'pc-syslog-'));
let collector: Collector | null = null;
let plant: RunningPlant | null = null;
let savedPass: string | undefined;

/** Resolves when the forwarder's view satisfies `ok` (checked now and at every change). */
function viewWhere(
  f: { view(): SyslogLinkView; onUpdate(h: (v: SyslogLinkView) => void): () => void },
  ok: (v: SyslogLinkView) => boolean,
) {
  return new Promise<SyslogLinkView>((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`syslog link never got there: ${JSON.stringify(f.view())}`));
    }, 20_000);
    const check = (v: SyslogLinkView): void => {
      if (!ok(v)) return;
      clearTimeout(timer);
      off();
      resolve(v);
    };
    const off = f.onUpdate(check);
    check(f.view());
  });
}

/** The record back from what rsyslog parsed: header fields, SD-PARAMs unescaped, MSG as JSON. */
function recordFromSyslog(p: ParsedSyslog): { body: Omit<AuditRecord, 'hash'>; hash: string } {
  const sd = /^\[audit@32473((?: [A-Za-z]+="(?:[^"\\]|\\.)*")*)\]$/.exec(p.sd);
  if (!sd) throw new Error(`not our structured data: ${p.sd}`);
  const params = new Map<string, string>();
  for (const m of sd[1]!.matchAll(/ ([A-Za-z]+)="((?:[^"\\]|\\.)*)"/g)) params.set(m[1]!, unescapeParamValue(m[2]!));
  const get = (k: string): string | null => params.get(k) ?? null;
  const body = {
    seq: Number(get('seq')),
    at: Number(get('at')),
    kind: p.msgid as AuditRecord['kind'],
    user: get('user'),
    role: get('role') as AuditRecord['role'],
    origin: get('origin') as AuditRecord['origin'],
    sessionId: get('sessionId'),
    machineId: get('machineId'),
    detail: JSON.parse(p.msg.replace(/^\uFEFF/, '')) as AuditRecord['detail'],
    prevHash: get('prevHash')!,
  };
  return { body, hash: get('hash')! };
}

beforeAll(() => {
  savedPass = process.env.PLANT_CONSOLE_PASSPHRASE;
  process.env.PLANT_CONSOLE_PASSPHRASE = 'syslog test passphrase';
});

afterAll(async () => {
  await plant?.stop();
  await collector?.dispose();
  if (savedPass === undefined) delete process.env.PLANT_CONSOLE_PASSPHRASE;
  else process.env.PLANT_CONSOLE_PASSPHRASE = savedPass;
  rmSync(dir, { recursive: true, force: true });
});

describeNeeding(['rsyslog', 'rsyslog-gnutls', 'openssl'], rsyslogAvailable(), 'audit records to rsyslog over TLS', () => {
  it('arrive exactly, hashes recomputable from what rsyslog parsed; kept while it is away, alarmed, and sent once when it is back', async () => {
    collector = await startCollector();
    writeFileSync(join(dir, 'plant-it-ca.crt'), collector.ca);
    const configFile = join(dir, 'plant.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        plant: { name: 'Syslog plant', timezone: 'UTC' },
        // Nothing listens on port 9: the machine stays offline, which this test does not mind.
        devices: [{ id: 'im-1', name: 'Moulder 1', profile: 'builtin:im250', transport: { type: 'tcp', host: '127.0.0.1', port: 9 } }],
        audit: {
          syslog: {
            host: '127.0.0.1',
            port: collector.port,
            tls: { ca: 'plant-it-ca.crt', servername: 'localhost' },
            hostname: HOSTNAME,
            alarmAfterS: 0,
            backoff: { initialDelayMs: 50, maxDelayMs: 200, randomisationFactor: 0 },
          },
        },
      }),
    );
    plant = await startPlant({ configPath: configFile, dataDir: join(dir, 'data'), log: memoryLogger() });
    const fwd = plant.syslog!;
    // Values from outside: an attempted account name with a quote, bracket, backslash and newline; a detail with U+2028 and UTF-8.
    plant.audit.append({
      kind: 'login_failed',
      user: 'ad"m]in\\\nx',
      origin: 'remote',
      detail: { source: '10.0.0.5', reason: 'wrong password' },
    });
    plant.audit.append({
      kind: 'write',
      user: 'maint',
      role: 'maintenance',
      origin: 'local',
      sessionId: 's-1',
      machineId: 'im-1',
      detail: { point: 'zone2-sp', from: 212, to: 218.5, unit: '°C', note: 'one\u2028two ] " \\ \u0007' },
    });
    const identity = syslogIdentity({ hostname: HOSTNAME, procId: String(process.pid) });
    const expected = (): string[] =>
      plant!.audit
        .query({ limit: 1000 })
        .reverse()
        .map((r) => syslogMessage(r, identity).text);
    const first = expected();
    // config_loaded from the start, then the two above.
    expect(first.length).toBeGreaterThanOrEqual(3);
    expect(await collector.waitFor(first.length)).toEqual(first);
    await viewWhere(fwd, (v) => v.backlog === 0 && v.state === 'connected');

    // One message byte by byte, as docs/syslog.md shows it.
    const failed = plant.audit.query({ kind: ['login_failed'] })[0]!;
    expect(collector.raw().find((l) => l.includes(' login_failed '))).toBe(
      `<108>1 ${new Date(failed.at).toISOString()} ${HOSTNAME} plant-console ${process.pid} login_failed ` +
        `[audit@32473 seq="${failed.seq}" at="${failed.at}" user="ad\\"m\\]in\\\\\\u000ax" origin="remote" prevHash="${failed.prevHash}" hash="${failed.hash}"] ` +
        '\uFEFF{"reason":"wrong password","source":"10.0.0.5"}',
    );
    // rsyslog's RFC 5424 parser agrees on every field, and the records' hashes recompute from what it kept.
    const parsed = collector.parsed();
    expect(parsed.map((p) => [p.pri, p.version, p.host, p.app, p.procid])).toEqual(
      parsed.map((p) => [p.msgid === 'login_failed' ? '108' : '109', '1', HOSTNAME, 'plant-console', String(process.pid)]),
    );
    for (const p of parsed) {
      const { body, hash } = recordFromSyslog(p);
      expect(auditRecordHash(body)).toBe(hash);
    }
    expect(recordFromSyslog(parsed.find((p) => p.msgid === 'login_failed')!).body.user).toBe('ad"m]in\\\nx');

    // The collector goes away: what is written meanwhile waits in the audit log, counted, alarmed, in health.
    await collector.stop();
    for (let i = 0; i < 3; i++) plant.audit.append({ kind: 'config_change', user: 'anna', role: 'admin', origin: 'local', detail: { i } });
    const away = await viewWhere(fwd, (v) => v.state === 'failing' && v.backlog === 3);
    expect(away.lastError).toMatch(/ECONNREFUSED/);
    expect(away.failures).toBeGreaterThanOrEqual(1);
    expect(plant.core.alarms.alarms().find((a) => a.ruleId === SYSLOG_ALARM_RULE)).toMatchObject({
      kind: 'audit',
      state: 'active-unacked',
    });
    const health = await plant.api.handle(ADMIN, 'system.health', {});
    expect(health).toMatchObject({ ok: true, value: { syslog: { state: 'failing', backlog: 3, target: `127.0.0.1:${collector.port}` } } });
    expect(await plant.api.handle(ADMIN, 'audit.links', {})).toMatchObject({ ok: true, value: { syslog: { backlog: 3 } } });

    // Back: the three arrive once, in order, after the earlier ones; the alarm clears.
    await collector.start();
    await viewWhere(fwd, (v) => v.state === 'connected' && v.backlog === 0);
    const all = expected();
    expect(all).toHaveLength(first.length + 3);
    expect(await collector.waitFor(all.length)).toEqual(all);
    expect(plant.core.alarms.alarms().find((a) => a.ruleId === SYSLOG_ALARM_RULE)?.state).toBe('cleared-unacked');

    // A collector whose certificate the configured CA did not sign gets nothing.
    const db = new Database(':memory:');
    migrate(db);
    const audit = new AuditLog(db, { signing: signingKeyPair() }, { timers: false });
    const stranger = new SyslogForwarder({
      db,
      audit,
      config: SyslogConfigSchema.parse({
        host: '127.0.0.1',
        port: collector.port,
        tls: { servername: 'localhost' },
        backoff: { initialDelayMs: 20, maxDelayMs: 20, randomisationFactor: 0 },
      }),
      tls: { ca: collector.otherCa },
      log: memoryLogger(),
      timers: false,
    });
    try {
      // Refused at start with nothing to send, and again at every retry: never taken for working.
      const refused = await viewWhere(stranger, (v) => v.failures >= 3);
      expect(refused).toMatchObject({ state: 'failing', backlog: 0, forwarded: 0 });
      expect(refused.lastError).toMatch(/certificate is not trusted/);
      audit.append({ kind: 'login', user: 'x', role: 'operator', origin: 'local' });
      await viewWhere(stranger, (v) => v.state === 'failing' && v.backlog === 1 && v.failures >= 5);
    } finally {
      await stranger.close();
      audit.close();
      db.close();
    }
    expect(collector.raw()).toHaveLength(all.length);
  }, 60_000);
});
