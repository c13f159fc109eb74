/** Every event stream of the console API and its payload schema. */
import { z } from 'zod';
import type { EventName } from './channels';
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
