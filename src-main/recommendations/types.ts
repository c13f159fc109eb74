/**
 * What the parts of the recommendation inbox share: the record kept per recommendation, the
 * host it runs on (the plant core provides it), and the sink its reports to the cloud go to.
 * The wire body and the report are the protocol's (src-main/protocol/recommendation*.ts); the
 * record adds what the plant decided and measured.
 */
import type {
  Caller,
  MachineSnapshot,
  MachineState,
  RecoApplyResult,
  RecoApplyStep,
  RecoOutcome,
  RecoStatus,
  WriteResult,
} from '../../src-preload/contract';
import type { ResolvedDevice } from '../config/schema';
import type { Clock, HistoryStore } from '../core/types';
import type { RecoChange, RecoGuard, RecommendationBody } from '../protocol/recommendation';
import type { RecoReportBody } from '../protocol/recommendation-report';

/** The verified, decrypted body of a recommendation, as the protocol defines it. */
export type RecoBody = RecommendationBody;
export type { RecoChange, RecoGuard };

/** Who decided what, as the inbox shows it. */
export interface RecoDecision {
  action: 'apply' | 'reject' | 'defer' | 'revert';
  user: string;
  role: string;
  at: number;
  reason: string | null;
  deferredUntil: number | null;
}

/** An apply in progress, kept durable so a crash in the middle can be undone on restart. */
export interface RecoProgress {
  startedAt: number;
  user: string;
  steps: RecoApplyStep[];
}

/** Everything the console keeps about one accepted recommendation. */
export interface RecoRecord {
  id: string;
  machineId: string;
  receivedAt: number;
  status: RecoStatus;
  body: RecoBody;
  decision: RecoDecision | null;
  apply: RecoApplyResult | null;
  outcome: RecoOutcome | null;
  progress: RecoProgress | null;
  updatedAt: number;
}

/** A report for the cloud before the reporter adds version, plant and time (roles only, never a name). */
export type RecoReport = Omit<RecoReportBody, 'v' | 'plant' | 'at' | 'seq'>;

/**
 * Where reports go: sealed into the uplink outbox. `within` runs in the same store transaction
 * as the queuing, so the state change a report tells of and the report are kept together or not
 * at all. Throws when the report cannot be queued (then `within` did not happen either).
 */
export interface RecoReporter {
  send(reports: readonly RecoReport[], within?: () => void): void;
}

/** What the inbox needs of the plant core (PlantCore provides it). */
export interface RecoHost {
  readonly config: { readonly devices: readonly ResolvedDevice[]; readonly writes?: { readonly enabled: boolean } };
  readonly clock: Clock;
  readonly history: HistoryStore;
  readonly writes: {
    write(caller: Caller, machineId: string, pointId: string, value: number | boolean): Promise<WriteResult>;
    revert(caller: Caller, writeId: string): Promise<WriteResult>;
    log(query?: { machineId?: string | undefined; limit?: number | undefined }): WriteResult[];
  };
  snapshot(machineId: string): MachineSnapshot | undefined;
  machineState(machineId: string): MachineState | undefined;
  onMachine(handler: (snap: MachineSnapshot) => void): () => void;
}

/** Confirms a person's decision (PIN) before apply and revert; throws FORBIDDEN when it does not. Same shape as auth/confirm-gate.ts. */
export type RecoConfirmGate = (caller: Caller, pin: string | undefined) => Promise<void>;

/** The console itself, for automatic reverts and the recovery after a crash. */
export const SYSTEM_CALLER: Caller = Object.freeze({ user: 'system', role: 'admin', origin: 'local' as const });
