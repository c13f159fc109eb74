/**
 * Remote support grants over a console restart (fake clock, one in-memory store kept across
 * "restarts"): a waiting grant's unused code still works until its expiry and no longer after;
 * a used code stays used; a live session is cut off at shutdown (or at the next start after a
 * crash) and audited, while its grant comes back live with its original end time until the
 * site ends it or grants again; grants whose time ran out or whose account was disabled meanwhile
 * end at the start; open change requests expire; the summary still has the session's records.
 */
import Database from 'libsql';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src-main/audit/log';
import { AccountStore } from '../../src-main/auth/accounts';
import { TEST_HASH_PARAMS } from '../../src-main/auth/passwords';
import { AuthService } from '../../src-main/auth/sessions';
import { resolveConfig } from '../../src-main/config/load';
import { memoryLogger } from '../../src-main/core/log';
import { PlantCore } from '../../src-main/core/plant';
import type { Poller } from '../../src-main/core/types';
import { signingKeyPair } from '../../src-main/protocol/keys';
import { createRemoteSupport, SqlRemoteStore, type RemoteSupportSystem } from '../../src-main/remote';
import { migrate, type StoreDb } from '../../src-main/store/schema';
import type { Caller, Link } from '../../src-preload/contract';

const T0 = Date.UTC(2026, 3, 7, 8, 0);
const MIN = 60_000;
const SUPPORT_PW = 'support-password-3';
const MAINT: Caller = { user: 'maint', role: 'maintenance', origin: 'local', sessionId: 'site-session' } as Caller;

const idlePoller = (): Poller => ({
  start() {},
  async stop() {},
  onResult: () => () => undefined,
  link: (): Link => ({
    state: 'connecting',
    since: T0,
    lastOkAt: null,
    lastError: null,
    consecutiveFailures: 0,
    pollsOk: 0,
    pollsFailed: 0,
    lastPollMs: null,
  }),
  async write() {},
  async readPoint() {
    throw new Error('not read in this test');
  },
});

interface Run {
  auth: AuthService;
  core: PlantCore;
  remote: RemoteSupportSystem;
}

let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  await cleanup?.();
  cleanup = null;
});

/** One store that outlives the console "runs" started on it. */
async function world(opts: { store?: boolean } = {}) {
  const clock = {
    t: T0,
    now() {
      return this.t;
    },
  };
  const db: StoreDb = new Database(':memory:');
  migrate(db);
  const audit = new AuditLog(db, { signing: signingKeyPair() }, { timers: false, clock });
  const accounts = new AccountStore(db, { audit, clock, hashParams: TEST_HASH_PARAMS });
  await accounts.add({ name: 'support', role: 'supplier-support', password: SUPPORT_PW });
  const config = resolveConfig(
    {
      plant: { name: 'Restart test', timezone: 'UTC' },
      devices: [{ id: 'im-1', name: 'Moulder 1', profile: 'builtin:im250', transport: { type: 'tcp', host: '127.0.0.1', port: 1502 } }],
    },
    'restart.json',
  );
  const runs: Run[] = [];
  /** Starts the console as bootstrap.ts does: supplier sign-ins from before end, then remote support on the store. */
  const start = (): Run => {
    const log = memoryLogger();
    const auth = new AuthService(db, accounts, { audit, clock, timers: false, idleLockMs: { local: null, remote: null } });
    for (const s of auth.list()) if (s.role === 'supplier-support') auth.endSession(s.id, 'shutdown');
    const core = new PlantCore({ config, log, clock, pollerFactory: idlePoller, audit });
    core.start();
    const remote = createRemoteSupport({
      auth,
      accounts,
      host: core,
      audit,
      log,
      limits: { timers: false },
      ...(opts.store === false ? {} : { store: new SqlRemoteStore(db, { log }) }),
    });
    const run = { auth, core, remote };
    runs.push(run);
    return run;
  };
  /** A clean stop (the remote system closes first, as bootstrap's stop does). */
  const stop = async (run: Run): Promise<void> => {
    run.remote.close();
    await run.core.stop();
    run.auth.close();
  };
  /** The support person signs in from outside and joins with `code`. */
  const join = async (run: Run, code: string | undefined) => {
    const login = await run.auth.login('support', SUPPORT_PW, { key: '10.1.2.3', origin: 'remote' });
    if (!login.ok) throw new Error(login.message);
    const result = run.remote.support.join(login.session, code, '10.1.2.3');
    const caller: Caller = { user: 'support', role: 'supplier-support', origin: 'remote', sessionId: login.session.id } as Caller;
    return { session: login.session, result, caller };
  };
  cleanup = async () => {
    for (const r of runs) {
      try {
        r.remote.requests.close();
        await r.core.stop();
        r.auth.close();
      } catch {
        // already stopped
      }
    }
    audit.close();
    db.close();
  };
  return { clock, db, audit, accounts, start, stop, join };
}

describe('remote support grants over a restart', () => {
  it('an unused join code still works after a restart until its expiry', async () => {
    const w = await world();
    const one = w.start();
    const { joinCode } = one.remote.support.grant(MAINT, { account: 'support', scope: 'view', durationMin: 60 });
    await w.stop(one);
    w.clock.t += 3 * MIN;
    const two = w.start();
    expect(two.remote.support.list().map((g) => g.state)).toEqual(['waiting']);
    const j = await w.join(two, joinCode);
    expect(j.result).toMatchObject({ ok: true, grant: { state: 'live', sessionId: j.session.id } });
  });

  it('an unused join code that ran out while the console was down is void: the grant ends at the start, audited', async () => {
    const w = await world();
    const one = w.start();
    const { grant, joinCode } = one.remote.support.grant(MAINT, { account: 'support', scope: 'view' });
    await w.stop(one);
    w.clock.t += 11 * MIN;
    const two = w.start();
    expect(two.remote.support.get(grant.id)).toMatchObject({ state: 'ended', endReason: 'the join code expired unused' });
    expect((await w.join(two, joinCode)).result).toMatchObject({ ok: false, code: 'NO_GRANT' });
    expect(w.audit.query({ kind: ['remote_end'] }).map((r) => r.detail.reason)).toEqual(['code-expired']);
  });

  it('a live session is cut off at shutdown and audited; its grant comes back live with its end time, and the used code stays used', async () => {
    const w = await world();
    const one = w.start();
    const { grant, joinCode } = one.remote.support.grant(MAINT, { account: 'support', scope: 'apply', durationMin: 60 });
    w.clock.t += MIN;
    const j = await w.join(one, joinCode);
    expect(j.result.ok).toBe(true);
    one.remote.support.reportPage(j.caller, '#/machine/im-1');
    const endsAt = one.remote.support.get(grant.id)!.endsAt;
    expect(endsAt).toBe(T0 + MIN + 60 * MIN);
    await w.stop(one);

    // The sign-in ended with the console, audited with the reason; the grant was not ended.
    expect(w.audit.query({ sessionId: j.session.id, kind: ['logout'] })[0]?.detail).toMatchObject({ reason: 'shutdown' });
    const cut = w.audit.query({ kind: ['remote_action'] }).filter((r) => r.detail.action === 'interrupted');
    expect(cut).toHaveLength(1);
    expect(cut[0]).toMatchObject({ sessionId: j.session.id, detail: { grantId: grant.id, account: 'support', endsAt } });
    expect(w.audit.query({ kind: ['remote_end'] })).toEqual([]);

    w.clock.t += 5 * MIN;
    const two = w.start();
    const back = two.remote.support.get(grant.id)!;
    expect(back).toMatchObject({ state: 'live', sessionId: null, page: null, endsAt, scope: 'apply', joinedAt: T0 + MIN });
    // The site sees it (the banner lists live grants) and nobody is in it.
    expect(
      two.remote.api
        .state(MAINT)
        .grants.filter((g) => g.state === 'live')
        .map((g) => g.id),
    ).toEqual([grant.id]);
    expect(two.auth.get(j.session.id)).toBeNull();
    expect(two.remote.api.gate(j.caller, 'machines.list', {})).toMatch(/without a live remote session/);
    const again = await w.join(two, joinCode);
    expect(again.result).toMatchObject({ ok: false, code: 'NO_GRANT', message: expect.stringMatching(/cut off when the console stopped/) });

    // The summary still has what happened before the restart.
    const summary = two.remote.api.summary(MAINT, { grantId: grant.id });
    expect(summary.pages).toEqual([{ at: T0 + MIN, page: '#/machine/im-1' }]);
    expect(summary.audit.map((r) => r.kind)).toEqual(expect.arrayContaining(['remote_grant', 'remote_join', 'remote_action', 'logout']));

    // Re-joining takes a new code granted on site, which replaces the cut-off grant.
    const regrant = two.remote.support.grant(MAINT, { account: 'support', scope: 'view', durationMin: 30 });
    expect(two.remote.support.get(grant.id)).toMatchObject({ state: 'ended', endReason: 'replaced by a new grant' });
    const rejoined = await w.join(two, regrant.joinCode);
    expect(rejoined.result).toMatchObject({ ok: true, grant: { id: regrant.grant.id, scope: 'view' } });
  });

  it('after a crash (no clean stop) the next start ends the left sign-in and audits the cut', async () => {
    const w = await world();
    const one = w.start();
    const { grant, joinCode } = one.remote.support.grant(MAINT, { account: 'support', scope: 'view' });
    const j = await w.join(one, joinCode);
    // No stop: the process died. The next start finds the session and the live grant in the store.
    const two = w.start();
    expect(two.auth.get(j.session.id)).toBeNull();
    expect(two.remote.support.get(grant.id)).toMatchObject({ state: 'live', sessionId: null });
    const cut = w.audit.query({ kind: ['remote_action'] }).filter((r) => r.detail.action === 'interrupted');
    expect(cut.map((r) => [r.sessionId, r.detail.reason])).toEqual([
      [j.session.id, expect.stringMatching(/^the console restarted without stopping cleanly/)],
    ]);
  });

  it('a grant whose time ran out, or whose account was disabled, while the console was down ends at the start', async () => {
    const w = await world();
    await w.accounts.add({ name: 'support2', role: 'supplier-support', password: SUPPORT_PW });
    const one = w.start();
    const a = one.remote.support.grant(MAINT, { account: 'support', scope: 'view', durationMin: 10 });
    await w.join(one, a.joinCode);
    const b = one.remote.support.grant(MAINT, { account: 'support2', scope: 'view' });
    await w.stop(one);
    w.accounts.disable('support2');
    w.clock.t += 11 * MIN;
    const two = w.start();
    expect(two.remote.support.get(a.grant.id)).toMatchObject({ state: 'ended', endReason: 'the granted time is over' });
    expect(two.remote.support.get(b.grant.id)).toMatchObject({ state: 'ended', endReason: 'the support account was disabled' });
    expect(two.remote.api.state(MAINT).grants.filter((g) => g.state !== 'ended')).toEqual([]);
  });

  it('open change requests come back expired, audited, and cannot be confirmed', async () => {
    const w = await world();
    const one = w.start();
    const { grant, joinCode } = one.remote.support.grant(MAINT, { account: 'support', scope: 'apply' });
    const j = await w.join(one, joinCode);
    const live = one.remote.support.liveGrantOf(j.caller)!;
    const r = one.remote.requests.propose(j.caller, live, { machineId: 'im-1', pointId: 'zone1-sp', value: 215 });
    expect(r.state).toBe('pending');
    await w.stop(one);
    const two = w.start();
    expect(two.remote.requests.list(grant.id)).toMatchObject([
      { id: r.id, state: 'expired', reason: 'The console stopped before anyone on site decided', to: 215 },
    ]);
    await expect(two.remote.requests.confirm(MAINT, { requestId: r.id })).rejects.toThrow(/was expired already/);
    const expired = w.audit.query({ kind: ['remote_action'] }).filter((x) => x.detail.action === 'expire');
    expect(expired.map((x) => [x.detail.requestId, x.machineId])).toEqual([[r.id, 'im-1']]);
    // A third start changes nothing more.
    await w.stop(two);
    const three = w.start();
    expect(three.remote.requests.list(grant.id)).toMatchObject([{ id: r.id, state: 'expired' }]);
    expect(w.audit.query({ kind: ['remote_action'] }).filter((x) => x.detail.action === 'expire')).toHaveLength(1);
  });

  it('without a store nothing survives: stopping ends every grant, as before', async () => {
    const w = await world({ store: false });
    const one = w.start();
    const { grant } = one.remote.support.grant(MAINT, { account: 'support', scope: 'view' });
    await w.stop(one);
    expect(one.remote.support.get(grant.id)).toMatchObject({ state: 'ended' });
    const two = w.start();
    expect(two.remote.support.list()).toEqual([]);
    expect(w.db.prepare('SELECT count(*) AS n FROM remote_grants').get()).toMatchObject({ n: 0 });
  });

  it('keeps only the join code hash, and its key, in the store', async () => {
    const w = await world();
    const one = w.start();
    const { joinCode } = one.remote.support.grant(MAINT, { account: 'support', scope: 'view' });
    const rows = w.db.prepare('SELECT grant_json, code_hash FROM remote_grants').all() as { grant_json: string; code_hash: unknown }[];
    expect(rows).toHaveLength(1);
    expect(rows[0]!.grant_json).not.toContain(joinCode);
    expect(Buffer.from(rows[0]!.code_hash as ArrayBuffer).length).toBe(32);
    const key = w.db.prepare("SELECT value FROM meta WHERE key = 'remote_join_code_key'").get() as { value: string };
    expect(key.value).toMatch(/^[0-9a-f]{64}$/);
    expect(new SqlRemoteStore(w.db).joinCodeKey().toString('hex')).toBe(key.value);
  });
});
