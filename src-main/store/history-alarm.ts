/**
 * Lost history is an alarm, not only a log line: when the history store drops samples (the
 * database refused a write: disk full, I/O error) or its writer thread fails, operators see a
 * plant-level alarm (ISA-18.2: it stays until acknowledged, also after it cleared). It clears
 * once samples are written again without a failure.
 */
import { PLANT_ALARM_MACHINE } from '../alarms/rules';
import type { ExternalAlarms } from '../uplink/outbox-alarm';
import type { SqlHistoryStore } from './history-sql';

export const HISTORY_FAILED_RULE = 'history:write-failed';

/** Raises the alarm on a failure the store reports, clears it when writing resumes; returns the unsubscribe. */
export function watchHistory(history: Pick<SqlHistoryStore, 'onReport'>, alarms: ExternalAlarms): () => void {
  let raised = false;
  let writtenAtFailure = 0;
  return history.onReport((stats, failures) => {
    const failure = failures[failures.length - 1];
    if (failure) {
      writtenAtFailure = stats.samplesWritten;
      if (raised) return;
      raised = true;
      const lost = failure.samplesDropped > 0 ? ` (${failure.samplesDropped} samples lost)` : '';
      alarms.raiseExternal(
        {
          kind: 'history',
          machineId: PLANT_ALARM_MACHINE,
          ruleId: HISTORY_FAILED_RULE,
          priority: 'high',
          message: `Trend history not saved: ${failure.what} failed, ${failure.code}${lost}`,
        },
        failure.at,
      );
      return;
    }
    if (raised && stats.samplesWritten > writtenAtFailure) {
      raised = false;
      alarms.clearExternal(PLANT_ALARM_MACHINE, HISTORY_FAILED_RULE);
    }
  });
}
