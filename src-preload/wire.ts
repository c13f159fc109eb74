/** Result envelope, transport and bridge interfaces, and WebSocket wire messages (web mode). */
import { z } from 'zod';
import type { CommandName, EventName } from './channels';
import type { CommandRequest, CommandResponse } from './commands';
import type { EventPayload } from './events';

/** Error codes an API call can answer with. */
export type ApiErrorCode = 'BAD_REQUEST' | 'UNKNOWN_COMMAND' | 'FORBIDDEN' | 'NOT_FOUND' | 'UNAVAILABLE' | 'INTERNAL';

export type Result<T> = { ok: true; value: T } | { ok: false; error: { code: ApiErrorCode | string; message: string } };

export type TransportStatus = 'connecting' | 'connected' | 'disconnected';

/** What the renderer is given: IPC (Electron) or WebSocket (web mode) behind one interface. */
export interface Transport {
  readonly kind: 'ipc' | 'websocket';
  call<K extends CommandName>(name: K, request: CommandRequest<K>): Promise<Result<CommandResponse<K>>>;
  subscribe<E extends EventName>(name: E, handler: (payload: EventPayload<E>) => void): () => void;
  onStatus(handler: (status: TransportStatus) => void): () => void;
}

/** The object the preload puts on `window.plantConsole`: task-level methods only. */
export type Bridge = {
  [K in CommandName]: (request: CommandRequest<K>) => Promise<Result<CommandResponse<K>>>;
} & {
  on<E extends EventName>(name: E, handler: (payload: EventPayload<E>) => void): () => void;
};

// ---------------------------------------------------------------------------------------------
// WebSocket wire messages (web mode)

export const ClientMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('call'), id: z.number().int().nonnegative(), name: z.string(), request: z.unknown() }),
  z.object({ type: z.literal('subscribe'), name: z.string() }),
  z.object({ type: z.literal('unsubscribe'), name: z.string() }),
]);
export type ClientMessage = z.infer<typeof ClientMessageSchema>;

export type ServerMessage =
  | { type: 'result'; id: number; result: Result<unknown> }
  | { type: 'event'; name: EventName; payload: unknown }
  | { type: 'error'; error: { code: string; message: string } };
