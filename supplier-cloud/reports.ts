/**
 * `supplier-cloud reports`: the recommendations the cloud sent and what the plants reported on
 * them (decision, apply result, measured outcome, refusal), from the receiver's store.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineCommand, parseCommand } from '../src-main/core/command-line';
import { ConsoleError } from '../src-main/core/errors';
import { loadDatabaseSettings } from './config';
import { reportSummary } from './reco-inbox';
import type { SentRecommendation, StoredReport } from './reco-store';
import { demoCloudDir, type RecommendIo } from './recommend';
import { openCloudStore, type CloudStore } from './store';

/** `supplier-cloud reports`. */
export const REPORTS_COMMAND = defineCommand({
  name: 'supplier-cloud reports',
  summary: "the recommendations sent (by recommend or the rule) and the plants' reports on them",
  usage: '(--config FILE | --db FILE | --demo-data-dir DIR) [--plant P] [--json]',
  options: {
    config: { type: 'string', arg: 'FILE', help: 'the receiver configuration (its database)' },
    db: { type: 'string', arg: 'FILE', help: "the receiver's database file" },
    'demo-data-dir': { type: 'string', arg: 'DIR', help: "the SIMULATED demo plant's --data-dir" },
    plant: { type: 'string', arg: 'P', help: "only this plant's (id or pseudonym)" },
    json: { type: 'boolean', help: 'JSON instead of text' },
  },
  examples: ['supplier-cloud reports --demo-data-dir .data', 'supplier-cloud reports --config cloud.json --plant acme-lyon-7 --json'],
});

/** One recommendation with its reports (also the JSON form). */
export interface RecoHistory {
  plant: string;
  plantId: string;
  recommendation: string;
  machine: string;
  machineId: string | null;
  sent: SentRecommendation | null;
  reports: StoredReport[];
}

/** Every recommendation the store knows (sent, or only reported on), oldest first. */
export function recoHistory(store: CloudStore, plantFilter?: string): RecoHistory[] {
  const plants = store.status(0).plants;
  const idOf = (pseudonym: string) => plants.find((p) => p.plant === pseudonym)?.plantId ?? pseudonym;
  const plant =
    plantFilter === undefined
      ? undefined
      : (plants.find((p) => p.plantId === plantFilter || p.plant === plantFilter)?.plant ?? plantFilter);
  const out = new Map<string, RecoHistory>();
  const entry = (p: string, id: string, machine: string): RecoHistory => {
    const key = `${p}\0${id}`;
    const e = out.get(key) ?? {
      plant: p,
      plantId: idOf(p),
      recommendation: id,
      machine,
      machineId: machine ? store.machineId(p, machine) : null,
      sent: null,
      reports: [],
    };
    out.set(key, e);
    return e;
  };
  for (const s of store.reco.sent(plant ? { plant } : {})) entry(s.plant, s.id, s.machine).sent = s;
  for (const r of store.reco.reports(plant ? { plant } : {})) entry(r.plant, r.recommendation, r.machine).reports.push(r);
  return [...out.values()];
}

/** The history for people. */
export function formatRecoHistory(list: RecoHistory[]): string {
  if (!list.length) return 'No recommendation sent or reported yet.\n';
  const lines: string[] = [];
  for (const h of list) {
    const s = h.sent;
    lines.push(
      `${h.recommendation}  plant ${h.plantId}  machine ${h.machineId ?? (h.machine || '(unknown)')}` +
        (s
          ? `  sent ${new Date(s.sentAt).toISOString()} (${s.origin}), valid until ${new Date(s.validUntil).toISOString()}`
          : '  (not sent by this cloud)'),
    );
    if (s) lines.push(`    ${s.body.changes.map((c) => `${c.point} ${c.expected} → ${c.proposed}`).join(', ')}`);
    for (const r of h.reports) lines.push(`    ${new Date(r.at).toISOString()}  ${r.kind.padEnd(8)}  ${reportSummary(r.body)}`);
    if (s && !h.reports.length) lines.push('    no report yet');
  }
  return lines.join('\n') + '\n';
}

/** The receiver's store named by exactly one of --config, --db and --demo-data-dir (reports, audit-heads). */
export function openStoreOf(
  values: { config?: string | undefined; db?: string | undefined; 'demo-data-dir'?: string | undefined },
  io: { env?: Record<string, string | undefined> },
  receiver: string,
): CloudStore {
  const given = [values.config, values.db, values['demo-data-dir']].filter((v) => v !== undefined).length;
  if (given !== 1) throw new ConsoleError('BAD_REQUEST', 'give one of --config FILE, --db FILE or --demo-data-dir DIR');
  const settings: { database: string; databaseKey?: string } = values.config
    ? loadDatabaseSettings(values.config, io.env ?? process.env)
    : values.db
      ? { database: resolve(values.db) }
      : { database: resolve(demoCloudDir(values['demo-data-dir']!), 'cloud.db') };
  if (!existsSync(settings.database))
    throw new ConsoleError('CONFIG_UNREADABLE', `No receiver database at ${settings.database} (a receiver creates it when it starts)`);
  return openCloudStore(settings.database, { receiver, ...(settings.databaseKey ? { key: settings.databaseKey } : {}) });
}

/** Runs `reports …`. */
export function runReportsCommand(argv: string[], io: RecommendIo): number {
  const { values } = parseCommand(REPORTS_COMMAND, argv);
  const store = openStoreOf(values, io, 'reports');
  try {
    const list = recoHistory(store, values.plant);
    io.out(values.json ? JSON.stringify(list, null, 2) + '\n' : formatRecoHistory(list));
    return 0;
  } finally {
    store.close();
  }
}
