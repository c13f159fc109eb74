import { beforeEach, describe, expect, it } from 'vitest';
import type { CommandName } from '../../src-preload/channels';
import { COMMANDS, type PlantInfo, type PointMeta, type Result, type Transport, type WriteResult } from '../../src-preload/contract';
import { logValues } from '../../src-renderer/src/components/WriteLog';
import {
  WRITE_LOG_ROLES,
  WRITE_ROLES,
  confirmSentence,
  interlockText,
  limitsText,
  nudge,
  outcomeText,
  outcomeWord,
  previewProblems,
  readOnlyReason,
  stepIncrement,
} from '../../src-renderer/src/lib/setpoints';
import { PIN_CODES, useWritesStore } from '../../src-renderer/src/stores/writes';

const ZONE: PointMeta = {
  id: 'zone1-sp',
  name: 'Zone 1 setpoint',
  function: 'holding',
  address: 100,
  type: 'int16',
  registers: 1,
  wordOrder: 'big',
  byteOrder: 'big',
  scale: 0.1,
  offset: 0,
  unit: '°C',
  decimals: 1,
  sensitivity: 'sealed',
  role: 'setpoint',
  key: false,
  normal: null,
  writable: { min: 180, max: 240, maxStep: 5 },
  interlock: null,
};
const HOLD: PointMeta = {
  ...ZONE,
  id: 'hold-sp',
  name: 'Holding pressure setpoint',
  type: 'uint16',
  scale: 1,
  unit: 'bar',
  decimals: 0,
  writable: { min: 300, max: 900, maxStep: 50 },
  interlock: ['idle'],
};

const result = (r: Partial<WriteResult>): WriteResult => ({
  id: 'w1',
  machineId: 'im-1',
  pointId: 'zone1-sp',
  user: 'anna',
  at: 0,
  before: 212,
  requested: 214,
  readback: 214,
  outcome: 'written',
  code: null,
  reason: null,
  revertOf: null,
  unit: '°C',
  ...r,
});

describe('setpoint words and numbers', () => {
  it('keeps the renderer role lists equal to the contract', () => {
    expect(WRITE_ROLES).toEqual(COMMANDS['points.write'].roles);
    expect(WRITE_ROLES).toEqual(COMMANDS['points.revert'].roles);
    expect(WRITE_LOG_ROLES).toEqual(COMMANDS['writes.log'].roles);
  });

  it('states limits, interlocks and the change in plain words with units', () => {
    expect(limitsText(ZONE)).toBe('180–240 °C, steps of at most 5 °C');
    expect(limitsText({ ...ZONE, writable: { min: 180.5, max: 240, maxStep: 0.5 } })).toBe('180.5–240 °C, steps of at most 0.5 °C');
    expect(interlockText(['idle'])).toBe('only while idle');
    expect(interlockText(['idle', 'fault'])).toBe('only while idle or in fault');
    expect(interlockText(null)).toBeNull();
    expect(confirmSentence(ZONE, 212, 214)).toBe('Set Zone 1 setpoint from 212.0 °C to 214.0 °C?');
    expect(confirmSentence(ZONE, 214, 212, true)).toBe('Undo: set Zone 1 setpoint from 214.0 °C back to 212.0 °C?');
  });

  it('steps by a 1-2-5 fifth of the largest step, rounded and clamped to the limits', () => {
    expect(stepIncrement(ZONE)).toBe(1);
    expect(stepIncrement(HOLD)).toBe(10);
    expect(stepIncrement({ decimals: 0, writable: { min: 0, max: 2000, maxStep: 100 } })).toBe(20);
    expect(stepIncrement({ decimals: 0, writable: { min: 0, max: 10, maxStep: 1 } })).toBe(1);
    expect(nudge(212.3, 1, ZONE)).toBe(213.3);
    expect(nudge(239.5, 1, ZONE)).toBe(240);
    expect(nudge(180.4, -1, ZONE)).toBe(180);
  });

  it('previews what the console will refuse', () => {
    expect(previewProblems(ZONE, 212, 214, 'running')).toEqual([]);
    expect(previewProblems(ZONE, 212, 220, 'running')).toEqual(['a change of 8.0 °C is larger than the largest allowed step of 5.0 °C']);
    expect(previewProblems(ZONE, 238, 241, 'running')).toEqual(['241.0 °C is above the maximum 240.0 °C']);
    expect(previewProblems(HOLD, 600, 610, 'running')).toEqual(['only while idle; the machine is running']);
  });

  it('tells the outcome as read back from the device', () => {
    expect(outcomeText(result({}), ZONE)).toEqual({ tone: 'ok', text: 'Zone 1 setpoint is now 214.0 °C (read back from the device)' });
    expect(outcomeText(result({ outcome: 'readback-mismatch', readback: 212 }), ZONE).text).toBe(
      'Written, but the device reports 212.0 °C instead of 214.0 °C',
    );
    expect(
      outcomeText(
        result({
          outcome: 'refused',
          code: 'STEP_EXCEEDED',
          reason: 'a change of 8.0 °C is larger than the largest allowed step of 5.0 °C',
        }),
        ZONE,
      ),
    ).toEqual({
      tone: 'warn',
      text: 'Refused: a change of 8.0 °C is larger than the largest allowed step of 5.0 °C',
    });
    expect(outcomeText(result({ revertOf: 'w0', readback: 212 }), ZONE).text).toBe(
      'Undone: Zone 1 setpoint is now 212.0 °C (read back from the device)',
    );
    expect(outcomeWord({ outcome: 'readback-mismatch', revertOf: null })).toBe('MISMATCH');
    expect(logValues(result({ outcome: 'refused', before: null, readback: null, requested: 250 }), ZONE)).toBe('— → 250.0 → — °C');
  });

  it('says why the panel is read-only', () => {
    const info = { writesEnabled: true, caller: { user: 'x', role: 'maintenance', origin: 'local' } } as PlantInfo;
    expect(readOnlyReason(info, true)).toBeNull();
    expect(readOnlyReason({ ...info, writesEnabled: false }, true)).toContain('turned off for this plant');
    expect(readOnlyReason({ ...info, caller: { ...info.caller, role: 'operator' } }, true)).toContain('signed in as operator');
    expect(readOnlyReason({ ...info, caller: { user: 'local-viewer', role: 'viewer', origin: 'local' } }, true)).toBe(
      'Viewing without sign-in: a maintenance or admin account signs in to change setpoints.',
    );
    expect(readOnlyReason(info, false)).toContain('Not connected');
  });
});

describe('writes store', () => {
  let calls: { name: string; request: unknown }[];
  let answers: Partial<Record<CommandName, () => Result<unknown>>>;
  const transport = {
    kind: 'websocket',
    call: (async (name: CommandName, request: unknown) => {
      calls.push({ name, request });
      return answers[name]?.() ?? { ok: false, error: { code: 'UNKNOWN_COMMAND', message: name } };
    }) as Transport['call'],
    subscribe: () => () => {},
    onStatus: () => () => {},
  } satisfies Transport;

  beforeEach(() => {
    calls = [];
    answers = { 'writes.log': () => ({ ok: true, value: { entries: [] } }) };
    useWritesStore.setState({ byMachine: {} });
  });

  it('records the outcome, offers Undo for a change and not after undoing it', async () => {
    const { actions } = useWritesStore.getState();
    answers['points.write'] = () => ({ ok: true, value: result({}) });
    await actions.write(transport, 'im-1', 'zone1-sp', 214);
    expect(calls.map((c) => c.name)).toEqual(['points.write', 'writes.log']);
    expect(calls[0]?.request).toEqual({ machineId: 'im-1', pointId: 'zone1-sp', value: 214 });
    let m = useWritesStore.getState().byMachine['im-1']!;
    expect(m.undoable?.id).toBe('w1');
    expect(m.busy).toBeNull();

    answers['points.write'] = () => ({ ok: true, value: result({ id: 'w2', outcome: 'refused', code: 'LIMIT_EXCEEDED' }) });
    await actions.write(transport, 'im-1', 'zone1-sp', 300);
    m = useWritesStore.getState().byMachine['im-1']!;
    expect(m.undoable?.id).toBe('w1'); // a refusal changed nothing: Undo still means the last change

    answers['points.revert'] = () => ({ ok: true, value: result({ id: 'w3', revertOf: 'w1', requested: 212, readback: 212 }) });
    await actions.revert(transport, 'im-1', 'w1');
    m = useWritesStore.getState().byMachine['im-1']!;
    expect(m.undoable).toBeNull();
    expect(m.outcome).toMatchObject({ kind: 'result', result: { id: 'w3' } });
  });

  it('turns an API error into words and keeps the log error', async () => {
    const { actions } = useWritesStore.getState();
    answers['points.write'] = () => ({ ok: false, error: { code: 'FORBIDDEN', message: 'Role "operator" may not call points.write' } });
    answers['writes.log'] = () => ({ ok: false, error: { code: 'UNAVAILABLE', message: 'down' } });
    const out = await actions.write(transport, 'im-1', 'zone1-sp', 214);
    expect(out).toEqual({ kind: 'error', message: 'FORBIDDEN: Role "operator" may not call points.write', code: 'FORBIDDEN' });
    await actions.loadLog(transport, 'im-1');
    expect(useWritesStore.getState().byMachine['im-1']?.logError).toBe('UNAVAILABLE: down');
  });

  it('carries the PIN with a write and a revert only when given, says a PIN refusal by its code, and forgets everything on reset', async () => {
    const { actions } = useWritesStore.getState();
    answers['writes.log'] = () => ({ ok: true, value: { entries: [] } });
    answers['points.write'] = () => ({ ok: false, error: { code: 'BAD_PIN', message: 'Wrong PIN' } });
    const bad = await actions.write(transport, 'im-1', 'zone1-sp', 214, '0000');
    expect(bad).toEqual({ kind: 'error', message: 'BAD_PIN: Wrong PIN', code: 'BAD_PIN' });
    expect(PIN_CODES.has('BAD_PIN') && PIN_CODES.has('PIN_REQUIRED') && !PIN_CODES.has('FORBIDDEN')).toBe(true);
    answers['points.write'] = () => ({ ok: true, value: result({ id: 'w9' }) });
    await actions.write(transport, 'im-1', 'zone1-sp', 214);
    answers['points.revert'] = () => ({ ok: true, value: result({ id: 'w10', revertOf: 'w9', requested: 212, readback: 212 }) });
    await actions.revert(transport, 'im-1', 'w9', '2345');
    expect(calls.filter((c) => c.name !== 'writes.log')).toEqual([
      { name: 'points.write', request: { machineId: 'im-1', pointId: 'zone1-sp', value: 214, pin: '0000' } },
      { name: 'points.write', request: { machineId: 'im-1', pointId: 'zone1-sp', value: 214 } },
      { name: 'points.revert', request: { writeId: 'w9', pin: '2345' } },
    ]);
    expect(useWritesStore.getState().byMachine['im-1']).toBeDefined();
    actions.reset();
    expect(useWritesStore.getState().byMachine).toEqual({});
  });
});
