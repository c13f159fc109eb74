/**
 * The receiver's delivery acknowledgements (docs/uplink.md §18): the sequence numbers it dealt
 * with for good (stored, or held already), gathered per plant for `flushMs` and published as
 * ranges on the plant's downlink, QoS 1, not retained. The plant deletes those batches from its
 * outbox and paces its drain by them. A lost acknowledgement costs a redelivery, never a batch.
 */
import { buildAck, MAX_ACK_RANGES, plantTopics } from '../src-main/protocol';
import { addToRanges } from '../src-main/uplink/gap';

export interface AckSenderOptions {
  publish(topic: string, text: string): Promise<void>;
  /** The highest sequence the store holds for the plant (echoed to it). */
  high(plant: string): number;
  now(): number;
  /** Acknowledgements are gathered this long (default 100 ms). */
  flushMs?: number;
  onError(message: string): void;
}

/** Gathers settled sequence numbers and acknowledges them. */
export interface AckSender {
  settled(plant: string, seq: number): void;
  /** Publishes what is gathered now. */
  flush(): Promise<void>;
  stop(): Promise<void>;
  /** Acknowledgements published and refused by the broker. */
  stats(): { sent: number; failed: number };
}

export function createAckSender(o: AckSenderOptions): AckSender {
  const pending = new Map<string, Set<number>>();
  let timer: ReturnType<typeof setTimeout> | null = null;
  let sent = 0;
  let failed = 0;
  let reported = false;

  const flush = async (): Promise<void> => {
    if (timer) clearTimeout(timer);
    timer = null;
    const work = [...pending];
    pending.clear();
    await Promise.all(
      work.map(async ([plant, seqs]) => {
        const ranges = addToRanges(
          [],
          [...seqs].sort((a, b) => a - b),
        );
        const high = o.high(plant);
        for (let i = 0; i < ranges.length; i += MAX_ACK_RANGES) {
          const text = buildAck({ plant, seqs: ranges.slice(i, i + MAX_ACK_RANGES), high, issued: o.now() });
          try {
            await o.publish(plantTopics(plant).down, text);
            sent++;
          } catch (err) {
            failed++;
            // Once: the plant publishes again what it does not hear about, so nothing is lost meanwhile.
            if (!reported) {
              reported = true;
              o.onError(
                `cannot acknowledge to plant ${plant} on ${plantTopics(plant).down} (${(err as Error).message}): the broker user needs write access to pc/v1/+/down`,
              );
            }
          }
        }
      }),
    );
  };

  return {
    settled(plant, seq) {
      let set = pending.get(plant);
      if (!set) pending.set(plant, (set = new Set()));
      set.add(seq);
      if (!timer) {
        timer = setTimeout(() => void flush(), o.flushMs ?? 100);
        timer.unref?.();
      }
    },
    flush,
    async stop() {
      await flush();
    },
    stats: () => ({ sent, failed }),
  };
}
