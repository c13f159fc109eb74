/**
 * What loses or withholds data, as plant-level alarms and as /healthz `problems`: a full disk
 * (store/disk-guard.ts: history and the uplink are not recorded), batches the broker delivers
 * to nobody or refuses, or the cloud does not acknowledge (uplink/forwarder.ts), recording
 * stopped by the outbox's budget, and a long uplink outage. Every such failure is counted
 * elsewhere; here it becomes something an operator and a monitoring system see.
 */
import type { Health, UplinkStatus } from '../../src-preload/contract';
import { PLANT_ALARM_MACHINE, type ExternalAlarm } from '../alarms/rules';
import type { Clock } from '../core/types';
import type { DiskState } from '../store/disk-guard';

export const DISK_FULL_RULE = 'storage:disk-full';
export const DELIVERY_RULE = 'uplink:not-delivered';
export const BEHIND_CLOUD_RULE = 'uplink:sequence-behind-cloud';

type Problem = Health['problems'][number];

/** What the watcher needs of the alarm engine. */
interface ExternalAlarms {
  raiseExternal(a: ExternalAlarm, at?: number): boolean;
  clearExternal(machineId: string, ruleId: string, at?: number): boolean;
}

export interface DataLossWatchOptions {
  disk: { state(): DiskState; onChange(fn: (s: DiskState) => void): () => void };
  history: { stats(): { samplesDropped: number } };
  uplink: { status(): UplinkStatus; onUpdate(fn: (s: UplinkStatus) => void): () => void } | null;
  alarms: ExternalAlarms;
  clock: Clock;
  /** Batches kept back this long raise the delivery alarm. */
  deliveryAlarmAfterMs: number;
}

function deliveryMessage(d: UplinkStatus['delivery']): string {
  if (d.state === 'held')
    return d.detail?.includes('0x10')
      ? 'Uplink: the broker delivers batches to nobody (no supplier receiver subscribed): they are kept and retried'
      : 'Uplink: the broker refuses batches: they are kept and retried (check its ACL)';
  return 'Uplink: the supplier cloud does not acknowledge batches: they are kept and published again';
}

/** Raises and clears the alarms; `problems()` lists what /healthz reports. */
export function watchDataLoss(o: DataLossWatchOptions): { problems(): Problem[]; stop(): void } {
  const offs: (() => void)[] = [];
  const onDisk = (s: DiskState): void => {
    if (s.full)
      o.alarms.raiseExternal(
        {
          kind: 'storage',
          machineId: PLANT_ALARM_MACHINE,
          ruleId: DISK_FULL_RULE,
          priority: 'high',
          message: "Disk full on the console PC: history and the supplier's data are not recorded (counted; the cloud is told)",
        },
        s.since ?? undefined,
      );
    else o.alarms.clearExternal(PLANT_ALARM_MACHINE, DISK_FULL_RULE);
  };
  offs.push(o.disk.onChange(onDisk));
  if (o.disk.state().full) onDisk(o.disk.state());

  let delivering = true;
  let behind = false;
  if (o.uplink) {
    offs.push(
      o.uplink.onUpdate((s) => {
        if (s.delivery.cloudAhead && !behind) {
          behind = true;
          o.alarms.raiseExternal(
            {
              kind: 'uplink',
              machineId: PLANT_ALARM_MACHINE,
              ruleId: BEHIND_CLOUD_RULE,
              priority: 'high',
              message: "Uplink: the cloud already holds sequence numbers beyond this plant's (its data was restored): see the uplink page",
            },
            s.delivery.cloudAhead.since,
          );
        }
        const d = s.delivery;
        const late = d.state !== 'ok' && d.since !== null && o.clock.now() - d.since >= o.deliveryAlarmAfterMs;
        if (late && delivering) {
          delivering = false;
          o.alarms.raiseExternal(
            { kind: 'uplink', machineId: PLANT_ALARM_MACHINE, ruleId: DELIVERY_RULE, priority: 'high', message: deliveryMessage(d) },
            d.since ?? undefined,
          );
        } else if (d.state === 'ok' && !delivering) {
          delivering = true;
          o.alarms.clearExternal(PLANT_ALARM_MACHINE, DELIVERY_RULE);
        }
      }),
    );
  }

  return {
    problems() {
      const out: Problem[] = [];
      const disk = o.disk.state();
      if (disk.full) {
        out.push({
          code: 'DISK_FULL',
          message: `The disk of the console is full (${disk.cause ?? 'no space'}): nothing new is recorded; ${disk.failures} write(s) refused, ${o.history.stats().samplesDropped} history sample(s) dropped`,
          since: disk.since,
        });
      }
      const u = o.uplink?.status();
      if (u) {
        if (u.outbox.full && u.outbox.fullCause === 'budget')
          out.push({
            code: 'OUTBOX_FULL',
            message: 'The uplink outbox used up its disk budget: batches are not recorded (counted; the cloud is told)',
            since: u.outbox.fullSince,
          });
        const ahead = u.delivery.cloudAhead;
        if (ahead)
          out.push({
            code: 'SEQUENCE_BEHIND_CLOUD',
            message: `The cloud holds sequence numbers up to ${ahead.high}, beyond this plant's ${ahead.lastSeq}: its data directory went back in time, and new batches reuse numbers the cloud refuses as duplicates. Stop the console and run "plant-console store recover --through ${ahead.high}"`,
            since: ahead.since,
          });
        if (u.delivery.state !== 'ok')
          out.push({
            code: u.delivery.state === 'held' ? 'UPLINK_HELD' : 'UPLINK_NOT_ACKNOWLEDGED',
            message: u.delivery.detail ?? deliveryMessage(u.delivery),
            since: u.delivery.since,
          });
        if (u.state !== 'online' && u.downSince !== null && o.clock.now() - u.downSince >= u.downBannerAfterS * 1000)
          out.push({
            code: 'UPLINK_DOWN',
            message: `No broker connection: ${u.outbox.depth} batch(es) wait in the outbox${u.lastError ? ` (${u.lastError.code})` : ''}`,
            since: u.downSince,
          });
      }
      return out;
    },
    stop() {
      for (const off of offs) off();
    },
  };
}
