/**
 * Changes a remote person asks for. Nothing they ask is written until a signed-in
 * maintenance user (or admin) on site confirms it: two people, two places, old → new shown to
 * both. A confirmed change goes through the one bounded write path (core/writes.ts), so every
 * limit, step and interlock applies, and its outcome as read back from the device goes back
 * to both sides.
 *
 * Scope `apply`: the write is made on behalf of the remote person (the write log names them,
 * the audit names both). Scope `propose`: the site adopts the proposal as its own write.
 *
 * With a store (grant-store.ts) requests outlive a restart, so the site and the session's
 * summary still show them; but a request still open then expires (its session was cut off:
 * support-types.ts), and one caught mid-write is marked failed, to be checked in the write log.
 */
import { randomBytes } from 'node:crypto';
import type { Caller, ChangeRequest, MachineSnapshot, PointMeta, RemoteGrant, WriteResult } from '../../src-preload/contract';
import { auditActor, type AuditSink } from '../audit/record';
import { createConfirmGate } from '../auth/confirm-gate';
import type { PinResult } from '../auth/session-types';
import { ConsoleError } from '../core/errors';
import { silentLogger, type Logger } from '../core/log';
import type { Clock } from '../core/types';
import type { RemotePersistence } from './grant-store';
import type { RemoteAccounts, RemoteSupport } from './support';

/** What change requests need of the plant core (PlantCore provides it). */
export interface RemoteHost {
  readonly clock: Clock;
  point(machineId: string, pointId: string): PointMeta | undefined;
  snapshot(machineId: string): MachineSnapshot | undefined;
  readonly writes: { write(caller: Caller, machineId: string, pointId: string, value: number | boolean): Promise<WriteResult> };
}

/** Options of ChangeRequests. */
export interface ChangeRequestsOptions {
  host: RemoteHost;
  support: RemoteSupport;
  accounts: RemoteAccounts;
  verifyPin: (user: string, pin: string) => Promise<PinResult>;
  audit?: AuditSink;
  log?: Logger;
  /** Open requests one session may have (default 20). */
  maxPending?: number;
  /** Keeps requests across restarts; without it they live in memory. */
  store?: RemotePersistence;
}

const KEEP = 200;

/** Pending and decided change requests of remote sessions. */
export class ChangeRequests {
  private readonly requests = new Map<string, ChangeRequest>();
  private readonly log: Logger;
  private readonly offEnd: () => void;

  constructor(private readonly opts: ChangeRequestsOptions) {
    this.log = opts.log ?? silentLogger;
    if (opts.store) this.restore(opts.store);
    // Nobody can answer for a request once its session is over.
    this.offEnd = opts.support.onEnd((grant) => {
      for (const r of this.requests.values()) {
        if (r.grantId !== grant.id || r.state !== 'pending') continue;
        r.state = 'expired';
        r.reason = 'The remote session ended before anyone on site decided';
        r.decidedAt = opts.host.clock.now();
        this.persist(r);
      }
    });
  }

  /** A change asked for by the remote person of `grant`. */
  propose(caller: Caller, grant: RemoteGrant, req: { machineId: string; pointId: string; value: number | boolean }): ChangeRequest {
    const point = this.opts.host.point(req.machineId, req.pointId);
    const snap = this.opts.host.snapshot(req.machineId);
    if (!snap) throw new ConsoleError('NOT_FOUND', `No machine "${req.machineId}" in this plant`);
    if (!point) throw new ConsoleError('NOT_FOUND', `Machine "${req.machineId}" has no point "${req.pointId}"`);
    if (!point.writable) throw new ConsoleError('BAD_REQUEST', `${point.name} is read-only`);
    const open = [...this.requests.values()].filter((r) => r.grantId === grant.id && r.state === 'pending').length;
    if (open >= (this.opts.maxPending ?? 20))
      throw new ConsoleError('BAD_REQUEST', 'Too many requests wait for the site already: wait for a decision');
    const v = snap.values[req.pointId]?.value;
    const r: ChangeRequest = {
      id: randomBytes(8).toString('hex'),
      grantId: grant.id,
      sessionId: grant.sessionId ?? '',
      requestedBy: caller.user,
      kind: grant.scope === 'apply' ? 'change' : 'proposal',
      machineId: req.machineId,
      machineName: snap.name,
      pointId: req.pointId,
      pointName: point.name,
      unit: point.unit,
      decimals: point.decimals,
      from: typeof v === 'number' || typeof v === 'boolean' ? v : null,
      to: req.value,
      requestedAt: this.opts.host.clock.now(),
      state: 'pending',
      decidedBy: null,
      decidedAt: null,
      reason: null,
      result: null,
    };
    this.requests.set(r.id, r);
    this.persist(r);
    this.trim();
    this.opts.audit?.record({
      kind: 'remote_action',
      ...auditActor(caller),
      machineId: r.machineId,
      detail: {
        grantId: grant.id,
        action: 'request',
        requestId: r.id,
        kind: r.kind,
        pointId: r.pointId,
        from: r.from,
        to: r.to,
        unit: r.unit,
      },
    });
    this.opts.support.changed();
    return { ...r };
  }

  /** Confirms a request on site and writes it through the bounded path; the request carries the outcome. */
  async confirm(caller: Caller, req: { requestId: string; pin?: string | undefined }): Promise<ChangeRequest> {
    const r = this.pending(req.requestId);
    if (caller.user === r.requestedBy) throw new ConsoleError('FORBIDDEN', 'The person who asked for a change cannot confirm it');
    // A signed-in account with a PIN confirms with it: the panel may have been left signed in.
    await createConfirmGate({ verifyPin: this.opts.verifyPin }, this.opts.accounts)(caller, req.pin);
    const grant = this.opts.support.get(r.grantId);
    // Checked again after the PIN: the session may have ended, or someone else decided meanwhile.
    this.pending(req.requestId);
    if (!grant || grant.state !== 'live')
      throw new ConsoleError('BAD_REQUEST', 'The remote session has ended: the request can no longer be applied');
    const now = this.opts.host.clock.now();
    r.state = 'applying';
    r.decidedBy = caller.user;
    r.decidedAt = now;
    this.persist(r);
    this.opts.support.changed();
    const writer: Caller =
      r.kind === 'change' ? { user: r.requestedBy, role: 'supplier-support', origin: 'remote', sessionId: r.sessionId } : caller;
    let result: WriteResult;
    try {
      result = await this.opts.host.writes.write(writer, r.machineId, r.pointId, r.to);
    } catch (err) {
      r.state = 'failed';
      r.reason = err instanceof Error ? err.message : String(err);
      this.decided(caller, r, null);
      throw err;
    }
    r.result = result;
    r.state = result.outcome === 'written' ? 'written' : result.outcome === 'refused' ? 'refused' : 'failed';
    r.reason = result.reason;
    this.decided(caller, r, result.id);
    return { ...r };
  }

  /** Turns a request down on site. */
  reject(caller: Caller, req: { requestId: string; reason?: string | undefined }): ChangeRequest {
    const r = this.pending(req.requestId);
    r.state = 'rejected';
    r.decidedBy = caller.user;
    r.decidedAt = this.opts.host.clock.now();
    r.reason = req.reason?.trim() || 'Rejected on site';
    this.decided(caller, r, null);
    return { ...r };
  }

  /** Requests of one grant, or of all; newest first. */
  list(grantId?: string): ChangeRequest[] {
    return [...this.requests.values()]
      .filter((r) => grantId === undefined || r.grantId === grantId)
      .sort((a, b) => b.requestedAt - a.requestedAt)
      .map((r) => ({ ...r }));
  }

  /** Stops listening to the grants. */
  close(): void {
    this.offEnd();
  }

  private pending(id: string): ChangeRequest {
    const r = this.requests.get(id);
    if (!r) throw new ConsoleError('NOT_FOUND', `No change request "${id}"`);
    if (r.state !== 'pending')
      throw new ConsoleError('BAD_REQUEST', `The change request was ${r.state === 'applying' ? 'being applied' : r.state} already`);
    return r;
  }

  private decided(caller: Caller, r: ChangeRequest, writeId: string | null): void {
    this.persist(r);
    this.opts.audit?.record({
      kind: 'remote_action',
      ...auditActor(caller),
      // The remote session's id groups the decision with the request; the decider's own session is in the detail.
      sessionId: r.sessionId,
      machineId: r.machineId,
      detail: {
        grantId: r.grantId,
        action: r.state === 'rejected' ? 'reject' : 'confirm',
        requestId: r.id,
        pointId: r.pointId,
        from: r.from,
        to: r.to,
        outcome: r.state,
        writeId,
        reason: r.reason,
        ...(caller.sessionId ? { bySession: caller.sessionId } : {}),
      },
    });
    this.log.log(
      'info',
      `Remote change request ${r.state}: ${r.machineId}/${r.pointId} → ${String(r.to)} (asked by ${r.requestedBy}, decided by ${caller.user})`,
      {
        requestId: r.id,
      },
    );
    this.opts.support.changed();
  }

  private trim(): void {
    if (this.requests.size <= KEEP) return;
    const done = [...this.requests.values()]
      .filter((r) => r.state !== 'pending' && r.state !== 'applying')
      .sort((a, b) => a.requestedAt - b.requestedAt);
    const drop = done.slice(0, this.requests.size - KEEP);
    for (const r of drop) this.requests.delete(r.id);
    if (drop.length > 0 && this.opts.store) {
      try {
        this.opts.store.removeRequests(drop.map((r) => r.id));
      } catch (err) {
        this.log.log('warn', 'Old remote change requests could not be removed from the store', { error: String(err) });
      }
    }
  }

  /** Brings stored requests back; the open ones cannot be answered any more (their session was cut off). */
  private restore(store: RemotePersistence): void {
    const now = this.opts.host.clock.now();
    for (const r of store.loadRequests()) {
      this.requests.set(r.id, r);
      if (r.state !== 'pending' && r.state !== 'applying') continue;
      const wasPending = r.state === 'pending';
      r.state = wasPending ? 'expired' : 'failed';
      r.reason = wasPending
        ? 'The console stopped before anyone on site decided'
        : 'The console stopped while this change was being written: the write log has what the device was told';
      r.decidedAt = now;
      this.opts.audit?.record({
        kind: 'remote_action',
        sessionId: r.sessionId,
        machineId: r.machineId,
        detail: { grantId: r.grantId, action: 'expire', requestId: r.id, pointId: r.pointId, to: r.to, outcome: r.state, reason: r.reason },
      });
      this.persist(r);
    }
    this.trim();
  }

  /** Saves a request's state; a failure is logged. */
  private persist(r: ChangeRequest): void {
    if (!this.opts.store) return;
    try {
      this.opts.store.saveRequest(r);
    } catch (err) {
      this.log.log('error', 'A remote change request could not be saved', { requestId: r.id, state: r.state, error: String(err) });
    }
  }
}
