/** `supplier-cloud status`: per plant, what the shared store holds (sequences, gaps, refusals, state). */
import { REFUSAL_TEXT, type RefusalReason } from '../src-main/protocol';
import type { CloudStore, Gap, PlantStatus } from './store';

/** The status report (also the JSON form of `status --json`). */
export interface StatusReport {
  database: string;
  plants: PlantStatus[];
  unattributedRefusals: Record<string, number>;
}

/** Reads the report from an open store. */
export function statusReport(store: CloudStore, database: string, maxGaps = 20): StatusReport {
  return { database, ...store.status(maxGaps) };
}

const span = (from: number, to: number): string => (from === to ? String(from) : `${from}..${to}`);

/** "4..7 (4..5 declared lost by the plant; 6..7 unexplained)": what a notice covers and what it leaves open. */
function gapText(g: Gap): string {
  if (g.declaredLost) return `${span(g.from, g.to)} (declared lost by the plant)`;
  if (!g.lost.length) return span(g.from, g.to);
  const open: string[] = [];
  let next = g.from;
  for (const [a, b] of g.lost) {
    if (a > next) open.push(span(next, a - 1));
    next = b + 1;
  }
  if (next <= g.to) open.push(span(next, g.to));
  return `${span(g.from, g.to)} (${g.lost.map(([a, b]) => span(a, b)).join(', ')} declared lost by the plant; ${open.join(', ')} unexplained)`;
}

function refusalText(counts: Record<string, number>): string {
  const parts = Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([reason, n]) => `${n} ${reason in REFUSAL_TEXT ? REFUSAL_TEXT[reason as RefusalReason] : reason}`);
  return parts.length ? parts.join(', ') : 'none';
}

/** The report for people. */
export function formatStatus(r: StatusReport): string {
  const lines = [`Receiver store ${r.database}`];
  if (!r.plants.length) lines.push('', 'No plant registered yet (a receiver registers the plants of its configuration when it starts).');
  for (const p of r.plants) {
    lines.push('', `plant ${p.plantId}  (pseudonym ${p.plant})`);
    lines.push(
      p.lastSeq === null
        ? '  batches   none yet'
        : `  batches   ${p.accepted} stored, sequences ${p.firstSeq}..${p.lastSeq}, last received ${new Date(p.lastReceivedAt ?? 0).toISOString()}`,
    );
    lines.push(
      p.missing
        ? `  gaps      ${p.missing} missing${p.declaredLost > 0 && p.declaredLost < p.missing ? ` (${p.declaredLost} declared lost by the plant, ${p.missing - p.declaredLost} unexplained)` : ''}: ${p.gaps.map(gapText).join(', ')}${p.gaps.length < countGaps(p) ? ', …' : ''}`
        : '  gaps      none',
    );
    lines.push(`  refused   ${refusalText(p.refusals)}`);
    if (p.gapNotices) {
      const t = p.reportedTotals;
      lines.push(
        `  notices   ${p.gapNotices} gap notice(s)${t ? `; the plant reports ${t.dropped} batch(es) dropped and ${t.notRecorded} never recorded in all` : ''}`,
      );
    }
    lines.push(`  state     ${p.state ? `${p.state.state} (session ${new Date(p.state.session).toISOString()})` : 'unknown'}`);
    lines.push(`  signing   ${p.signingKid ? `key ${p.signingKid} (announced by the plant)` : 'key(s) from the registry'}`);
  }
  if (Object.keys(r.unattributedRefusals).length)
    lines.push('', `Refused from no registered plant: ${refusalText(r.unattributedRefusals)}`);
  return lines.join('\n') + '\n';
}

function countGaps(p: PlantStatus): number {
  // `gaps` is capped; when the capped list already accounts for every missing sequence it is whole.
  const listed = p.gaps.reduce((n, g) => n + (g.to - g.from + 1), 0);
  return listed === p.missing ? p.gaps.length : p.gaps.length + 1;
}
