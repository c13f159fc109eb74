/**
 * The modules this console knows: pairing requests and decisions, and the verification of each
 * heartbeat against the paired key. A module introduces its key once (pairing.ts); it is then
 * pending until a maintenance user, having compared the fingerprint, approves it; only a paired
 * module's heartbeats count. A heartbeat is checked against that key (schema, key id,
 * signature, clock), then for order (a replayed or reordered heartbeat does not count), and
 * saved with the source address it came from (downloads must come from there too).
 *
 * A module id that is paired cannot be taken over by a pairing request with another key (that
 * is reported as a wrong key); a rejected one can ask again with a new key (a replaced module).
 */
import { isNewerHeartbeat, verifyHeartbeat } from '../../device-agent/heartbeat';
import { ConsoleError } from '../core/errors';
import type { Logger } from '../core/log';
import { verifyPairingRequest, type PairingAnswer } from './pairing';
import type { ModuleStore } from './store';
import type { LastHeartbeat, ModuleRecord } from './types';

/** Pending pairing requests kept at most (a flood of invented modules cannot grow the list without bound). */
export const MAX_PENDING = 64;

/** Why a heartbeat or pairing request did not count. */
export type ChannelRefusal =
  'not_paired' | 'malformed' | 'wrong_key' | 'bad_signature' | 'clock_skew' | 'replayed' | 'key_conflict' | 'too_many_pending';

/** A refusal, with the paired module it concerns (for threat events) and the HTTP status to answer. */
export interface Refused {
  ok: false;
  code: ChannelRefusal;
  status: number;
  message: string;
  /** The paired module whose identity the refused document claimed, when there is one. */
  moduleId: string | null;
}

export class ModuleRegistry {
  private readonly records = new Map<string, ModuleRecord>();

  constructor(
    private readonly store: ModuleStore,
    private readonly o: { now(): number; maxSkewMs: number; log: Logger },
  ) {
    for (const m of store.modules()) this.records.set(m.id, m);
  }

  get(id: string): ModuleRecord | undefined {
    return this.records.get(id);
  }

  list(): ModuleRecord[] {
    return [...this.records.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Saves a changed record. */
  save(m: ModuleRecord): void {
    this.records.set(m.id, m);
    this.store.saveModule(m, this.o.now());
  }

  /** Handles a pairing request from `address`; never throws for anything in the request. */
  pairRequest(doc: unknown, address: string): { ok: true; answer: PairingAnswer; created: boolean } | Refused {
    const v = verifyPairingRequest(doc, { now: this.o.now(), maxSkewMs: this.o.maxSkewMs });
    if (!v.ok) return { ok: false, code: v.code === 'clock_skew' ? 'clock_skew' : v.code, status: 400, message: v.message, moduleId: null };
    const req = v.request;
    const rec = this.records.get(req.module);
    if (rec && rec.publicKey === req.publicKey)
      return { ok: true, answer: { state: rec.pairing, fingerprint: rec.fingerprint }, created: false };
    if (rec?.pairing === 'paired')
      return {
        ok: false,
        code: 'key_conflict',
        status: 409,
        message: `a pairing request for the paired module ${req.module} came from ${address} with another key (fingerprint ${v.fingerprint})`,
        moduleId: rec.id,
      };
    if (rec?.pairing === 'pending')
      return {
        ok: false,
        code: 'key_conflict',
        status: 409,
        message: `module ${req.module} is pending with another key; reject it on the console before it can ask again`,
        moduleId: null,
      };
    if (!rec && this.list().filter((m) => m.pairing === 'pending').length >= MAX_PENDING)
      return { ok: false, code: 'too_many_pending', status: 429, message: `${MAX_PENDING} pairing requests wait already`, moduleId: null };
    const now = this.o.now();
    const m: ModuleRecord = {
      id: req.module,
      model: req.model,
      pairing: 'pending',
      publicKey: req.publicKey,
      kid: v.kid,
      fingerprint: v.fingerprint,
      requestedAt: now,
      decidedAt: null,
      decidedBy: null,
      address,
      lastAt: null,
      last: null,
      history: rec?.history ?? [],
    };
    this.save(m);
    this.o.log.log('info', `Module ${m.id} (${m.model}) asks to be paired`, { module: m.id, fingerprint: m.fingerprint, from: address });
    return { ok: true, answer: { state: 'pending', fingerprint: m.fingerprint }, created: true };
  }

  /** Approves or rejects (unpairs) a module. */
  decide(moduleId: string, approve: boolean, by: string): ModuleRecord {
    const m = this.records.get(moduleId);
    if (!m) throw new ConsoleError('NOT_FOUND', `No module "${moduleId}" has asked to be paired`);
    if (approve && m.pairing === 'paired') throw new ConsoleError('BAD_REQUEST', `Module ${moduleId} is paired already`);
    if (!approve && m.pairing === 'rejected') throw new ConsoleError('BAD_REQUEST', `Module ${moduleId} is rejected already`);
    const next: ModuleRecord = { ...m, pairing: approve ? 'paired' : 'rejected', decidedAt: this.o.now(), decidedBy: by };
    // A newly paired module starts without heartbeats: what it said before does not count.
    if (approve) Object.assign(next, { last: null, lastAt: null });
    this.save(next);
    return next;
  }

  /**
   * Verifies a heartbeat from `address` claiming to be module `claimed` (the x-module-id
   * header). On success the record holds it; returns it with the one before.
   */
  heartbeat(
    claimed: string,
    doc: unknown,
    address: string,
  ): { ok: true; record: ModuleRecord; prev: LastHeartbeat | null; skewMs: number } | Refused {
    const m = this.records.get(claimed);
    if (!m || m.pairing !== 'paired') {
      const state = m ? m.pairing : 'unknown';
      return {
        ok: false,
        code: 'not_paired',
        status: 403,
        message: `module ${claimed} is ${state}: pair it on the console first`,
        moduleId: null,
      };
    }
    const now = this.o.now();
    const v = verifyHeartbeat(doc, Buffer.from(m.publicKey, 'base64'), { now, maxSkewMs: this.o.maxSkewMs });
    if (!v.ok) {
      const status = v.code === 'malformed' ? 400 : v.code === 'clock_skew' ? 422 : 403;
      return { ok: false, code: v.code, status, message: v.message, moduleId: v.code === 'malformed' ? null : m.id };
    }
    const { kid: _kid, sig: _sig, ...hb } = v.heartbeat;
    if (hb.module !== m.id || hb.model !== m.model)
      return {
        ok: false,
        code: 'malformed',
        status: 400,
        message: `the heartbeat names ${hb.module} (${hb.model}), paired as ${m.id} (${m.model})`,
        moduleId: null,
      };
    if (!isNewerHeartbeat(m.last, hb))
      return {
        ok: false,
        code: 'replayed',
        status: 409,
        message: `heartbeat boot ${hb.boot} seq ${hb.seq} is not newer than boot ${m.last?.boot} seq ${m.last?.seq}`,
        moduleId: null,
      };
    const prev = m.last;
    const next: ModuleRecord = { ...m, last: hb, lastAt: now, address };
    this.save(next);
    return { ok: true, record: next, prev, skewMs: v.skewMs };
  }
}
