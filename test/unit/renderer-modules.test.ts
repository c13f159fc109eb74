/**
 * The Modules page in the renderer: the words (health, heartbeat age, firmware, slot, update,
 * rollout state and plan, signatures, expiry, fingerprint groups), which modules an update may
 * be approved for, what needs attention, the role lists kept equal to the contract, and the
 * store against a scripted transport (load, modules.update, pair with PIN, import from a file
 * with its verification or refusal in words, approve, stop, one action at a time).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { FIRMWARE_UPLOAD_PATH, type CommandName, type EventName } from '../../src-preload/channels';
import {
  COMMANDS,
  ModulesStateSchema,
  type FirmwareRelease,
  type ModuleView,
  type ModulesState,
  type Result,
  type Rollout,
  type Transport,
} from '../../src-preload/contract';
import {
  MODULE_ACT_ROLES,
  MODULE_READ_ROLES,
  actBlockedReason,
  attentionCount,
  compareVersions,
  eventTitle,
  expiryText,
  fingerprintGroups,
  firmwareText,
  healthWords,
  heartbeatMissed,
  heartbeatText,
  listOrder,
  modulesSummary,
  needsAttention,
  refusalTitle,
  rolloutPlanText,
  rolloutStateText,
  signersText,
  sizeText,
  slotText,
  spanText,
  transferPercent,
  updateCandidates,
  updateText,
  uploadText,
  windowText,
} from '../../src-renderer/src/components/ModuleWords';
import { httpFirmwareUploader } from '../../src-renderer/src/transport/firmware-upload';
import {
  bytesToBase64,
  looksLikeModulesState,
  moduleErrorText,
  modulePinText,
  selectNoModuleManager,
  startModulesFeed,
  useModulesStore,
} from '../../src-renderer/src/stores/modules';
import { useAuthStore } from '../../src-renderer/src/stores/auth';
import { parseHash, routeHash } from '../../src-renderer/src/stores/navigation';
import { usePlantStore } from '../../src-renderer/src/stores/plant';

const T0 = Date.UTC(2025, 0, 15, 13, 0, 0); // 14:00 in Berlin
const TZ = 'Europe/Berlin';
const DAY = 86_400_000;

function mod(p: Partial<ModuleView> = {}): ModuleView {
  return {
    id: 'mod-1',
    machineId: 'im-1',
    model: 'im250',
    pairing: 'paired',
    fingerprint: '3f1a 09bc 77d2 e410 5a6b 0c9d 1e2f 3a4b',
    health: 'ok',
    lastHeartbeatAt: T0 - 12_000,
    version: '1.0.0',
    imageHash: 'ab'.repeat(64),
    knownRelease: true,
    slot: 'a',
    bootCount: 3,
    uptimeS: 7500,
    tamper: false,
    modbusClients: ['127.0.0.1'],
    update: { state: 'none', releaseId: null, version: null, transferred: 0, size: 0, message: null, since: null },
    history: [],
    events: [],
    ...p,
  };
}

function release(p: Partial<FirmwareRelease> = {}): FirmwareRelease {
  return {
    id: 'rel-110',
    models: ['im250'],
    version: '1.1.0',
    securityCounter: 2,
    size: 2_400_000,
    imageHash: 'cd'.repeat(64),
    created: T0 - DAY,
    expires: T0 + 30 * DAY,
    notes: 'Faster heat-up of zone 2.',
    signers: ['release-1', 'release-2'],
    threshold: 2,
    source: 'file',
    importedAt: T0 - 60_000,
    importedBy: 'anna',
    ...p,
  };
}

function rollout(p: Partial<Rollout> = {}): Rollout {
  return {
    id: 'ro-1',
    releaseId: 'rel-110',
    version: '1.1.0',
    moduleIds: ['mod-1', 'mod-2', 'mod-3'],
    approvedBy: 'anna',
    approvedAt: T0 - 60_000,
    state: 'first-module',
    message: null,
    soakS: 600,
    ...p,
  };
}

const ROOT = { version: 1, threshold: 2, keys: ['release-1', 'release-2', 'release-3'] };
const WINDOW = { text: 'Sat 06:00–14:00', openNow: false };

function modulesState(p: Partial<ModulesState> = {}): ModulesState {
  return { modules: [mod()], releases: [release()], refused: [], rollouts: [], maintenanceWindow: WINDOW, root: ROOT, ...p };
}

describe('module words', () => {
  it('keeps the role lists equal to the contract', () => {
    for (const c of ['modules.pair', 'firmware.import', 'firmware.approve', 'firmware.stop'] as const)
      expect([...MODULE_ACT_ROLES]).toEqual([...COMMANDS[c].roles]);
    expect([...MODULE_READ_ROLES]).toEqual([...COMMANDS['modules.list'].roles]);
  });

  it('is read-only for operators and viewers, with the reason in words', () => {
    expect(actBlockedReason('maintenance')).toBeNull();
    expect(actBlockedReason('admin')).toBeNull();
    expect(actBlockedReason('operator')).toBe('Read only: maintenance pairs modules and approves firmware updates.');
    expect(actBlockedReason('viewer')).toContain('Read only');
    expect(actBlockedReason(undefined)).toBe('Loading…');
  });

  it('words health with a tone for each', () => {
    expect(healthWords('ok')).toEqual({ word: 'HEALTHY', tone: 'ok' });
    expect(healthWords('warning')).toEqual({ word: 'WARNING', tone: 'warn' });
    expect(healthWords('alarm')).toEqual({ word: 'ALARM', tone: 'alarm' });
    expect(healthWords('unknown')).toEqual({ word: 'NO REPORT', tone: 'unknown' });
  });

  it('says how old the last heartbeat is, and when it is missed', () => {
    expect(heartbeatText(mod(), T0)).toBe('12 s ago');
    expect(heartbeatMissed(mod(), T0)).toBe(false);
    expect(heartbeatText(mod({ lastHeartbeatAt: T0 - 34_000 }), T0)).toBe('34 s ago');
    // Late by the page's own clock, before the console's alarm arrives.
    expect(heartbeatMissed(mod({ lastHeartbeatAt: T0 - 36_000 }), T0)).toBe(true);
    expect(heartbeatText(mod({ lastHeartbeatAt: T0 - 125_000 }), T0)).toBe('MISSED: last one 2 min ago');
    // The console's heartbeat-missed event counts even when the last one looks recent.
    const ev = {
      id: 'e1',
      moduleId: 'mod-1',
      machineId: 'im-1',
      kind: 'heartbeat-missed' as const,
      at: T0,
      message: 'No heartbeat',
      active: true,
    };
    expect(heartbeatMissed(mod({ events: [ev] }), T0)).toBe(true);
    expect(heartbeatMissed(mod({ events: [{ ...ev, active: false }] }), T0)).toBe(false);
    expect(heartbeatText(mod({ lastHeartbeatAt: null }), T0)).toBe('none received yet');
    expect(heartbeatMissed(mod({ lastHeartbeatAt: null }), T0)).toBe(false);
  });

  it('words the firmware, unknown firmware as an alarm, and the slot', () => {
    expect(firmwareText(mod())).toEqual({ text: '1.0.0, signed release', alarm: false });
    expect(firmwareText(mod({ knownRelease: false }))).toEqual({ text: '1.0.0 — unknown firmware!', alarm: true });
    expect(firmwareText(mod({ version: null, knownRelease: false }))).toEqual({ text: 'not reported yet', alarm: false });
    expect(firmwareText(mod({ slot: null }))).toEqual({ text: '1.0.0, factory firmware', alarm: false });
    expect(firmwareText(mod({ slot: null, knownRelease: false }))).toEqual({ text: '1.0.0 — unknown firmware!', alarm: true });
    expect(slotText(mod())).toBe('Slot A, 3 boots');
    expect(slotText(mod({ slot: 'b', bootCount: 1 }))).toBe('Slot B, 1 boot');
    expect(slotText(mod({ slot: null, bootCount: null }))).toBe('factory image');
  });

  it('groups a fingerprint in fours, as the module prints it', () => {
    expect(fingerprintGroups('3f1a09bc77d2e410')).toEqual(['3f1a', '09bc', '77d2', 'e410']);
    expect(fingerprintGroups('3f1a 09bc 77d2 e410')).toEqual(['3f1a', '09bc', '77d2', 'e410']);
    expect(fingerprintGroups('3F:1A:09:BC:77')).toEqual(['3F1A', '09BC', '77']);
    expect(fingerprintGroups('')).toEqual([]);
  });

  it('words sizes and spans', () => {
    expect(sizeText(480)).toBe('480 bytes');
    expect(sizeText(12_345)).toBe('12.3 kB');
    expect(sizeText(2_400_000)).toBe('2.4 MB');
    expect(spanText(45)).toBe('45 s');
    expect(spanText(600)).toBe('10 min');
    expect(spanText(5400)).toBe('1 h 30 min');
    expect(spanText(7200)).toBe('2 h');
  });

  it('words every update state, with the progress while downloading', () => {
    const u = (p: Partial<ModuleView['update']>): ModuleView['update'] => ({
      ...mod().update,
      version: '1.1.0',
      releaseId: 'rel-110',
      ...p,
    });
    expect(updateText(u({ state: 'none' }))).toEqual({ text: 'No update under way', tone: 'ok' });
    expect(updateText(u({ state: 'waiting' })).text).toBe(
      'Update to 1.1.0 approved, waiting for the maintenance window, an idle machine or its turn',
    );
    expect(updateText(u({ state: 'waiting', message: 'the machine is running' })).text).toBe(
      'Update to 1.1.0 approved, waiting: the machine is running',
    );
    const dl = u({ state: 'downloading', transferred: 1_080_000, size: 2_400_000 });
    expect(transferPercent(dl)).toBe(45);
    expect(updateText(dl).text).toBe('Downloading 1.1.0: 45 % (1.1 MB of 2.4 MB)');
    expect(transferPercent(u({ transferred: 10, size: 0 }))).toBeNull();
    expect(updateText(u({ state: 'installing' })).text).toBe('Installing 1.1.0 into the other slot');
    expect(updateText(u({ state: 'trial' })).text).toBe('Running 1.1.0 on trial: health check not passed yet');
    expect(updateText(u({ state: 'committed' }))).toEqual({ text: 'Updated to 1.1.0: health check passed', tone: 'ok' });
    expect(updateText(u({ state: 'rolled-back', message: 'self-test failed' }))).toEqual({
      text: 'Rolled back from 1.1.0 to the previous firmware: self-test failed',
      tone: 'warn',
    });
    expect(updateText(u({ state: 'failed', message: 'transfer stalled' }))).toEqual({
      text: 'Update to 1.1.0 failed: transfer stalled',
      tone: 'warn',
    });
    expect(updateText(u({ state: 'cancelled' })).text).toBe('Update to 1.1.0 cancelled');
  });

  it('words every rollout state with module names', () => {
    const name = (id: string): string => ({ 'mod-1': 'Moulding 1', 'mod-2': 'Press 2' })[id] ?? id;
    expect(rolloutStateText(rollout({ state: 'waiting-window' }), name)).toEqual({
      text: 'Approved, waiting for the maintenance window and an idle machine',
      tone: 'ok',
      active: true,
    });
    expect(rolloutStateText(rollout({ state: 'waiting-window', message: 'window opens Sat 06:00' }), name).text).toBe(
      'Approved, waiting for the maintenance window and an idle machine: window opens Sat 06:00',
    );
    expect(rolloutStateText(rollout(), name).text).toBe('Updating the first module, Moulding 1; the other 2 wait');
    expect(rolloutStateText(rollout({ moduleIds: ['mod-2'] }), name).text).toBe('Updating Press 2');
    expect(rolloutStateText(rollout({ state: 'soaking' }), name).text).toBe(
      'Moulding 1 is updated; the other 2 follow once it has run healthy for 10 min',
    );
    expect(rolloutStateText(rollout({ state: 'soaking', moduleIds: ['mod-1'] }), name).text).toBe(
      'Moulding 1 is updated; watching that it runs healthy for 10 min',
    );
    expect(rolloutStateText(rollout({ state: 'rest' }), name).text).toBe('Updating the other 2 modules');
    expect(rolloutStateText(rollout({ state: 'done' }), name)).toEqual({
      text: 'Done: 3 modules updated to 1.1.0',
      tone: 'ok',
      active: false,
    });
    expect(rolloutStateText(rollout({ state: 'stopped', message: 'Moulding 1 rolled back' }), name)).toEqual({
      text: 'Stopped: Moulding 1 rolled back',
      tone: 'warn',
      active: false,
    });
  });

  it('says plainly how an approved update goes', () => {
    expect(rolloutPlanText(3, 600, WINDOW)).toBe(
      'One module first; the others only after it has run healthy for 10 min. Only inside the maintenance window (Sat 06:00–14:00, closed now) and while the machine is idle.',
    );
    expect(rolloutPlanText(2, null, { text: 'Sat 06:00–14:00', openNow: true })).toBe(
      'One module first; the others only after it has run healthy for the set time. Only inside the maintenance window (Sat 06:00–14:00, open now) and while the machine is idle.',
    );
    expect(rolloutPlanText(2, 600, { text: 'always (no maintenance window set)', openNow: true })).toBe(
      'One module first; the others only after it has run healthy for 10 min. At any time (the plant has no maintenance window), but only while the machine is idle.',
    );
    expect(windowText(WINDOW)).toBe('Sat 06:00–14:00, closed now');
    expect(windowText({ text: 'always (no maintenance window set)', openNow: true })).toBe('none: updates may run at any time');
    expect(rolloutPlanText(1, 600, WINDOW)).toBe(
      'The module is updated, then checked. Only inside the maintenance window (Sat 06:00–14:00, closed now) and while the machine is idle.',
    );
  });

  it('words signatures and expiry without jargon', () => {
    expect(signersText(release(), ROOT)).toBe('Signed by 2 of 3 supplier release keys (2 needed)');
    expect(signersText(release({ signers: ['release-1', 'release-2', 'release-3'] }), ROOT)).toBe(
      'Signed by 3 of 3 supplier release keys (2 needed)',
    );
    expect(signersText(release({ signers: ['a'], threshold: 1 }), null)).toBe('Signed by 1 supplier release key (1 needed)');
    expect(expiryText(Date.UTC(2026, 10, 26, 12), T0, TZ)).toEqual({ text: 'Valid until 26/11/2026', expired: false });
    expect(expiryText(T0 - DAY, T0, TZ)).toEqual({ text: 'EXPIRED on 14/01/2025', expired: true });
  });

  it('titles refusals and events in words', () => {
    expect(refusalTitle('below_threshold')).toBe('Not enough release keys signed it');
    expect(refusalTitle('version_rollback')).toBe('Older than the installed firmware');
    expect(refusalTitle('duplicate')).toBe('Already imported');
    expect(eventTitle('tamper')).toBe('Enclosure opened');
    expect(eventTitle('foreign-modbus-client')).toBe('Another Modbus client');
  });

  it('compares versions by number', () => {
    expect(compareVersions('1.2.10', '1.2.9')).toBeGreaterThan(0);
    expect(compareVersions('1.0.0', '1.1.0')).toBeLessThan(0);
    expect(compareVersions('1.1', '1.1.0')).toBe(0);
    expect(compareVersions('2.0.0', '10.0.0')).toBeLessThan(0);
  });

  it('offers only paired modules of a matching model, with current → new or why not', () => {
    const mods = [
      mod(),
      mod({ id: 'mod-2', version: '1.1.0' }),
      mod({ id: 'mod-3', version: '1.2.0' }),
      mod({ id: 'mod-4', update: { ...mod().update, state: 'downloading' } }),
      mod({ id: 'mod-5', model: 'hp200' }),
      mod({ id: 'mod-6', pairing: 'pending' }),
      mod({ id: 'mod-7', version: null }),
    ];
    expect(updateCandidates(release(), mods).map((c) => [c.module.id, c.change, c.blocked])).toEqual([
      ['mod-1', '1.0.0 → 1.1.0', null],
      ['mod-2', '1.1.0 → 1.1.0', 'already runs 1.1.0'],
      ['mod-3', '1.2.0 → 1.1.0', 'runs a newer version (1.2.0)'],
      ['mod-4', '1.0.0 → 1.1.0', 'an update is already under way'],
      ['mod-7', 'unknown → 1.1.0', null],
    ]);
  });

  it('lists alarms first, then warnings, no report, healthy, rejected; pending ones apart', () => {
    const mods = [
      mod({ id: 'ok-1' }),
      mod({ id: 'rej', pairing: 'rejected', health: 'alarm' }),
      mod({ id: 'warn', health: 'warning' }),
      mod({ id: 'pend', pairing: 'pending', health: 'unknown' }),
      mod({ id: 'ok-2' }),
      mod({ id: 'alarm', health: 'alarm' }),
      mod({ id: 'none', health: 'unknown' }),
    ];
    expect(listOrder(mods).map((m) => m.id)).toEqual(['alarm', 'warn', 'none', 'ok-1', 'ok-2', 'rej']);
  });

  it('counts the modules needing a person', () => {
    const ev = { id: 'e1', moduleId: 'mod-x', machineId: null, kind: 'tamper' as const, at: T0, message: 'Enclosure opened', active: true };
    expect(needsAttention(mod(), T0)).toBe(false);
    expect(needsAttention(mod({ pairing: 'pending' }), T0)).toBe(true);
    expect(needsAttention(mod({ pairing: 'rejected', health: 'alarm' }), T0)).toBe(false);
    expect(needsAttention(mod({ health: 'warning' }), T0)).toBe(true);
    expect(needsAttention(mod({ tamper: true }), T0)).toBe(true);
    expect(needsAttention(mod({ knownRelease: false }), T0)).toBe(true);
    expect(needsAttention(mod({ events: [ev] }), T0)).toBe(true);
    expect(needsAttention(mod({ events: [{ ...ev, active: false }] }), T0)).toBe(false);
    expect(needsAttention(mod({ lastHeartbeatAt: T0 - 60_000 }), T0)).toBe(true);
    const s = modulesState({ modules: [mod(), mod({ id: 'b', pairing: 'pending' }), mod({ id: 'c', tamper: true })] });
    expect(attentionCount(s, T0)).toBe(2);
    expect(attentionCount(null, T0)).toBe(0);
    expect(modulesSummary(s, T0)).toBe('3 modules · 1 waiting for pairing · 2 paired, 1 needs attention');
    expect(modulesSummary(modulesState(), T0)).toBe('1 module · 1 paired, all healthy');
  });

  it('routes #/modules', () => {
    expect(parseHash('#/modules')).toEqual({ page: 'modules' });
    expect(routeHash({ page: 'modules' })).toBe('#/modules');
  });

  it('uses fixtures the contract accepts', () => {
    const ev = {
      id: 'e1',
      moduleId: 'mod-1',
      machineId: 'im-1',
      kind: 'tamper' as const,
      at: T0,
      message: 'Enclosure opened',
      active: true,
    };
    expect(ModulesStateSchema.safeParse(modulesState({ rollouts: [rollout()], modules: [mod({ events: [ev] })] })).success).toBe(true);
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

/** A file as the browser hands it over. */
const file = (name: string, bytes: Uint8Array<ArrayBuffer>): File => new File([bytes], name);

describe('modules store', () => {
  let f: ReturnType<typeof fakeTransport>;
  beforeEach(() => {
    f = fakeTransport();
    useModulesStore.setState({ state: null, loadError: null, busy: null, notice: null, importResult: null, upload: null });
    usePlantStore.setState({ info: { timezone: TZ, machines: [{ id: 'im-1', name: 'Moulding 1', model: 'im250' }] } as never });
  });

  it('loads at every connect, follows modules.update, ignores malformed updates', async () => {
    f.answers['modules.list'] = () => ({ ok: true, value: modulesState() });
    const stop = startModulesFeed(f.transport);
    f.connect();
    await expect.poll(() => useModulesStore.getState().state?.modules.length).toBe(1);
    f.emit('modules.update', modulesState({ modules: [mod(), mod({ id: 'mod-2', pairing: 'pending' })] }));
    expect(attentionCount(useModulesStore.getState().state, T0)).toBe(1);
    f.emit('modules.update', { modules: 'nope' });
    expect(useModulesStore.getState().state?.modules.map((m) => m.id)).toEqual(['mod-1', 'mod-2']);
    expect(looksLikeModulesState(modulesState())).toBe(true);
    expect(looksLikeModulesState(null)).toBe(false);
    f.connect();
    await expect.poll(() => f.calls.filter((c) => c.name === 'modules.list').length).toBe(2);
    // Another person signs in: the last one's result and import are not shown to them.
    useModulesStore.setState({ notice: { action: 'pair', subject: 'x', tone: 'ok', text: 'Paired', code: null, reason: null } });
    useAuthStore.setState({ session: { id: 's2' } as never });
    expect(useModulesStore.getState().notice).toBeNull();
    stop();
    expect(f.listeners('modules.update')).toBe(0);
  });

  it('keeps why the modules cannot be shown, in words', async () => {
    f.answers['modules.list'] = () => ({
      ok: false,
      error: { code: 'FORBIDDEN', message: 'Role "supplier-support" may not call modules.list' },
    });
    expect(await useModulesStore.getState().actions.load(f.transport)).toBe(false);
    expect(useModulesStore.getState().loadError).toEqual({
      code: 'FORBIDDEN',
      text: 'The modules cannot be shown: Role "supplier-support" may not call modules.list.',
    });
    expect(selectNoModuleManager(useModulesStore.getState())).toBe(false);
    // A console without module management: the header offers no way to an empty page.
    f.answers['modules.list'] = () => ({
      ok: false,
      error: { code: 'UNAVAILABLE', message: 'Module management is not set up on this console (no firmware root is pinned)' },
    });
    await useModulesStore.getState().actions.load(f.transport);
    expect(selectNoModuleManager(useModulesStore.getState())).toBe(true);
    expect(useModulesStore.getState().loadError?.text).toBe(
      'The modules cannot be shown now: Module management is not set up on this console (no firmware root is pinned).',
    );
    // Once loaded, a later failure (a lost connection) keeps the page and its way.
    useModulesStore.setState({ state: modulesState() });
    await useModulesStore.getState().actions.load(f.transport);
    expect(selectNoModuleManager(useModulesStore.getState())).toBe(false);
  });

  it('pairs with the PIN, merges the module, says what happened; PIN refusals keep the dialog', async () => {
    useModulesStore.setState({ state: modulesState({ modules: [mod({ pairing: 'pending' })] }) });
    f.answers['modules.pair'] = () => ({ ok: true, value: mod() });
    const n = await useModulesStore.getState().actions.pair(f.transport, 'mod-1', true, '2345');
    expect(f.calls).toEqual([{ name: 'modules.pair', request: { moduleId: 'mod-1', approve: true, pin: '2345' } }]);
    expect(n).toEqual({
      action: 'pair',
      subject: 'mod-1',
      tone: 'ok',
      text: 'Paired: Moulding 1 (mod-1) is trusted now; its heartbeats are checked with its key.',
      code: null,
      reason: null,
    });
    expect(useModulesStore.getState().state?.modules[0]?.pairing).toBe('paired');
    expect(useModulesStore.getState().busy).toBeNull();

    f.answers['modules.pair'] = () => ({ ok: false, error: { code: 'BAD_PIN', message: 'Wrong PIN: 4 more tries' } });
    const n2 = await useModulesStore.getState().actions.pair(f.transport, 'mod-1', false);
    expect(f.calls[1]?.request).toEqual({ moduleId: 'mod-1', approve: false });
    expect(n2).toMatchObject({
      action: 'unpair',
      code: 'BAD_PIN',
      tone: 'warn',
      text: 'Could not reject the pairing: Wrong PIN: 4 more tries.',
    });
    expect(modulePinText(n2)).toBe('Wrong PIN: 4 more tries');
    expect(modulePinText({ code: 'PIN_REQUIRED', reason: 'x' })).toBe('Enter your PIN to confirm');
    expect(modulePinText({ code: 'FORBIDDEN', reason: 'x' })).toBeNull();
    expect(modulePinText(n)).toBeNull();
  });

  it('imports a file as base64 over IPC and shows what the console verified', async () => {
    useModulesStore.setState({ state: modulesState({ releases: [] }) });
    const bytes = new Uint8Array(70_000).map((_, i) => (i * 7) & 0xff);
    f.answers['firmware.import'] = () => ({ ok: true, value: release() });
    const ipc: Transport = { ...f.transport, kind: 'ipc' };
    const n = await useModulesStore.getState().actions.importFile(ipc, file('im250-1.1.0.bundle', bytes));
    expect(f.calls).toEqual([
      { name: 'firmware.import', request: { fileName: 'im250-1.1.0.bundle', dataBase64: Buffer.from(bytes).toString('base64') } },
    ]);
    expect(COMMANDS['firmware.import'].request.safeParse(f.calls[0]?.request).success).toBe(true);
    expect(n).toMatchObject({ tone: 'ok', text: 'Imported: firmware 1.1.0 for im250', code: null });
    expect(useModulesStore.getState().importResult).toEqual({ kind: 'accepted', fileName: 'im250-1.1.0.bundle', release: release() });
    expect(useModulesStore.getState().state?.releases.map((r) => r.id)).toEqual(['rel-110']);
  });

  it('uploads in web mode, with its progress in bytes and percent, never over the WebSocket', async () => {
    useModulesStore.setState({ state: modulesState({ releases: [] }) });
    const bytes = new Uint8Array(2_000_000);
    const seen: ReturnType<typeof useModulesStore.getState>['upload'][] = [];
    const off = useModulesStore.subscribe((s, prev) => void (s.upload !== prev.upload && seen.push(s.upload)));
    const upload = async (f2: { name: string; size: number }, onProgress: (p: { sent: number; total: number }) => void) => {
      for (const sent of [0, 5_000, 19_999, 20_000, 1_000_000, 1_000_001, 2_000_000]) onProgress({ sent, total: f2.size });
      return { ok: true as const, value: release() };
    };
    const n = await useModulesStore.getState().actions.importFile(f.transport, file('im250-1.1.0.pcfw', bytes), upload);
    off();
    expect(f.calls).toEqual([]);
    expect(n).toMatchObject({ tone: 'ok', text: 'Imported: firmware 1.1.0 for im250' });
    // One render per whole percent, then none once the answer is in.
    expect(seen.map((u) => u && uploadText(u))).toEqual([
      'Uploading im250-1.1.0.pcfw: 0 bytes of 2.0 MB (0 %)',
      'Uploading im250-1.1.0.pcfw: 20.0 kB of 2.0 MB (1 %)',
      'Uploading im250-1.1.0.pcfw: 1.0 MB of 2.0 MB (50 %)',
      'Uploaded im250-1.1.0.pcfw: 2.0 MB (100 %). Checking signatures, expiry, model, size and image…',
      null,
    ]);
    expect(useModulesStore.getState().importResult).toMatchObject({ kind: 'accepted', fileName: 'im250-1.1.0.pcfw' });
  });

  it('uploads over HTTP with the file as the body and reads the answer envelope', async () => {
    const sent: { method: string; url: string; headers: Record<string, string>; body: Blob | null }[] = [];
    const progress: number[] = [];
    const fake =
      (status: number, responseText: string, fail = false) =>
      () => {
        const x = {
          upload: { onprogress: null as ((e: { loaded: number; total: number; lengthComputable: boolean }) => void) | null },
          onload: null as (() => void) | null,
          onerror: null as (() => void) | null,
          onabort: null as (() => void) | null,
          status,
          responseText,
          open: (method: string, url: string) => void sent.push({ method, url, headers: {}, body: null }),
          setRequestHeader: (k: string, v: string) => void (sent.at(-1)!.headers[k] = v),
          send(body: Blob) {
            sent.at(-1)!.body = body;
            x.upload.onprogress?.({ loaded: 3, total: body.size, lengthComputable: true });
            queueMicrotask(() => (fail ? x.onerror?.() : x.onload?.()));
          },
        };
        return x;
      };
    const f1 = file('im250 1.1.0+ü.pcfw', new Uint8Array([1, 2, 3]));
    const ok = await httpFirmwareUploader(fake(200, JSON.stringify({ ok: true, value: release() })))(f1, (p) => progress.push(p.sent));
    expect(ok).toEqual({ ok: true, value: release() });
    expect(sent[0]).toMatchObject({
      method: 'POST',
      url: `${FIRMWARE_UPLOAD_PATH}?name=im250%201.1.0%2B%C3%BC.pcfw`,
      headers: { 'Content-Type': 'application/octet-stream' },
    });
    expect(sent[0]!.body).toBe(f1);
    expect(progress).toEqual([3]);
    const refused = { ok: false, error: { code: 'BAD_REQUEST', message: 'Refused: the bundle has more than 33554432 bytes' } };
    expect(await httpFirmwareUploader(fake(413, JSON.stringify(refused)))(f1, () => {})).toEqual(refused);
    expect(await httpFirmwareUploader(fake(502, '<html>Bad gateway</html>'))(f1, () => {})).toEqual({
      ok: false,
      error: { code: 'UNAVAILABLE', message: 'the console answered the upload with HTTP 502' },
    });
    expect(await httpFirmwareUploader(fake(0, '', true))(f1, () => {})).toMatchObject({ ok: false, error: { message: /broke off/ } });
  });

  it('shows a refused import with the reason the console recorded, in words', async () => {
    useModulesStore.setState({ state: modulesState({ releases: [] }) });
    f.answers['firmware.import'] = () => ({
      ok: false,
      error: { code: 'FIRMWARE_REFUSED', message: 'below_threshold: 1 of the 2 signatures needed' },
    });
    const refused = {
      ref: 'x1',
      at: Date.now(),
      source: 'file' as const,
      fileName: 'one-key.bundle',
      code: 'below_threshold' as const,
      message: 'Not enough release keys signed it: 1 of the 2 needed.',
    };
    f.answers['modules.list'] = () => ({ ok: true, value: modulesState({ releases: [], refused: [refused] }) });
    const ipc: Transport = { ...f.transport, kind: 'ipc' };
    const n = await useModulesStore.getState().actions.importFile(ipc, file('one-key.bundle', new Uint8Array([1, 2, 3, 4])));
    expect(n).toMatchObject({ tone: 'warn', code: 'FIRMWARE_REFUSED' });
    expect(n.text).toBe('Could not import the firmware file: below_threshold: 1 of the 2 signatures needed.');
    expect(useModulesStore.getState().importResult).toEqual({
      kind: 'refused',
      fileName: 'one-key.bundle',
      title: 'Not enough release keys signed it',
      text: 'Not enough release keys signed it: 1 of the 2 needed.',
      code: 'below_threshold',
    });
  });

  it('refuses a file over 32 MiB without reading or sending it', async () => {
    const big = { name: 'huge.bin', size: 32 * 1024 * 1024 + 1, arrayBuffer: () => Promise.reject(new Error('must not be read')) };
    const n = await useModulesStore.getState().actions.importFile(f.transport, big);
    expect(f.calls).toEqual([]);
    expect(n.tone).toBe('warn');
    expect(useModulesStore.getState().importResult).toMatchObject({
      kind: 'refused',
      title: 'File too large',
      text: 'The file is 33.6 MB, more than the 32 MiB a firmware bundle may have.',
    });
  });

  it('approves an update, merges the rollout, and does one action at a time', async () => {
    useModulesStore.setState({ state: modulesState() });
    let release1: (v: Result<unknown>) => void = () => {};
    f.answers['firmware.approve'] = () => new Promise((r) => (release1 = r));
    const pending = useModulesStore.getState().actions.approve(f.transport, 'rel-110', ['mod-1'], '2345');
    expect(useModulesStore.getState().busy).toEqual({ action: 'approve', subject: 'rel-110' });
    const second = await useModulesStore.getState().actions.stop(f.transport, 'ro-1', 'wrong release');
    expect(second).toMatchObject({ code: 'BUSY', text: 'Another action is still under way: wait for its result.' });
    release1({ ok: true, value: rollout({ moduleIds: ['mod-1'], state: 'waiting-window' }) });
    const n = await pending;
    expect(f.calls).toEqual([{ name: 'firmware.approve', request: { releaseId: 'rel-110', moduleIds: ['mod-1'], pin: '2345' } }]);
    expect(n.text).toBe('Update to 1.1.0 approved for 1 module. Approved, waiting for the maintenance window and an idle machine.');
    expect(useModulesStore.getState().state?.rollouts.map((r) => r.state)).toEqual(['waiting-window']);
  });

  it('stops a rollout with the reason, and words a refusal', async () => {
    useModulesStore.setState({ state: modulesState({ rollouts: [rollout()] }) });
    f.answers['firmware.stop'] = () => ({ ok: true, value: rollout({ state: 'stopped', message: 'wrong release' }) });
    const n = await useModulesStore.getState().actions.stop(f.transport, 'ro-1', '  wrong release ');
    expect(f.calls[0]).toEqual({ name: 'firmware.stop', request: { rolloutId: 'ro-1', reason: 'wrong release' } });
    expect(n.text).toBe('Update to 1.1.0 stopped: modules not yet updated keep their firmware.');
    expect(useModulesStore.getState().state?.rollouts[0]?.state).toBe('stopped');
    f.answers['firmware.stop'] = () => ({ ok: false, error: { code: 'FORBIDDEN', message: 'Role "operator" may not call firmware.stop' } });
    const n2 = await useModulesStore.getState().actions.stop(f.transport, 'ro-1', 'x');
    expect(n2.text).toBe(
      'Could not stop the update: Role "operator" may not call firmware.stop. Maintenance and administrators do this; sign in as one of them.',
    );
    f.answers['firmware.stop'] = () => Promise.reject(new Error('socket closed'));
    expect((await useModulesStore.getState().actions.stop(f.transport, 'ro-1', 'x')).text).toBe(
      'Could not stop the update now: socket closed.',
    );
    expect(moduleErrorText('approve', 'NOT_FOUND', 'no release rel-9')).toBe(
      'Could not approve the update: it is no longer known to the console (no release rel-9).',
    );
    expect(moduleErrorText('pair', 'WEIRD', 'odd')).toBe('Could not approve the pairing: odd (WEIRD).');
  });

  it('encodes large files to base64 like Node does', () => {
    const bytes = new Uint8Array(200_001).map((_, i) => (i * 31 + 5) & 0xff);
    expect(bytesToBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
    expect(bytesToBase64(new Uint8Array())).toBe('');
  });
});
