/**
 * Remote support sessions, wired: grants and join codes (support.ts), change requests that
 * wait for the site (requests.ts), what the console API and web mode need of them (api.ts),
 * and their keeping over restarts (grant-store.ts).
 */
import type { AuditQuery, AuditRecord } from '../audit/log';
import type { AuditSink } from '../audit/record';
import type { PinResult, SessionEndReason, SessionInfo } from '../auth/session-types';
import type { AuditActor } from '../audit/record';
import type { Logger } from '../core/log';
import { RemoteApi } from './api';
import type { RemotePersistence } from './grant-store';
import { ChangeRequests, type RemoteHost } from './requests';
import { RemoteSupport, type RemoteAccounts, type RemoteSupportOptions } from './support';

export { RemoteApi } from './api';
export { ChangeRequests, type RemoteHost } from './requests';
export { RemoteSupport, type JoinResult } from './support';
export { normalizeJoinCode } from './codes';
export { SqlRemoteStore, type RemotePersistence, type StoredGrant } from './grant-store';

/** What remote support needs of the AuthService. */
export interface RemoteAuthService {
  get(sessionId: string): SessionInfo | null;
  endSession(sessionId: string, reason: SessionEndReason, by?: AuditActor): boolean;
  onSessionEnded(handler: (sessionId: string, user: string, reason: SessionEndReason) => void): () => void;
  verifyPin(user: string, pin: string): Promise<PinResult>;
}

/** Remote support of one console. */
export interface RemoteSupportSystem {
  support: RemoteSupport;
  requests: ChangeRequests;
  api: RemoteApi;
  close(): void;
}

/** Builds remote support over the sessions, accounts, audit log and plant core. */
export function createRemoteSupport(opts: {
  auth: RemoteAuthService;
  accounts: RemoteAccounts;
  host: RemoteHost & { hasMachine(id: string): boolean };
  audit?: AuditSink & { query?(q: AuditQuery): AuditRecord[] };
  log?: Logger;
  limits?: Pick<RemoteSupportOptions, 'defaultDurationMs' | 'maxDurationMs' | 'codeTtlMs' | 'maxJoinFailures' | 'timers' | 'sweepMs'>;
  /** Grants and requests outlive a restart (support-types.ts has the rule); without it they live in memory. */
  store?: RemotePersistence;
}): RemoteSupportSystem {
  const support = new RemoteSupport({
    auth: opts.auth,
    accounts: opts.accounts,
    hasMachine: (id) => opts.host.hasMachine(id),
    clock: opts.host.clock,
    ...(opts.audit ? { audit: opts.audit } : {}),
    ...(opts.log ? { log: opts.log } : {}),
    ...(opts.store ? { store: opts.store } : {}),
    ...opts.limits,
  });
  const requests = new ChangeRequests({
    host: opts.host,
    support,
    accounts: opts.accounts,
    verifyPin: (user, pin) => opts.auth.verifyPin(user, pin),
    ...(opts.audit ? { audit: opts.audit } : {}),
    ...(opts.log ? { log: opts.log } : {}),
    ...(opts.store ? { store: opts.store } : {}),
  });
  const api = new RemoteApi({
    support,
    requests,
    accounts: opts.accounts,
    session: (id) => opts.auth.get(id),
    clock: opts.host.clock,
    ...(opts.audit ? { audit: opts.audit } : {}),
  });
  return {
    support,
    requests,
    api,
    close() {
      requests.close();
      support.close();
    },
  };
}
