/**
 * What the console API needs of the subsystems that plug into it when configured: the
 * recommendation inbox (src-main/recommendations/), the module manager (src-main/modules/),
 * sign-in lockouts (auth/sign-in-guard.ts) and the audit log's witnesses (audit/links.ts).
 */
import type {
  AuditLinks,
  Caller,
  FirmwareRelease,
  LockoutView,
  ModuleView,
  ModulesState,
  RecoInbox,
  Recommendation,
  Rollout,
} from '../../src-preload/contract';
import type { AuditActor } from '../audit/record';

/** What the reco.* commands need of the recommendation inbox. */
export interface RecoApi {
  inbox(caller: Caller): RecoInbox;
  apply(caller: Caller, req: { id: string; pin?: string | undefined }): Promise<Recommendation>;
  reject(caller: Caller, req: { id: string; reason: string }): Recommendation;
  defer(caller: Caller, req: { id: string; untilMs?: number | undefined; reason?: string | undefined }): Recommendation;
  revert(caller: Caller, req: { id: string; pin?: string | undefined }): Promise<Recommendation>;
  /** Called whenever the inbox changes. */
  onUpdate(handler: () => void): () => void;
}

/** What the modules.* and firmware.* commands need of the module manager. */
export interface ModulesApi {
  state(caller: Caller): ModulesState;
  pair(caller: Caller, req: { moduleId: string; approve: boolean; pin?: string | undefined }): Promise<ModuleView>;
  importBundle(caller: Caller, req: { fileName: string; dataBase64: string }): Promise<FirmwareRelease>;
  /** The same import with the bundle's bytes (web mode's streamed upload). */
  importFile(caller: Caller, req: { fileName: string; bytes: Uint8Array }): Promise<FirmwareRelease>;
  /** Refuses an upload over `limit` bytes (`size` null: how much more is unknown) before reading it; recorded and audited as every refusal. */
  refuseOversize(caller: Caller, req: { fileName: string; size: number | null; limit: number }): Promise<never>;
  approve(caller: Caller, req: { releaseId: string; moduleIds: string[]; pin?: string | undefined }): Promise<Rollout>;
  stop(caller: Caller, req: { rolloutId: string; reason: string }): Rollout;
  /** Called whenever what the Modules page shows changes. */
  onUpdate(handler: () => void): () => void;
}

/** What auth.lockouts and auth.unlock need (AuthService). */
export interface LockoutApi {
  lockouts(): LockoutView[];
  unlock(id: string, by: AuditActor): LockoutView | null;
}

/** What audit.links needs: the state of the syslog link and of the cloud witness. */
export interface AuditLinksApi {
  links(): AuditLinks;
}
