/**
 * What the console API needs of the subsystems that plug into it when configured: the
 * recommendation inbox (src-main/recommendations/), the module manager (src-main/modules/),
 * sign-in lockouts (auth/sign-in-guard.ts) and the audit log's witnesses (audit/links.ts).
 * Requests and answers are the contract's (CommandRequest/CommandResponse), never written out again.
 */
import type {
  AuditLinks,
  Caller,
  CommandRequest as Req,
  CommandResponse as Res,
  LockoutView,
  ModulesState,
  RecoInbox,
} from '../../src-preload/contract';
import type { AuditActor } from '../audit/record';

/** What the reco.* commands need of the recommendation inbox. */
export interface RecoApi {
  inbox(caller: Caller): RecoInbox;
  apply(caller: Caller, req: Req<'reco.apply'>): Promise<Res<'reco.apply'>>;
  reject(caller: Caller, req: Req<'reco.reject'>): Res<'reco.reject'>;
  defer(caller: Caller, req: Req<'reco.defer'>): Res<'reco.defer'>;
  revert(caller: Caller, req: Req<'reco.revert'>): Promise<Res<'reco.revert'>>;
  /** Called whenever the inbox changes. */
  onUpdate(handler: () => void): () => void;
}

/** What the modules.* and firmware.* commands need of the module manager. */
export interface ModulesApi {
  state(caller: Caller): ModulesState;
  pair(caller: Caller, req: Req<'modules.pair'>): Promise<Res<'modules.pair'>>;
  importBundle(caller: Caller, req: Req<'firmware.import'>): Promise<Res<'firmware.import'>>;
  /** The same import with the bundle's bytes (web mode's streamed upload). */
  importFile(caller: Caller, req: { fileName: string; bytes: Uint8Array }): Promise<Res<'firmware.import'>>;
  /** Refuses an upload over `limit` bytes (`size` null: how much more is unknown) before reading it; recorded and audited as every refusal. */
  refuseOversize(caller: Caller, req: { fileName: string; size: number | null; limit: number }): Promise<never>;
  approve(caller: Caller, req: Req<'firmware.approve'>): Promise<Res<'firmware.approve'>>;
  stop(caller: Caller, req: Req<'firmware.stop'>): Res<'firmware.stop'>;
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
