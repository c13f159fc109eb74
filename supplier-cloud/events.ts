/**
 * What a receiver reports: one event per batch or refused message (and gaps, state changes,
 * key announcements), printed as one line for people or one JSON line with `--json`.
 * Events carry counts and key ids, never sealed values or secrets.
 */
import { assertNever } from '../src-main/core/errors';
import { REFUSAL_TEXT, type RefusalReason } from '../src-main/protocol';

export type ReceiverEvent =
  | {
      event: 'accept';
      receiver: string;
      kind: 'sealed' | 'plain';
      topic: string;
      /** The plant's identifier from the registry; `plantPseudonym` is what the topic carries. */
      plant: string;
      plantPseudonym: string;
      /** The machine identifier when known (sealed payloads carry it), else its pseudonym. */
      machine: string;
      machinePseudonym: string;
      seq: number;
      points: number;
      samples: number;
      from: number;
      to: number;
      signingKid: string;
      encryptionKid?: string;
      /** A higher sequence was already stored: this batch arrived late and filled (part of) a gap. */
      late: boolean;
    }
  | { event: 'refuse'; receiver: string; topic: string; reason: RefusalReason; text: string; detail: string; plant?: string; seq?: number }
  | { event: 'gap'; receiver: string; plant: string; plantPseudonym: string; from: number; to: number; before: number }
  | {
      event: 'gap-notice';
      receiver: string;
      plant: string;
      plantPseudonym: string;
      seq: number;
      issued: number;
      /** Sequences the plant deleted unsent (inclusive ranges) and how many batches that was. */
      dropped: { batches: number; seqs: [number, number][] };
      /** Batches never given a sequence (outbox full), by class, and the time they would have covered. */
      notRecorded: { sealed: number; plain: number; from?: number; to?: number };
      totals: { dropped: number; notRecorded: number };
      repeated: boolean;
    }
  | {
      event: 'state';
      receiver: string;
      plant: string;
      plantPseudonym: string;
      state: 'online' | 'offline';
      session: number;
      stale: boolean;
    }
  | {
      event: 'plant-keys';
      receiver: string;
      plant: string;
      plantPseudonym: string;
      current: string;
      previous: string;
      graceUntil: number;
      box?: string;
    }
  | {
      event: 'reco-report';
      receiver: string;
      plant: string;
      plantPseudonym: string;
      machine: string;
      recommendation: string;
      kind: 'decision' | 'result' | 'outcome' | 'refused';
      /** One line: the action and role, the result's summary, the outcome's state, the refusal's code. */
      summary: string;
      /** The same report (same signature) was stored before: a redelivery. */
      repeated: boolean;
    }
  | {
      event: 'module-health';
      receiver: string;
      plant: string;
      plantPseudonym: string;
      machine: string;
      module: string;
      seq: number;
      kind: string;
      /** Raised (true) or ended. */
      active: boolean;
      message: string;
      repeated: boolean;
    }
  | {
      event: 'audit-head';
      receiver: string;
      plant: string;
      plantPseudonym: string;
      /** The uplink sequence number it came with. */
      seq: number;
      /** The audit record the head covers, its hash and when the plant signed it. */
      record: number;
      hash: string;
      signedAt: number;
      /** Why it disagrees with an earlier head of the plant (a log cut back or rewritten), or null. */
      conflict: string | null;
      repeated: boolean;
    }
  | {
      event: 'reco-sent';
      receiver: string;
      plant: string;
      machine: string;
      recommendation: string;
      topic: string;
      changes: string;
    }
  | { event: 'connection'; receiver: string; state: 'online' | 'offline' | 'reconnecting' | 'closed'; detail?: string }
  /** Retention (`retentionDays`) deleted old batches. */
  | { event: 'retention'; receiver: string; deleted: number; olderThanDays: number }
  | { event: 'error'; receiver: string; message: string };

/** A refusal event for a reason and its detail. */
export function refusalEvent(
  receiver: string,
  topic: string,
  reason: RefusalReason,
  detail: string,
  extra: { plant?: string; seq?: number } = {},
): ReceiverEvent {
  return { event: 'refuse', receiver, topic, reason, text: REFUSAL_TEXT[reason], detail, ...extra };
}

function range(from: number, to: number): string {
  return from === to ? String(from) : `${from}..${to}`;
}

function ranges(seqs: [number, number][], max = 8): string {
  const shown = seqs.slice(0, max).map(([a, b]) => range(a, b));
  return shown.length ? shown.join(',') + (seqs.length > max ? `,…(+${seqs.length - max})` : '') : 'none';
}

function notRecorded(n: Extract<ReceiverEvent, { event: 'gap-notice' }>['notRecorded']): string {
  const window =
    n.from !== undefined && n.to !== undefined ? ` from ${new Date(n.from).toISOString()} to ${new Date(n.to).toISOString()}` : '';
  return `sealed:${n.sealed},plain:${n.plain}${window}`;
}

/** The one line people read for an event. */
export function formatEvent(e: ReceiverEvent): string {
  switch (e.event) {
    case 'accept':
      return `ACCEPT plant=${e.plant} machine=${e.machine} seq=${e.seq} points=${e.points} samples=${e.samples} kind=${e.kind}${e.late ? ' late' : ''}`;
    case 'refuse':
      return `REFUSE topic=${e.topic} reason=${e.reason}: ${e.text} (${e.detail})`;
    case 'gap':
      return `GAP plant=${e.plant} missing=${range(e.from, e.to)} before seq=${e.before}`;
    case 'gap-notice':
      return (
        `GAP-NOTICE plant=${e.plant} seq=${e.seq} dropped=${e.dropped.batches} seqs=${ranges(e.dropped.seqs)} not-recorded=${notRecorded(e.notRecorded)}` +
        ` totals=dropped:${e.totals.dropped},not-recorded:${e.totals.notRecorded}${e.repeated ? ' repeated' : ''}`
      );
    case 'state':
      return `STATE plant=${e.plant} state=${e.state} session=${new Date(e.session).toISOString()}${e.stale ? ' (older than the recorded one)' : ''}`;
    case 'plant-keys':
      return `PLANT-KEYS plant=${e.plant} current=${e.current} previous=${e.previous} grace-until=${new Date(e.graceUntil).toISOString()}${e.box ? ` box=${e.box}` : ''}`;
    case 'reco-report':
      return `RECO-REPORT plant=${e.plant} machine=${e.machine} recommendation=${e.recommendation} kind=${e.kind}: ${e.summary}${e.repeated ? ' (repeated)' : ''}`;
    case 'module-health':
      return `MODULE-HEALTH plant=${e.plant} machine=${e.machine} module=${e.module} seq=${e.seq} ${e.kind} ${e.active ? 'raised' : 'ended'}: ${e.message}${e.repeated ? ' (repeated)' : ''}`;
    case 'audit-head':
      return e.conflict
        ? `AUDIT-HEAD-CONFLICT plant=${e.plant} seq=${e.seq} record=${e.record} signed=${new Date(e.signedAt).toISOString()}: ${e.conflict}`
        : `AUDIT-HEAD plant=${e.plant} seq=${e.seq} record=${e.record} hash=${e.hash.slice(0, 16)} signed=${new Date(e.signedAt).toISOString()}${e.repeated ? ' (repeated)' : ''}`;
    case 'reco-sent':
      return `RECO-SENT plant=${e.plant} machine=${e.machine} recommendation=${e.recommendation} ${e.changes} on ${e.topic}`;
    case 'connection':
      return `CONNECTION ${e.state}${e.detail ? ` (${e.detail})` : ''}`;
    case 'retention':
      return `RETENTION deleted=${e.deleted} older-than=${e.olderThanDays}d`;
    case 'error':
      return `ERROR ${e.message}`;
    default:
      return assertNever(e, 'receiver event');
  }
}

/** The JSON line of an event (`receive --json`). */
export function eventJson(e: ReceiverEvent): string {
  return JSON.stringify(e);
}
