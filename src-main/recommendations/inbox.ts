/**
 * The recommendation inbox (the reco.* commands): the view, the decisions (apply, reject, defer,
 * revert), and the clock work around them: a recommendation nobody decided expires at its
 * valid-until, a deferral ends at its date, an applied one is measured when its window closes
 * (and, on a guard breach, reverted when the supplier asked for it and the plant allows it).
 *
 * Every change of state is kept in the store in the same transaction as its report to the cloud
 * (reports.ts), then audited and announced (onUpdate). One timer, set to the next thing due,
 * drives the clock work; `start` also runs after a restart: an apply a crash cut short is
 * undone from the write log and closed as `apply-failed` ("interrupted"), and outcomes that came
 * due meanwhile are measured.
 */
import type { Caller, RecoInbox, RecoOutcome, Recommendation } from '../../src-preload/contract';
import type { RecoApi } from '../api/service';
import { auditActor, type AuditEntry, type AuditSink } from '../audit/record';
import type { ResolvedDevice } from '../config/schema';
import { ConsoleError } from '../core/errors';
import type { Logger } from '../core/log';
import { applyUnit, checkExpected, recoverUnit, revertUnit, waitOnline } from './apply';
import { measureFromHistory } from './measure';
import { measuringOutcome } from './outcome';
import { decisionReport, outcomeReport, resultReport } from './reports';
import type { RecoPatch, RecoStore } from './store';
import {
  SYSTEM_CALLER,
  type RecoConfirmGate,
  type RecoDecision,
  type RecoHost,
  type RecoRecord,
  type RecoReport,
  type RecoReporter,
} from './types';
import { recommendationView } from './view';

export interface RecoServiceOptions {
  host: RecoHost;
  store: RecoStore;
  reporter: RecoReporter;
  audit?: AuditSink | undefined;
  log: Logger;
  /** The plant lets a guard breach revert automatically (config recommendations.autoRevert). */
  autoRevertAllowed: boolean;
  /** The PIN confirmation before apply and revert (auth/confirm-gate.ts); none: no confirmation. */
  confirm?: RecoConfirmGate | undefined;
  /** Waited after a window closes before it is measured, so its last samples are in (default 2 s). */
  settleMs?: number;
  /** How long the recovery after a crash waits for a machine to come online (default 60 s). */
  recoveryWaitMs?: number;
}

/** The longest single timer (setTimeout takes 32-bit ms); later work is re-planned when it fires. */
const MAX_TIMER_MS = 3_600_000;
const OPEN = new Set(['pending', 'deferred']);

function changesDetail(rec: RecoRecord): { pointId: string; from: number; to: number }[] {
  return rec.body.changes.map((c) => ({ pointId: c.point, from: c.expected, to: c.proposed }));
}

/** The inbox over the store, the plant core's write path and history, and the reporter. */
export class RecoService implements RecoApi {
  private readonly handlers = new Set<() => void>();
  private readonly busy = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private sweeping: Promise<void> | null = null;

  constructor(private readonly o: RecoServiceOptions) {}

  /** Recovers interrupted applies, measures what came due, and starts the timer. */
  async start(): Promise<void> {
    for (const rec of this.o.store.withStatus('applying')) {
      try {
        await this.recover(rec);
      } catch (err) {
        this.o.log.log('error', `Recommendation ${rec.id}: the interrupted apply could not be recovered`, { error: String(err) });
      }
    }
    await this.sweep();
  }

  /** Stops the timer (the store stays open; its owner closes it). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  inbox(_caller: Caller): RecoInbox {
    this.expireDue();
    return {
      items: this.o.store.list().map((r) => recommendationView(r, this.o.host)),
      refused: this.o.store.refused(),
      autoRevertAllowed: this.o.autoRevertAllowed,
    };
  }

  onUpdate(handler: () => void): () => void {
    this.handlers.add(handler);
    return () => void this.handlers.delete(handler);
  }

  /** Announces a change of the inbox (also called by the intake). */
  notify(): void {
    for (const h of [...this.handlers]) {
      try {
        h();
      } catch (err) {
        this.o.log.log('warn', 'A reco.update handler threw', { error: String(err) });
      }
    }
  }

  async apply(caller: Caller, req: { id: string; pin?: string | undefined }): Promise<Recommendation> {
    await this.o.confirm?.(caller, req.pin);
    const rec = this.open(req.id, 'applied');
    const device = this.device(rec);
    checkExpected(rec, device, this.o.host);
    const now = this.o.host.clock.now();
    const decision = this.decision(caller, 'apply', now, null, null);
    this.persist(rec, [decisionReport(rec, decision)], {
      status: 'applying',
      decision,
      progress: { startedAt: now, user: caller.user, steps: [] },
    });
    this.busy.add(rec.id);
    try {
      const result = await applyUnit(this.o.host, caller, rec, device, (steps) =>
        this.o.store.update(rec.id, { progress: { startedAt: now, user: caller.user, steps } }, this.o.host.clock.now()),
      );
      const outcome = result.ok ? measuringOutcome(rec.body.windowS, result.at) : null;
      const report = resultReport(rec, result);
      this.persist(rec, [report], { status: result.ok ? 'applied' : 'apply-failed', apply: result, outcome, progress: null });
      this.o.log.log(result.ok ? 'info' : 'error', `Recommendation ${rec.id} ${result.ok ? 'applied' : 'NOT applied'}: ${result.summary}`, {
        id: rec.id,
        machine: rec.machineId,
        user: caller.user,
      });
      this.audit(caller, rec, 'reco_applied', { ok: result.ok, summary: result.summary, steps: result.steps.map((s) => ({ ...s })) });
    } finally {
      this.busy.delete(rec.id);
    }
    this.schedule();
    return this.view(rec.id);
  }

  reject(caller: Caller, req: { id: string; reason: string }): Recommendation {
    const rec = this.open(req.id, 'rejected');
    const decision = this.decision(caller, 'reject', this.o.host.clock.now(), req.reason, null);
    this.persist(rec, [decisionReport(rec, decision)], { status: 'rejected', decision });
    this.o.log.log('info', `Recommendation ${rec.id} rejected by ${caller.user}`, { id: rec.id, reason: req.reason });
    this.audit(caller, rec, 'reco_rejected', { reason: req.reason });
    this.schedule();
    return this.view(rec.id);
  }

  defer(caller: Caller, req: { id: string; untilMs?: number | undefined; reason?: string | undefined }): Recommendation {
    const rec = this.open(req.id, 'deferred');
    const now = this.o.host.clock.now();
    const until = req.untilMs ?? null;
    if (until !== null && until <= now) throw new ConsoleError('BAD_REQUEST', 'untilMs: a deferral must end in the future');
    if (until !== null && until >= rec.body.validUntil) {
      throw new ConsoleError(
        'BAD_REQUEST',
        `untilMs: the recommendation expires at ${new Date(rec.body.validUntil).toISOString()}, before that`,
      );
    }
    const decision = this.decision(caller, 'defer', now, req.reason ?? null, until);
    this.persist(rec, [decisionReport(rec, decision)], { status: 'deferred', decision });
    this.audit(caller, rec, 'reco_deferred', { reason: req.reason ?? null, until });
    this.schedule();
    return this.view(rec.id);
  }

  async revert(caller: Caller, req: { id: string; pin?: string | undefined }): Promise<Recommendation> {
    await this.o.confirm?.(caller, req.pin);
    const rec = this.need(req.id);
    if (rec.status !== 'applied')
      throw new ConsoleError('BAD_REQUEST', `Recommendation ${rec.id} is ${rec.status}: only an applied one can be reverted`);
    if (this.busy.has(rec.id)) throw new ConsoleError('BAD_REQUEST', `Recommendation ${rec.id} is being reverted or measured right now`);
    await this.revertApplied(caller, rec, null);
    return this.view(rec.id);
  }

  /**
   * Expires what nobody decided in time and ends deferrals, then measures the outcomes that are
   * due (one sweep at a time), then sets the timer to the next thing due.
   */
  sweep(): Promise<void> {
    this.sweeping ??= this.sweepOnce().finally(() => {
      this.sweeping = null;
      this.schedule();
    });
    return this.sweeping;
  }

  private async sweepOnce(): Promise<void> {
    this.expireDue();
    const now = this.o.host.clock.now();
    for (const rec of this.o.store.withStatus('applied')) {
      if (rec.outcome?.state !== 'measuring' || now < rec.outcome.until + this.settleMs() || this.busy.has(rec.id)) continue;
      try {
        await this.measure(rec);
      } catch (err) {
        this.o.log.log('error', `Recommendation ${rec.id}: the outcome could not be measured`, { error: String(err) });
      }
    }
  }

  /** Marks expired recommendations and ends deferrals that are over (synchronous: the view calls it). */
  private expireDue(): void {
    const now = this.o.host.clock.now();
    let changed = false;
    for (const status of ['pending', 'deferred'] as const) {
      for (const rec of this.o.store.withStatus(status)) {
        if (now >= rec.body.validUntil) {
          this.o.store.update(rec.id, { status: 'expired' }, now);
          this.o.log.log('info', `Recommendation ${rec.id} expired undecided`, { id: rec.id, validUntil: rec.body.validUntil });
          changed = true;
        } else if (status === 'deferred' && rec.decision?.deferredUntil != null && now >= rec.decision.deferredUntil) {
          this.o.store.update(rec.id, { status: 'pending' }, now);
          changed = true;
        }
      }
    }
    if (changed) this.notify();
  }

  private async measure(rec: RecoRecord): Promise<void> {
    if (!rec.outcome) return;
    this.busy.add(rec.id);
    try {
      let outcome: RecoOutcome = measureFromHistory(this.o.host.history, this.device(rec), rec.body, rec.outcome.appliedAt);
      this.o.log.log(outcome.revertProposed ? 'warn' : 'info', `Recommendation ${rec.id}: outcome ${outcome.state}`, {
        id: rec.id,
        expected: outcome.expected,
        expectMet: outcome.expectMet,
        breached: outcome.guards.filter((g) => g.breached).map((g) => g.kpi),
      });
      const auto = outcome.revertProposed && rec.body.autoRevert && this.o.autoRevertAllowed;
      if (auto) {
        const reverted = await this.revertApplied(SYSTEM_CALLER, rec, outcome);
        outcome = { ...outcome, autoReverted: reverted };
      }
      this.persist(rec, [outcomeReport(rec, outcome)], { outcome });
      this.audit(null, rec, 'reco_outcome', {
        state: outcome.state,
        kpi: rec.body.expect.kpi,
        before: outcome.expected?.before ?? null,
        after: outcome.expected?.after ?? null,
        expectMet: outcome.expectMet,
        breached: outcome.guards.filter((g) => g.breached).map((g) => g.kpi),
        revertProposed: outcome.revertProposed,
        autoReverted: outcome.autoReverted,
      });
    } finally {
      this.busy.delete(rec.id);
    }
  }

  /** Puts an applied recommendation's values back; true when every revert was written. */
  private async revertApplied(caller: Caller, rec: RecoRecord, outcome: RecoOutcome | null): Promise<boolean> {
    const auto = caller === SYSTEM_CALLER;
    this.busy.add(rec.id);
    try {
      const now = this.o.host.clock.now();
      const reason = auto ? 'a guard KPI was breached: reverted automatically' : null;
      const decision = { ...this.decision(caller, 'revert', now, reason, null), ...(auto ? { role: 'system' } : {}) };
      const r = await revertUnit(this.o.host, caller, rec, this.device(rec));
      const prior = rec.apply ?? { ok: true, summary: '', steps: [], at: now };
      const apply = { ...prior, steps: [...prior.steps, ...r.steps], summary: `${prior.summary}. Reverted: ${r.summary}` };
      // A revert by hand before the window closed cuts the measurement short.
      const cut = !auto && rec.outcome?.state === 'measuring' ? { outcome: { ...rec.outcome, state: 'no-data' as const } } : {};
      const result = resultReport(rec, r);
      this.persist(rec, [decisionReport(rec, decision), result], {
        status: r.ok ? 'reverted' : 'applied',
        decision,
        apply,
        ...(outcome ? {} : cut),
      });
      this.o.log.log(r.ok ? 'info' : 'error', `Recommendation ${rec.id} ${r.ok ? 'reverted' : 'NOT fully reverted'}: ${r.summary}`, {
        id: rec.id,
        user: caller.user,
      });
      this.audit(caller, rec, 'reco_reverted', { ok: r.ok, summary: r.summary, automatic: auto });
      return r.ok;
    } finally {
      this.busy.delete(rec.id);
    }
  }

  /** Closes an apply a crash cut short: undoes what the write log says it wrote. */
  private async recover(rec: RecoRecord): Promise<void> {
    const online = await waitOnline(this.o.host, rec.machineId, this.o.recoveryWaitMs ?? 60_000);
    if (!online) this.o.log.log('warn', `Recommendation ${rec.id}: ${rec.machineId} is still offline; the recovery tries anyway`);
    const result = await recoverUnit(this.o.host, SYSTEM_CALLER, rec, this.device(rec));
    this.persist(rec, [resultReport(rec, result)], {
      status: 'apply-failed',
      apply: result,
      progress: null,
    });
    this.o.log.log('error', `Recommendation ${rec.id}: ${result.summary}`, { id: rec.id, machine: rec.machineId });
    this.audit(null, rec, 'reco_applied', { ok: false, interrupted: true, summary: result.summary });
  }

  /** Sets the one timer to the next thing due. */
  private schedule(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const due: number[] = [];
    for (const r of [...this.o.store.withStatus('pending'), ...this.o.store.withStatus('deferred')]) {
      due.push(r.body.validUntil);
      if (r.status === 'deferred' && r.decision?.deferredUntil != null) due.push(r.decision.deferredUntil);
    }
    for (const r of this.o.store.withStatus('applied')) if (r.outcome?.state === 'measuring') due.push(r.outcome.until + this.settleMs());
    if (due.length === 0) return;
    const wait = Math.min(MAX_TIMER_MS, Math.max(0, Math.min(...due) - this.o.host.clock.now()));
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.sweep();
    }, wait);
    this.timer.unref?.();
  }

  private settleMs(): number {
    return this.o.settleMs ?? 2000;
  }

  /** Stores `patch` with its reports in one transaction (the reports go first; without them the state is still kept). */
  private persist(rec: RecoRecord, reports: RecoReport[], patch: RecoPatch): void {
    const store = this.o.store;
    const write = (): void => store.update(rec.id, patch, this.o.host.clock.now());
    try {
      this.o.reporter.send(reports, write);
    } catch (err) {
      this.o.log.log('error', `Recommendation ${rec.id}: the report to the cloud could not be queued`, { error: String(err) });
      store.tx(write);
    }
    this.notify();
  }

  private need(id: string): RecoRecord {
    const rec = this.o.store.get(id);
    if (!rec) throw new ConsoleError('NOT_FOUND', `No recommendation "${id}" in the inbox (a refused one is never actionable)`);
    return rec;
  }

  /** The record, if it may still be decided; else BAD_REQUEST in words. */
  private open(id: string, to: string): RecoRecord {
    this.expireDue();
    const rec = this.need(id);
    if (this.busy.has(id) || !OPEN.has(rec.status)) {
      throw new ConsoleError('BAD_REQUEST', `Recommendation ${id} is ${rec.status}: only a pending or deferred one can be ${to}`);
    }
    return rec;
  }

  private device(rec: RecoRecord): ResolvedDevice {
    const d = this.o.host.config.devices.find((x) => x.id === rec.machineId);
    if (!d) throw new ConsoleError('NOT_FOUND', `Machine "${rec.machineId}" is no longer configured`);
    return d;
  }

  private view(id: string): Recommendation {
    return recommendationView(this.need(id), this.o.host);
  }

  private decision(caller: Caller, action: RecoDecision['action'], at: number, reason: string | null, until: number | null): RecoDecision {
    return { action, user: caller.user, role: caller.role, at, reason, deferredUntil: until };
  }

  private audit(caller: Caller | null, rec: RecoRecord, kind: AuditEntry['kind'], detail: AuditEntry['detail']): void {
    this.o.audit?.record({
      kind,
      ...(caller && caller !== SYSTEM_CALLER ? auditActor(caller) : {}),
      machineId: rec.machineId,
      detail: { id: rec.id, changes: changesDetail(rec), ...detail },
    });
  }
}
