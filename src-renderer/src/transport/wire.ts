/**
 * Minimal shape checks of what arrives on the WebSocket: enough to route a message safely.
 * Payloads are trusted to the contract (the core validates its own output).
 */
import { EVENT_NAMES, type EventName } from '../../../src-preload/channels';
import type { Result, ServerMessage } from '../../../src-preload/contract';

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

function isResult(x: unknown): x is Result<unknown> {
  if (!isRecord(x) || typeof x.ok !== 'boolean') return false;
  if (x.ok) return 'value' in x;
  return isRecord(x.error) && typeof x.error.code === 'string' && typeof x.error.message === 'string';
}

const eventNames: ReadonlySet<string> = new Set(EVENT_NAMES);

/** Parses one text frame; returns null (and why) for anything that is not a known message. */
export function parseServerMessage(data: unknown): { message: ServerMessage } | { error: string } {
  if (typeof data !== 'string') return { error: 'non-text frame' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return { error: 'not JSON' };
  }
  if (!isRecord(parsed) || typeof parsed.type !== 'string') return { error: 'no message type' };
  switch (parsed.type) {
    case 'result':
      if (typeof parsed.id !== 'number' || !Number.isInteger(parsed.id)) return { error: 'result without integer id' };
      if (!isResult(parsed.result)) return { error: `result ${parsed.id} has no valid envelope` };
      return { message: { type: 'result', id: parsed.id, result: parsed.result } };
    case 'event':
      if (typeof parsed.name !== 'string' || !eventNames.has(parsed.name)) return { error: `unknown event ${String(parsed.name)}` };
      if (!('payload' in parsed)) return { error: `event ${parsed.name} without payload` };
      return { message: { type: 'event', name: parsed.name as EventName, payload: parsed.payload } };
    case 'error':
      if (!isRecord(parsed.error) || typeof parsed.error.code !== 'string') return { error: 'error message without code' };
      return {
        message: {
          type: 'error',
          error: { code: parsed.error.code, message: typeof parsed.error.message === 'string' ? parsed.error.message : '' },
        },
      };
    default:
      return { error: `unknown message type ${parsed.type}` };
  }
}
