/**
 * Remote support sessions through the console API (fake clock): nothing without a grant,
 * join codes (one use, 10 minutes, 5 tries), scope and machine narrowing of commands and
 * events, expiry and ending from either side, change requests confirmed on site (PIN) and
 * written through the bounded path, and the session summary from the audit log.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { COMMAND_NAMES, type Caller, type EventPayload, type WriteResult } from '../../src-preload/contract';
import { ChangeRequests, RemoteSupport } from '../../src-main/remote';
import { MAINT_PIN, PASSWORDS, setupPeople, type People } from '../helpers/people';
import { ConsoleApi } from '../../src-main/api/service';
import { LOCAL_OPERATOR } from '../helpers/callers';

const T0 = Date.UTC(2026, 3, 7, 8, 0);
const MIN = 60_000;
const MAINT_LOCAL: Caller = { user: 'local-maintenance', role: 'maintenance', origin: 'local' };
const OPERATOR: Caller = { user: 'local-operator', role: 'operator', origin: 'local' };

let people: People | null = null;
afterEach(async () => {
  await people?.close();
  people = null;
});

async function setup() {
  const clock = {
    t: T0,
    now() {
      return this.t;
    },
  };
  people = await setupPeople({ clock, auth: { idleLockMs: { local: null, remote: null } } });
  return { p: people, clock };
}

/** Signs `support` in and joins it with `code`; returns its caller. */
async function join(
  p: People,
  code: string | undefined,
): Promise<{ caller: Caller & { sessionId: string }; result: ReturnType<RemoteSupport['join']> }> {
  const login = await p.auth.login('support', PASSWORDS.support, { key: '10.1.2.3', origin: 'remote' });
  if (!login.ok) throw new Error(login.message);
  const result = p.remote.support.join(login.session, code, '10.1.2.3');
  return { caller: { user: 'support', role: 'supplier-support', origin: 'remote', sessionId: login.session.id }, result };
}

describe('without a live grant', () => {
  it('supplier support is refused every command, with the reason, and sees no events', async () => {
    const { p } = await setup();
    const login = await p.auth.login('support', PASSWORDS.support, { key: '10.1.2.3', origin: 'remote' });
    if (!login.ok) throw new Error('login failed');
    const caller = { user: 'support', role: 'supplier-support' as const, origin: 'remote' as const, sessionId: login.session.id };
    for (const name of COMMAND_NAMES) {
      const r = await p.api.handle(caller, name, {});
      expect(r.ok, name).toBe(false);
      expect(!r.ok && r.error.code, name).toBe('FORBIDDEN');
    }
    const r = await p.api.handle(caller, 'machines.list', {});
    expect(!r.ok && r.error.message).toMatch(/^Supplier support can do nothing without a live remote session/);
    // Event streams pass the same gate as the commands listing their data.
    expect(() => p.api.subscribe('alarms.update', () => undefined, caller)).toThrow(
      /^alarms\.update: Supplier support can do nothing without a live remote session/,
    );
  });

  it('a grant needs a supplier-support account, known machines and at most the maximum duration', async () => {
    const { p } = await setup();
    const grant = (req: unknown) => p.api.handle(MAINT_LOCAL, 'remote.grant', req);
    expect(await grant({ account: 'oper', scope: 'view' })).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    expect(await grant({ account: 'support', scope: 'view', durationMin: 300 })).toMatchObject({
      ok: false,
      error: { message: expect.stringMatching(/at most 240 min/) },
    });
    expect(await grant({ account: 'support', scope: 'view', machines: ['nope'] })).toMatchObject({
      ok: false,
      error: { message: 'No machine "nope" in this plant' },
    });
    expect(await p.api.handle(OPERATOR, 'remote.grant', { account: 'support', scope: 'view' })).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN' },
    });
    const ok = await grant({ account: 'support', scope: 'view' });
    expect(ok).toMatchObject({
      ok: true,
      value: { grant: { account: 'support', scope: 'view', durationMs: 60 * MIN, state: 'waiting', machines: null } },
    });
    const code = ok.ok ? (ok.value as { joinCode: string }).joinCode : '';
    expect(code).toMatch(/^\d{8}$/);
    // The code appears in no audit record and in no list.
    expect(JSON.stringify(p.audit.query({ limit: 100 }))).not.toContain(code);
    expect(JSON.stringify(await p.api.handle(MAINT_LOCAL, 'remote.list', {}))).not.toContain(code);
  });
});

describe('joining', () => {
  it('needs the code, allows five wrong tries, and uses a code once', async () => {
    const { p } = await setup();
    const { joinCode } = p.remote.support.grant(MAINT_LOCAL, { account: 'support', scope: 'view' });
    expect((await join(p, undefined)).result).toMatchObject({ ok: false, code: 'JOIN_CODE_REQUIRED' });
    const wrong = joinCode === '12345678' ? '87654321' : '12345678';
    for (let i = 0; i < 4; i++)
      expect((await join(p, wrong)).result).toMatchObject({ ok: false, code: 'BAD_JOIN_CODE', message: 'Wrong join code' });
    expect((await join(p, wrong)).result).toMatchObject({ ok: false, message: expect.stringMatching(/the grant is void/) });
    expect((await join(p, joinCode)).result).toMatchObject({ ok: false, code: 'NO_GRANT' });
    expect(p.remote.support.list()[0]).toMatchObject({ state: 'ended', endReason: 'too many wrong join codes' });

    const second = p.remote.support.grant(MAINT_LOCAL, { account: 'support', scope: 'view' });
    expect((await join(p, second.joinCode)).result).toMatchObject({ ok: true, grant: { state: 'live' } });
    expect((await join(p, second.joinCode)).result).toMatchObject({ ok: false, code: 'NO_GRANT' });
    const joins = p.audit.query({ kind: 'remote_join', limit: 20 });
    expect(joins.filter((r) => r.detail.ok === true)).toHaveLength(1);
  });

  it('voids a code unused for 10 minutes', async () => {
    const { p, clock } = await setup();
    const { joinCode } = p.remote.support.grant(MAINT_LOCAL, { account: 'support', scope: 'view' });
    clock.t += 10 * MIN;
    p.remote.support.sweep();
    expect(p.remote.support.list()[0]).toMatchObject({ state: 'ended', endReason: 'the join code expired unused' });
    expect((await join(p, joinCode)).result).toMatchObject({ ok: false, code: 'NO_GRANT' });
  });
});

describe('a live session', () => {
  it('is narrowed to its scope and machines, in answers and in events', async () => {
    const { p } = await setup();
    const { joinCode } = p.remote.support.grant(MAINT_LOCAL, { account: 'support', scope: 'view', machines: ['im-1'] });
    const { caller } = await join(p, joinCode);
    expect(await p.api.handle(caller, 'machines.list', {})).toMatchObject({ ok: true, value: [{ id: 'im-1' }] });
    expect(await p.api.handle(caller, 'machines.get', { machineId: 'pk-2' })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(await p.api.handle(caller, 'remote.propose', { machineId: 'im-1', pointId: 'zone1-sp', value: 215 })).toMatchObject({
      ok: false,
      error: { message: 'This remote session is view only: it cannot ask for changes' },
    });
    // What leaves the plant, too: only the granted machine's points.
    const plan = await p.api.handle(caller, 'uplink.points', {});
    expect(plan.ok && (plan.value as { machines: { id: string }[] }).machines.map((m) => m.id)).toEqual(['im-1']);
    const info = await p.api.handle(caller, 'plant.info', {});
    expect(info.ok && (info.value as { machines: { id: string }[] }).machines.map((m) => m.id)).toEqual(['im-1']);
    // Health: the granted machine only, and nothing of plant IT's syslog collector.
    const syslog = {
      target: 'logs.plant:6514',
      state: 'connected' as const,
      forwarded: 1,
      failures: 0,
      backlog: 0,
      lastError: null,
      failingSince: null,
    };
    const withSyslog = new ConsoleApi(p.core, { remote: p.remote.api, auditLinks: { links: () => ({ syslog, witness: null }) } });
    const health = await withSyslog.handle(caller, 'system.health', {});
    expect(health.ok && (health.value as { machines: { id: string }[] }).machines.map((m) => m.id)).toEqual(['im-1']);
    expect(health.ok && 'syslog' in (health.value as object)).toBe(false);
    expect(await withSyslog.handle(MAINT_LOCAL, 'system.health', {})).toMatchObject({
      ok: true,
      value: { syslog: { target: 'logs.plant:6514' } },
    });
    expect(await p.api.handle(caller, 'session.info', {})).toMatchObject({
      ok: true,
      value: { session: { user: 'support', hasPin: false }, remote: { scope: 'view' } },
    });
    // Events: only im-1, and remote.update shows only its own session.
    const machines: string[] = [];
    const offM = p.api.subscribe('machines.update', (s) => machines.push(s.id), caller);
    p.core.tick();
    offM();
    expect(new Set(machines)).toEqual(new Set(machines.filter((id) => id === 'im-1')));
    expect(() => p.remote.support.grant(MAINT_LOCAL, { account: 'support', scope: 'view' })).toThrow(/in a live session already/);
  });

  it('reports pages, ends on time and takes the login session with it', async () => {
    const { p, clock } = await setup();
    const { joinCode } = p.remote.support.grant(MAINT_LOCAL, { account: 'support', scope: 'view', durationMin: 30 });
    const { caller } = await join(p, joinCode);
    const updates: EventPayload<'remote.update'>[] = [];
    const off = p.api.subscribe('remote.update', (s) => updates.push(s), LOCAL_OPERATOR);
    expect(await p.api.handle(caller, 'remote.reportPage', { page: '#/machine/im-1' })).toMatchObject({ ok: true });
    expect(updates.at(-1)?.grants[0]).toMatchObject({ page: '#/machine/im-1', state: 'live', endsAt: T0 + 30 * MIN });
    clock.t += 30 * MIN;
    p.remote.support.sweep();
    off();
    expect(updates.at(-1)?.grants[0]).toMatchObject({ state: 'ended', endReason: 'the granted time is over' });
    expect(p.auth.get(caller.sessionId)).toBeNull();
    expect(p.remote.support.endMessage(caller.sessionId)).toBe('the granted time is over');
    expect(await p.api.handle(caller, 'plant.info', {})).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
  });

  it('ends on site (also by an operator), and when the support person signs out', async () => {
    const { p } = await setup();
    let g = p.remote.support.grant(MAINT_LOCAL, { account: 'support', scope: 'view' });
    let j = await join(p, g.joinCode);
    expect(await p.api.handle(OPERATOR, 'remote.end', { grantId: g.grant.id })).toMatchObject({
      ok: true,
      value: { state: 'ended', endReason: 'ended on site' },
    });
    expect(p.auth.get(j.caller.sessionId)).toBeNull();
    expect(p.remote.support.endMessage(j.caller.sessionId)).toBe('ended on site by local-operator');
    g = p.remote.support.grant(MAINT_LOCAL, { account: 'support', scope: 'view' });
    j = await join(p, g.joinCode);
    p.auth.endSession(j.caller.sessionId, 'logout');
    expect(p.remote.support.get(g.grant.id)).toMatchObject({ state: 'ended', endReason: 'the support person signed out' });
    const ends = p.audit.query({ kind: 'remote_end', limit: 10 });
    expect(ends[0]).toMatchObject({ sessionId: j.caller.sessionId, detail: { reason: 'signed-out', wasLive: true } });
  });
});

describe('change requests', () => {
  it('wait for a signed-in maintenance user on site, who confirms with the PIN; the outcome comes from the bounded write path', async () => {
    const { p, clock } = await setup();
    const { joinCode, grant } = p.remote.support.grant(MAINT_LOCAL, { account: 'support', scope: 'apply' });
    const { caller } = await join(p, joinCode);
    const asked = await p.api.handle(caller, 'remote.propose', { machineId: 'im-1', pointId: 'zone1-sp', value: 215 });
    expect(asked).toMatchObject({
      ok: true,
      value: { state: 'pending', kind: 'change', requestedBy: 'support', to: 215, pointName: expect.any(String) },
    });
    const id = asked.ok ? (asked.value as { id: string }).id : '';
    const login = await p.auth.login('maint', PASSWORDS.maint, { key: 'local', origin: 'local' });
    if (!login.ok) throw new Error('login');
    const maint = { user: 'maint', role: 'maintenance' as const, origin: 'local' as const, sessionId: login.session.id };
    expect(await p.api.handle(caller, 'remote.confirm', { requestId: id })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(await p.api.handle(maint, 'remote.confirm', { requestId: id })).toMatchObject({
      ok: false,
      error: { message: 'Enter your PIN to confirm the change' },
    });
    expect(await p.api.handle(maint, 'remote.confirm', { requestId: id, pin: '0000' })).toMatchObject({
      ok: false,
      error: { message: 'Wrong PIN' },
    });
    clock.t += 2000; // the wrong PIN's delay
    const done = await p.api.handle(maint, 'remote.confirm', { requestId: id, pin: MAINT_PIN });
    // This plant has writes off: the bounded path refuses, and both sides see why.
    expect(done).toMatchObject({
      ok: true,
      value: { state: 'refused', decidedBy: 'maint', result: { code: 'WRITES_DISABLED', user: 'support' } },
    });
    expect(await p.api.handle(maint, 'remote.confirm', { requestId: id, pin: MAINT_PIN })).toMatchObject({
      ok: false,
      error: { code: 'BAD_REQUEST' },
    });
    const own = await p.api.handle(caller, 'remote.requests', {});
    expect(own).toMatchObject({ ok: true, value: { requests: [{ id, state: 'refused' }] } });
    // Audited with the remote session's id: the request, the decision and the write itself.
    const kinds = p.audit.query({ sessionId: caller.sessionId, limit: 50 }).map((r) => `${r.kind}:${String(r.detail.action ?? '')}`);
    expect(kinds).toEqual(expect.arrayContaining(['remote_action:request', 'remote_action:confirm', 'write:']));
    const summary = await p.api.handle(maint, 'remote.summary', { grantId: grant.id });
    expect(summary).toMatchObject({ ok: true, value: { grant: { account: 'support' }, requests: [{ id, state: 'refused' }] } });
  });

  it('are written on behalf of the remote person (apply) or adopted by the site (propose), and expire with the session', async () => {
    const { p } = await setup();
    const writes: { caller: Caller; value: number | boolean }[] = [];
    const host = {
      clock: p.core.clock,
      point: (m: string, pt: string) => p.core.point(m, pt),
      snapshot: (m: string) => p.core.snapshot(m),
      writes: {
        write: async (caller: Caller, machineId: string, pointId: string, value: number | boolean): Promise<WriteResult> => {
          writes.push({ caller, value });
          return {
            id: `w${writes.length}`,
            machineId,
            pointId,
            user: caller.user,
            at: T0,
            before: 212,
            requested: value,
            readback: value,
            outcome: 'written',
            code: null,
            reason: null,
            revertOf: null,
            unit: '°C',
          };
        },
      },
    };
    const requests = new ChangeRequests({
      host,
      support: p.remote.support,
      accounts: p.accounts,
      verifyPin: (u, pin) => p.auth.verifyPin(u, pin),
    });
    const apply = p.remote.support.grant(MAINT_LOCAL, { account: 'support', scope: 'apply' });
    const j = await join(p, apply.joinCode);
    const r1 = requests.propose(j.caller, p.remote.support.liveGrantOf(j.caller)!, { machineId: 'im-1', pointId: 'zone1-sp', value: 214 });
    expect(await requests.confirm(MAINT_LOCAL, { requestId: r1.id })).toMatchObject({ state: 'written', result: { readback: 214 } });
    expect(writes[0]?.caller).toEqual({ user: 'support', role: 'supplier-support', origin: 'remote', sessionId: j.caller.sessionId });
    const r2 = requests.propose(j.caller, p.remote.support.liveGrantOf(j.caller)!, { machineId: 'im-1', pointId: 'zone1-sp', value: 216 });
    p.remote.support.end(apply.grant.id, MAINT_LOCAL);
    expect(requests.list().find((r) => r.id === r2.id)).toMatchObject({ state: 'expired' });
    await expect(requests.confirm(MAINT_LOCAL, { requestId: r2.id })).rejects.toThrow(/was expired/);

    const prop = p.remote.support.grant(MAINT_LOCAL, { account: 'support', scope: 'propose' });
    const j2 = await join(p, prop.joinCode);
    const r3 = requests.propose(j2.caller, p.remote.support.liveGrantOf(j2.caller)!, {
      machineId: 'im-1',
      pointId: 'zone1-sp',
      value: 213,
    });
    expect(r3.kind).toBe('proposal');
    await requests.confirm(MAINT_LOCAL, { requestId: r3.id });
    expect(writes[1]?.caller).toEqual(MAINT_LOCAL);
    const r4 = requests.propose(j2.caller, p.remote.support.liveGrantOf(j2.caller)!, {
      machineId: 'im-1',
      pointId: 'zone1-sp',
      value: 219,
    });
    expect(requests.reject(MAINT_LOCAL, { requestId: r4.id, reason: 'not during this batch' })).toMatchObject({
      state: 'rejected',
      reason: 'not during this batch',
    });
    requests.close();
  });
});
