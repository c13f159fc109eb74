/**
 * Web mode's TLS certificate. A plant either configures one (`--tls-cert/--tls-key`, e.g. from
 * its own CA) or gets a self-signed EC P-256 certificate generated at first start into
 * `<dataDir>/web-tls/`. node:crypto cannot issue X.509 certificates, so the system's openssl
 * makes it. Nobody can verify a self-signed certificate by name: its SHA-256 fingerprint is
 * logged and shown on the local console, so the person on site can read it out to whoever
 * connects from elsewhere.
 */
import { execFile } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { isIP } from 'node:net';
import { ConsoleError } from '../core/errors';
import { silentLogger, type Logger } from '../core/log';

/** A certificate and key ready for node:https, with what people compare. */
export interface TlsMaterial {
  cert: string;
  key: string;
  /** SHA-256 of the certificate's DER, as colon-separated hex pairs (what browsers show). */
  fingerprint: string;
  /** Host names and addresses the certificate is valid for. */
  names: string[];
  source: 'generated' | 'configured';
  certPath: string;
}

/** Options of `ensureCertificate`. */
export interface CertificateOptions {
  dataDir: string;
  /** Names and addresses the certificate must cover (loopback names are always added). */
  hosts: readonly string[];
  log?: Logger;
  /** Default /usr/bin/openssl, else `openssl` on the PATH. */
  openssl?: string;
  /** Validity of a generated certificate (default 825 days, the longest browsers accept). */
  days?: number;
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'];
const WILDCARDS = new Set(['0.0.0.0', '::', '']);

/** The SHA-256 fingerprint of a PEM certificate: "AB:CD:…". */
export function certificateFingerprint(certPem: string | Buffer): string {
  return new X509Certificate(certPem).fingerprint256;
}

/** The DNS names and IP addresses in a certificate's subjectAltName. */
export function certificateNames(certPem: string | Buffer): string[] {
  const san = new X509Certificate(certPem).subjectAltName ?? '';
  return san
    .split(/,\s*/)
    .map((part) => part.replace(/^(DNS:|IP Address:)/, '').trim())
    .filter((n) => n !== '')
    .map((n) => (isIP(n) === 6 ? compressIpv6(n) : n.toLowerCase()));
}

/** "0:0:0:0:0:0:0:1" → "::1", so names compare with what people type. */
function compressIpv6(addr: string): string {
  try {
    return new URL(`http://[${addr}]/`).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return addr;
  }
}

/** The names a certificate for a server bound to `host` should carry: the host, or every address of this machine for a wildcard. */
export function namesForBind(host: string): string[] {
  const names = new Set<string>(LOOPBACK_NAMES);
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (WILDCARDS.has(h)) {
    const own = hostname().toLowerCase();
    if (/^[a-z0-9.-]+$/.test(own)) names.add(own);
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) if (!a.internal) names.add(a.family === 'IPv6' ? compressIpv6(a.address.replace(/%.*$/, '')) : a.address);
    }
  } else names.add(h);
  return [...names];
}

/** Reads a configured certificate and key; BAD_REQUEST when they are unreadable or do not belong together. */
export function loadCertificate(certPath: string, keyPath: string): TlsMaterial {
  let cert: string;
  let key: string;
  try {
    cert = readFileSync(certPath, 'utf8');
    key = readFileSync(keyPath, 'utf8');
  } catch (err) {
    throw new ConsoleError('BAD_REQUEST', `Cannot read the TLS certificate or key: ${(err as Error).message}`);
  }
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new ConsoleError('BAD_REQUEST', `${certPath} is not a PEM certificate: ${(err as Error).message}`);
  }
  if (!x509.checkPrivateKey(privateKeyOf(key, keyPath)))
    throw new ConsoleError('BAD_REQUEST', `The key in ${keyPath} does not belong to the certificate ${certPath}`);
  return { cert, key, fingerprint: x509.fingerprint256, names: certificateNames(cert), source: 'configured', certPath };
}

function privateKeyOf(pem: string, path: string) {
  try {
    return createPrivateKey(pem);
  } catch (err) {
    throw new ConsoleError('BAD_REQUEST', `${path} is not a readable private key: ${(err as Error).message}`);
  }
}

/** True when the certificate at `certPath` is valid for a while yet and covers every name. */
function usable(certPem: string, names: readonly string[], now: number): boolean {
  try {
    const x = new X509Certificate(certPem);
    // Renewed a week before the end, so a running plant never serves an expired certificate.
    if (Date.parse(x.validTo) - now < 7 * 86_400_000) return false;
    const have = new Set(certificateNames(certPem));
    return names.every((n) => have.has(n.toLowerCase()));
  } catch {
    return false;
  }
}

function run(file: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 30_000 }, (err, _stdout, stderr) => {
      if (err) reject(new ConsoleError('UNAVAILABLE', `openssl failed: ${stderr.trim() || err.message}`));
      else resolve();
    });
  });
}

/** The generated certificate of `dataDir`, made (or remade for new names) with openssl when needed. */
export async function ensureCertificate(opts: CertificateOptions): Promise<TlsMaterial> {
  const log = opts.log ?? silentLogger;
  const dir = join(opts.dataDir, 'web-tls');
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  const names = [
    ...new Set([...LOOPBACK_NAMES, ...opts.hosts.map((h) => h.replace(/^\[|\]$/g, '').toLowerCase()).filter((h) => !WILDCARDS.has(h))]),
  ];
  if (existsSync(certPath) && existsSync(keyPath)) {
    const cert = readFileSync(certPath, 'utf8');
    if (usable(cert, names, Date.now())) {
      const fingerprint = certificateFingerprint(cert);
      return { cert, key: readFileSync(keyPath, 'utf8'), fingerprint, names: certificateNames(cert), source: 'generated', certPath };
    }
    log.log('info', 'The web certificate expires soon or lacks a name this server answers to: making a new one');
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const openssl = opts.openssl ?? (existsSync('/usr/bin/openssl') ? '/usr/bin/openssl' : 'openssl');
  const san = names.map((n) => (isIP(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
  const tmpCert = `${certPath}.new`;
  const tmpKey = `${keyPath}.new`;
  try {
    await run(openssl, [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      tmpKey,
      '-out',
      tmpCert,
      '-days',
      String(opts.days ?? 825),
      '-subj',
      '/O=Plant Console/CN=Plant Console web mode',
      '-addext',
      `subjectAltName=${san}`,
      '-addext',
      'basicConstraints=critical,CA:FALSE',
      '-addext',
      'keyUsage=critical,digitalSignature',
      '-addext',
      'extendedKeyUsage=serverAuth',
    ]);
    chmodSync(tmpKey, 0o600);
    // Key first: a crash in between leaves a pair that fails the check above and is remade.
    renameSync(tmpKey, keyPath);
    renameSync(tmpCert, certPath);
  } catch (err) {
    rmSync(tmpKey, { force: true });
    rmSync(tmpCert, { force: true });
    throw err;
  }
  const cert = readFileSync(certPath, 'utf8');
  const material: TlsMaterial = {
    cert,
    key: readFileSync(keyPath, 'utf8'),
    fingerprint: certificateFingerprint(cert),
    names: certificateNames(cert),
    source: 'generated',
    certPath,
  };
  log.log('info', 'Generated a self-signed certificate for web mode', { names: material.names, fingerprint: material.fingerprint });
  return material;
}
