/**
 * A real Debian rsyslog as plant IT's syslog collector for integration tests: syslog over TLS
 * (imtcp with the gtls stream driver, RFC 5425 octet-counted frames) with certificates made here
 * by openssl, on a free loopback port, its configuration and files in a temporary directory. It
 * writes every message of the console twice: as received (`raw.log`, one `%rawmsg%` per line)
 * and as rsyslog's RFC 5424 parser read it (`parsed.log`, one JSON object per line).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { daemon, freePort } from './daemon';
import { makeTestPki, OPENSSL } from './test-pki';

export const RSYSLOGD = '/usr/sbin/rsyslogd';
/** rsyslog-gnutls's stream driver, wherever the architecture puts it. */
const GTLS = ['/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so', '/usr/lib/aarch64-linux-gnu/rsyslog/lmnsd_gtls.so'];

/** True when rsyslogd, its TLS driver and openssl are installed. */
export function rsyslogAvailable(): boolean {
  return existsSync(RSYSLOGD) && GTLS.some((p) => existsSync(p)) && existsSync(OPENSSL);
}

/** How rsyslog's parser read one message. */
export interface ParsedSyslog {
  pri: string;
  version: string;
  time: string;
  host: string;
  app: string;
  procid: string;
  msgid: string;
  sd: string;
  msg: string;
}

export interface Collector {
  port: number;
  dir: string;
  /** PEM of the CA that signed the collector's certificate, and of one that did not. */
  ca: Buffer;
  otherCa: Buffer;
  /** The messages received so far, as received. */
  raw(): string[];
  parsed(): ParsedSyslog[];
  /** Resolves once at least `n` messages are in the file (rsyslog writes asynchronously). */
  waitFor(n: number): Promise<string[]>;
  start(): Promise<void>;
  stop(): Promise<void>;
  dispose(): Promise<void>;
}

const lines = (file: string): string[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(0, -1) : []);

/** Makes the certificates and configuration and starts rsyslogd in the foreground. */
export async function startCollector(): Promise<Collector> {
  const dir = mkdtempSync(join(tmpdir(), 'pc-rsyslog-'));
  makeTestPki(dir);
  const port = await freePort();
  const rawFile = join(dir, 'raw.log');
  const parsedFile = join(dir, 'parsed.log');
  const field = (out: string, name: string, extra = ''): string => `  property(outname="${out}" name="${name}" format="jsonf"${extra})`;
  writeFileSync(
    join(dir, 'rsyslog.conf'),
    [
      `global(workDirectory="${dir}"`,
      '  defaultNetstreamDriver="gtls"',
      `  defaultNetstreamDriverCAFile="${join(dir, 'ca.crt')}"`,
      `  defaultNetstreamDriverCertFile="${join(dir, 'server.crt')}"`,
      `  defaultNetstreamDriverKeyFile="${join(dir, 'server.key')}")`,
      'module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")',
      `input(type="imtcp" port="${port}" address="127.0.0.1")`,
      'template(name="raw" type="string" string="%rawmsg%\\n")',
      'template(name="parsed" type="list" option.jsonf="on") {',
      field('pri', 'pri'),
      field('version', 'protocol-version'),
      field('time', 'timereported', ' dateFormat="rfc3339"'),
      field('host', 'hostname'),
      field('app', 'app-name'),
      field('procid', 'procid'),
      field('msgid', 'msgid'),
      field('sd', 'structured-data'),
      field('msg', 'msg'),
      '}',
      'if $app-name == "plant-console" then {',
      `  action(type="omfile" file="${rawFile}" template="raw")`,
      `  action(type="omfile" file="${parsedFile}" template="parsed")`,
      '} else {',
      `  action(type="omfile" file="${join(dir, 'other.log')}")`,
      '}',
      '',
    ].join('\n'),
  );
  const proc = daemon(RSYSLOGD, ['-n', '-f', join(dir, 'rsyslog.conf'), '-i', join(dir, 'rsyslogd.pid')], port);
  await proc.start();
  return {
    port,
    dir,
    ca: readFileSync(join(dir, 'ca.crt')),
    otherCa: readFileSync(join(dir, 'other-ca.crt')),
    raw: () => lines(rawFile),
    parsed: () => lines(parsedFile).map((l) => JSON.parse(l) as ParsedSyslog),
    async waitFor(n) {
      const until = Date.now() + 15_000;
      // rsyslog writes its files on its own schedule: watch the file, bounded.
      for (;;) {
        const got = lines(rawFile);
        if (got.length >= n && lines(parsedFile).length >= n) return got;
        if (Date.now() > until) throw new Error(`rsyslog wrote ${got.length} of ${n} messages within 15 s: ${proc.output()}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    start: () => proc.start(),
    stop: () => proc.stop(),
    async dispose() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
