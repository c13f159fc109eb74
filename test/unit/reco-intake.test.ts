/**
 * Intake of supplier recommendations: every refusal reason (protocol and plant), each stored in
 * the refused list with its reason in words, audited and reported to the cloud, never in the
 * inbox's actionable items; duplicates of the same message are not refusals; an id read from a
 * forged message does not burn the genuine one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { boxKeyPair, signingKeyPair } from '../../src-main/protocol';
import type { RecoRefusalCode } from '../../src-preload/contract';
import { checkAgainstPlant } from '../../src-main/recommendations/intake';
import { body, makePlant, sealed, T0, type RecoPlant } from './reco-fixtures';

let plants: RecoPlant[] = [];
afterEach(async () => {
  for (const p of plants) {
    p.service.stop();
    await p.core.stop();
  }
  plants = [];
});

function plant(): RecoPlant {
  const p = makePlant();
  plants.push(p);
  return p;
}

/** The one refusal the plant recorded, and that nothing became actionable. */
function expectRefusedOnly(p: RecoPlant, code: RecoRefusalCode, ref: string, message: string | RegExp): void {
  const inbox = p.service.inbox({ user: 'op', role: 'operator', origin: 'local' });
  expect(inbox.items).toEqual([]);
  expect(inbox.refused).toHaveLength(1);
  expect(inbox.refused[0]).toMatchObject({ code, ref, receivedAt: T0 });
  if (typeof message === 'string') expect(inbox.refused[0]!.message).toBe(message);
  else expect(inbox.refused[0]!.message).toMatch(message);
  expect(p.reporter.sent).toEqual([
    expect.objectContaining({ kind: 'refused', recommendation: ref, refusal: { code, message: inbox.refused[0]!.message } }),
  ]);
  expect(p.audit.filter((a) => a.kind === 'reco_refused')).toEqual([
    expect.objectContaining({ kind: 'reco_refused', detail: { ref, code, message: inbox.refused[0]!.message } }),
  ]);
  expect(p.audit.some((a) => a.kind === 'reco_received')).toBe(false);
}

describe('recommendation intake', () => {
  it('accepts a genuine recommendation as pending, audited, with current values and limits in the view', () => {
    const p = plant();
    const v = p.receive(sealed(p.keys, body(p.keys)));
    expect(v).toMatchObject({ verdict: 'accepted', id: 'reco-1' });
    const inbox = p.service.inbox({ user: 'op', role: 'operator', origin: 'local' });
    expect(inbox.refused).toEqual([]);
    expect(inbox.autoRevertAllowed).toBe(false);
    expect(inbox.items).toHaveLength(1);
    const item = inbox.items[0]!;
    expect(item).toMatchObject({
      id: 'reco-1',
      machineId: 'im-1',
      machineName: 'Moulding 1',
      status: 'pending',
      receivedAt: T0,
      machineState: 'running',
      interlock: { ok: true, message: null },
      decision: null,
      apply: null,
      outcome: null,
      expect: { kpi: 'cycleTime', change: -0.04 },
    });
    expect(item.changes).toEqual([
      {
        pointId: 'zone1-sp',
        name: 'Zone 1 setpoint',
        unit: '°C',
        decimals: 1,
        expected: 212,
        current: 212,
        proposed: 214,
        limits: { min: 180, max: 240, maxStep: 5 },
      },
      {
        pointId: 'zone2-sp',
        name: 'Zone 2 setpoint',
        unit: '°C',
        decimals: 1,
        expected: 215,
        current: 215,
        proposed: 218,
        limits: { min: 180, max: 240, maxStep: 5 },
      },
    ]);
    expect(p.audit.filter((a) => a.kind === 'reco_received')).toEqual([
      expect.objectContaining({
        machineId: 'im-1',
        detail: expect.objectContaining({
          id: 'reco-1',
          changes: [
            { pointId: 'zone1-sp', expected: 212, proposed: 214 },
            { pointId: 'zone2-sp', expected: 215, proposed: 218 },
          ],
        }),
      }),
    ]);
    // Receipt is not a decision: nothing goes to the cloud yet.
    expect(p.reporter.sent).toEqual([]);
    expect(p.updates()).toBe(1);
  });

  it('refuses a malformed message, remembering no id', () => {
    const p = plant();
    const m = sealed(p.keys, body(p.keys));
    const doc = { ...m.doc };
    delete doc.sig;
    expect(p.receive({ doc, payload: Buffer.from(JSON.stringify(doc)) }).verdict).toBe('refused');
    const ref = p.service.inbox({ user: 'op', role: 'operator', origin: 'local' }).refused[0]!.ref;
    // The id was readable but not authenticated: the reference is the message's, and the id stays free.
    expect(ref).toBe('reco-1');
    expectRefusedOnly(p, 'malformed', 'reco-1', /sig/);
    expect(p.receive(m).verdict).toBe('accepted');
  });

  it('refuses a forged recommendation (bad signature) and its id does not burn the genuine one', () => {
    const p = plant();
    const genuine = sealed(p.keys, body(p.keys));
    const forged = {
      ...genuine.doc,
      plant: genuine.doc.plant,
      ct: (genuine.doc.ct as string).replace(/^./, (c) => (c === 'A' ? 'B' : 'A')),
    };
    expect(p.receive({ doc: forged, payload: Buffer.from(JSON.stringify(forged)) })).toMatchObject({
      verdict: 'refused',
      code: 'bad_signature',
    });
    expectRefusedOnly(p, 'bad_signature', 'reco-1', `the signature does not verify with supplier key ${p.keys.supplier.kid}`);
    expect(p.receive(genuine).verdict).toBe('accepted');
  });

  it('refuses a recommendation signed by a key the plant does not pin', () => {
    const p = plant();
    const other = signingKeyPair();
    p.receive(sealed(p.keys, body(p.keys), other));
    expectRefusedOnly(p, 'unknown_key', 'reco-1', /not a pinned supplier key/);
  });

  it('refuses one sealed to a key the plant does not hold (undecryptable)', () => {
    const p = plant();
    const keys = { ...p.keys, plantBox: boxKeyPair() };
    p.receive(sealed(keys, body(p.keys)));
    expectRefusedOnly(p, 'undecryptable', 'reco-1', /which this plant does not hold/);
  });

  it('refuses one addressed to another plant', () => {
    const p = plant();
    const other = makePlant().keys;
    p.receive(sealed(p.keys, body(p.keys, { plant: other.plant })));
    expectRefusedOnly(p, 'wrong_plant', 'reco-1', `the recommendation is addressed to plant ${other.plant}, not ${p.keys.plant}`);
  });

  it('refuses an expired one and one not yet valid', () => {
    const p = plant();
    p.receive(sealed(p.keys, body(p.keys, { issuedAt: T0 - 7_200_000, validUntil: T0 - 1 })));
    expectRefusedOnly(p, 'expired', 'reco-1', `valid until ${new Date(T0 - 1).toISOString()}`);
    const q = plant();
    q.receive(sealed(q.keys, body(q.keys, { issuedAt: T0 + 600_000, validUntil: T0 + 7_200_000 })));
    expectRefusedOnly(q, 'not_yet_valid', 'reco-1', /ahead of this plant's clock/);
  });

  it('refuses a replayed id; the same message again is a duplicate, neither refused nor reported', () => {
    const p = plant();
    const first = sealed(p.keys, body(p.keys));
    expect(p.receive(first).verdict).toBe('accepted');
    // A broker's redelivery (or a retained copy after a reconnect): same bytes.
    expect(p.receive(first)).toMatchObject({ verdict: 'duplicate', id: 'reco-1' });
    expect(p.service.inbox({ user: 'op', role: 'operator', origin: 'local' }).refused).toEqual([]);
    // Another message under the same id: a replay.
    const again = sealed(p.keys, body(p.keys, { rationale: 'same id, other content' }));
    expect(p.receive(again)).toMatchObject({ verdict: 'refused', code: 'replayed' });
    const inbox = p.service.inbox({ user: 'op', role: 'operator', origin: 'local' });
    expect(inbox.items.map((i) => i.id)).toEqual(['reco-1']);
    expect(inbox.refused).toEqual([
      {
        ref: 'reco-1',
        receivedAt: T0,
        code: 'replayed',
        message: `recommendation reco-1 was already received on ${new Date(T0).toISOString()}: another message with its id is refused`,
        machineId: 'im-1',
      },
    ]);
    expect(p.reporter.sent.map((r) => r.kind)).toEqual(['refused']);
  });

  it('remembers the id of a refused authenticated recommendation: the same id again is a replay', () => {
    const p = plant();
    p.receive(sealed(p.keys, body(p.keys, { changes: [{ point: 'zone1-sp', expected: 212, proposed: 230 }] })));
    const fixed = sealed(p.keys, body(p.keys));
    expect(p.receive(fixed)).toMatchObject({ verdict: 'refused', code: 'replayed' });
  });

  const plantCases: [string, RecoRefusalCode, Parameters<typeof body>[1], string | null, string][] = [
    ['an unknown machine', 'unknown_machine', {}, null, ''],
    [
      'an unknown point',
      'unknown_point',
      { changes: [{ point: 'zone3-sp', expected: 1, proposed: 2 }] },
      'im-1',
      'Moulding 1 has no point "zone3-sp"',
    ],
    [
      'a point that is not writable',
      'not_writable',
      { changes: [{ point: 'zone1', expected: 211, proposed: 212 }] },
      'im-1',
      'Barrel zone 1 of Moulding 1 is read-only: the device profile gives it no write limits',
    ],
    [
      'a value above the maximum',
      'out_of_limits',
      { changes: [{ point: 'zone1-sp', expected: 238, proposed: 241 }] },
      'im-1',
      'Zone 1 setpoint: 241.0 °C is above the maximum 240.0 °C',
    ],
    [
      'a value below the minimum',
      'out_of_limits',
      { changes: [{ point: 'hold-sp', expected: 320, proposed: 290 }] },
      'im-1',
      'Holding pressure setpoint: 290 bar is below the minimum 300 bar',
    ],
    [
      'a step larger than the profile allows',
      'step_too_large',
      { changes: [{ point: 'zone2-sp', expected: 215, proposed: 221 }] },
      'im-1',
      'Zone 2 setpoint: from 215.0 °C to 221.0 °C is a change of 6.0 °C, larger than the largest allowed step of 5.0 °C',
    ],
  ];
  it.each(plantCases)('refuses %s', (_what, code, over, machineId, message) => {
    const p = plant();
    const b = body(p.keys, over);
    const m = code === 'unknown_machine' ? sealed(p.keys, { ...b, machine: p.keys.machine('im-9') }) : sealed(p.keys, b);
    expect(p.receive(m)).toMatchObject({ verdict: 'refused', code, id: 'reco-1' });
    expectRefusedOnly(
      p,
      code,
      'reco-1',
      code === 'unknown_machine' ? `no machine of this plant has the pseudonym ${p.keys.machine('im-9')}` : message,
    );
    expect(p.service.inbox({ user: 'op', role: 'operator', origin: 'local' }).refused[0]!.machineId).toBe(machineId);
    // Refused items are never actionable.
    return expect(p.service.apply({ user: 'anna', role: 'maintenance', origin: 'local' }, { id: 'reco-1' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });

  it('refuses at the plant check a change of an on/off point to anything but 0 or 1, and a point named twice', () => {
    const p = plant();
    const device = { ...p.config.devices[0]!, profileDef: { ...p.config.devices[0]!.profileDef } };
    device.profileDef.points = device.profileDef.points.map((x) =>
      x.id === 'auto' ? { ...x, writable: { min: 0, max: 1, maxStep: 1 } } : x,
    );
    const b = body(p.keys, { changes: [{ point: 'auto', expected: 0, proposed: 2 }] });
    expect(checkAgainstPlant(b, [device], () => 'im-1')).toEqual({
      ok: false,
      code: 'malformed',
      message: 'Automatic mode is on/off: a recommendation can only propose 0 or 1, not 2',
      machineId: 'im-1',
    });
    const twice = {
      ...body(p.keys),
      changes: [
        { point: 'zone1-sp', expected: 212, proposed: 213 },
        { point: 'zone1-sp', expected: 212, proposed: 214 },
      ],
    };
    expect(checkAgainstPlant(twice, [device], () => 'im-1')).toMatchObject({
      ok: false,
      code: 'malformed',
      message: 'the recommendation changes point "zone1-sp" twice',
    });
  });

  it('keeps the refusal when the report cannot be queued, and says so in the log', () => {
    const p = plant();
    p.reporter.failNext = new Error('outbox unavailable');
    p.receive(sealed(p.keys, body(p.keys, { changes: [{ point: 'zone1-sp', expected: 212, proposed: 250 }] })));
    expect(p.service.inbox({ user: 'op', role: 'operator', origin: 'local' }).refused.map((r) => r.code)).toEqual(['out_of_limits']);
    expect(p.log.lines.some((l) => l.level === 'error' && l.msg.includes('could not be reported'))).toBe(true);
  });
});
