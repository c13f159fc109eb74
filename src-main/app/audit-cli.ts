/**
 * `plant-console audit verify|export`: checks the audit log's chain and signed heads (and with
 * `--witness FILE` against the heads the supplier cloud witnessed), or writes it out as JSON
 * lines or CSV. Both only read: neither appends nor signs, so running them on a tampered store
 * cannot vouch for what was changed.
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { AUDIT_KINDS, verifyAudit, writeAuditExport, type AuditKind, type AuditVerifyResult } from '../audit/log';
import { isAuditKind } from '../audit/record';
import { checkWitness, parseWitness, type WitnessResult } from '../audit/witness-check';
import { defineCommand, defineGroup, parseCommand, selectCommand } from '../core/command-line';
import { ConsoleError } from '../core/errors';
import { DATA_DIR_OPTION, openStoreForCli, type StoreCliDeps } from './user-cli';
import { signingPublicKeys } from '../uplink/plant-keys';

type Out = { out: (s: string) => void; err: (s: string) => void };

/** The verdict in one line for people. */
export function formatVerifyResult(r: AuditVerifyResult): string {
  if (!r.ok && r.problem)
    return `audit log NOT intact: record ${r.problem.seq}: ${r.problem.message} (${r.problem.reason}; ${r.records} records)`;
  if (r.records === 0) return 'audit log intact: 0 records';
  const head = r.signedHead;
  const signed = head
    ? `head signed at ${new Date(head.signedAt).toISOString()} (record ${head.seq}, key ${head.keyId})`
    : 'no signed head';
  const tail = r.unsigned > 0 ? `; ${r.unsigned} newer record${r.unsigned === 1 ? '' : 's'} not yet signed` : '';
  return `audit log intact: ${r.records} records, ${signed}${tail}`;
}

/** The comparison with the cloud's witness in one line. */
export function formatWitnessResult(w: WitnessResult, file: string): string {
  if (!w.ok && w.problem)
    return `witness NOT matched: record ${w.problem.seq}: ${w.problem.message} (${w.problem.reason}; ${w.heads} witnessed heads in ${file})`;
  if (!w.newest) return `witness: ${file} holds no head yet: nothing to compare`;
  const tail = w.unwitnessed > 0 ? `; ${w.unwitnessed} newer record${w.unwitnessed === 1 ? '' : 's'} not yet witnessed` : '';
  return `witness matched: ${w.heads} heads witnessed by the supplier cloud agree with the log, the newest covers record ${w.newest.seq} (signed at ${new Date(w.newest.signedAt).toISOString()})${tail}`;
}

function readWitnessFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConsoleError('NOT_FOUND', `Cannot read the witness file ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** A public key given as hex (64 digits) or base64. */
function parsePublicKey(text: string): Buffer {
  const key = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  if (key.length !== 32)
    throw new ConsoleError('BAD_REQUEST', "--public-key must be the plant's Ed25519 public key: 64 hex digits or base64 of 32 bytes");
  return key;
}

function parseTime(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(ms)) throw new ConsoleError('BAD_REQUEST', `${flag} must be an ISO date/time or ms since epoch, got "${text}"`);
  return ms;
}

function parseKinds(text: string | undefined): AuditKind[] | undefined {
  if (text === undefined) return undefined;
  const kinds = text.split(',').map((k) => k.trim());
  const bad = kinds.find((k) => !isAuditKind(k));
  if (bad !== undefined) throw new ConsoleError('BAD_REQUEST', `unknown audit kind "${bad}" (known: ${AUDIT_KINDS.join(', ')})`);
  return kinds as AuditKind[];
}

/** `plant-console audit verify`. */
export const AUDIT_VERIFY_COMMAND = defineCommand({
  name: 'plant-console audit verify',
  summary: "checks the audit log's hash chain and signed heads; exit code 1 names the first bad record",
  details:
    'Only reads: it neither appends nor signs. The store is unlocked with the passphrase from PLANT_CONSOLE_PASSPHRASE_FILE, the systemd credential plant-console-passphrase or PLANT_CONSOLE_PASSPHRASE, or asked for on a terminal.',
  options: {
    'data-dir': DATA_DIR_OPTION,
    'public-key': {
      type: 'string',
      arg: 'KEY',
      help: "check the heads against this Ed25519 public key of the plant (hex or base64, e.g. from the supplier's records) instead of the keys in the store",
    },
    witness: {
      type: 'string',
      arg: 'FILE',
      help: 'also compare the log with the heads the supplier cloud witnessed (from "supplier-cloud audit-heads --plant P"): a log cut back to an older head, or rewritten and signed again with the plant\'s key, fails',
    },
    json: { type: 'boolean', help: 'the verdict as JSON' },
  },
  examples: [
    'plant-console audit verify --data-dir /var/lib/plant-console',
    'plant-console audit verify --data-dir /var/lib/plant-console --witness heads.jsonl',
  ],
});

/** `plant-console audit export`. */
export const AUDIT_EXPORT_COMMAND = defineCommand({
  name: 'plant-console audit export',
  summary: 'writes the audit log out as JSON lines or CSV, optionally filtered',
  details: 'Only reads. With --out the file is readable by its owner only (it holds who did what).',
  options: {
    'data-dir': DATA_DIR_OPTION,
    format: { type: 'string', arg: 'FORMAT', default: 'jsonl', help: 'jsonl or csv' },
    out: { type: 'string', arg: 'FILE', help: 'write to FILE (mode 0600) instead of standard output' },
    from: { type: 'string', arg: 'TIME', help: 'records at or after TIME (ISO date/time or ms since epoch)' },
    to: { type: 'string', arg: 'TIME', help: 'records before TIME' },
    user: { type: 'string', arg: 'NAME', help: "only this account's records" },
    kind: { type: 'string', arg: 'K,K', help: `only these kinds, comma-separated, of: ${AUDIT_KINDS.join(', ')}` },
    machine: { type: 'string', arg: 'ID', help: "only this machine's records" },
  },
  examples: ['plant-console audit export --format csv --from 2026-01-01 --kind write,revert --out audit.csv'],
});

/** `plant-console audit …`. */
export const AUDIT_COMMANDS = defineGroup({
  name: 'plant-console audit',
  summary: 'the hash-chained, signed audit log: verify, export',
  commands: [AUDIT_VERIFY_COMMAND, AUDIT_EXPORT_COMMAND],
});

/** `audit <subcommand>`; resolves with the exit code (1: the log is not intact), throws ConsoleErrors for the CLI to print. */
export async function runAuditCommand(argv: string[], io: Out, deps: StoreCliDeps = {}): Promise<number> {
  const { command, rest } = selectCommand(AUDIT_COMMANDS, argv);
  if (command === AUDIT_VERIFY_COMMAND) {
    const { values } = parseCommand(AUDIT_VERIFY_COMMAND, rest);
    const externalKey = values['public-key'] === undefined ? null : parsePublicKey(values['public-key']);
    // Read before the store is opened: a bad file is refused without asking for the passphrase.
    const witnessFile = values.witness;
    const witnessed = witnessFile === undefined ? null : parseWitness(readWitnessFile(witnessFile), witnessFile);
    const store = await openStoreForCli(values['data-dir'], deps, io);
    try {
      // Heads signed before a key rotation carry the retired key: every key the plant has had counts.
      const keys = externalKey ? [externalKey] : signingPublicKeys(store.db).map((k) => k.publicKey);
      const result = verifyAudit(store.db, keys);
      const witness = witnessed === null ? null : checkWitness(store.db, witnessed, keys);
      if (values.json) io.out(JSON.stringify(witness ? { ...result, witness } : result, null, 2) + '\n');
      else io.out(formatVerifyResult(result) + '\n' + (witness ? formatWitnessResult(witness, witnessFile ?? '') + '\n' : ''));
      return result.ok && (witness?.ok ?? true) ? 0 : 1;
    } finally {
      store.close();
    }
  }

  const { values } = parseCommand(AUDIT_EXPORT_COMMAND, rest);
  const format = values.format;
  if (format !== 'jsonl' && format !== 'csv') throw new ConsoleError('BAD_REQUEST', `--format must be jsonl or csv, got "${format}"`);
  const filters = {
    format,
    from: parseTime('--from', values.from),
    to: parseTime('--to', values.to),
    user: values.user,
    kind: parseKinds(values.kind),
    machineId: values.machine,
  } as const;
  const store = await openStoreForCli(values['data-dir'], deps, io);
  try {
    if (values.out === undefined) {
      writeAuditExport(store.db, filters, io.out);
      return 0;
    }
    // The export holds who did what: readable by its owner only, like the store itself.
    const fd = openSync(values.out, 'w', 0o600);
    let n: number;
    try {
      n = writeAuditExport(store.db, filters, (line) => void writeSync(fd, line));
    } finally {
      closeSync(fd);
    }
    io.err(`Wrote ${n} audit records to ${values.out}\n`);
    return 0;
  } finally {
    store.close();
  }
}
