/**
 * The recommendations inbox in the renderer: the words (expected effect, guards, window, time
 * left, changes, steps, refusals), the role lists kept equal to the contract, read-only for
 * operators and viewers, and the store against a scripted transport (load, reco.update,
 * decisions with their result or refusal in words, one at a time, the values before an apply).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { CommandName, EventName } from '../../src-preload/channels';
import {
  COMMANDS,
  type RecoChangeView,
  type RecoInbox,
  type Recommendation,
  type Result,
  type Transport,
  type WriteResult,
} from '../../src-preload/contract';
import { deferChoices } from '../../src-renderer/src/components/RecoDialogs';
import {
  RECO_DECIDE_ROLES,
  RECO_READ_ROLES,
  applySentence,
  changeDelta,
  changeLimits,
  changeProblems,
  currentDiffers,
  decideBlockedReason,
  decisionText,
  expectText,
  expiresText,
  guardText,
  isOpen,
  kpiDeltaText,
  kpiValueText,
  liveChange,
  measuredFraction,
  pendingCount,
  refusalTitle,
  relativeText,
  revertSentence,
  stepText,
  timeLeftText,
  windowSentence,
  windowText,
} from '../../src-renderer/src/lib/reco';
import { routeHash, parseHash } from '../../src-renderer/src/stores/navigation';
import { usePlantStore } from '../../src-renderer/src/stores/plant';
import { looksLikeInbox, pinRefusalText, recoErrorText, startRecoFeed, useRecoStore } from '../../src-renderer/src/stores/reco';

const T0 = Date.UTC(2025, 0, 15, 13, 0, 0); // 14:00 in Berlin
const TZ = 'Europe/Berlin';

const ZONE2: RecoChangeView = {
  pointId: 'zone2-sp',
  name: 'Zone 2 setpoint',
  unit: '°C',
  decimals: 1,
  expected: 212,
  current: 212,
  proposed: 218,
  limits: { min: 180, max: 240, maxStep: 10 },
};

function reco(p: Partial<Recommendation> = {}): Recommendation {
  return {
    id: 'r1',
    machineId: 'im-1',
    machineName: 'Moulding 1',
    issuedAt: T0 - 60_000,
    validUntil: T0 + 2 * 3_600_000,
    receivedAt: T0 - 30_000,
    status: 'pending',
    changes: [ZONE2],
    rationale: 'Cycle time above ideal while zone 2 runs below its setpoint.',
    expect: { kpi: 'cycleTime', change: -0.04 },
    windowS: 3600,
    guards: [{ kpi: 'scrapRate', direction: 'rise', by: 0.01 }],
    autoRevert: false,
    machineState: 'running',
    interlock: { ok: true, message: null },
    decision: null,
    apply: null,
    outcome: null,
    ...p,
  };
}

describe('recommendation words', () => {
  it('keeps the role lists equal to the contract', () => {
    for (const c of ['reco.apply', 'reco.reject', 'reco.defer', 'reco.revert'] as const)
      expect([...RECO_DECIDE_ROLES]).toEqual([...COMMANDS[c].roles]);
    expect([...RECO_READ_ROLES]).toEqual([...COMMANDS['reco.list'].roles]);
  });

  it('is read-only for operators and viewers, with the reason in words', () => {
    expect(decideBlockedReason('maintenance')).toBeNull();
    expect(decideBlockedReason('admin')).toBeNull();
    expect(decideBlockedReason('operator')).toBe(
      'Read only: maintenance decides whether a recommendation is applied, rejected or deferred.',
    );
    expect(decideBlockedReason('viewer')).toContain('Read only');
    expect(decideBlockedReason(undefined)).toBe('Loading…');
  });

  it('words the expected effect and the guards', () => {
    expect(expectText({ kpi: 'cycleTime', change: -0.04 })).toBe('Cycle time expected 4 % lower');
    expect(expectText({ kpi: 'oee', change: 0.025 })).toBe('OEE expected 2.5 % higher');
    expect(expectText({ kpi: 'throughput', change: 0 })).toBe('Throughput expected unchanged');
    expect(guardText({ kpi: 'scrapRate', direction: 'rise', by: 0.01 })).toBe('Scrap rate must not rise by more than 1 point');
    expect(guardText({ kpi: 'oee', direction: 'fall', by: 0.025 })).toBe('OEE must not fall by more than 2.5 points');
    expect(guardText({ kpi: 'cycleTime', direction: 'rise', by: 0.5 })).toBe('Cycle time must not rise by more than 0.5 s');
    expect(guardText({ kpi: 'throughput', direction: 'fall', by: 10 })).toBe('Throughput must not fall by more than 10 pcs/h');
  });

  it('words KPI values and changes with units and signs', () => {
    expect(kpiValueText('scrapRate', 0.0196)).toBe('2.0 %');
    expect(kpiValueText('cycleTime', 19.24)).toBe('19.2 s');
    expect(kpiValueText('throughput', 187.4)).toBe('187 pcs/h');
    expect(kpiValueText('oee', null)).toBe('—');
    expect(kpiDeltaText('scrapRate', 0.002)).toBe('+0.2 points');
    expect(kpiDeltaText('scrapRate', 0.012)).toBe('+1.2 points');
    expect(kpiDeltaText('cycleTime', -0.8)).toBe('−0.8 s');
    expect(kpiDeltaText('cycleTime', 0.01)).toBe('±0 s');
    expect(kpiDeltaText('throughput', 12)).toBe('+12 pcs/h');
    expect(kpiDeltaText('oee', null)).toBe('—');
    expect(relativeText(-0.0412)).toBe('−4.1 %');
    expect(relativeText(0.0001)).toBe('±0 %');
    expect(relativeText(null)).toBeNull();
  });

  it('words the window and the time left', () => {
    expect(windowText(10)).toBe('10 s');
    expect(windowText(900)).toBe('15 min');
    expect(windowText(3600)).toBe('1 h');
    expect(windowText(5400)).toBe('1 h 30 min');
    expect(windowText(2 * 86_400 + 3600 * 3 + 60)).toBe('2 d 3 h');
    expect(windowSentence(3600)).toBe('Measured over 1 h after applying, against the 1 h before');
    expect(timeLeftText(T0 + 80 * 60_000 + 5000, T0)).toBe('1 h 20 min');
    expect(timeLeftText(T0 + 12 * 60_000, T0)).toBe('12 min');
    expect(timeLeftText(T0 + 30_000, T0)).toBe('less than a minute');
    expect(timeLeftText(T0 + 51 * 3_600_000, T0)).toBe('2 d 3 h');
    expect(timeLeftText(T0, T0)).toBeNull();
    expect(expiresText(T0 + 80 * 60_000, T0, TZ)).toBe('Expires in 1 h 20 min (15:20)');
    expect(expiresText(T0 - 1, T0, TZ)).toBe('Expired at 13:59');
    expect(measuredFraction({ appliedAt: T0, until: T0 + 10_000 }, T0 + 2500)).toBe(0.25);
    expect(measuredFraction({ appliedAt: T0, until: T0 + 10_000 }, T0 + 20_000)).toBe(1);
  });

  it('words a change: old → new, delta, limits, an unexpected current value, what will be refused', () => {
    expect(applySentence(ZONE2)).toBe('Set Zone 2 setpoint from 212.0 °C to 218.0 °C');
    expect(applySentence({ ...ZONE2, current: null })).toBe('Set Zone 2 setpoint to 218.0 °C (its value now cannot be read)');
    expect(revertSentence({ ...ZONE2, current: 218 }, 212)).toBe('Set Zone 2 setpoint from 218.0 °C back to 212.0 °C');
    expect(revertSentence({ ...ZONE2, current: 218 }, null)).toBe('Set Zone 2 setpoint from 218.0 °C back to its value before the apply');
    expect(changeDelta(ZONE2)).toBe('+6.0 °C');
    expect(changeDelta({ ...ZONE2, proposed: 209.5 })).toBe('−2.5 °C');
    expect(changeLimits(ZONE2)).toBe('180–240 °C, steps of at most 10 °C');
    expect(currentDiffers(ZONE2)).toBe(false);
    expect(currentDiffers({ ...ZONE2, current: 212.04 })).toBe(false);
    expect(currentDiffers({ ...ZONE2, current: 215 })).toBe(true);
    expect(currentDiffers({ ...ZONE2, current: null })).toBe(false);
    expect(changeProblems(ZONE2)).toEqual([]);
    expect(changeProblems({ ...ZONE2, current: 205 })).toEqual(['a change of 13.0 °C is larger than the largest allowed step of 10.0 °C']);
    expect(changeProblems({ ...ZONE2, current: 235, proposed: 241 })).toEqual(['241.0 °C is above the maximum 240.0 °C']);
  });

  it('words steps, decisions, statuses and refusals', () => {
    const nameOf = (id: string) => (id === 'zone2-sp' ? 'Zone 2 setpoint' : id);
    const step = { pointId: 'zone2-sp', action: 'write' as const, writeId: 'w1', code: null, message: null };
    expect(stepText({ ...step, outcome: 'written' }, nameOf)).toBe('Zone 2 setpoint written and read back');
    expect(stepText({ ...step, outcome: 'readback-mismatch', message: 'read back 215.0 °C (asked 218.0 °C)' }, nameOf)).toBe(
      'Zone 2 setpoint written, but the device reports another value: read back 215.0 °C (asked 218.0 °C)',
    );
    expect(stepText({ ...step, outcome: 'refused', code: 'INTERLOCK' }, nameOf)).toBe('Zone 2 setpoint refused: INTERLOCK');
    expect(stepText({ ...step, outcome: 'skipped' }, nameOf)).toBe('Zone 2 setpoint not written (an earlier change failed)');
    expect(stepText({ ...step, action: 'revert', outcome: 'written' }, nameOf)).toBe('Zone 2 setpoint put back to its value before');
    expect(stepText({ ...step, action: 'revert', outcome: 'failed', message: 'timeout' }, nameOf)).toBe(
      'Zone 2 setpoint could NOT be put back: timeout',
    );
    const at = T0 + 5 * 60_000;
    expect(
      decisionText(reco({ decision: { action: 'reject', user: 'anna', at, reason: 'trial run today', deferredUntil: null } }), TZ),
    ).toBe('Rejected by anna at 14:05: trial run today');
    expect(decisionText(reco({ decision: { action: 'defer', user: 'anna', at, reason: null, deferredUntil: at + 3_600_000 } }), TZ)).toBe(
      'Deferred by anna at 14:05 until 15:05',
    );
    expect(decisionText(reco(), TZ)).toBeNull();
    expect(isOpen('pending') && isOpen('deferred') && isOpen('applying')).toBe(true);
    expect(isOpen('applied') || isOpen('rejected') || isOpen('apply-failed') || isOpen('expired') || isOpen('reverted')).toBe(false);
    expect(refusalTitle('bad_signature')).toBe('Signature does not verify');
    expect(refusalTitle('unknown_key')).toBe('Signed by a key this plant does not trust');
  });

  it('offers to defer for an hour, to the end of the shift while it is ahead, and to tomorrow', () => {
    expect(deferChoices(T0, T0 + 4 * 3_600_000)).toEqual([
      { key: 'hour', label: 'For 1 hour', until: T0 + 3_600_000 },
      { key: 'shift', label: 'To the end of the shift', until: T0 + 4 * 3_600_000 },
      { key: 'tomorrow', label: 'To tomorrow, same time', until: T0 + 86_400_000 },
    ]);
    expect(deferChoices(T0, T0 + 30_000).map((c) => c.key)).toEqual(['hour', 'tomorrow']);
  });

  it('routes #/recommendations', () => {
    expect(parseHash('#/recommendations')).toEqual({ page: 'recommendations' });
    expect(routeHash({ page: 'recommendations' })).toBe('#/recommendations');
  });
});

/** A scriptable transport: answers by command name, records calls, emits events. */
function fakeTransport() {
  const calls: { name: CommandName; request: unknown }[] = [];
  const answers: Partial<Record<CommandName, (req: unknown) => Result<unknown> | Promise<Result<unknown>>>> = {};
  const handlers = new Map<string, Set<(p: unknown) => void>>();
  const statusHandlers = new Set<(s: 'connected' | 'disconnected') => void>();
  const transport: Transport = {
    kind: 'websocket',
    call: (async (name: CommandName, request: unknown) => {
      calls.push({ name, request });
      const a = answers[name];
      if (!a) return { ok: false, error: { code: 'UNKNOWN_COMMAND', message: name } };
      return a(request);
    }) as Transport['call'],
    subscribe: ((name: EventName, h: (p: unknown) => void) => {
      let set = handlers.get(name);
      if (!set) handlers.set(name, (set = new Set()));
      set.add(h);
      return () => set.delete(h);
    }) as Transport['subscribe'],
    onStatus(h) {
      statusHandlers.add(h);
      return () => statusHandlers.delete(h);
    },
  };
  return {
    transport,
    calls,
    answers,
    emit: (name: EventName, payload: unknown) => handlers.get(name)?.forEach((h) => h(payload)),
    connect: () => statusHandlers.forEach((h) => h('connected')),
    listeners: (name: EventName) => handlers.get(name)?.size ?? 0,
  };
}

const inbox = (items: Recommendation[], refused: RecoInbox['refused'] = []): RecoInbox => ({ items, refused, autoRevertAllowed: false });

describe('recommendations store', () => {
  let f: ReturnType<typeof fakeTransport>;
  beforeEach(() => {
    f = fakeTransport();
    useRecoStore.setState({ inbox: null, loadError: null, busy: null, notices: {} });
    usePlantStore.setState({ info: { timezone: TZ } as never });
  });

  it('loads at every connect, follows reco.update, ignores malformed updates, counts the pending ones', async () => {
    f.answers['reco.list'] = () => ({ ok: true, value: inbox([reco(), reco({ id: 'r2', status: 'rejected' })]) });
    const stop = startRecoFeed(f.transport);
    f.connect();
    await expect.poll(() => useRecoStore.getState().inbox?.items.length).toBe(2);
    expect(pendingCount(useRecoStore.getState().inbox)).toBe(1);
    f.emit('reco.update', inbox([reco(), reco({ id: 'r3' }), reco({ id: 'r4', status: 'deferred' })]));
    expect(pendingCount(useRecoStore.getState().inbox)).toBe(2);
    f.emit('reco.update', { items: 'nope' });
    expect(useRecoStore.getState().inbox?.items.map((r) => r.id)).toEqual(['r1', 'r3', 'r4']);
    expect(looksLikeInbox(inbox([]))).toBe(true);
    expect(looksLikeInbox(null)).toBe(false);
    stop();
    expect(f.listeners('reco.update')).toBe(0);
  });

  it('keeps why the inbox cannot be read, in words', async () => {
    f.answers['reco.list'] = () => ({
      ok: false,
      error: { code: 'UNAVAILABLE', message: 'Recommendations need the uplink, which this console does not have' },
    });
    expect(await useRecoStore.getState().actions.load(f.transport)).toBe(false);
    expect(useRecoStore.getState().loadError).toEqual({
      code: 'UNAVAILABLE',
      text: 'The recommendations cannot be shown now: Recommendations need the uplink, which this console does not have.',
    });
  });

  it('applies with the PIN, merges the result into the inbox and says what happened', async () => {
    useRecoStore.setState({ inbox: inbox([reco()]) });
    const applied = reco({
      status: 'applied',
      apply: {
        ok: true,
        summary: 'All 1 change written and read back',
        at: T0,
        steps: [{ pointId: 'zone2-sp', action: 'write', writeId: 'w1', outcome: 'written', code: null, message: null }],
      },
    });
    f.answers['reco.apply'] = () => ({ ok: true, value: applied });
    const n = await useRecoStore.getState().actions.apply(f.transport, 'r1', '2345');
    expect(f.calls).toEqual([{ name: 'reco.apply', request: { id: 'r1', pin: '2345' } }]);
    expect(n).toEqual({
      id: 'r1',
      action: 'apply',
      tone: 'ok',
      text: 'Applied: All 1 change written and read back',
      answered: true,
      code: null,
      reason: null,
    });
    expect(pinRefusalText(n)).toBeNull();
    expect(useRecoStore.getState().inbox?.items[0]?.status).toBe('applied');
    expect(useRecoStore.getState().notices['r1']).toEqual(n);
    expect(useRecoStore.getState().busy).toBeNull();
  });

  it('reports a failed apply and a refusal in words, without a PIN when none is given', async () => {
    useRecoStore.setState({ inbox: inbox([reco()]) });
    f.answers['reco.apply'] = () => ({
      ok: true,
      value: reco({
        status: 'apply-failed',
        apply: { ok: false, summary: 'Zone 2 read back 215 (asked 218): 1 change reverted', at: T0, steps: [] },
      }),
    });
    const n1 = await useRecoStore.getState().actions.apply(f.transport, 'r1');
    expect(f.calls[0]?.request).toEqual({ id: 'r1' });
    expect(n1).toMatchObject({ tone: 'warn', text: 'Not applied: Zone 2 read back 215 (asked 218): 1 change reverted' });
    f.answers['reco.apply'] = () => ({ ok: false, error: { code: 'FORBIDDEN', message: 'Role "operator" may not call reco.apply' } });
    const n2 = await useRecoStore.getState().actions.apply(f.transport, 'r1');
    expect(n2.answered).toBe(false);
    expect(n2.text).toBe(
      'Could not apply: Role "operator" may not call reco.apply. Maintenance and administrators decide; sign in as one of them.',
    );
    expect(pinRefusalText(n2)).toBeNull();
    f.answers['reco.apply'] = () => ({ ok: false, error: { code: 'BAD_PIN', message: 'Wrong PIN: 4 more tries' } });
    const n3 = await useRecoStore.getState().actions.apply(f.transport, 'r1', '9999');
    expect(n3).toMatchObject({ code: 'BAD_PIN', reason: 'Wrong PIN: 4 more tries', answered: false });
    expect(pinRefusalText(n3)).toBe('Wrong PIN: 4 more tries');
    expect(pinRefusalText({ code: 'PIN_REQUIRED', reason: 'Enter your PIN to confirm the change' })).toBe('Enter your PIN to confirm');
    expect(pinRefusalText({ code: 'LOCKED_OUT', reason: 'Locked for 5 min' })).toBe('Locked for 5 min');
    f.answers['reco.apply'] = () => Promise.reject(new Error('socket closed'));
    expect((await useRecoStore.getState().actions.apply(f.transport, 'r1')).text).toBe('Could not apply now: socket closed.');
    expect(recoErrorText('revert', 'NOT_FOUND', 'no r9')).toBe(
      'Could not put the old values back: this recommendation is no longer in the inbox (no r9).',
    );
  });

  it('rejects with the reason trimmed and defers until a time', async () => {
    useRecoStore.setState({ inbox: inbox([reco()]) });
    f.answers['reco.reject'] = (req) => ({
      ok: true,
      value: reco({
        status: 'rejected',
        decision: { action: 'reject', user: 'anna', at: T0, reason: (req as { reason: string }).reason, deferredUntil: null },
      }),
    });
    const n = await useRecoStore.getState().actions.reject(f.transport, 'r1', '  trial run today ');
    expect(f.calls[0]?.request).toEqual({ id: 'r1', reason: 'trial run today' });
    expect(n.text).toBe('Rejected: trial run today');
    f.answers['reco.defer'] = (req) => ({
      ok: true,
      value: reco({
        status: 'deferred',
        decision: { action: 'defer', user: 'anna', at: T0, reason: null, deferredUntil: (req as { untilMs: number }).untilMs },
      }),
    });
    const d = await useRecoStore.getState().actions.defer(f.transport, 'r1', T0 + 3_600_000);
    expect(f.calls[1]?.request).toEqual({ id: 'r1', untilMs: T0 + 3_600_000 });
    expect(d.text).toBe('Deferred until 15:00');
  });

  it('runs one decision at a time', async () => {
    useRecoStore.setState({ inbox: inbox([reco(), reco({ id: 'r2' })]) });
    let release: (r: Result<unknown>) => void = () => {};
    f.answers['reco.apply'] = () => new Promise((r) => (release = r));
    const first = useRecoStore.getState().actions.apply(f.transport, 'r1');
    expect(useRecoStore.getState().busy).toEqual({ id: 'r1', action: 'apply' });
    const second = await useRecoStore.getState().actions.reject(f.transport, 'r2', 'no');
    expect(second.text).toBe('Another decision is still under way: wait for its result.');
    expect(f.calls.map((c) => c.name)).toEqual(['reco.apply']);
    release({ ok: true, value: reco({ status: 'applied' }) });
    await first;
    expect(useRecoStore.getState().busy).toBeNull();
  });

  it('finds the values before the apply in the write log, for the revert', async () => {
    const r = reco({
      status: 'applied',
      changes: [ZONE2, { ...ZONE2, pointId: 'hold-sp', name: 'Holding pressure', unit: 'bar', decimals: 0 }],
      apply: {
        ok: true,
        summary: 'All 2 changes written and read back',
        at: T0,
        steps: [
          { pointId: 'zone2-sp', action: 'write', writeId: 'w7', outcome: 'written', code: null, message: null },
          { pointId: 'hold-sp', action: 'write', writeId: 'w8', outcome: 'written', code: null, message: null },
        ],
      },
    });
    const entry = (id: string, pointId: string, before: number): WriteResult => ({
      id,
      machineId: 'im-1',
      pointId,
      user: 'anna',
      at: T0,
      before,
      requested: 0,
      readback: 0,
      outcome: 'written',
      code: null,
      reason: null,
      revertOf: null,
      unit: '',
    });
    f.answers['writes.log'] = () => ({ ok: true, value: { entries: [entry('w7', 'zone2-sp', 212), entry('w1', 'hold-sp', 500)] } });
    expect(await useRecoStore.getState().actions.valuesBefore(f.transport, r)).toEqual({ 'zone2-sp': 212, 'hold-sp': null });
    expect(f.calls[0]).toEqual({ name: 'writes.log', request: { machineId: 'im-1', limit: 200 } });
  });
});

describe('the value now follows the machine', () => {
  const change: RecoChangeView = {
    pointId: 'zone1-sp',
    name: 'Zone 1 setpoint',
    unit: '°C',
    decimals: 1,
    expected: 215,
    current: 215,
    proposed: 218,
    limits: { min: 180, max: 240, maxStep: 5 },
  };
  it('takes a good live value over the inbox copy, shows a bad or stale one as unknown, keeps the copy without live data', () => {
    expect(liveChange(change, { value: 218, raw: [2180], quality: 'good', ts: T0, reason: null }).current).toBe(218);
    expect(liveChange(change, { value: 218, raw: [2180], quality: 'stale', ts: T0, reason: 'link lost' }).current).toBeNull();
    expect(liveChange(change, undefined).current).toBe(215);
    expect(currentDiffers(liveChange(change, { value: 218, raw: [2180], quality: 'good', ts: T0, reason: null }))).toBe(true);
  });
});
