/**
 * Schemas of the plant configuration and of device profiles. Everything from a file passes
 * through here; defaults make the secure choice (unclassified points are `local`).
 */
import { z } from 'zod';
import { AccessSchema } from './access';
import { ByteOrderSchema, PointFunctionSchema, PointRoleSchema, PointTypeSchema, SensitivitySchema } from '../../src-preload/contract';
import { UplinkConfigSchema } from '../uplink/config';
import { ModulesConfigSchema } from '../modules/config';
import { pointExtentIssues } from './profile-checks';
import { AuditConfigSchema } from '../audit/syslog-config';
import { DEFAULT_DISK_BUDGET_MB } from '../store/history-layout';

const slug = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'must be 1–64 characters of a–z, 0–9, "-" or "_", starting with a letter or digit');

const finite = z.number().refine(Number.isFinite, 'must be a finite number');

/**
 * Recording by exception (src-main/core/recording.ts): a sample is recorded when it moves more
 * than the deadband from the last recorded one (absolute, in the point's unit, or a percentage of
 * its span), at the latest every `maxIntervalS`, and whenever its quality changes. Absent: every
 * sample is recorded.
 */
export const RecordSchema = z
  .object({
    deadband: finite.refine((n) => n >= 0, 'must be ≥ 0').optional(),
    deadbandPercent: z.number().gt(0, 'must be > 0').max(100).optional(),
    /** The point's engineering range, which a percentage deadband is taken of. */
    span: z.object({ low: finite, high: finite }).strict().optional(),
    maxIntervalS: z
      .number()
      .int()
      .min(1)
      .max(7 * 86_400)
      .default(600),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.deadband !== undefined && r.deadbandPercent !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['deadbandPercent'],
        message: 'give either "deadband" (absolute) or "deadbandPercent", not both',
      });
    if (r.deadbandPercent !== undefined && !r.span)
      ctx.addIssue({
        code: 'custom',
        path: ['span'],
        message: 'a percentage deadband needs "span": { "low", "high" } (the engineering range it is a percentage of)',
      });
    if (r.span && !(r.span.low < r.span.high)) ctx.addIssue({ code: 'custom', path: ['span', 'low'], message: 'low must be below high' });
  });

export const StateMapSchema = z.record(z.string().regex(/^-?\d+$/, 'keys are integer raw values'), z.enum(['running', 'idle', 'fault']));

export const PointSchema = z
  .object({
    id: slug,
    name: z.string().min(1).max(80),
    function: PointFunctionSchema,
    address: z.number().int().min(0).max(65535),
    type: PointTypeSchema,
    /** Registers a string occupies (two characters each); required for `string`. */
    length: z.number().int().min(1).max(125).optional(),
    wordOrder: ByteOrderSchema.default('big'),
    byteOrder: ByteOrderSchema.default('big'),
    scale: finite.default(1),
    offset: finite.default(0),
    unit: z.string().max(16).default(''),
    decimals: z.number().int().min(0).max(6).default(1),
    sensitivity: SensitivitySchema.default('local'),
    role: PointRoleSchema.default('info'),
    /** Shown on the overview tile. */
    key: z.boolean().default(false),
    normal: z.object({ low: finite, high: finite }).strict().optional(),
    writable: z
      .object({ min: finite, max: finite, maxStep: finite.refine((n) => n > 0, 'must be > 0') })
      .strict()
      .optional(),
    /** For the `state` role: raw value → machine state. */
    states: StateMapSchema.optional(),
    /** Writes are allowed only while the machine is in one of these states. */
    interlock: z
      .object({ states: z.array(z.enum(['running', 'idle', 'fault'])).min(1) })
      .strict()
      .optional(),
    /** How its history is recorded: by exception (deadband, maximum interval); absent, every sample. */
    record: RecordSchema.optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    const bitFn = p.function === 'coil' || p.function === 'discrete';
    if (bitFn && p.type !== 'bool') {
      ctx.addIssue({ code: 'custom', path: ['type'], message: `a ${p.function} holds one bit: type must be "bool"` });
    }
    if (!bitFn && p.type === 'bool') {
      ctx.addIssue({ code: 'custom', path: ['type'], message: 'bool is only for coils and discrete inputs' });
    }
    if (p.type === 'string' && p.length === undefined) {
      ctx.addIssue({ code: 'custom', path: ['length'], message: 'a string point needs "length" (registers)' });
    }
    if (p.writable && p.function !== 'holding' && p.function !== 'coil') {
      ctx.addIssue({ code: 'custom', path: ['writable'], message: 'only holding registers and coils can be written' });
    }
    if (p.writable && p.writable.min > p.writable.max) {
      ctx.addIssue({ code: 'custom', path: ['writable', 'min'], message: 'min must not exceed max' });
    }
    if (p.normal && p.normal.low > p.normal.high) {
      ctx.addIssue({ code: 'custom', path: ['normal', 'low'], message: 'low must not exceed high' });
    }
    if (p.role === 'state' && !p.states) {
      ctx.addIssue({ code: 'custom', path: ['states'], message: 'a state point needs "states" (raw value → running/idle/fault)' });
    }
    if (p.scale === 0) ctx.addIssue({ code: 'custom', path: ['scale'], message: 'must not be 0' });
    if (p.record && p.type === 'string') {
      ctx.addIssue({ code: 'custom', path: ['record'], message: 'text points have no history to record' });
    }
    if (p.interlock && !p.writable) {
      ctx.addIssue({ code: 'custom', path: ['interlock'], message: 'an interlock only applies to a writable point' });
    }
  });
export type PointDef = z.infer<typeof PointSchema>;

export const AlarmPrioritySchema = z.enum(['critical', 'high', 'medium', 'low']);

/** An alarm rule of a device profile (ISA-18.2 states are kept by the alarm engine). */
export const AlarmRuleSchema = z
  .object({
    id: slug,
    kind: z.enum(['high', 'low', 'state', 'link']),
    /** The numeric point watched by a high/low rule. */
    point: slug.optional(),
    limit: finite.optional(),
    /** A high alarm clears below limit − deadband, a low one above limit + deadband. */
    deadband: finite.refine((n) => n >= 0, 'must be ≥ 0').default(0),
    /** The condition must hold this long before the alarm is raised. */
    delayS: z.number().min(0).max(3600).default(0),
    /** The machine state that raises a `state` rule. */
    state: z.enum(['fault', 'idle', 'running']).optional(),
    priority: AlarmPrioritySchema.default('medium'),
    message: z.string().min(1).max(120),
  })
  .strict()
  .superRefine((r, ctx) => {
    if ((r.kind === 'high' || r.kind === 'low') && (r.point === undefined || r.limit === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['point'], message: `a ${r.kind} alarm needs "point" and "limit"` });
    }
    if (r.kind === 'state' && r.state === undefined) {
      ctx.addIssue({ code: 'custom', path: ['state'], message: 'a state alarm needs "state"' });
    }
  });
export type AlarmRule = z.infer<typeof AlarmRuleSchema>;

export const ProfileSchema = z
  .object({
    model: slug,
    title: z.string().min(1).max(80),
    vendor: z.string().max(80).optional(),
    /** Ideal cycle time for ISO 22400 performance. */
    idealCycleTimeS: finite.refine((n) => n > 0, 'must be > 0'),
    limits: z
      .object({
        maxRegistersPerRead: z.number().int().min(1).max(125).default(125),
        maxBitsPerRead: z.number().int().min(1).max(2000).default(2000),
        /** Largest gap (registers or bits) read through to merge neighbouring points. */
        maxGap: z.number().int().min(0).max(124).default(8),
      })
      .strict()
      .default({ maxRegistersPerRead: 125, maxBitsPerRead: 2000, maxGap: 8 }),
    points: z.array(PointSchema).min(1),
    alarms: z.array(AlarmRuleSchema).default([]),
  })
  .strict()
  .superRefine((prof, ctx) => {
    const ids = new Set<string>();
    prof.alarms.forEach((a, i) => {
      if (ids.has(a.id)) ctx.addIssue({ code: 'custom', path: ['alarms', i, 'id'], message: `duplicate alarm id "${a.id}"` });
      ids.add(a.id);
      if (a.point !== undefined) {
        const p = prof.points.find((x) => x.id === a.point);
        if (!p) ctx.addIssue({ code: 'custom', path: ['alarms', i, 'point'], message: `no point "${a.point}" in this profile` });
        else if (p.type === 'string' || p.type === 'bool') {
          ctx.addIssue({
            code: 'custom',
            path: ['alarms', i, 'point'],
            message: `a ${a.kind} alarm needs a numeric point, "${a.point}" is ${p.type}`,
          });
        }
      }
    });
    const seen = new Set<string>();
    prof.points.forEach((p, i) => {
      if (seen.has(p.id)) ctx.addIssue({ code: 'custom', path: ['points', i, 'id'], message: `duplicate point id "${p.id}"` });
      seen.add(p.id);
    });
    for (const issue of pointExtentIssues(prof)) ctx.addIssue({ code: 'custom', ...issue });
    for (const role of ['state', 'goodCount', 'scrapCount', 'cycleTime'] as const) {
      const n = prof.points.filter((p) => p.role === role).length;
      if (n > 1) ctx.addIssue({ code: 'custom', path: ['points'], message: `at most one point may have role "${role}" (found ${n})` });
    }
  });
export type Profile = z.infer<typeof ProfileSchema>;

export const BackoffSchema = z
  .object({
    initialDelayMs: z.number().int().min(10).max(600_000).default(500),
    maxDelayMs: z.number().int().min(10).max(3_600_000).default(30_000),
    randomisationFactor: z.number().min(0).max(1).default(0.2),
  })
  .strict();
export type Backoff = z.infer<typeof BackoffSchema>;

/** Modbus TCP (MBAP). Devices with the same host and port share one connection (a gateway). */
export const TcpTransportSchema = z
  .object({
    type: z.literal('tcp'),
    host: z.string().min(1).max(253),
    port: z.number().int().min(1).max(65535).default(502),
  })
  .strict();

/** RTU frames (with CRC) over a TCP socket, as serial device servers forward them. */
export const RtuTcpTransportSchema = z
  .object({
    type: z.literal('rtu-tcp'),
    host: z.string().min(1).max(253),
    port: z.number().int().min(1).max(65535),
  })
  .strict();

/** Modbus RTU on a serial port. Devices on the same path share the line and its settings. */
export const RtuTransportSchema = z
  .object({
    type: z.literal('rtu'),
    path: z.string().min(1).max(255),
    baudRate: z
      .number()
      .int()
      .refine((n) => [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200].includes(n), 'must be a standard baud rate (1200–115200)')
      .default(19200),
    parity: z.enum(['none', 'even', 'odd']).default('even'),
    dataBits: z.literal(8).default(8),
    stopBits: z.union([z.literal(1), z.literal(2)]).default(1),
  })
  .strict();

export const TransportSchema = z.discriminatedUnion('type', [TcpTransportSchema, RtuTcpTransportSchema, RtuTransportSchema]);
export type TransportConfig = z.infer<typeof TransportSchema>;

/** The physical line (port or gateway connection) a transport uses: one request queue each. */
export function lineKey(t: TransportConfig): string {
  return t.type === 'rtu' ? `rtu:${t.path}` : `${t.type}:${t.host}:${t.port}`;
}

export const DeviceSchema = z
  .object({
    id: slug,
    name: z.string().min(1).max(80),
    /** Path of the profile JSON, relative to the config file, or `builtin:MODEL`. */
    profile: z.string().min(1),
    transport: TransportSchema,
    unitId: z.number().int().min(0).max(255).default(1),
    pollIntervalMs: z.number().int().min(50).max(3_600_000).default(500),
    timeoutMs: z.number().int().min(50).max(60_000).default(1000),
    retries: z.number().int().min(0).max(5).default(1),
    backoff: BackoffSchema.default({ initialDelayMs: 500, maxDelayMs: 30_000, randomisationFactor: 0.2 }),
    /** Silent time kept before each request to this unit (slow serial devices). */
    interFrameDelayMs: z.number().int().min(0).max(1000).default(0),
    /** After `afterFailures` failed cycles the unit is polled only every `intervalMs` until it answers. */
    demotion: z
      .object({
        afterFailures: z.number().int().min(1).max(100).default(3),
        intervalMs: z.number().int().min(100).max(3_600_000).default(10_000),
      })
      .strict()
      .default({ afterFailures: 3, intervalMs: 10_000 }),
    /** Per-device override of the profile's read limits (devices that refuse 125 registers). */
    limits: z
      .object({
        maxRegistersPerRead: z.number().int().min(1).max(125).optional(),
        maxBitsPerRead: z.number().int().min(1).max(2000).optional(),
        maxGap: z.number().int().min(0).max(124).optional(),
      })
      .strict()
      .optional(),
    /** Function codes for writes: `single` (FC5/FC6 where one register or coil suffices) or `multiple` (FC15/FC16 always). */
    writeFunction: z.enum(['single', 'multiple']).default('single'),
  })
  .strict();
export type DeviceConfig = z.infer<typeof DeviceSchema>;

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (24 h)');

export const ConfigSchema = z
  .object({
    plant: z
      .object({
        name: z.string().min(1).max(80),
        timezone: z.string().default('UTC'),
      })
      .strict(),
    /** Shift start times, in the plant's time zone; each shift ends where the next begins. */
    shifts: z
      .array(z.object({ name: z.string().min(1).max(40), start: hhmm }).strict())
      .min(1)
      .default([
        { name: 'Early', start: '06:00' },
        { name: 'Late', start: '14:00' },
        { name: 'Night', start: '22:00' },
      ]),
    kpi: z
      .object({
        rollingWindowMin: z
          .number()
          .int()
          .min(1)
          .max(24 * 60)
          .default(60),
      })
      .strict()
      .default({ rollingWindowMin: 60 }),
    history: z
      .object({
        /** How long live history is kept when there is no persistent store (tests, tools). */
        retentionMin: z
          .number()
          .int()
          .min(15)
          .max(7 * 24 * 60)
          .default(12 * 60),
        /** Raw samples kept in the encrypted store. */
        retentionDays: z.number().int().min(1).max(366).default(7),
        /** One-minute rollups (min, max, mean) of the samples, kept after the raw ones are gone. */
        rollupRetentionDays: z.number().int().min(1).max(3660).default(90),
        /** Disk the store may use before the oldest samples are trimmed (sized in README for 50 × 200 points at 1 Hz). */
        diskBudgetMB: z.number().int().min(16).max(1_000_000).default(DEFAULT_DISK_BUDGET_MB),
        /** Samples in memory are written this often (default 10 s): what a crash of the console may cost of history. */
        flushIntervalS: z.number().int().min(1).max(300).optional(),
      })
      .strict()
      .default({ retentionMin: 12 * 60, retentionDays: 7, rollupRetentionDays: 90, diskBudgetMB: DEFAULT_DISK_BUDGET_MB }),
    /** Setpoint writes from the console: off unless the plant turns them on. */
    writes: z
      .object({ enabled: z.boolean().default(false) })
      .strict()
      .default({ enabled: false }),
    /** Who may see the local console without signing in, when it locks, and remote support limits. */
    access: AccessSchema.default({ localViewWithoutLogin: true, idleLockMinutes: 15 }),
    devices: z.array(DeviceSchema).min(1),
    /** The protected uplink to the supplier cloud (src-main/uplink/config.ts); absent: nothing leaves the plant. */
    uplink: UplinkConfigSchema.optional(),
    /** Supplier recommendations: whether a breached guard may revert automatically when the supplier asks (absent: no). */
    recommendations: z
      .object({ autoRevert: z.boolean().default(false) })
      .strict()
      .optional(),
    /** IoT modules and their firmware (src-main/modules/config.ts); absent: no module manager. */
    modules: ModulesConfigSchema.optional(),
    /** Where audit records are copied outside the console (src-main/audit/syslog-config.ts): plant IT's syslog collector. */
    audit: AuditConfigSchema.optional(),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const seen = new Set<string>();
    const units = new Map<string, number>();
    const lines = new Map<string, { index: number; settings: string }>();
    cfg.devices.forEach((d, i) => {
      if (seen.has(d.id)) ctx.addIssue({ code: 'custom', path: ['devices', i, 'id'], message: `duplicate device id "${d.id}"` });
      seen.add(d.id);
      const key = lineKey(d.transport);
      const unitKey = `${key}#${d.unitId}`;
      const other = units.get(unitKey);
      if (other !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['devices', i, 'unitId'],
          message: `unit ${d.unitId} on ${key} is already devices[${other}]`,
        });
      }
      units.set(unitKey, i);
      const settings = JSON.stringify(d.transport);
      const line = lines.get(key);
      if (line && line.settings !== settings) {
        ctx.addIssue({
          code: 'custom',
          path: ['devices', i, 'transport'],
          message: `line ${key} is configured differently in devices[${line.index}]`,
        });
      }
      if (!line) lines.set(key, { index: i, settings });
    });
    cfg.modules?.assignments.forEach((a, i) => {
      if (!seen.has(a.machineId))
        ctx.addIssue({
          code: 'custom',
          path: ['modules', 'assignments', i, 'machineId'],
          message: `no device "${a.machineId}" in this plant`,
        });
    });
    try {
      new Intl.DateTimeFormat('en', { timeZone: cfg.plant.timezone });
    } catch {
      ctx.addIssue({ code: 'custom', path: ['plant', 'timezone'], message: `unknown time zone "${cfg.plant.timezone}"` });
    }
  });
export type PlantConfigFile = z.infer<typeof ConfigSchema>;

/** A device with its profile resolved: what the core runs on. */
export interface ResolvedDevice extends DeviceConfig {
  profileDef: Profile;
}

/** The validated configuration, profiles resolved, ready for the core. */
export interface PlantConfig extends Omit<PlantConfigFile, 'devices'> {
  devices: ResolvedDevice[];
  /** True for the embedded demo plant: the UI shows SIMULATED. */
  simulated: boolean;
  source: string;
  /** What the plant runs with but a person should look at (overlapping points), one line each naming file and points. */
  warnings?: string[];
}

/** Where a device is reached, for people: `127.0.0.1:502` or `/dev/ttyUSB0 @ 19200 8E1`. */
export function endpointOf(t: TransportConfig): string {
  if (t.type === 'rtu') return `${t.path} @ ${t.baudRate} ${t.dataBits}${t.parity[0]!.toUpperCase()}${t.stopBits}`;
  return `${t.host}:${t.port}`;
}
