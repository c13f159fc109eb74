/**
 * The plant's downlink (`pc/v1/<plant>/down`): every message is checked by the protocol library
 * before anything else reads it. Cloud-key announcements that verify against a pinned supplier
 * key rotate the keyring the plant seals to, and the ring is persisted; anything refused is
 * logged with its reason and counted. Other message types go to the handler registered for
 * them (`recommendation`: src-main/recommendations/intake.ts, which verifies and judges it;
 * `firmware`: src-main/modules/downlink.ts, a release bundle the console verifies like one
 * imported from a file; `ack`: the cloud's delivery acknowledgements, protocol/ack.ts, counted
 * apart from the verified messages); a type without one is refused as not handled. A message nobody can
 * read (not a JSON object, or no `type` to route it by) goes to the `unreadable` hook as well, so
 * that it is shown and reported, not only logged (recommendations/intake.ts).
 */
import type { Logger } from '../core/log';
import type { Clock } from '../core/types';
import { applyCloudKeyAnnouncement, parseJsonObject, REFUSAL_TEXT, type KeyRing, type RefusalReason } from '../protocol';

const MAX_DOWNLINK_BYTES = 1024 * 1024;
/** A `firmware` message carries a whole bundle (base64): larger, but still bounded (docs/firmware.md, Distribution). */
export const MAX_FIRMWARE_MESSAGE_BYTES = 12 * 1024 * 1024;

/** Downlink counters for the status. */
export interface DownlinkStats {
  accepted: number;
  refused: number;
  /** The retained announcement again (every reconnect): expected, neither accepted nor refused. */
  duplicates: number;
  /** The cloud's delivery acknowledgements taken (unsigned: counted apart from the verified messages). */
  acks: number;
  lastRefusal: string | null;
  lastAcceptedAt: number | null;
}

export interface DownlinkOptions {
  topic: string;
  /** The current cloud keyring and where a new one goes (persisted by the caller). */
  ring(): KeyRing<Uint8Array>;
  saveRing(ring: KeyRing<Uint8Array>): void;
  supplierKeys: ReadonlyMap<string, { publicKey: Uint8Array; notAfter: number | null }>;
  clock: Clock;
  log: Logger;
}

export type DownlinkOutcome =
  | { ok: true; kind: 'cloud-key'; kid: string }
  | { ok: true; kind: 'handled'; type: string; detail: string }
  | { ok: false; reason: RefusalReason | 'not_handled' | 'wrong_topic' | 'handler_refused'; detail: string; unreadable?: true };

/** Told of a message that could not be read at all (its bytes, and why), after it was counted and logged. */
export type UnreadableHandler = (payload: Uint8Array, detail: string) => void;

/** A handler of one message type: it verifies, acts, logs its own refusals, and says what it decided. */
export type DownlinkHandler = (
  doc: Record<string, unknown>,
  ctx: { payload: Uint8Array; supplierKeys: DownlinkOptions['supplierKeys'] },
) => { verdict: 'accepted' | 'refused' | 'duplicate'; detail: string };

/** Verifies and applies messages from the plant's downlink topic. */
export class Downlink {
  private readonly o: DownlinkOptions;
  private readonly counters: DownlinkStats = { accepted: 0, refused: 0, duplicates: 0, acks: 0, lastRefusal: null, lastAcceptedAt: null };
  private readonly handlers = new Map<string, DownlinkHandler>();
  private unreadable: UnreadableHandler | null = null;

  constructor(opts: DownlinkOptions) {
    this.o = opts;
  }

  /** Hands every message of `type` to `handler` (null: refused as not handled again). */
  setHandler(type: 'recommendation' | 'firmware' | 'ack', handler: DownlinkHandler | null): void {
    if (handler) this.handlers.set(type, handler);
    else this.handlers.delete(type);
  }

  /** Tells `handler` of every message that cannot be read (null: only counted and logged again). */
  onUnreadable(handler: UnreadableHandler | null): void {
    this.unreadable = handler;
  }

  /** Counters for the status (accepted, refused, expected duplicates, the last refusal). */
  stats(): DownlinkStats {
    return { ...this.counters };
  }

  /** Handles one message; never throws. */
  handle(topic: string, payload: Uint8Array): DownlinkOutcome {
    const outcome = this.judge(topic, payload);
    if (outcome.ok && outcome.kind === 'handled' && outcome.type === 'ack') {
      this.counters.acks++;
      return outcome;
    }
    if (outcome.ok) {
      this.counters.accepted++;
      this.counters.lastAcceptedAt = this.o.clock.now();
      return outcome;
    }
    if (outcome.reason === 'duplicate_sequence') {
      this.counters.duplicates++;
      this.o.log.log('debug', 'Downlink: the announcement already applied came again', { topic, detail: outcome.detail });
      return outcome;
    }
    this.counters.refused++;
    const words =
      outcome.reason === 'not_handled'
        ? 'not handled yet'
        : outcome.reason === 'wrong_topic'
          ? 'wrong topic'
          : outcome.reason === 'handler_refused'
            ? 'refused'
            : REFUSAL_TEXT[outcome.reason];
    this.counters.lastRefusal = `${words}: ${outcome.detail}`;
    this.o.log.log('warn', `Downlink message refused: ${words}`, { topic, detail: outcome.detail });
    if (outcome.reason === 'malformed' && outcome.unreadable) {
      try {
        this.unreadable?.(payload, outcome.detail);
      } catch (err) {
        this.o.log.log('error', 'An unreadable downlink message could not be recorded', { error: String(err) });
      }
    }
    return outcome;
  }

  private judge(topic: string, payload: Uint8Array): DownlinkOutcome {
    if (topic !== this.o.topic) return { ok: false, reason: 'wrong_topic', detail: `${topic} is not this plant's downlink` };
    const limit = this.handlers.has('firmware') ? MAX_FIRMWARE_MESSAGE_BYTES : MAX_DOWNLINK_BYTES;
    const json = parseJsonObject(payload, limit);
    if (!json) return { ok: false, reason: 'malformed', detail: `not a JSON object in UTF-8 of at most ${limit} bytes`, unreadable: true };
    if (typeof json.type !== 'string')
      return { ok: false, reason: 'malformed', detail: 'a JSON object without a "type" member naming what it is', unreadable: true };
    // A type with a handler is judged there, by its own limit (a recommendation's is 64 KiB), and shown.
    if (json.type !== 'firmware' && !this.handlers.has(json.type) && payload.byteLength > MAX_DOWNLINK_BYTES)
      return {
        ok: false,
        reason: 'malformed',
        detail: `a ${String(json.type).slice(0, 40)} message has at most ${MAX_DOWNLINK_BYTES} bytes`,
      };
    const handler = typeof json.type === 'string' ? this.handlers.get(json.type) : undefined;
    if (handler) {
      let r: ReturnType<DownlinkHandler>;
      try {
        r = handler(json, { payload, supplierKeys: this.o.supplierKeys });
      } catch (err) {
        r = { verdict: 'refused', detail: `the ${String(json.type)} handler failed: ${String(err)}` };
      }
      if (r.verdict === 'refused') return { ok: false, reason: 'handler_refused', detail: r.detail };
      if (r.verdict === 'duplicate') return { ok: false, reason: 'duplicate_sequence', detail: r.detail };
      return { ok: true, kind: 'handled', type: String(json.type), detail: r.detail };
    }
    if (json.type !== 'cloud-key') {
      // Other kinds get their own verification with their issues; nothing here reads them.
      const kind = typeof json.type === 'string' ? json.type.slice(0, 40) : '(none)';
      return { ok: false, reason: 'not_handled', detail: `message type ${kind} is not handled by this console version` };
    }
    const result = applyCloudKeyAnnouncement(this.o.ring(), json, { supplierKeys: this.o.supplierKeys, now: this.o.clock.now() });
    if (!result.ok) return { ok: false, reason: result.reason, detail: result.detail };
    this.o.saveRing(result.ring);
    this.o.log.log('info', 'Cloud key rotated by a verified announcement: the next batch is sealed to it', {
      kid: result.announcement.key.kid,
      signer: result.announcement.kid,
      graceUntil: new Date(result.announcement.graceUntil).toISOString(),
    });
    return { ok: true, kind: 'cloud-key', kid: result.announcement.key.kid };
  }
}
