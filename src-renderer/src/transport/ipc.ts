/** The console API over Electron IPC: a thin adapter over the preload's `window.plantConsole`. */
import type { CommandName, EventName } from '../../../src-preload/channels';
import type {
  Bridge,
  CommandRequest,
  CommandResponse,
  EventPayload,
  Result,
  Transport,
  TransportStatus,
} from '../../../src-preload/contract';

/** The IPC transport; `refresh` makes every store load again (who the window acts as changed). */
export interface IpcTransport extends Transport {
  /** Says 'connecting' then 'connected' to status listeners, so they resync as after a reconnect. */
  refresh(): void;
}

/** Wraps the bridge; IPC to the local main process is always 'connected'. */
export function createIpcTransport(bridge: Bridge): IpcTransport {
  const statusHandlers = new Set<(s: TransportStatus) => void>();
  return {
    kind: 'ipc',
    async call<K extends CommandName>(name: K, request: CommandRequest<K>): Promise<Result<CommandResponse<K>>> {
      const fn = bridge[name] as unknown as (r: CommandRequest<K>) => Promise<Result<CommandResponse<K>>>;
      try {
        return await fn(request);
      } catch (err) {
        // The bridge answers with envelopes; a throw means the channel itself broke.
        return { ok: false, error: { code: 'UNAVAILABLE', message: `${name}: ${err instanceof Error ? err.message : String(err)}` } };
      }
    },
    subscribe<E extends EventName>(name: E, handler: (payload: EventPayload<E>) => void): () => void {
      return bridge.on(name, handler);
    },
    onStatus(handler: (s: TransportStatus) => void): () => void {
      statusHandlers.add(handler);
      handler('connected');
      return () => {
        statusHandlers.delete(handler);
      };
    },
    refresh(): void {
      for (const h of [...statusHandlers]) h('connecting');
      for (const h of [...statusHandlers]) h('connected');
    },
  };
}
