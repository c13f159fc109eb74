/**
 * Intake: every `recommendation` message from the plant's downlink comes here. The protocol
 * opens it (signature by a pinned supplier key, decryption with the plant's X25519 key, plant,
 * validity); then it is checked against this plant: an id seen before, the machine behind the
 * pseudonym, each point (exists, writable, proposed value inside the limits, the change from
 * the expected value no larger than the largest step). What passes is stored as `pending`;
 * what does not is stored in the refused list with its reason, logged, audited and reported
 * to the cloud, and is never actionable.
 *
 * A message larger than the 64 KiB a recommendation may have on the wire (its bytes as received,
 * whitespace included) is refused before anything parses further; a downlink message nobody can
 * read at all is refused here too (`refuseUnreadable`), under a reference made from its hash, so
 * that the operator sees it and the supplier gets the refusal report.
 *
 * Only an id that passed the signature is remembered as seen: an id read from a forged or
 * undecryptable message must not burn the real recommendation of that id. The same message
 * again (a broker's redelivery, a retained copy after a reconnect) is a duplicate, not a
 * replay: same id and same bytes. Synchronous, so the downlink's handler can count the verdict.
 */
import type { RecoRefusalCode } from '../../src-preload/contract';
import type { AuditSink } from '../audit/record';
import type { PointDef, ResolvedDevice } from '../config/schema';
import type { Logger } from '../core/log';
import type { Clock } from '../core/types';
import { formatWriteValue } from '../core/writes';
import { RECO_ID, RECO_LIMITS, type RecoOpenContext, type RecoOpenResult } from '../protocol/recommendation';
import { blake2b } from '../protocol/sodium';
import type { RecoStore } from './store';
import type { RecoBody, RecoChange, RecoReport, RecoReporter } from './types';

/** The refusals of the protocol's openRecommendation. */
export type OpenRefusalCode = Extract<RecoOpenResult, { ok: false }>['code'];

/** The supplier keys the downlink pins. */
export type SupplierKeys = RecoOpenContext['supplierKeys'];

/** openRecommendation, injectable for tests. */
export type OpenRecommendation = (doc: Record<string, unknown>, ctx: RecoOpenContext) => RecoOpenResult;

/** What the intake answers the downlink. */
export interface IntakeVerdict {
  verdict: 'accepted' | 'refused' | 'duplicate';
  id: string | null;
  code: RecoRefusalCode | null;
  detail: string;
}

export interface IntakeOptions {
  store: RecoStore;
  devices: readonly ResolvedDevice[];
  /** The plant's pseudonym (the `plant` a recommendation must name). */
  plant: string;
  /** Machine pseudonym → machine id, as the uplink computes pseudonyms. */
  machineOf(pseudonym: string): string | undefined;
  /** The plant's X25519 key pair of this key id (current or retired); null when unknown. */
  plantBox(kid: string): { publicKey: Uint8Array; secretKey: Uint8Array } | null;
  open: OpenRecommendation;
  reporter: RecoReporter;
  audit?: AuditSink | undefined;
  clock: Clock;
  log: Logger;
  /** Called after anything was stored (the inbox's update event). */
  changed(): void;
}

/** Refusals of the protocol that come only after the signature verified: their id is the supplier's. */
const TRUSTED_ID: ReadonlySet<OpenRefusalCode> = new Set(['wrong_plant', 'undecryptable', 'expired', 'not_yet_valid']);

/** The float slack of writes.ts: 212.3 + 5 must not exceed 217.3. */
const slack = (bound: number): number => 1e-9 * Math.max(1, Math.abs(bound));

type PlantCheck = { ok: true; machineId: string } | { ok: false; code: RecoRefusalCode; message: string; machineId: string | null };

/** Checks one change against the point's profile; null when it passes. */
function checkChange(point: PointDef, c: RecoChange, machineName: string): { code: RecoRefusalCode; message: string } | null {
  const w = point.writable;
  if (!w || point.type === 'string') {
    return { code: 'not_writable', message: `${point.name} of ${machineName} is read-only: the device profile gives it no write limits` };
  }
  if (point.type === 'bool' && ![0, 1].includes(c.proposed)) {
    return { code: 'malformed', message: `${point.name} is on/off: a recommendation can only propose 0 or 1, not ${c.proposed}` };
  }
  const show = (v: number): string => formatWriteValue(point.type === 'bool' ? v === 1 : v, point);
  if (c.proposed < w.min - slack(w.min)) {
    return { code: 'out_of_limits', message: `${point.name}: ${show(c.proposed)} is below the minimum ${show(w.min)}` };
  }
  if (c.proposed > w.max + slack(w.max)) {
    return { code: 'out_of_limits', message: `${point.name}: ${show(c.proposed)} is above the maximum ${show(w.max)}` };
  }
  const step = Math.abs(c.proposed - c.expected);
  if (step > w.maxStep + slack(w.maxStep)) {
    return {
      code: 'step_too_large',
      message: `${point.name}: from ${show(c.expected)} to ${show(c.proposed)} is a change of ${formatWriteValue(step, point)}, larger than the largest allowed step of ${formatWriteValue(w.maxStep, point)}`,
    };
  }
  return null;
}

/** Checks an opened recommendation against this plant's machines and profiles (pure). */
export function checkAgainstPlant(
  body: RecoBody,
  devices: readonly ResolvedDevice[],
  machineOf: (pseudonym: string) => string | undefined,
): PlantCheck {
  const machineId = machineOf(body.machine);
  const device = machineId === undefined ? undefined : devices.find((d) => d.id === machineId);
  if (!device)
    return { ok: false, code: 'unknown_machine', message: `no machine of this plant has the pseudonym ${body.machine}`, machineId: null };
  const refuse = (code: RecoRefusalCode, message: string): PlantCheck => ({ ok: false, code, message, machineId: device.id });
  if (body.changes.length === 0) return refuse('malformed', 'the recommendation proposes no change');
  if (!(body.windowS > 0)) return refuse('malformed', `the observation window must be longer than 0 s, not ${body.windowS} s`);
  const seen = new Set<string>();
  for (const c of body.changes) {
    if (seen.has(c.point)) return refuse('malformed', `the recommendation changes point "${c.point}" twice`);
    seen.add(c.point);
    const point = device.profileDef.points.find((p) => p.id === c.point);
    if (!point) return refuse('unknown_point', `${device.name} has no point "${c.point}"`);
    const problem = checkChange(point, c, device.name);
    if (problem) return refuse(problem.code, problem.message);
  }
  return { ok: true, machineId: device.id };
}

/** Judges recommendation messages and keeps what it decided. */
export class RecoIntake {
  constructor(private readonly o: IntakeOptions) {}

  /** Handles one `recommendation` message of the downlink; never throws. */
  handle(doc: Record<string, unknown>, ctx: { payload: Uint8Array; supplierKeys: SupplierKeys }): IntakeVerdict {
    const now = this.o.clock.now();
    const digest = blake2b(ctx.payload, 32).toString('hex');
    if (ctx.payload.byteLength > RECO_LIMITS.documentBytes) {
      const id = typeof doc.id === 'string' && RECO_ID.test(doc.id) ? doc.id : null;
      const message = `the message has ${ctx.payload.byteLength} bytes as received; a recommendation has at most ${RECO_LIMITS.documentBytes} (64 KiB)`;
      return this.refuse({ code: 'malformed', message, id, trusted: null, machine: '', machineId: null, digest, now });
    }
    let opened: RecoOpenResult;
    try {
      opened = this.o.open(doc, { supplierKeys: ctx.supplierKeys, plantBox: (kid) => this.o.plantBox(kid), plant: this.o.plant, now });
    } catch (err) {
      opened = { ok: false, code: 'malformed', message: `the message could not be read (${String(err)})`, id: null };
    }
    if (!opened.ok) {
      const trusted = opened.id !== null && TRUSTED_ID.has(opened.code) ? opened.id : null;
      if (trusted !== null && this.o.store.seen(trusted)?.digest === digest) return this.duplicate(trusted);
      return this.refuse({ code: opened.code, message: opened.message, id: opened.id, trusted, machine: '', machineId: null, digest, now });
    }
    const body = opened.body;
    const seen = this.o.store.seen(body.id);
    if (seen) {
      if (seen.digest === digest) return this.duplicate(body.id);
      return this.refuse({
        code: 'replayed',
        message: `recommendation ${body.id} was already received on ${new Date(seen.firstAt).toISOString()}: another message with its id is refused`,
        id: body.id,
        trusted: null,
        machine: body.machine,
        machineId: this.o.machineOf(body.machine) ?? null,
        digest,
        now,
      });
    }
    const check = checkAgainstPlant(body, this.o.devices, this.o.machineOf);
    if (!check.ok) {
      return this.refuse({ ...check, id: body.id, trusted: body.id, machine: body.machine, digest, now });
    }
    return this.accept(body, check.machineId, digest, now);
  }

  /**
   * A downlink message that could not be read at all (not JSON, no type): refused as malformed,
   * shown and reported under `msg-<first 16 hex of its BLAKE2b-256>` with no machine.
   */
  refuseUnreadable(payload: Uint8Array, detail: string): void {
    const digest = blake2b(payload, 32).toString('hex');
    const message = `the downlink message (${payload.byteLength} bytes) could not be read: ${detail}`;
    this.refuse({ code: 'malformed', message, id: null, trusted: null, machine: '', machineId: null, digest, now: this.o.clock.now() });
  }

  private accept(body: RecoBody, machineId: string, digest: string, now: number): IntakeVerdict {
    let stored = false;
    try {
      stored = this.o.store.accept({ body, machineId, receivedAt: now, digest });
    } catch (err) {
      this.o.log.log('error', `Recommendation ${body.id} could not be stored; it is not shown`, { error: String(err) });
      return { verdict: 'refused', id: body.id, code: null, detail: 'the store refused it' };
    }
    if (!stored) return this.duplicate(body.id);
    this.o.log.log('info', `Recommendation ${body.id} received for ${machineId}: waiting for a decision`, {
      id: body.id,
      machine: machineId,
      changes: body.changes.map((c) => `${c.point} ${c.expected} → ${c.proposed}`),
      validUntil: new Date(body.validUntil).toISOString(),
    });
    this.o.audit?.record({
      kind: 'reco_received',
      machineId,
      at: now,
      detail: {
        id: body.id,
        changes: body.changes.map((c) => ({ pointId: c.point, expected: c.expected, proposed: c.proposed })),
        expect: { kpi: body.expect.kpi, change: body.expect.change },
        validUntil: body.validUntil,
      },
    });
    this.o.changed();
    return { verdict: 'accepted', id: body.id, code: null, detail: `pending for ${machineId}` };
  }

  private duplicate(id: string): IntakeVerdict {
    this.o.log.log('debug', `Recommendation ${id} came again (same message): nothing to do`, { id });
    return { verdict: 'duplicate', id, code: null, detail: `recommendation ${id} again` };
  }

  private refuse(r: {
    code: RecoRefusalCode;
    message: string;
    id: string | null;
    trusted: string | null;
    machine: string;
    machineId: string | null;
    digest: string;
    now: number;
  }): IntakeVerdict {
    const ref = r.id ?? `msg-${r.digest.slice(0, 16)}`;
    const entry = { ref, receivedAt: r.now, code: r.code, message: r.message, machineId: r.machineId, seenId: r.trusted, digest: r.digest };
    const report: RecoReport = { machine: r.machine, recommendation: ref, kind: 'refused', refusal: { code: r.code, message: r.message } };
    try {
      this.o.reporter.send([report], () => this.o.store.refuse(entry));
    } catch (err) {
      this.o.log.log('error', 'The refusal of a recommendation could not be reported to the cloud', { ref, error: String(err) });
      try {
        this.o.store.refuse(entry);
      } catch (e) {
        this.o.log.log('error', 'The refusal of a recommendation could not be stored', { ref, error: String(e) });
      }
    }
    this.o.log.log('warn', `Recommendation ${ref} refused: ${r.code}: ${r.message}`, { ref, code: r.code, machine: r.machineId });
    this.o.audit?.record({
      kind: 'reco_refused',
      machineId: r.machineId,
      at: r.now,
      detail: { ref, code: r.code, message: r.message },
    });
    this.o.changed();
    return { verdict: 'refused', id: r.id, code: r.code, detail: `${r.code}: ${r.message}` };
  }
}
