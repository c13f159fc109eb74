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

/** Wraps the bridge; IPC to the local main process is always 'connected'. */
export function createIpcTransport(bridge: Bridge): Transport {
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
      handler('connected');
      return () => {};
    },
  };
}
