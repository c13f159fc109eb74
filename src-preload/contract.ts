/**
 * The console API contract: every command (request and response schema, allowed roles) and
 * every event stream, defined once. The core implements it, the IPC and WebSocket adapters
 * carry it, the renderer consumes it without knowing which transport it has.
 *
 * This is the single entry point: the definitions live one concept per file, under
 * ./contract/ (the shared schemas) and beside ./channels (the command table, the event
 * streams and the wire, which are keyed by the channel names).
 */
export { COMMAND_NAMES, EVENT_NAMES, BRIDGE_KEY, commandChannel, eventChannel } from './channels';
export type { CommandName, EventName } from './channels';

export * from './contract/values';
export * from './contract/state-words';
export * from './contract/writes';
export * from './contract/alarms';
export * from './contract/uplink';
export * from './contract/remote';
export * from './contract/audit';
export * from './contract/recommendations';
export * from './contract/firmware';
export * from './contract/trust';
export * from './commands';
export * from './events';
export * from './wire';
