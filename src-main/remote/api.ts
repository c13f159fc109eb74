/**
 * Remote support as the console API sees it: the remote.* and session.info commands, and the
 * gate that narrows a supplier-support caller to its grant. The role table lets supplier
 * support read the plant; this gate takes everything away again unless the caller's session
 * is a live remote session, and then allows only what the grant's scope and machines cover.
 * The same narrowing applies to answers (machine lists) and, through ConsoleApi.subscribe, to
 * pushed events (each stream is narrowed as the command listing the same data).
 */
import type {
  AlarmSummary,
  Caller,
  CommandName,
  CommandRequest as Req,
  CommandResponse as Res,
  Health,
  MachineSnapshot,
  PlantInfo,
  RemoteState,
  SessionInfoView,
  UplinkPoints,
} from '../../src-preload/contract';
import type { AuditQuery, AuditRecord } from '../audit/log';
import { auditActor, type AuditSink } from '../audit/record';
import type { SessionInfo } from '../auth/session-types';
import { ConsoleError } from '../core/errors';
import type { Clock } from '../core/types';
import type { ChangeRequests } from './requests';
import type { RemoteAccounts, RemoteSupport } from './support';

/** What the remote API needs besides the grants and requests. */
export interface RemoteApiOptions {
  support: RemoteSupport;
  requests: ChangeRequests;
  accounts: RemoteAccounts;
  /** A live session by id, untouched (AuthService.get). */
  session: (sessionId: string) => SessionInfo | null;
  audit?: AuditSink & { query?(q: AuditQuery): AuditRecord[] };
  clock: Clock;
}

/** What a supplier-support caller may call inside a live session of scope `view`. */
const VIEW_COMMANDS: ReadonlySet<string> = new Set<CommandName>([
  'plant.info',
  'machines.list',
  'machines.get',
  'history.query',
  'kpi.history',
  'system.health',
  'alarms.list',
  'alarms.history',
  'uplink.status',
  'uplink.points',
  'session.info',
  'remote.list',
  'remote.requests',
  'remote.reportPage',
]);

/** Remote support commands, gate and filters for ConsoleApi. */
export class RemoteApi {
  /** The machine each live session opened last, so opening one is audited once, not per refresh. */
  private readonly lastOpened = new Map<string, string>();

  constructor(private readonly opts: RemoteApiOptions) {}

  /** Why `caller` may not call `name` with `request`, or null. Only supplier support is narrowed. */
  gate(caller: Caller, name: string, request: unknown): string | null {
    if (caller.role !== 'supplier-support') return null;
    const grant = this.opts.support.liveGrantOf(caller);
    if (!grant)
      return 'Supplier support can do nothing without a live remote session: the person on site grants one and reads you its join code';
    if (name === 'remote.propose') {
      if (grant.scope === 'view') return 'This remote session is view only: it cannot ask for changes';
    } else if (!VIEW_COMMANDS.has(name)) return `A remote support session may not call ${name}`;
    const machineId = (request as { machineId?: unknown } | null)?.machineId;
    if (typeof machineId === 'string' && grant.machines && !grant.machines.includes(machineId)) {
      return `This remote session covers only ${grant.machines.join(', ')}`;
    }
    if (name === 'machines.get' && typeof machineId === 'string' && this.lastOpened.get(grant.id) !== machineId) {
      this.lastOpened.set(grant.id, machineId);
      this.opts.audit?.record({
        kind: 'remote_action',
        ...auditActor(caller),
        machineId,
        detail: { grantId: grant.id, action: 'open-machine' },
      });
    }
    return null;
  }

  /** Narrows an answer to the machines of the caller's grant. */
  filter(caller: Caller, name: string, value: unknown): unknown {
    const machines = this.machinesOf(caller);
    if (!machines) return value;
    const keep = (id: string) => machines.includes(id);
    switch (name) {
      case 'machines.list':
        return (value as MachineSnapshot[]).filter((m) => keep(m.id));
      case 'plant.info': {
        const info = value as PlantInfo;
        return { ...info, machines: info.machines.filter((m) => keep(m.id)) };
      }
      case 'system.health': {
        // Plant IT's collector is no business of supplier support: its address stays on site.
        const { syslog: _syslog, ...h } = value as Health;
        return { ...h, machines: h.machines.filter((m) => keep(m.id)) };
      }
      case 'alarms.list':
        return narrowAlarms(value as AlarmSummary, keep);
      case 'alarms.history': {
        const v = value as { events: { machineId: string }[] };
        return { events: v.events.filter((e) => keep(e.machineId)) };
      }
      case 'uplink.points': {
        const plan = value as UplinkPoints;
        return { ...plan, machines: plan.machines.filter((m) => keep(m.id)) };
      }
      default:
        return value;
    }
  }

  /** Remote support as `caller` may see it: supplier support only its own session and requests. */
  state(caller: Caller): RemoteState {
    let grants = this.opts.support.list();
    let requests = this.opts.requests.list();
    if (caller.role === 'supplier-support') {
      const own = this.opts.support.liveGrantOf(caller);
      grants = own ? [own] : [];
      requests = own ? requests.filter((r) => r.grantId === own.id) : [];
    }
    return {
      grants,
      requests,
      defaultDurationMs: this.opts.support.defaultDurationMs,
      maxDurationMs: this.opts.support.maxDurationMs,
      ts: this.opts.clock.now(),
    };
  }

  /** Who the caller is: session, PIN, remote session. */
  sessionInfo(caller: Caller): SessionInfoView {
    const s = caller.sessionId ? this.opts.session(caller.sessionId) : null;
    return {
      caller: { user: caller.user, role: caller.role, origin: caller.origin, ...(caller.sessionId ? { sessionId: caller.sessionId } : {}) },
      session: s
        ? {
            id: s.id,
            user: s.user,
            role: s.role,
            origin: s.origin,
            createdAt: s.createdAt,
            expiresAt: s.expiresAt,
            idleExpiresAt: s.idleExpiresAt,
            hasPin: this.opts.accounts.get(s.user)?.hasPin ?? false,
          }
        : null,
      remote: caller.role === 'supplier-support' ? (this.opts.support.liveGrantOf(caller) ?? null) : null,
    };
  }

  grant(caller: Caller, req: Req<'remote.grant'>): Res<'remote.grant'> {
    return this.opts.support.grant(caller, req);
  }

  end(caller: Caller, req: Req<'remote.end'>): Res<'remote.end'> {
    return this.opts.support.end(req.grantId, caller);
  }

  requests(caller: Caller, req: Req<'remote.requests'>): Res<'remote.requests'> {
    const all = this.state(caller).requests;
    return { requests: req.grantId === undefined ? all : all.filter((r) => r.grantId === req.grantId) };
  }

  propose(caller: Caller, req: Req<'remote.propose'>): Res<'remote.propose'> {
    const grant = this.opts.support.liveGrantOf(caller);
    if (!grant) throw new ConsoleError('FORBIDDEN', 'No live remote session');
    return this.opts.requests.propose(caller, grant, req);
  }

  confirm(caller: Caller, req: Req<'remote.confirm'>): Promise<Res<'remote.confirm'>> {
    return this.opts.requests.confirm(caller, req);
  }

  reject(caller: Caller, req: Req<'remote.reject'>): Res<'remote.reject'> {
    return this.opts.requests.reject(caller, req);
  }

  reportPage(caller: Caller, req: Req<'remote.reportPage'>): Res<'remote.reportPage'> {
    return { page: this.opts.support.reportPage(caller, req.page) };
  }

  /** Everything about one session: who, when, pages viewed, changes asked for and their outcome, its audit records. */
  summary(_caller: Caller, req: Req<'remote.summary'>): Res<'remote.summary'> {
    const grant = this.opts.support.get(req.grantId);
    if (!grant)
      throw new ConsoleError('NOT_FOUND', `No remote session "${req.grantId}" (only the last 50 are kept; the audit log has them all)`);
    const q = this.opts.audit?.query?.bind(this.opts.audit);
    const byGrant = (r: AuditRecord) => r.detail.grantId === grant.id;
    const tagged = q
      ? q({ kind: ['remote_grant', 'remote_end', 'remote_join', 'remote_action'], from: grant.createdAt, limit: 1000 }).filter(byGrant)
      : [];
    // The session's other records (its writes) by its id: the grant's, or the one it joined with
    // (a session cut off by a restart leaves the grant without one).
    const sessions = new Set<string>(grant.sessionId ? [grant.sessionId] : []);
    for (const r of tagged) if (r.kind === 'remote_join' && r.detail.ok === true && r.sessionId) sessions.add(r.sessionId);
    const seen = new Set(tagged.map((r) => r.seq));
    const records = [...tagged];
    for (const sid of sessions)
      for (const r of q?.({ sessionId: sid, limit: 1000 }) ?? []) {
        if (seen.has(r.seq)) continue;
        seen.add(r.seq);
        records.push(r);
      }
    records.sort((a, b) => a.seq - b.seq);
    return {
      grant,
      pages: records
        .filter((r) => r.kind === 'remote_action' && r.detail.action === 'view')
        .map((r) => ({ at: r.at, page: String(r.detail.page) })),
      requests: this.opts.requests.list(grant.id).reverse(),
      audit: records.map((r) => ({ seq: r.seq, at: r.at, kind: r.kind, user: r.user, detail: r.detail })),
    };
  }

  /** Calls `handler` whenever remote support changed; returns the unsubscribe. */
  onUpdate(handler: () => void): () => void {
    return this.opts.support.onChange(handler);
  }

  private machinesOf(caller: Caller): string[] | null {
    if (caller.role !== 'supplier-support') return null;
    return this.opts.support.liveGrantOf(caller)?.machines ?? null;
  }
}

function narrowAlarms(s: AlarmSummary, keep: (id: string) => boolean): AlarmSummary {
  const alarms = s.alarms.filter((a) => keep(a.machineId));
  const active = alarms.filter((a) => a.state === 'active-unacked' || a.state === 'active-acked').length;
  const unacknowledged = alarms.filter((a) => a.state === 'active-unacked' || a.state === 'cleared-unacked').length;
  return { alarms, counts: { active, unacknowledged } };
}
