/**
 * The names that cross the process boundary, free of any runtime dependency so that the
 * sandboxed preload can import them without pulling in the schema library.
 */

/** Every command of the console API; the preload exposes exactly these. */
export const COMMAND_NAMES = [
  'plant.info',
  'machines.list',
  'machines.get',
  'history.query',
  'kpi.history',
  'system.health',
  'points.write',
  'points.revert',
  'writes.log',
  'alarms.list',
  'alarms.ack',
  'alarms.history',
  'uplink.status',
  'uplink.points',
  'session.info',
  'remote.grant',
  'remote.end',
  'remote.list',
  'remote.requests',
  'remote.propose',
  'remote.confirm',
  'remote.reject',
  'remote.reportPage',
  'remote.summary',
  'audit.query',
  'audit.links',
  'auth.lockouts',
  'auth.unlock',
  'reco.list',
  'reco.apply',
  'reco.reject',
  'reco.defer',
  'reco.revert',
  'modules.list',
  'modules.pair',
  'firmware.import',
  'firmware.approve',
  'firmware.stop',
] as const;

/** Every event stream of the console API. */
export const EVENT_NAMES = [
  'machines.update',
  'core.status',
  'alarms.update',
  'uplink.update',
  'remote.update',
  'reco.update',
  'modules.update',
] as const;

export type CommandName = (typeof COMMAND_NAMES)[number];
export type EventName = (typeof EVENT_NAMES)[number];

/** IPC channel carrying one command (main answers with `ipcMain.handle`). */
export const commandChannel = (name: CommandName): string => `pc:cmd:${name}`;
/** IPC channel carrying one event stream from main to the renderer. */
export const eventChannel = (name: EventName): string => `pc:evt:${name}`;

/**
 * IPC channels of signing in the Electron window (src-main/api/ipc-session.ts). The session
 * token stays in the main process; the window only asks to sign in, out, who it is, and
 * reports that a person is using it. `ended` is an event from main: the session ended and why.
 */
export const AUTH_CHANNELS = {
  login: 'pc:auth:login',
  logout: 'pc:auth:logout',
  session: 'pc:auth:session',
  activity: 'pc:auth:activity',
  ended: 'pc:auth:ended',
} as const;

/**
 * IPC channels of first-start setup in the Electron window (src-main/api/ipc-setup.ts): whether
 * no administrator account exists yet, and creating the first one.
 */
export const SETUP_CHANNELS = {
  status: 'pc:auth:setup-status',
  setup: 'pc:auth:setup',
} as const;

/** WebSocket close code of web mode when the connection's session ended; the close reason says why. */
export const SESSION_ENDED_CLOSE = 4401;

/**
 * WebSocket close code of web mode when a connection is refused because its session or its
 * source address has as many open as allowed (src-main/web/connection-limits.ts); the close
 * reason says which. Reconnecting later, once another tab closed, succeeds.
 */
export const TOO_MANY_CONNECTIONS_CLOSE = 4429;

/** The preload's global: `window.plantConsole`. */
export const BRIDGE_KEY = 'plantConsole';

/**
 * Web mode's streamed firmware upload (src-main/web/firmware-upload.ts): POST the bundle's bytes
 * as `application/octet-stream` to this path with `?name=` its file name; the answer is the
 * firmware.import command's result envelope. WebSocket frames stop at 64 KiB, bundles do not.
 */
export const FIRMWARE_UPLOAD_PATH = '/api/firmware';

/** Largest bundle a person imports from the UI: firmware.import (base64 over IPC) and the upload alike. */
export const FIRMWARE_UPLOAD_MAX_BYTES = 32 * 1024 * 1024;
