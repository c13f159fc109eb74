/** The uplink's API face: uplink.points from the profiles, uplink.status (also without an uplink), uplink.update, and the renderer's uplink store. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateSupplierKeys } from '../../supplier-cloud/keygen';
import { ConsoleApi } from '../../src-main/api/service';
import { LOCAL_OPERATOR } from '../helpers/callers';
import { loadProfile, packageRoot, resolveConfig } from '../../src-main/config/load';
import { PlantCore } from '../../src-main/core/plant';
import { disabledUplinkStatus, leavesPlan, type UplinkApi } from '../../src-main/uplink/points';
import { UplinkConfigSchema } from '../../src-main/uplink/config';
import { makeProvisioning, provisionedCloudRing, provisionedSupplierKeys, readProvisioning } from '../../src-main/uplink/provisioning';
import { COMMANDS, EVENTS, type Transport, type UplinkStatus } from '../../src-preload/contract';
import { downForMs, looksLikeUplinkStatus, startUplinkFeed, useUplinkStore } from '../../src-renderer/src/stores/uplink';

const devices = [
  { id: 'im-1', name: 'Moulding 1', profile: 'builtin:im250', transport: { type: 'tcp', host: '127.0.0.1', port: 5020 } },
  { id: 'press-2', name: 'Press 2', profile: 'builtin:hp200', transport: { type: 'tcp', host: '127.0.0.1', port: 5021 } },
];
const uplink = { broker: 'mqtts://broker.example:8883', provisioning: 'provisioning.json' };

describe('uplink.points', () => {
  it('lists every point with its profile class and what goes out', () => {
    const config = resolveConfig({ plant: { name: 'P' }, devices, uplink }, '(test)');
    const plan = leavesPlan(config, new Map([['im-1', 'aaaaaaaaaaaaaaaa']]));
    expect(plan).toMatchObject({ configured: true, plainTcp: false });
    const im = plan.machines[0]!;
    const profile = loadProfile('builtin:im250', packageRoot());
    expect(im.points.map((p) => p.id)).toEqual(profile.points.map((p) => p.id));
    expect(im.pseudonym).toBe('aaaaaaaaaaaaaaaa');
    const byId = Object.fromEntries(im.points.map((p) => [p.id, p]));
    expect(byId.serial).toMatchObject({ sensitivity: 'local', leaves: 'nothing' });
    expect(byId.zone1).toMatchObject({ sensitivity: 'sealed', leaves: 'encrypted' });
    expect(byId.energy).toMatchObject({ sensitivity: 'plain', leaves: 'readable' });
    expect(COMMANDS['uplink.points'].response.safeParse(plan).success).toBe(true);
  });

  it('says nothing leaves when no uplink is configured', async () => {
    const config = resolveConfig({ plant: { name: 'P' }, devices }, '(test)');
    const api = new ConsoleApi(new PlantCore({ config }));
    const points = await api.handle(LOCAL_OPERATOR, 'uplink.points', {});
    expect(
      points.ok && (points.value as ReturnType<typeof leavesPlan>).machines.flatMap((m) => m.points).every((p) => p.leaves === 'nothing'),
    ).toBe(true);
    const status = await api.handle({ user: 'x', role: 'supplier-support', origin: 'remote' }, 'uplink.status', {});
    expect(status).toMatchObject({ ok: true, value: { configured: false, state: 'disabled' } });
    expect(EVENTS['uplink.update'].safeParse(disabledUplinkStatus(1)).success).toBe(true);
    // The event stream exists without an uplink; it simply stays quiet.
    expect(typeof api.subscribe('uplink.update', () => undefined, LOCAL_OPERATOR)).toBe('function');
  });

  it('forwards the uplink status, its updates and its part of system.health', async () => {
    const config = resolveConfig({ plant: { name: 'P' }, devices, uplink }, '(test)');
    const handlers = new Set<(s: UplinkStatus) => void>();
    const status = { ...disabledUplinkStatus(5), configured: true, state: 'online' as const, lastAckSeq: 41 };
    const fake: UplinkApi = {
      status: () => status,
      health: () => ({ state: 'online', lastAckSeq: 41, outboxDepth: 3, delivery: 'ok', recording: true }),
      pseudonyms: () => new Map(),
      onUpdate: (h) => (handlers.add(h), () => void handlers.delete(h)),
    };
    const core = new PlantCore({ config });
    const api = new ConsoleApi(core, { uplink: fake });
    expect(await api.handle(LOCAL_OPERATOR, 'uplink.status', {})).toMatchObject({ ok: true, value: { state: 'online', lastAckSeq: 41 } });
    // The API adds the uplink's part of health; the core knows nothing of the uplink built on it.
    expect(await api.handle(LOCAL_OPERATOR, 'system.health', {})).toMatchObject({
      ok: true,
      value: { core: 'starting', uplink: { state: 'online', lastAckSeq: 41, outboxDepth: 3 } },
    });
    expect(core.health()).not.toHaveProperty('uplink');
    const without = await new ConsoleApi(core).handle(LOCAL_OPERATOR, 'system.health', {});
    expect(without.ok && without.value).not.toHaveProperty('uplink');
    const got: UplinkStatus[] = [];
    const off = api.subscribe('uplink.update', (s) => got.push(s), LOCAL_OPERATOR);
    for (const h of handlers) h(status);
    off();
    expect(got).toHaveLength(1);
    expect(handlers.size).toBe(0);
  });
});

describe('provisioning', () => {
  it('reads the provisioning file `supplier-cloud keygen --plant-id` writes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pc-prov-'));
    try {
      const r = generateSupplierKeys({ dir, plantId: 'acme-plant-9' });
      const { provisioning } = readProvisioning(join(dir, 'provisioning.json'));
      expect(provisioning.plant).toMatchObject({ id: 'acme-plant-9', pseudonym: r.plant!.pseudonym });
      expect(provisionedCloudRing(provisioning).current).toBe(r.keys.find((k) => k.role === 'cloud-encryption')!.kid);
      expect([...provisionedSupplierKeys(provisioning).keys()]).toEqual([r.keys.find((k) => k.role === 'supplier-signing')!.kid]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a key id that is not its key’s', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pc-prov-'));
    try {
      const doc = makeProvisioning({
        plantId: 'p',
        pseudonymKey: Buffer.alloc(32, 1),
        cloudPublicKeys: [Buffer.alloc(32, 2)],
        supplierPublicKeys: [Buffer.alloc(32, 3)],
      });
      doc.supplier.keys[0]!.kid = '0000000000000000';
      writeFileSync(join(dir, 'bad.json'), JSON.stringify(doc));
      expect(() => readProvisioning(join(dir, 'bad.json'))).toThrow(/supplier\.keys\.0\.kid: is not the key id/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('uplink config', () => {
  it('refuses plain TCP unless it is asked for explicitly, and keeps TLS verification on by default', () => {
    expect(UplinkConfigSchema.safeParse({ ...uplink, broker: 'mqtt://broker.example:1883' }).success).toBe(false);
    const plain = UplinkConfigSchema.parse({ ...uplink, broker: 'mqtt://broker.example:1883', insecurePlainTcp: true });
    expect(plain.insecurePlainTcp).toBe(true);
    const tls = UplinkConfigSchema.parse(uplink);
    expect(tls).toMatchObject({ insecurePlainTcp: false, batchIntervalMs: 1000, publish: { inflightWindow: 256 }, protocolVersion: 5 });
    expect(UplinkConfigSchema.safeParse({ ...uplink, password: 'secret' }).success).toBe(false);
    expect(UplinkConfigSchema.safeParse({ ...uplink, passwordEnv: 'MQTT_PW' }).success).toBe(false);
  });
});

describe('renderer uplink store', () => {
  const online: UplinkStatus = { ...disabledUplinkStatus(1000), configured: true, state: 'online', downSince: null };

  it('computes how long the uplink has been down', () => {
    expect(downForMs(online, 5000)).toBe(0);
    expect(downForMs({ ...online, state: 'connecting', downSince: 2000 }, 5000)).toBe(3000);
    expect(downForMs(disabledUplinkStatus(1), 5000)).toBe(0);
    expect(looksLikeUplinkStatus(online)).toBe(true);
    expect(looksLikeUplinkStatus({ state: 'online' })).toBe(false);
  });

  it('loads at every connect and applies live updates', async () => {
    const events = new Map<string, (p: unknown) => void>();
    let statusHandler: (s: 'connected') => void = () => undefined;
    const transport = {
      kind: 'websocket',
      call: (name: string) =>
        Promise.resolve(
          name === 'uplink.status' ? { ok: true, value: online } : { ok: true, value: { configured: true, plainTcp: false, machines: [] } },
        ),
      subscribe: (name: string, h: (p: unknown) => void) => (events.set(name, h), () => void events.delete(name)),
      onStatus: (h: (s: 'connected') => void) => ((statusHandler = h), () => undefined),
    } as unknown as Transport;
    const stop = startUplinkFeed(transport);
    statusHandler('connected');
    await new Promise((r) => setTimeout(r, 0));
    expect(useUplinkStore.getState().status?.state).toBe('online');
    events.get('uplink.update')!({ ...online, state: 'offline', downSince: 10 });
    expect(useUplinkStore.getState().status?.state).toBe('offline');
    events.get('uplink.update')!({ nonsense: true });
    expect(useUplinkStore.getState().status?.state).toBe('offline');
    stop();
    expect(events.size).toBe(0);
  });
});
