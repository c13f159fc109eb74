/** Every event stream of the console API: its payload schema, and the command that lists the same data. */
import { z } from 'zod';
import type { CommandName, EventName } from './channels';
import { AlarmSummarySchema } from './contract/alarms';
import { ModulesStateSchema } from './contract/firmware';
import { RecoInboxSchema } from './contract/recommendations';
import { RemoteStateSchema } from './contract/remote';
import { UplinkStatusSchema } from './contract/uplink';
import { MachineSnapshotSchema } from './contract/values';

export const EVENTS = {
  'machines.update': MachineSnapshotSchema,
  'core.status': z.object({ state: z.enum(['starting', 'running', 'stopping']), ts: z.number() }),
  'alarms.update': AlarmSummarySchema,
  'uplink.update': UplinkStatusSchema,
  'remote.update': RemoteStateSchema,
  'reco.update': RecoInboxSchema,
  'modules.update': ModulesStateSchema,
} as const satisfies Record<EventName, z.ZodType>;

export type EventPayload<E extends EventName> = z.infer<(typeof EVENTS)[E]>;

/**
 * How a stream's payload relates to its source command's answer: `answer` — it is that answer
 * (narrowed the same way); `item` — one element of the answer's list (dropped when the caller may
 * not see it); `status` — it carries no machine's data, only the command's role and grant apply.
 */
export type EventPayloadKind = 'answer' | 'item' | 'status';

/**
 * The command that lists the same data as each event stream. A subscriber must pass that
 * command's role check and remote-grant gate, at subscription and again at every event, and
 * each payload is narrowed as that command's answer is (src-main/api/service.ts). A stream
 * cannot be added without naming its command here: `satisfies` below makes it a type error.
 */
export const EVENT_SOURCES = {
  'machines.update': { command: 'machines.list', payload: 'item' },
  'core.status': { command: 'system.health', payload: 'status' },
  'alarms.update': { command: 'alarms.list', payload: 'answer' },
  'uplink.update': { command: 'uplink.status', payload: 'answer' },
  'remote.update': { command: 'remote.list', payload: 'answer' },
  'reco.update': { command: 'reco.list', payload: 'answer' },
  'modules.update': { command: 'modules.list', payload: 'answer' },
} as const satisfies Record<EventName, { command: CommandName; payload: EventPayloadKind }>;
