/**
 * The commissioning read: one poll of each device by its profile, as a report. Devices on the
 * same port or gateway are read through that one line, one after the other as its queue allows;
 * different lines are read in parallel.
 */
import { endpointOf, type ResolvedDevice } from '../config/schema';
import { createPoller, LinePool } from '../modbus/poller';
import { toErrorInfo } from '../core/errors';
import type { PollResult, Poller } from '../core/types';

export interface PointReport {
  id: string;
  name: string;
  function: string;
  address: number;
  type: string;
  raw: number[];
  value: number | boolean | string | null;
  unit: string;
  quality: string;
  reason: string | null;
}

export interface DeviceReport {
  id: string;
  name: string;
  model: string;
  endpoint: string;
  unitId: number;
  ok: boolean;
  error: string | null;
  durationMs: number;
  points: PointReport[];
}

/** Polls one device once (with its timeout and retries) and stops; `pool` shares lines between devices. */
export async function readDevice(device: ResolvedDevice, pool: LinePool = new LinePool()): Promise<DeviceReport> {
  const started = Date.now();
  let poller: Poller;
  try {
    poller = createPoller(device, { pool });
  } catch (err) {
    // Checked at load already; a device that still cannot be polled is reported, not a crash of the whole read.
    const report = { id: device.id, name: device.name, model: device.profileDef.model, endpoint: endpointOf(device.transport) };
    return { ...report, unitId: device.unitId, ok: false, error: `not read: ${toErrorInfo(err).message}`, durationMs: 0, points: [] };
  }
  const result = await new Promise<PollResult>((resolve) => {
    const off = poller.onResult((r) => {
      off();
      resolve(r);
    });
    poller.start();
  });
  await poller.stop();
  const points: PointReport[] = device.profileDef.points.map((p) => {
    const v = result.values[p.id];
    return {
      id: p.id,
      name: p.name,
      function: p.function,
      address: p.address,
      type: p.type,
      raw: v?.raw ?? [],
      value: v?.quality === 'good' ? v.value : null,
      unit: p.unit,
      quality: v?.quality ?? 'bad',
      reason: v?.reason ?? (v ? null : 'not read'),
    };
  });
  const online = result.link.state === 'online';
  const bad = points.filter((p) => p.quality !== 'good');
  const error = !online
    ? (result.link.lastError?.message ?? 'device did not answer')
    : bad.length > 0
      ? `${bad.length} of ${points.length} point(s) could not be read`
      : null;
  return {
    id: device.id,
    name: device.name,
    model: device.profileDef.model,
    endpoint: endpointOf(device.transport),
    unitId: device.unitId,
    ok: error === null,
    error,
    durationMs: Date.now() - started,
    points: online ? points : [],
  };
}

/** Reads all devices, lines in parallel: a dead device holds up at most the units on its own line, by its timeout. */
export function readDevices(devices: ResolvedDevice[]): Promise<DeviceReport[]> {
  const pool = new LinePool();
  return Promise.all(devices.map((d) => readDevice(d, pool)));
}

function fmtValue(p: PointReport, decimals: (id: string) => number): string {
  if (p.value === null) return '—';
  if (typeof p.value === 'number') return `${p.value.toFixed(decimals(p.id))}${p.unit ? ' ' + p.unit : ''}`;
  if (typeof p.value === 'string') return JSON.stringify(p.value);
  return String(p.value);
}

/** A readable table per device. */
export function formatReadReport(reports: DeviceReport[], devices?: ResolvedDevice[]): string {
  const lines: string[] = [];
  for (const r of reports) {
    const dev = devices?.find((d) => d.id === r.id);
    const decimals = (id: string) => dev?.profileDef.points.find((p) => p.id === id)?.decimals ?? 3;
    lines.push(`${r.ok ? 'OK  ' : 'FAIL'} ${r.id} "${r.name}" (${r.model}) at ${r.endpoint} unit ${r.unitId}, ${r.durationMs} ms`);
    if (r.error) lines.push(`     error: ${r.error}`);
    for (const p of r.points) {
      const raw = p.raw.map((w) => w.toString(16).padStart(4, '0')).join(' ');
      const where = `${p.function} ${p.address}`;
      const q = p.quality === 'good' ? '' : `  [${p.quality}: ${p.reason ?? ''}]`;
      lines.push(
        `     ${p.id.padEnd(14)} ${p.name.slice(0, 26).padEnd(26)} ${where.padEnd(13)} ${p.type.padEnd(8)} ${raw.padEnd(20)} ${fmtValue(p, decimals)}${q}`,
      );
    }
    lines.push('');
  }
  return lines.join('\n');
}
