/**
 * `supplier-cloud audit-heads --plant P`: the signed audit heads the cloud witnessed for one
 * plant, as JSON lines (one head per line, oldest record first), the file the plant's
 * `plant-console audit verify --witness FILE` checks its audit log against. Heads that arrived
 * in conflict with earlier ones (the plant's log cut back or rewritten) are exported too, with
 * the conflict named, and said on standard error.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { defineCommand, parseCommand } from '../src-main/core/command-line';
import { ConsoleError } from '../src-main/core/errors';
import type { RecommendIo } from './recommend';
import { openStoreOf } from './reports';

/** `supplier-cloud audit-heads`. */
export const AUDIT_HEADS_COMMAND = defineCommand({
  name: 'supplier-cloud audit-heads',
  summary: "a plant's signed audit heads the cloud witnessed (append-only), as JSON lines",
  details: `The file "plant-console audit verify --witness FILE" checks the plant's audit log against. Heads
in conflict with earlier ones (the plant's log cut back or rewritten) are exported too, with the
conflict named, and said on standard error; the exit code is then 1.`,
  usage: '--plant P (--config FILE | --db FILE | --demo-data-dir DIR) [--out FILE]',
  options: {
    plant: { type: 'string', arg: 'P', required: true, help: "the plant's id or pseudonym" },
    config: { type: 'string', arg: 'FILE', help: 'the receiver configuration (its database)' },
    db: { type: 'string', arg: 'FILE', help: "the receiver's database file" },
    'demo-data-dir': { type: 'string', arg: 'DIR', help: "the SIMULATED demo plant's --data-dir" },
    out: { type: 'string', arg: 'FILE', help: 'write to FILE instead of standard output' },
  },
  examples: ['supplier-cloud audit-heads --plant acme-lyon-7 --config cloud.json --out heads.jsonl'],
});

/** Runs `audit-heads …`; 1 when a witnessed head is in conflict (the plant's log was cut back or rewritten). */
export function runAuditHeadsCommand(argv: string[], io: RecommendIo): number {
  const { values } = parseCommand(AUDIT_HEADS_COMMAND, argv);
  if (values.plant === undefined || values.plant === '')
    throw new ConsoleError('BAD_REQUEST', '--plant P is required (the plant id or pseudonym)');
  const store = openStoreOf(values, io, 'audit-heads');
  try {
    const pseudonym = store.plantPseudonym(values.plant);
    if (pseudonym === null) throw new ConsoleError('NOT_FOUND', `No plant "${values.plant}" is registered with this receiver`);
    const plantId = store.status(0).plants.find((p) => p.plant === pseudonym)?.plantId ?? pseudonym;
    const heads = store.audit.heads(pseudonym);
    const lines = heads.map((h) =>
      JSON.stringify({
        v: 1,
        type: 'audit-head',
        plant: pseudonym,
        plantId,
        seq: h.seq,
        hash: h.hash,
        signedAt: h.signedAt,
        kid: h.kid,
        sig: h.sig,
        uplinkSeq: h.uplinkSeq,
        receivedAt: h.receivedAt,
        ...(h.conflict ? { conflict: h.conflict } : {}),
      }),
    );
    const text = lines.map((l) => `${l}\n`).join('');
    if (values.out === undefined) io.out(text);
    else {
      const fd = openSync(values.out, 'w', 0o644);
      try {
        writeSync(fd, text);
      } finally {
        closeSync(fd);
      }
    }
    const newest = heads.at(-1);
    io.err(
      newest
        ? `${heads.length} witnessed heads of plant ${plantId}; the newest covers record ${newest.seq} (signed at ${new Date(newest.signedAt).toISOString()})${values.out ? `; written to ${values.out}` : ''}\n`
        : `No audit head witnessed for plant ${plantId} yet\n`,
    );
    const conflicts = heads.filter((h) => h.conflict !== null);
    for (const h of conflicts) io.err(`CONFLICT record ${h.seq}: ${h.conflict}\n`);
    return conflicts.length > 0 ? 1 : 0;
  } finally {
    store.close();
  }
}
