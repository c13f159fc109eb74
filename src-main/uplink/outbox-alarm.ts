/**
 * A full outbox is an alarm, not only a banner: when the disk budget of the uplink's outbox is
 * used up, the console stops recording what would leave the plant (sealed data is lost, the
 * cloud gets signed gap notices). Operators see it in the header's alarm count and on the alarm
 * page, as a plant-level alarm (ISA-18.2: it stays until acknowledged, also after it cleared).
 */
import type { UplinkStatus } from '../../src-preload/contract';
import { PLANT_ALARM_MACHINE, type ExternalAlarm } from '../alarms/rules';

export const OUTBOX_FULL_RULE = 'uplink:outbox-full';

/** What the watcher needs of the alarm engine. */
export interface ExternalAlarms {
  raiseExternal(a: ExternalAlarm, at?: number): boolean;
  clearExternal(machineId: string, ruleId: string, at?: number): boolean;
}

/** Raises the plant-level alarm while the outbox is full and clears it when recording resumes; returns the unsubscribe. */
export function watchOutbox(uplink: { onUpdate(handler: (s: UplinkStatus) => void): () => void }, alarms: ExternalAlarms): () => void {
  let full = false;
  return uplink.onUpdate((s) => {
    // A full disk stops recording too, but has its own alarm (app/data-loss-watch.ts).
    const now = s.outbox.full && s.outbox.fullCause !== 'disk';
    if (now === full) return;
    full = now;
    if (full)
      alarms.raiseExternal(
        {
          kind: 'uplink',
          machineId: PLANT_ALARM_MACHINE,
          ruleId: OUTBOX_FULL_RULE,
          priority: 'high',
          message: 'Uplink outbox full: data for the supplier is no longer recorded (disk budget used up)',
        },
        s.outbox.fullSince ?? undefined,
      );
    else alarms.clearExternal(PLANT_ALARM_MACHINE, OUTBOX_FULL_RULE);
  });
}
