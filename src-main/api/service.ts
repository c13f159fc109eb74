/**
 * The console API over the plant core: every command passes the same gate (known name, schema
 * parse of the request, the caller's role) before it reaches the core, and answers with the
 * result envelope. Transports (IPC, WebSocket) authenticate the caller and call `handle`; they
 * never decide on roles themselves.
 */
import type { z } from 'zod';
import {
  COMMANDS,
  CallerSchema,
  EVENT_SOURCES,
  EVENTS,
  type EventPayloadKind,
  type ApiErrorCode,
  type Caller,
  type CommandName,
  type CommandRequest,
  type CommandResponse,
  type EventName,
  type EventPayload,
  type Health,
  type Result,
  type CallerRole,
} from '../../src-preload/contract';
import type { ConfirmGate } from '../auth/confirm-gate';
import { auditActor } from '../audit/record';
import { answerWatcher } from './answer-check';
import { auditPage, type AuditReader } from './audit-page';

export type { AuditReader } from './audit-page';
import { ConsoleError } from '../core/errors';
import { silentLogger, type Logger } from '../core/log';
import type { PlantCore } from '../core/plant';
import type { RemoteApi } from '../remote/api';
import type { AuditLinksApi, LockoutApi, ModulesApi, RecoApi } from './subsystems';

export type { AuditLinksApi, LockoutApi, ModulesApi, RecoApi } from './subsystems';
import { disabledUplinkStatus, leavesPlan, type UplinkApi } from '../uplink/points';
import { demoAccounts } from '../auth/demo';

/**
 * The local console viewed without sign-in (access.localViewWithoutLogin): it reads the plant and
 * changes nothing. The adapters use it for the unsigned Electron window and loopback browser.
 */
export const LOCAL_VIEWER: Caller = Object.freeze({ user: 'local-viewer', role: 'viewer', origin: 'local' });

/** Request schema and allowed roles per command; injectable so role checks can be tested. */
export type CommandTable = Readonly<Record<string, { request: z.ZodType; roles: readonly CallerRole[] }>>;

/** Options of the API service. */
export interface ConsoleApiOptions {
  log?: Logger;
  /** Default: the contract's COMMANDS. */
  commands?: CommandTable;
  /** The plant's uplink, when one is configured. */
  uplink?: UplinkApi;
  /** Remote support sessions (src-main/remote/): the remote.* commands and the narrowing of supplier support. */
  remote?: RemoteApi;
  /** The audit log (audit/log.ts): what audit.query reads. */
  audit?: AuditReader;
  /** Supplier recommendations (src-main/recommendations/): the reco.* commands and reco.update. */
  reco?: RecoApi;
  /** The PIN re-authentication of setpoint writes and reverts (auth/confirm-gate.ts); absent: none asked. */
  confirm?: ConfirmGate;
  /** IoT modules and firmware (src-main/modules/): the modules.* and firmware.* commands and modules.update. */
  modules?: ModulesApi;
  /** Sign-in lockouts (AuthService): auth.lockouts and auth.unlock. */
  lockouts?: LockoutApi;
  /** The audit log's witnesses outside the plant: audit.links, and the syslog link's part of system.health. */
  auditLinks?: AuditLinksApi;
  /** The persistent history's part of system.health (writer, disk, losses), when the store is wired. */
  historyHealth?: () => NonNullable<Health['history']>;
}

/**
 * Every command's handler, typed from the contract: the request its schema parsed, the answer its
 * response schema describes. A command without a handler, or a handler answering the wrong shape,
 * is a type error here.
 */
export type CommandHandlers = {
  [K in CommandName]: (caller: Caller, req: CommandRequest<K>) => CommandResponse<K> | Promise<CommandResponse<K>>;
};

/** `pointIds[2]`, `toMs`, or `request` for the top level. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || 'request';
}

/** The request's problems as "path: message", one per issue. */
export function formatIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('; ');
}

function fail(code: ApiErrorCode, message: string): Result<never> {
  return { ok: false, error: { code, message } };
}

/** The console API: `handle` for commands, `subscribe` for event streams. */
export class ConsoleApi {
  private readonly log: Logger;
  private readonly commands: CommandTable;
  private readonly handlers: CommandHandlers;
  private readonly counts = new Map<string, number>();
  private readonly uplink: UplinkApi | undefined;
  private readonly remote: RemoteApi | undefined;
  private readonly reco: RecoApi | undefined;
  private readonly modules: ModulesApi | undefined;
  private web: { webUrl: string; webFingerprint: string | null } | null = null;

  constructor(
    private readonly core: PlantCore,
    opts: ConsoleApiOptions = {},
  ) {
    this.log = opts.log ?? silentLogger;
    this.commands = opts.commands ?? COMMANDS;
    const uplink = opts.uplink;
    this.uplink = uplink;
    const remote = opts.remote;
    this.remote = remote;
    const needRemote = (): RemoteApi => {
      if (!remote) throw new ConsoleError('UNAVAILABLE', 'Remote support is not set up on this console');
      return remote;
    };
    const reco = opts.reco;
    this.reco = reco;
    const needReco = (): RecoApi => {
      if (!reco) throw new ConsoleError('UNAVAILABLE', 'Recommendations need the uplink, which this console does not have');
      return reco;
    };
    const modules = opts.modules;
    this.modules = modules;
    const needModules = (): ModulesApi => {
      if (!modules) throw new ConsoleError('UNAVAILABLE', 'Module management is not set up on this console (no firmware root is pinned)');
      return modules;
    };
    this.handlers = {
      'plant.info': (caller) => ({
        ...this.core.plantInfo(caller),
        ...this.web,
        // The SIMULATED demo's accounts are public knowledge; a configured plant's never leave the store.
        ...(this.core.config.simulated ? { demoAccounts: demoAccounts() } : {}),
      }),
      'machines.list': () => this.core.snapshots(),
      'machines.get': (_c, req) => {
        const detail = this.core.detail(req.machineId);
        if (!detail) throw notFoundMachine(req.machineId);
        return detail;
      },
      'history.query': (_c, req) => {
        if (!this.core.hasMachine(req.machineId)) throw notFoundMachine(req.machineId);
        for (const pointId of req.pointIds) {
          const meta = this.core.point(req.machineId, pointId);
          if (!meta) throw new ConsoleError('NOT_FOUND', `Machine "${req.machineId}" has no point "${pointId}"`);
          if (meta.type === 'string') {
            throw new ConsoleError(
              'NOT_FOUND',
              `Point "${pointId}" of "${req.machineId}" is text and has no history (only numbers and booleans are recorded)`,
            );
          }
        }
        return {
          series: req.pointIds.map((p) => this.core.history.query(req.machineId, p, req.fromMs, req.toMs, req.maxPoints)),
        };
      },
      'kpi.history': (_c, req) => {
        if (!this.core.hasMachine(req.machineId)) throw notFoundMachine(req.machineId);
        const fromMs = req.fromMs ?? this.core.currentShift().start;
        return { samples: this.core.history.kpis(req.machineId, fromMs) };
      },
      // The uplink's and the syslog link's parts come from them: the core knows nothing of what is built on it.
      'system.health': () => {
        const syslog = opts.auditLinks?.links().syslog ?? null;
        return {
          ...this.core.health(),
          ...(uplink ? { uplink: uplink.health() } : {}),
          ...(syslog ? { syslog } : {}),
          ...(opts.historyHealth ? { history: opts.historyHealth() } : {}),
        };
      },
      // A write refused by a rule is an answer, not an error: the WriteResult says why. A missing or wrong PIN is an error.
      'points.write': async (caller, req) => {
        await opts.confirm?.(caller, req.pin);
        return this.core.writes.write(caller, req.machineId, req.pointId, req.value);
      },
      'points.revert': async (caller, req) => {
        await opts.confirm?.(caller, req.pin);
        return this.core.writes.revert(caller, req.writeId);
      },
      'writes.log': (_c, req) => ({ entries: this.core.writes.log(req) }),
      'alarms.list': (_c, req) => {
        if (req.machineId !== undefined && !this.core.hasMachine(req.machineId)) throw notFoundMachine(req.machineId);
        return this.core.alarms.summary(req.machineId);
      },
      // Acknowledging is idempotent: two operators acking the same alarm both succeed.
      'alarms.ack': (caller, req) => {
        const before = new Map(this.core.alarms.alarms().map((a) => [a.id, a]));
        const result = this.core.alarms.acknowledge(req.alarmIds, caller.user);
        // One record per alarm, so the audit page can filter acknowledgements by machine.
        for (const alarmId of result.acknowledged) {
          const a = before.get(alarmId);
          this.core.audit?.record({
            kind: 'alarm_ack',
            ...auditActor(caller),
            machineId: a?.machineId ?? alarmId.split('/')[0] ?? null,
            detail: { alarmId, stateBefore: a?.state ?? 'normal', priority: a?.priority ?? null, message: a?.message ?? null },
          });
        }
        return result;
      },
      'alarms.history': (_c, req) => {
        if (req.machineId !== undefined && !this.core.hasMachine(req.machineId)) throw notFoundMachine(req.machineId);
        const fromMs = req.fromMs ?? this.core.currentShift().start;
        return { events: this.core.alarms.history({ machineId: req.machineId, fromMs }) };
      },
      'uplink.status': () => uplink?.status() ?? disabledUplinkStatus(this.core.clock.now()),
      'uplink.points': () => leavesPlan(this.core.config, uplink?.pseudonyms()),
      'session.info': (caller) => remote?.sessionInfo(caller) ?? { caller, session: null, remote: null },
      'remote.grant': (caller, req) => needRemote().grant(caller, req),
      'remote.end': (caller, req) => needRemote().end(caller, req),
      'remote.list': (caller) => needRemote().state(caller),
      'remote.requests': (caller, req) => needRemote().requests(caller, req),
      'remote.propose': (caller, req) => needRemote().propose(caller, req),
      'remote.confirm': (caller, req) => needRemote().confirm(caller, req),
      'remote.reject': (caller, req) => needRemote().reject(caller, req),
      'remote.reportPage': (caller, req) => needRemote().reportPage(caller, req),
      'remote.summary': (caller, req) => needRemote().summary(caller, req),
      'audit.query': (_c, req) => {
        if (!opts.audit) throw new ConsoleError('UNAVAILABLE', 'This console keeps no audit log');
        return auditPage(opts.audit, req, (m, pt) => this.core.point(m, pt));
      },
      'audit.links': () => opts.auditLinks?.links() ?? { syslog: null, witness: null },
      'auth.lockouts': () => ({ lockouts: opts.lockouts?.lockouts() ?? [] }),
      'auth.unlock': (caller, req) => ({ lifted: opts.lockouts?.unlock(req.id, auditActor(caller)) ?? null }),
      'reco.list': (caller) => needReco().inbox(caller),
      'reco.apply': (caller, req) => needReco().apply(caller, req),
      'reco.reject': (caller, req) => needReco().reject(caller, req),
      'reco.defer': (caller, req) => needReco().defer(caller, req),
      'reco.revert': (caller, req) => needReco().revert(caller, req),
      'modules.list': (caller) => needModules().state(caller),
      'modules.pair': (caller, req) => needModules().pair(caller, req),
      'firmware.import': (caller, req) => needModules().importBundle(caller, req),
      'firmware.approve': (caller, req) => needModules().approve(caller, req),
      'firmware.stop': (caller, req) => needModules().stop(caller, req),
    };
  }

  /** Web mode's address and certificate fingerprint, for plant.info (the local console shows them). */
  setWebInfo(info: { url: string; fingerprint: string | null }): void {
    this.web = { webUrl: info.url, webFingerprint: info.fingerprint };
  }

  /** Runs one command for `caller`; never throws, every outcome is a Result. */
  async handle(caller: Caller, name: string, request: unknown): Promise<Result<unknown>> {
    const started = performance.now();
    const who = CallerSchema.safeParse(caller);
    const callerFields = who.success ? { user: who.data.user, role: who.data.role, origin: who.data.origin } : { caller: 'invalid' };
    const refuse = (code: ApiErrorCode, message: string): Result<never> => {
      this.count(code);
      this.log.log('warn', `API refused ${name}: ${code}`, { command: name, code, message, ...callerFields });
      return fail(code, message);
    };

    const def = Object.hasOwn(this.commands, name) ? this.commands[name] : undefined;
    const handler = Object.hasOwn(this.handlers, name) ? this.handlers[name as CommandName] : undefined;
    if (!def || !handler) return refuse('UNKNOWN_COMMAND', `Unknown command "${name}"`);
    const gate = this.gate(caller, name, request);
    if ('refused' in gate) return refuse(gate.refused.code, gate.refused.message);
    const forCore = gate.caller;
    // Commands without arguments may be called without a request object.
    const parsed = def.request.safeParse(request === undefined ? {} : request);
    if (!parsed.success) return refuse('BAD_REQUEST', formatIssues(parsed.error));
    // The one place a command named at run time meets its typed handler: the request passed that command's schema just above.
    const run = handler as (caller: Caller, req: unknown) => unknown;
    return this.execute(name, forCore, () => run(forCore, parsed.data), refuse, started);
  }

  /**
   * Whether `caller` may call `name` now (the gate of `handle`: identity, role, remote grant),
   * for a transport that must decide before it reads a request's body; a refusal is counted and logged.
   */
  authorize(caller: Caller, name: CommandName): Result<Caller> {
    const gate = this.gate(caller, name, {});
    if ('caller' in gate) return { ok: true, value: gate.caller };
    this.count(gate.refused.code);
    this.log.log('warn', `API refused ${name}: ${gate.refused.code}`, {
      command: name,
      code: gate.refused.code,
      message: gate.refused.message,
    });
    return fail(gate.refused.code, gate.refused.message);
  }

  /**
   * firmware.import for web mode's streamed upload (web/firmware-upload.ts): the command's gate
   * again (a grant may have ended while the bytes came), the file name as the command checks it,
   * then the same import (or the refusal of an upload over the limit, recorded and audited alike).
   */
  async importFirmwareUpload(
    caller: Caller,
    upload: { fileName: string; bytes: Uint8Array } | { fileName: string; oversize: { size: number | null; limit: number } },
  ): Promise<Result<unknown>> {
    const name = 'firmware.import';
    const started = performance.now();
    const refuse = (code: ApiErrorCode, message: string): Result<never> => {
      this.count(code);
      this.log.log('warn', `API refused ${name}: ${code}`, { command: name, code, message, user: caller.user, role: caller.role });
      return fail(code, message);
    };
    const gate = this.gate(caller, name, {});
    if ('refused' in gate) return refuse(gate.refused.code, gate.refused.message);
    const fileName = COMMANDS[name].request.shape.fileName.safeParse(upload.fileName);
    if (!fileName.success) return refuse('BAD_REQUEST', `fileName: ${formatIssues(fileName.error)}`);
    const modules = this.modules;
    if (!modules) return refuse('UNAVAILABLE', 'Module management is not set up on this console (no firmware root is pinned)');
    const forCore = gate.caller;
    return this.execute(
      name,
      forCore,
      () =>
        'bytes' in upload
          ? modules.importFile(forCore, { fileName: fileName.data, bytes: upload.bytes })
          : modules.refuseOversize(forCore, { fileName: fileName.data, ...upload.oversize }),
      refuse,
      started,
    );
  }

  /** Runs a command that passed its gate: its answer narrowed for remote callers, its failures answered by code. */
  private async execute(
    name: string,
    forCore: Caller,
    run: () => unknown,
    refuse: (code: ApiErrorCode, message: string) => Result<never>,
    started: number,
  ): Promise<Result<unknown>> {
    const callerFields = { user: forCore.user, role: forCore.role, origin: forCore.origin };
    try {
      const raw = await run();
      const value = this.remote ? this.remote.filter(forCore, name, raw) : raw;
      holdToContract('command', name, COMMANDS[name as CommandName].response, value);
      this.count('ok');
      this.log.log('debug', `API ${name}`, { command: name, ms: Math.round(performance.now() - started), ...callerFields });
      return { ok: true, value };
    } catch (err) {
      if (err instanceof ConsoleError && ANSWERED_CODES.has(err.code)) return refuse(err.code as ApiErrorCode, err.message);
      this.log.log('error', `API ${name} failed`, {
        command: name,
        error: err instanceof Error ? err.message : String(err),
        stack: err instanceof Error ? err.stack : undefined,
        ...callerFields,
      });
      this.count('INTERNAL');
      return fail('INTERNAL', `${name} failed inside the console; the details are in the console log`);
    }
  }

  /**
   * Who may call `name` (a known command): the caller's identity, the role table and the remote
   * grant's scope and machines. Commands and event streams pass this same gate.
   */
  private gate(caller: Caller, name: string, request: unknown): { caller: Caller } | { refused: { code: ApiErrorCode; message: string } } {
    const who = CallerSchema.safeParse(caller);
    if (!who.success) return { refused: { code: 'FORBIDDEN', message: 'The caller is not identified' } };
    // Viewing without sign-in is for the console's own screen only: nobody elsewhere sees the plant unsigned.
    if (who.data.role === 'viewer' && who.data.origin !== 'local')
      return { refused: { code: 'FORBIDDEN', message: 'A remote caller must sign in' } };
    const def = this.commands[name];
    if (!def?.roles.includes(who.data.role)) {
      return { refused: { code: 'FORBIDDEN', message: `Role "${who.data.role}" may not call ${name}` } };
    }
    // A session id the transport attached (auth/sessions.ts callerOf) travels on to the audit log.
    const sessionId: unknown = (caller as { sessionId?: unknown }).sessionId;
    const forCore: Caller & { sessionId?: string } = typeof sessionId === 'string' ? { ...who.data, sessionId } : who.data;
    // Supplier support is narrowed to its live remote session's scope and machines, before anything else is said.
    const narrowed = this.remote?.gate(forCore, name, request) ?? null;
    if (narrowed !== null) return { refused: { code: 'FORBIDDEN', message: narrowed } };
    return { caller: forCore };
  }

  /** Calls answered since start, by outcome (`ok` or the error code): for health screens. */
  stats(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  private count(outcome: string): void {
    this.counts.set(outcome, (this.counts.get(outcome) ?? 0) + 1);
  }

  /**
   * Subscribes `caller` to an event stream; returns the unsubscribe. The subscriber passes the
   * gate of the command that lists the same data (EVENT_SOURCES: role, remote grant), else this
   * throws FORBIDDEN; every event is gated again for the caller of that moment and narrowed as
   * that command's answer is. `caller` may be a function (a window whose sign-in changes; null:
   * nobody may see events now). It is required: a stream is never opened as a default caller.
   */
  subscribe<E extends EventName>(name: E, handler: (payload: EventPayload<E>) => void, caller: Caller | (() => Caller | null)): () => void {
    if (!Object.hasOwn(EVENT_SOURCES, name)) throw new ConsoleError('BAD_REQUEST', `Unknown event stream "${String(name)}"`);
    const source = EVENT_SOURCES[name];
    // Plain JavaScript callers get no compile error: refuse rather than stream to nobody in particular.
    if (caller === undefined || caller === null) throw new ConsoleError('FORBIDDEN', `${name}: the subscriber is not identified`);
    const current: () => Caller | null = typeof caller === 'function' ? caller : () => caller;
    const first = current();
    if (first !== null) {
      const gate = this.gate(first, source.command, {});
      if ('refused' in gate) {
        this.count('FORBIDDEN');
        this.log.log('warn', `API refused the event stream ${name}: FORBIDDEN`, {
          event: name,
          command: source.command,
          message: gate.refused.message,
          user: first.user,
          role: first.role,
          origin: first.origin,
        });
        throw new ConsoleError('FORBIDDEN', `${name}: ${gate.refused.message}`);
      }
    }
    // Each event: the caller of this moment passes the gate again (a grant ends, a window signs out), then sees its share.
    const deliver = (payloadFor: (who: Caller) => unknown): void => {
      const now = current();
      if (now === null) return;
      const gate = this.gate(now, source.command, {});
      if ('refused' in gate) return;
      const seen = this.narrowEvent(gate.caller, source, payloadFor(gate.caller));
      if (seen === null) return;
      try {
        holdToContract('event', name, EVENTS[name], seen);
      } catch (err) {
        this.log.log('error', `Event ${name} dropped`, { event: name, error: err instanceof Error ? err.message : String(err) });
        return;
      }
      handler(seen as EventPayload<E>);
    };
    switch (name) {
      case 'machines.update':
        return this.core.onMachine((s) => deliver(() => s));
      case 'core.status':
        return this.core.onStatus((s) => deliver(() => s));
      case 'alarms.update':
        return this.core.onAlarms((s) => deliver(() => s));
      case 'uplink.update':
        return this.uplink?.onUpdate((s) => deliver(() => s)) ?? (() => undefined);
      case 'remote.update': {
        const remote = this.remote;
        // Each subscriber gets the state as its caller may see it.
        return remote ? remote.onUpdate(() => deliver((who) => remote.state(who))) : () => undefined;
      }
      case 'reco.update': {
        const reco = this.reco;
        return reco ? reco.onUpdate(() => deliver((who) => reco.inbox(who))) : () => undefined;
      }
      case 'modules.update': {
        const modules = this.modules;
        return modules ? modules.onUpdate(() => deliver((who) => modules.state(who))) : () => undefined;
      }
      default:
        throw new ConsoleError('BAD_REQUEST', `Unknown event stream "${String(name)}"`);
    }
  }

  /** An event's payload as `caller` may see it (as its source command's answer is narrowed); null drops it. */
  private narrowEvent(caller: Caller, source: { command: CommandName; payload: EventPayloadKind }, payload: unknown): unknown {
    const remote = this.remote;
    if (!remote || source.payload === 'status') return payload;
    if (source.payload === 'answer') return remote.filter(caller, source.command, payload);
    const kept = remote.filter(caller, source.command, [payload]) as unknown[];
    return kept.length > 0 ? kept[0] : null;
  }
}

/** Errors a command may raise on purpose, answered with their code; anything else is INTERNAL. */
const ANSWERED_CODES: ReadonlySet<string> = new Set<ApiErrorCode>([
  'NOT_FOUND',
  'UNAVAILABLE',
  'BAD_REQUEST',
  'FORBIDDEN',
  'UNAUTHENTICATED',
  'PIN_REQUIRED',
  'BAD_PIN',
  'LOCKED_OUT',
]);

/**
 * With a watcher installed (tests: answer-check.ts), an answer or event payload that its schema
 * refuses is reported and thrown, so it never reaches a caller; without one this costs nothing.
 */
function holdToContract(kind: 'command' | 'event', name: string, schema: z.ZodType, value: unknown): void {
  const watch = answerWatcher();
  if (!watch) return;
  const parsed = schema.safeParse(value);
  if (parsed.success) return;
  const problem = formatIssues(parsed.error);
  watch({ kind, name, problem });
  throw new ConsoleError('INTERNAL', `The ${kind} ${name} answered outside its contract: ${problem}`);
}

function notFoundMachine(id: string): ConsoleError {
  return new ConsoleError('NOT_FOUND', `No machine "${id}" in this plant`);
}
