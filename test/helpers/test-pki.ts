/**
 * Certificates for test servers, made by openssl in a directory: an EC P-256 CA (`ca.crt`),
 * a second CA that signed nothing (`other-ca.crt`, for refusal tests) and a server certificate
 * for localhost and 127.0.0.1 signed by the first (`server.crt`, `server.key`).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

export const OPENSSL = '/usr/bin/openssl';

function openssl(args: string[], cwd: string): void {
  execFileSync(OPENSSL, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): void {
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`], dir);
  openssl(['req', '-x509', '-new', '-key', `${name}.key`, '-sha256', '-days', '2', '-subj', `/CN=${name}`, '-out', `${name}.crt`], dir);
}

/** Writes ca.crt/.key, other-ca.crt/.key and server.crt/.key (SAN localhost, 127.0.0.1) into `dir`. */
export function makeTestPki(dir: string): void {
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'server.key'], dir);
  openssl(['req', '-new', '-key', 'server.key', '-subj', '/CN=localhost', '-out', 'server.csr'], dir);
  writeFileSync(`${dir}/san.ext`, 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  const sign = ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-sha256'];
  openssl([...sign, '-extfile', 'san.ext', '-out', 'server.crt'], dir);
}
