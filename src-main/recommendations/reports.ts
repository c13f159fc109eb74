/**
 * Reports to the supplier cloud: every decision, apply result, measured outcome and refusal,
 * sealed to the cloud and signed by the plant (the protocol's sealRecoReport), queued in the
 * durable, sequence-numbered uplink outbox and published on `pc/v1/<plant>/up/reco`. They name
 * roles, never people: a report carries the role of whoever decided, and its texts are the
 * console's own words (limits, values, reasons), never a user name.
 */
import type { Logger } from '../core/log';
import type { Clock } from '../core/types';
import { RECO_REPORT_LIMITS, type RecoReportBody } from '../protocol/recommendation-report';
import type { ReportKeys } from '../uplink/service';
import type { RecoApplyStep, RecoOutcome } from '../../src-preload/contract';
import type { RecoDecision, RecoRecord, RecoReport, RecoReporter } from './types';

/** A report before it has its place in the outbox. */
export type UnnumberedReport = Omit<RecoReportBody, 'seq'>;

/** Seals one report; `seq` is the outbox sequence number it travels with (and names inside). */
export type SealReport = (body: UnnumberedReport, keys: ReportKeys, seq: number) => Uint8Array;

/** What the uplink offers for queuing reports (UplinkService.queueReports). */
export interface ReportQueue {
  queueReports(
    reports: readonly { machine: string; at: number; seal(keys: ReportKeys, seq: number): Uint8Array }[],
    within?: () => void,
  ): { seqs: number[]; refused: number };
}

const cut = (t: string): string => (t.length > RECO_REPORT_LIMITS.text ? `${t.slice(0, RECO_REPORT_LIMITS.text - 1)}…` : t);

/** The report with its texts cut to what the format carries (a long reason must not cost the report). */
function bounded(b: UnnumberedReport): UnnumberedReport {
  return {
    ...b,
    ...(b.decision ? { decision: { ...b.decision, reason: b.decision.reason === null ? null : cut(b.decision.reason) } } : {}),
    ...(b.result ? { result: { ...b.result, summary: cut(b.result.summary) } } : {}),
    ...(b.refusal ? { refusal: { ...b.refusal, message: cut(b.refusal.message) } } : {}),
  };
}

/** Reports through the uplink outbox, sealed by `seal`. */
export function uplinkReporter(o: { plant: string; queue: ReportQueue; seal: SealReport; clock: Clock; log: Logger }): RecoReporter {
  return {
    send(reports, within) {
      const at = o.clock.now();
      const bodies = reports.map((r): UnnumberedReport => bounded({ v: 1, plant: o.plant, at, ...r }));
      const done = o.queue.queueReports(
        bodies.map((body) => ({ machine: body.machine, at, seal: (keys, seq) => o.seal(body, keys, seq) })),
        within,
      );
      if (done.refused > 0) {
        o.log.log('error', 'Recommendation reports not recorded: the uplink outbox is full (a gap notice tells the cloud)', {
          refused: done.refused,
          kinds: bodies.map((b) => b.kind),
        });
      }
    },
  };
}

/** A reporter that keeps reports in memory (tests, and a console without an uplink). */
export function memoryReporter(): RecoReporter & { sent: RecoReport[]; failNext: Error | null } {
  const r = {
    sent: [] as RecoReport[],
    failNext: null as Error | null,
    send(reports: readonly RecoReport[], within?: () => void) {
      if (r.failNext) {
        const e = r.failNext;
        r.failNext = null;
        throw e;
      }
      within?.();
      r.sent.push(...reports.map((x) => structuredClone(x)));
    },
  };
  return r;
}

type Rec = Pick<RecoRecord, 'id' | 'body'>;

/** A decision on a recommendation, by role. */
export function decisionReport(rec: Rec, d: Pick<RecoDecision, 'action' | 'role' | 'reason'>): RecoReport {
  return {
    machine: rec.body.machine,
    recommendation: rec.id,
    kind: 'decision',
    decision: { action: d.action, role: d.role, reason: d.reason },
  };
}

/** The result of an apply or a revert: what each step did. */
export function resultReport(rec: Rec, r: { ok: boolean; summary: string; steps: readonly RecoApplyStep[] }): RecoReport {
  const steps = r.steps.map((s) => ({ point: s.pointId, action: s.action, outcome: s.outcome, code: s.code }));
  return { machine: rec.body.machine, recommendation: rec.id, kind: 'result', result: { ok: r.ok, summary: r.summary, steps } };
}

/** The measured outcome. */
export function outcomeReport(rec: Rec, o: RecoOutcome): RecoReport {
  const e = o.expected;
  return {
    machine: rec.body.machine,
    recommendation: rec.id,
    kind: 'outcome',
    outcome: {
      state: o.state,
      expected: e ? { kpi: e.kpi, before: e.before, after: e.after, relative: e.relative } : null,
      expectMet: o.expectMet,
      guards: o.guards.map((g) => ({ kpi: g.kpi, before: g.before, after: g.after, breached: g.breached })),
      revertProposed: o.revertProposed,
      autoReverted: o.autoReverted,
    },
  };
}
