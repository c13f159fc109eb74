/**
 * The audit record as an RFC 5424 message in an RFC 5425 frame (src-main/audit/syslog-format.ts):
 * docs/syslog.md's example byte by byte, the escaping of values from outside and its inverse,
 * the cut of an over-long detail, and the `audit.syslog` config section (TLS only, say why).
 */
import { describe, expect, it } from 'vitest';
import { auditRecordHash, type AuditRecord } from '../../src-main/audit/record';
import { SyslogConfigSchema } from '../../src-main/audit/syslog-config';
import { describeSyslogError } from '../../src-main/audit/syslog-forwarder';
import {
  escapeParamValue,
  frame,
  syslogHostname,
  syslogIdentity,
  syslogMessage,
  unescapeParamValue,
  unreadableMessage,
} from '../../src-main/audit/syslog-format';
import { formatIssues } from '../../src-main/api/service';

const PREV = '0'.repeat(64);

/** docs/syslog.md's example record. */
function example(): AuditRecord {
  const body = {
    seq: 42,
    at: Date.UTC(2026, 2, 1, 12, 0, 0, 123),
    kind: 'write' as const,
    user: 'maria',
    role: 'maintenance' as const,
    origin: 'local' as const,
    sessionId: 's-7f3a',
    machineId: 'im-1',
    detail: { point: 'zone2-sp', from: 212, to: 218, unit: '°C' },
    prevHash: PREV,
  };
  return { ...body, hash: auditRecordHash(body) };
}

const ID = syslogIdentity({ hostname: 'plant-nord-ipc', procId: '4242' });

describe('an audit record as RFC 5424 over RFC 5425', () => {
  it('is the example of docs/syslog.md, byte by byte', () => {
    const rec = example();
    expect(rec.hash).toBe('f810b88b7c2dca0c94151ae62b12edbc7898df34bfb230076e471d967c39d58a');
    const m = syslogMessage(rec, ID);
    expect(m.truncated).toBe(false);
    expect(m.text).toBe(
      '<109>1 2026-03-01T12:00:00.123Z plant-nord-ipc plant-console 4242 write ' +
        `[audit@32473 seq="42" at="1772366400123" user="maria" role="maintenance" origin="local" sessionId="s-7f3a" machineId="im-1" prevHash="${PREV}" hash="${rec.hash}"] ` +
        '\uFEFF{"from":212,"point":"zone2-sp","to":218,"unit":"°C"}',
    );
    const f = frame(m.text);
    const body = Buffer.from(m.text, 'utf8');
    expect(f.subarray(0, 4).toString()).toBe('401 ');
    expect(body.length).toBe(401);
    expect(f.subarray(f.indexOf(0x20) + 1)).toEqual(body);
    // "°" is two octets and the BOM three: the length counts octets, not characters.
    expect(body.length).toBe(m.text.length + 1 + 2);
  });

  it('leaves null members out and marks refusals as warnings', () => {
    const m = syslogMessage({ ...example(), kind: 'login_failed', role: null, sessionId: null, machineId: null }, ID).text;
    expect(m.startsWith('<108>1 ')).toBe(true);
    expect(m).not.toMatch(/role=|sessionId=|machineId=/);
    expect(syslogMessage(example(), syslogIdentity({ hostname: 'h', procId: '1', facility: 10, enterpriseId: 99999 })).text).toMatch(
      /^<85>1 \S+ h plant-console 1 write \[audit@99999 seq="42"/,
    );
  });

  it('escapes what could end a value or forge a line, and the inverse gives the value back', () => {
    expect(escapeParamValue('a"b]c\\d')).toBe('a\\"b\\]c\\\\d');
    expect(escapeParamValue('x\ny\r\u0000\u007f\u0085\u2028\u2029')).toBe('x\\u000ay\\u000d\\u0000\\u007f\\u0085\\u2028\\u2029');
    expect(escapeParamValue('\uD800 lone')).toBe('\\ud800 lone');
    for (const v of ['plain', 'ad"m]in\\\nx', '\\u000a literally', 'ünï©ødé 🏭', '\\\\"]]', '\t\u0085\u2028']) {
      const e = escapeParamValue(v);
      expect(e).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
      expect(e).not.toMatch(/(?<!\\)(?:\\\\)*["\]]/);
      expect(unescapeParamValue(e)).toBe(v);
    }
    // In MSG the detail stays JSON with the same value, but no raw DEL, C1 or line separator.
    const m = syslogMessage({ ...example(), detail: { note: 'a\u2028b\u0085c\nd' } }, ID).text;
    const msg = m.slice(m.indexOf('\uFEFF') + 1);
    expect(msg).toBe('{"note":"a\\u2028b\\u0085c\\nd"}');
    expect(JSON.parse(msg)).toEqual({ note: 'a\u2028b\u0085c\nd' });
  });

  it('cuts an over-long detail between characters and says how long it was', () => {
    const id = syslogIdentity({ hostname: 'h', procId: '1', maxMessageBytes: 2048 });
    const note = 'ü'.repeat(3000);
    const m = syslogMessage({ ...example(), detail: { note } }, id);
    expect(m.truncated).toBe(true);
    const bytes = Buffer.byteLength(m.text);
    expect(bytes).toBeLessThanOrEqual(2048);
    expect(bytes).toBeGreaterThan(2040);
    expect(m.text).toContain(` truncated="${Buffer.byteLength(JSON.stringify({ note }))}"]`);
    expect(m.text).not.toContain('\uFFFD');
  });

  it('says an unreadable stored row as such, with its seq and hash', () => {
    expect(unreadableMessage({ seq: 7, at: 0, hash: 'ab' }, 'detail is not a JSON object', ID)).toBe(
      '<107>1 1970-01-01T00:00:00.000Z plant-nord-ipc plant-console 4242 unreadable [audit@32473 seq="7" hash="ab"] \uFEFF{"unreadable":"detail is not a JSON object"}',
    );
  });

  it('takes a HOSTNAME of printable ASCII only', () => {
    expect(syslogHostname('plant nord\tIPC')).toBe('plant-nord-IPC');
    expect(syslogHostname('')).toBe('-');
    expect(syslogHostname('x'.repeat(300))).toHaveLength(255);
  });
});

describe('the audit.syslog config section', () => {
  it('defaults to RFC 5425 on 6514 with the log audit facility', () => {
    expect(SyslogConfigSchema.parse({ host: 'logs.plant.example' })).toMatchObject({
      port: 6514,
      facility: 13,
      enterpriseId: 32473,
      maxMessageBytes: 8192,
      alarmAfterS: 300,
      tls: {},
    });
    expect(SyslogConfigSchema.parse({ host: '::1' }).host).toBe('::1');
  });

  it('refuses what it cannot do securely, saying why', () => {
    const issues = (v: unknown): string => {
      const r = SyslogConfigSchema.safeParse(v);
      return r.success ? 'accepted' : formatIssues(r.error);
    };
    // There is no clear-text syslog: the option does not exist.
    expect(issues({ host: 'logs', insecurePlainTcp: true })).toMatch(/Unrecognized key.*insecurePlainTcp/);
    expect(issues({ host: 'logs', tls: { cert: 'c.pem' } })).toBe('tls: a client certificate needs both "cert" and "key"');
    expect(issues({ host: 'logs host' })).toBe('host: must be a host name or an IP address');
    expect(issues({ host: 'logs', hostname: 'with space' })).toMatch(/^hostname: must be 1–255 printable ASCII/);
    expect(issues({ host: 'logs', maxMessageBytes: 1000 })).toMatch(/^maxMessageBytes: /);
  });

  it('words connection failures for plant IT', () => {
    expect(describeSyslogError({ code: 'ECONNREFUSED', message: 'x' }, 'logs:6514')).toBe(
      'Nothing accepts connections at logs:6514 (ECONNREFUSED): is the collector running?',
    );
    expect(describeSyslogError({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }, 'logs:6514')).toMatch(
      /^The collector's certificate is not trusted \(DEPTH_ZERO_SELF_SIGNED_CERT\).*audit\.syslog\.tls\.ca/,
    );
  });
});
