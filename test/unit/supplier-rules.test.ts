/**
 * The reference cloud's tuning rule on hand-made samples, when a sent recommendation counts as
 * open, and the proposer (one open recommendation per machine, start delay, cooldown) over a real
 * cloud store, its published recommendations opened as the plant would.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadProfile } from '../../src-main/config/load';
import {
  boxKeyPair,
  createKeyRing,
  machinePseudonym,
  openRecommendation,
  parseRecommendationText,
  plantPseudonym,
  randomBytes,
  signingKeyPair,
} from '../../src-main/protocol';
import type { ReceiverEvent } from '../../supplier-cloud/events';
import type { ObservedBatch } from '../../supplier-cloud/inbox';
import { createProposer } from '../../supplier-cloud/proposer';
import { evaluateTuningRule, isOpen, ruleModelFromProfile, type RuleModel, type Samples } from '../../supplier-cloud/rules';
import { openCloudStore } from '../../supplier-cloud/store';

const T = 1_767_225_600_000;
const im250 = ruleModelFromProfile(loadProfile('builtin:im250', process.cwd()))!;

/** `n` samples one second apart ending at T, of `value(i)`. */
function series(n: number, value: (i: number) => number, end = T): [number, number][] {
  return Array.from({ length: n }, (_, i) => [end - (n - 1 - i) * 1000, value(i)]);
}

function samples(over: Partial<Record<string, [number, unknown][]>> = {}): Samples {
  return {
    cycle: series(30, () => 19.1),
    zone1: series(30, () => 214.8),
    'zone1-sp': series(30, () => 215),
    zone2: series(30, (i) => 215 + i * 0.01),
    'zone2-sp': series(30, () => 220),
    ...over,
  } as Samples;
}

describe('the rule model of a profile', () => {
  it('finds the IM-250 barrel zones with their writable limits, and nothing in models without heater zones', () => {
    expect(im250).toEqual({
      model: 'im250',
      idealCycleTimeS: 18,
      cyclePoint: 'cycle',
      zones: [
        { pv: 'zone1', sp: 'zone1-sp', name: 'Barrel zone 1', min: 180, max: 240, maxStep: 5 },
        { pv: 'zone2', sp: 'zone2-sp', name: 'Barrel zone 2', min: 180, max: 240, maxStep: 5 },
      ],
    });
    expect(ruleModelFromProfile(loadProfile('builtin:hp200', process.cwd()))).toBeNull();
    expect(ruleModelFromProfile(loadProfile('builtin:pk60', process.cwd()))).toBeNull();
  });
});

describe('evaluateTuningRule', () => {
  it('proposes raising the zone that runs below its setpoint while the cycle is slow', () => {
    const p = evaluateTuningRule(im250, samples(), T)!;
    expect(p.changes).toEqual([{ point: 'zone2-sp', expected: 220, proposed: 223 }]);
    // pv averaged over the last 15 s: 215.15 … 215.29 → 215.22; offset 4.78 °C.
    expect(p.evidence.pv).toBeCloseTo(215.22, 2);
    expect(p.evidence.offsetC).toBeCloseTo(4.78, 2);
    expect(p.evidence.meanCycleS).toBeCloseTo(19.1, 6);
    expect(p.rationale).toContain('Barrel zone 2 runs 4.8 °C below its setpoint (215.2 °C against 220 °C)');
    expect(p.rationale).toContain('19.1 s, 6.1 % above the ideal 18 s');
    expect(p.expect).toEqual({ kpi: 'cycleTime', change: -0.02 });
    expect(p.guards).toEqual([{ kpi: 'scrapRate', direction: 'rise', by: 0.02 }]);
    expect([p.windowS, p.validMs, p.autoRevert]).toEqual([1800, 7_200_000, false]);
  });

  it('does not fire at the ideal cycle, within the margin, or with too few cycle samples', () => {
    expect(evaluateTuningRule(im250, samples({ cycle: series(30, () => 18) }), T)).toBeNull();
    expect(evaluateTuningRule(im250, samples({ cycle: series(30, () => 18.5) }), T)).toBeNull(); // 2.8 % < 3 %
    expect(evaluateTuningRule(im250, samples({ cycle: series(30, () => 18.6) }), T)).not.toBeNull(); // 3.3 %
    expect(evaluateTuningRule(im250, samples({ cycle: series(2, () => 25) }), T)).toBeNull();
    // Samples older than the lookback do not count.
    expect(evaluateTuningRule(im250, samples({ cycle: series(30, () => 25, T - 61_000) }), T)).toBeNull();
    expect(evaluateTuningRule(im250, samples({ cycle: [[T, 0], [T, -1], [T, 'x'], ...series(2, () => 25)] }), T)).toBeNull();
  });

  it('does not fire when every zone is close enough to its setpoint', () => {
    expect(evaluateTuningRule(im250, samples({ zone2: series(30, () => 218.6) }), T)).toBeNull(); // 1.4 °C
    expect(evaluateTuningRule(im250, samples({ zone2: series(30, () => 218.5) }), T)?.changes[0]?.point).toBe('zone2-sp'); // 1.5 °C
    expect(evaluateTuningRule(im250, samples({ zone2: series(30, () => 225) }), T)).toBeNull(); // above
    expect(evaluateTuningRule(im250, samples({ 'zone2-sp': [] }), T)).toBeNull();
  });

  it('picks the zone furthest below, and keeps the change within max and the largest step', () => {
    const both = samples({ zone1: series(30, () => 205) });
    expect(evaluateTuningRule(im250, both, T)?.changes).toEqual([{ point: 'zone1-sp', expected: 215, proposed: 218 }]);
    const nearMax = samples({ 'zone2-sp': series(30, () => 239), zone2: series(30, () => 230) });
    expect(evaluateTuningRule(im250, nearMax, T)?.changes).toEqual([{ point: 'zone2-sp', expected: 239, proposed: 240 }]);
    expect(evaluateTuningRule(im250, samples({ 'zone2-sp': series(30, () => 240), zone2: series(30, () => 230) }), T)).toBeNull();
    const smallStep: RuleModel = { ...im250, zones: im250.zones.map((z) => ({ ...z, maxStep: 2 })) };
    expect(evaluateTuningRule(smallStep, samples(), T)?.changes[0]?.proposed).toBe(222);
    expect(evaluateTuningRule(im250, samples(), T, { raiseC: 1.5, minOffsetC: 4 })?.changes[0]?.proposed).toBe(221.5);
    expect(evaluateTuningRule(im250, samples(), T, { minOffsetC: 5 })).toBeNull();
  });
});

describe('isOpen', () => {
  const sent = { validUntil: T + 3_600_000, windowS: 120 };
  it('is open until decided, and after applying until the window (plus grace) ends', () => {
    expect(isOpen(sent, [], T)).toBe(true);
    expect(isOpen(sent, [], T + 3_600_001)).toBe(false);
    expect(isOpen(sent, [{ kind: 'decision', at: T, decision: { action: 'defer' } }], T + 1000)).toBe(true);
    expect(isOpen(sent, [{ kind: 'decision', at: T, decision: { action: 'reject' } }], T + 1000)).toBe(false);
    expect(isOpen(sent, [{ kind: 'refused', at: T }], T + 1000)).toBe(false);
    expect(isOpen(sent, [{ kind: 'result', at: T, result: { ok: false } }], T + 1000)).toBe(false);
    const applied = [{ kind: 'result' as const, at: T + 3_590_000, result: { ok: true } }];
    expect(isOpen(sent, applied, T + 3_700_000)).toBe(true); // past validUntil, inside window + grace
    expect(isOpen(sent, applied, T + 3_590_000 + 120_000 + 600_001)).toBe(false);
    expect(isOpen(sent, [...applied, { kind: 'outcome', at: T + 3_595_000, outcome: { state: 'measuring' } }], T + 3_596_000)).toBe(true);
    expect(isOpen(sent, [...applied, { kind: 'outcome', at: T + 3_595_000, outcome: { state: 'done' } }], T + 3_596_000)).toBe(false);
  });
});

describe('the proposer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pc-proposer-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('sends one recommendation per machine after the start delay, sealed to the plant, and waits out the cooldown', async () => {
    const store = openCloudStore(join(dir, 'cloud.db'), { receiver: 'test' });
    const supplier = signingKeyPair();
    const plantBox = boxKeyPair();
    const pk = randomBytes(32);
    const plant = {
      id: 'plant-a',
      pseudonym: plantPseudonym(pk, 'plant-a'),
      ring: createKeyRing('0000000000000000', Buffer.alloc(32)),
      box: plantBox,
    };
    const m1 = machinePseudonym(pk, 'im-1');
    const m2 = machinePseudonym(pk, 'im-2');
    store.registerPlants([plant]);
    let clock = T;
    const published: { topic: string; text: string }[] = [];
    const events: ReceiverEvent[] = [];
    const proposer = createProposer({
      store,
      plants: [plant],
      signer: supplier,
      publish: (topic, text) => {
        published.push({ topic, text });
        return Promise.resolve();
      },
      receiver: 'test',
      onEvent: (e) => events.push(e),
      now: () => clock,
      firstAfterMs: 30_000,
      cooldownMs: 600_000,
      rule: { windowS: 120 },
    });
    const batch = (machine: string, at: number, model = 'im250'): ObservedBatch => {
      const s = samples();
      const shift = at - T;
      const points = Object.fromEntries(
        Object.entries(s).map(([id, xs]) => [id, { unit: '', samples: xs.map(([t, v]) => [t + shift, v] as [number, unknown]) }]),
      );
      return { plant: plant.pseudonym, machine, machineId: machine === m1 ? 'im-1' : 'im-2', model, kind: 'sealed', to: at, points };
    };
    proposer.observe(batch(m1, clock));
    clock += 29_000;
    proposer.observe(batch(m1, clock));
    await proposer.idle();
    expect(published).toEqual([]); // before the start delay
    clock += 2000;
    proposer.observe(batch(m1, clock));
    proposer.observe(batch(m1, clock)); // while the first is in flight
    await proposer.idle();
    expect(published).toHaveLength(1);
    expect(published[0]!.topic).toBe(`pc/v1/${plant.pseudonym}/down`);
    const opened = openRecommendation(parseRecommendationText(published[0]!.text)!, {
      supplierKeys: new Map([[supplier.kid, { publicKey: supplier.publicKey, notAfter: null }]]),
      plantBox: (kid) => (kid === plantBox.kid ? plantBox : null),
      plant: plant.pseudonym,
      now: clock,
    });
    expect(opened.ok && opened.body).toMatchObject({
      machine: m1,
      changes: [{ point: 'zone2-sp', expected: 220, proposed: 223 }],
      windowS: 120,
    });
    expect(events).toEqual([
      expect.objectContaining({ event: 'reco-sent', plant: 'plant-a', machine: 'im-1', changes: 'zone2-sp 220 → 223' }),
    ]);
    const id = opened.ok ? opened.body.id : '';
    expect(store.reco.sent()).toEqual([
      expect.objectContaining({ id, plant: plant.pseudonym, machine: m1, origin: 'rule', sentAt: clock }),
    ]);

    // Another machine is independent; a model without heater zones never gets one.
    proposer.observe(batch(m2, clock, 'hp200'));
    proposer.observe(batch(m2, clock));
    await proposer.idle();
    expect(published).toHaveLength(2);

    // m1: rejected, but still inside the cooldown → nothing; after it → the next one.
    store.reco.recordReport({
      plant: plant.pseudonym,
      body: {
        v: 1,
        plant: plant.pseudonym,
        machine: m1,
        recommendation: id,
        seq: 9,
        at: clock,
        kind: 'decision',
        decision: { action: 'reject', role: 'maintenance', reason: null },
      },
      sig: 'a'.repeat(128),
      receiver: 'test',
      receivedAt: clock,
    });
    clock += 599_000;
    proposer.observe(batch(m1, clock));
    await proposer.idle();
    expect(published).toHaveLength(2);
    clock += 2000;
    proposer.observe(batch(m1, clock));
    await proposer.idle();
    expect(events.filter((e) => e.event === 'error')).toEqual([]);
    console.log(
      JSON.stringify(store.reco.sent().map((x) => [x.id, x.machine, x.sentAt - T])),
      JSON.stringify(store.reco.reports()),
      clock - T,
    );
    expect(published).toHaveLength(3);
    // …which is open (no report yet): past the cooldown, still nothing more.
    clock += 700_000;
    proposer.observe(batch(m1, clock));
    await proposer.idle();
    expect(published).toHaveLength(3);
    store.close();
  });
});
