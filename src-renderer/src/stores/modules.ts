/**
 * The IoT modules as this window sees them: modules.list at every (re)connect, then every
 * modules.update; the maintenance actions (pair, import a bundle from a file, approve an update,
 * stop a rollout) one at a time, each with its result or refusal in words; the verification
 * result of the last import; and the count of modules needing a person, for the header's badge.
 */
import { create } from 'zustand';
import type { FirmwareRefusalCode, FirmwareRelease, ModulesState, Result, Rollout, Transport } from '../../../src-preload/contract';
import { attentionCount, MAX_BUNDLE_BYTES, refusalTitle, rolloutStateText, sizeText, uploadPercent } from '../components/ModuleWords';
import { httpFirmwareUploader, type FirmwareUploader, type UploadProgress } from '../transport/firmware-upload';
import { useAuthStore } from './auth';
import { selectNow, usePlantStore } from './plant';

export type ModuleAction = 'load' | 'pair' | 'unpair' | 'import' | 'approve' | 'stop';

/** The result of an action in words: calm (ok) or needing a look (warn). */
export interface ModulesNotice {
  action: ModuleAction;
  /** The module, release or rollout it was about. */
  subject: string;
  tone: 'ok' | 'warn';
  text: string;
  /** The refusal's API code (PIN_REQUIRED, BAD_PIN, FORBIDDEN, FIRMWARE_REFUSED…); null when it worked. */
  code: string | null;
  /** The core's own words of a refusal; null when it worked. */
  reason: string | null;
}

/** What the last import found: the release it accepted, or why it refused the file. */
export type ImportResult =
  | { kind: 'accepted'; fileName: string; release: FirmwareRelease }
  | { kind: 'refused'; fileName: string; title: string; text: string; code: FirmwareRefusalCode | null };

/** Refusals that mean "confirm again with the (right) PIN, or wait": the dialog stays open and says why. */
export const MODULE_PIN_CODES: ReadonlySet<string> = new Set(['PIN_REQUIRED', 'BAD_PIN', 'LOCKED_OUT']);

/** What the PIN keypad says after a PIN refusal; null when `n` is not one. */
export function modulePinText(n: Pick<ModulesNotice, 'code' | 'reason'>): string | null {
  if (n.code === null || !MODULE_PIN_CODES.has(n.code)) return null;
  return n.code === 'PIN_REQUIRED' ? 'Enter your PIN to confirm' : (n.reason ?? 'PIN refused');
}

const VERB: Record<ModuleAction, string> = {
  load: 'show the modules',
  pair: 'approve the pairing',
  unpair: 'reject the pairing',
  import: 'import the firmware file',
  approve: 'approve the update',
  stop: 'stop the update',
};

/** An API refusal in words a person can act on. */
export function moduleErrorText(action: ModuleAction, code: string, message: string): string {
  const what = action === 'load' ? 'The modules cannot be shown' : `Could not ${VERB[action]}`;
  switch (code) {
    case 'FORBIDDEN':
      return action === 'load'
        ? `${what}: ${message}.`
        : `${what}: ${message}. Maintenance and administrators do this; sign in as one of them.`;
    case 'NOT_FOUND':
      return `${what}: it is no longer known to the console (${message}).`;
    case 'UNAVAILABLE':
      return `${what} now: ${message}.`;
    case 'BAD_REQUEST':
    case 'FIRMWARE_REFUSED':
    case 'FIRMWARE_INVALID':
    case 'PIN_REQUIRED':
    case 'BAD_PIN':
    case 'LOCKED_OUT':
      return `${what}: ${message}.`;
    default:
      return `${what}: ${message} (${code}).`;
  }
}

/** The bytes of a file as base64, in chunks (String.fromCharCode takes a bounded number of arguments). */
export function bytesToBase64(bytes: Uint8Array): string {
  let bin = '';
  const CHUNK = 0x8000;
  for (let i = 0; i < bytes.length; i += CHUNK) bin += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  return btoa(bin);
}

/** What the store needs of a chosen file (a DOM File, or a Blob with a name in tests). */
export interface BundleFile {
  name: string;
  size: number;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** A light shape check of a modules.update payload (the transport already parsed JSON). */
export function looksLikeModulesState(x: unknown): x is ModulesState {
  if (typeof x !== 'object' || x === null) return false;
  const s = x as Partial<ModulesState>;
  return (
    Array.isArray(s.modules) &&
    Array.isArray(s.releases) &&
    Array.isArray(s.refused) &&
    Array.isArray(s.rollouts) &&
    typeof s.maintenanceWindow === 'object' &&
    s.maintenanceWindow !== null
  );
}

export interface ModulesStoreState {
  state: ModulesState | null;
  /** Why modules.list was refused or not answered, in words; null once loaded. */
  loadError: { code: string; text: string } | null;
  /** The action under way (one at a time): its kind and subject. */
  busy: { action: ModuleAction; subject: string } | null;
  /** The last action's result. */
  notice: ModulesNotice | null;
  /** The verification result of the last import. */
  importResult: ImportResult | null;
  /** The bundle being uploaded (web mode) and how far; null when none is. */
  upload: ({ fileName: string } & UploadProgress) | null;
  actions: {
    load(t: Transport): Promise<boolean>;
    applyState(s: ModulesState): void;
    /** Approve (true) or reject (false) a module's pairing. */
    pair(t: Transport, moduleId: string, approve: boolean, pin?: string): Promise<ModulesNotice>;
    /** Imports a bundle: uploaded over HTTP with progress in web mode (or by `upload`), as firmware.import's base64 over IPC. */
    importFile(t: Transport, file: BundleFile, upload?: FirmwareUploader): Promise<ModulesNotice>;
    approve(t: Transport, releaseId: string, moduleIds: string[], pin?: string): Promise<ModulesNotice>;
    stop(t: Transport, rolloutId: string, reason: string): Promise<ModulesNotice>;
    dismiss(): void;
    dismissImport(): void;
  };
}

const unreachable = (err: unknown): Result<never> => ({
  ok: false,
  error: { code: 'UNAVAILABLE', message: err instanceof Error ? err.message : String(err) },
});

export const useModulesStore = create<ModulesStoreState>()((set, get) => {
  const moduleName = (id: string): string => {
    const m = get().state?.modules.find((x) => x.id === id);
    const machine = m?.machineId ? usePlantStore.getState().info?.machines.find((x) => x.id === m.machineId)?.name : undefined;
    return machine ? `${machine} (${id})` : id;
  };

  /** Runs one action: one at a time, its result in words; `done` words the success and may merge it into the state. */
  const run = async <T>(
    action: ModuleAction,
    subject: string,
    call: () => Promise<Result<T>>,
    done: (value: T) => Pick<ModulesNotice, 'tone' | 'text'>,
  ): Promise<ModulesNotice> => {
    if (get().busy) {
      return { action, subject, tone: 'warn', text: 'Another action is still under way: wait for its result.', code: 'BUSY', reason: null };
    }
    set({ busy: { action, subject } });
    const res = await call().catch(unreachable);
    const notice: ModulesNotice = res.ok
      ? { action, subject, code: null, reason: null, ...done(res.value) }
      : {
          action,
          subject,
          tone: 'warn',
          code: res.error.code,
          reason: res.error.message,
          text: moduleErrorText(action, res.error.code, res.error.message),
        };
    set({ busy: null, notice });
    return notice;
  };

  const mergeRollout = (r: Rollout): void => {
    const s = get().state;
    if (!s) return;
    const rollouts = s.rollouts.some((x) => x.id === r.id) ? s.rollouts.map((x) => (x.id === r.id ? r : x)) : [r, ...s.rollouts];
    set({ state: { ...s, rollouts } });
  };

  return {
    state: null,
    loadError: null,
    busy: null,
    notice: null,
    importResult: null,
    upload: null,
    actions: {
      async load(t) {
        const res = await t.call('modules.list', {}).catch(unreachable);
        if (!res.ok) {
          set({ loadError: { code: res.error.code, text: moduleErrorText('load', res.error.code, res.error.message) } });
          return false;
        }
        set({ state: res.value, loadError: null });
        return true;
      },
      applyState(state) {
        set({ state, loadError: null });
      },
      pair(t, moduleId, approve, pin) {
        const req = { moduleId, approve, ...(pin ? { pin } : {}) };
        return run(
          approve ? 'pair' : 'unpair',
          moduleId,
          () => t.call('modules.pair', req),
          (m) => {
            const s = get().state;
            if (s) set({ state: { ...s, modules: s.modules.map((x) => (x.id === m.id ? m : x)) } });
            return approve
              ? { tone: 'ok', text: `Paired: ${moduleName(m.id)} is trusted now; its heartbeats are checked with its key.` }
              : { tone: 'ok', text: `Pairing rejected: ${moduleName(m.id)} is not trusted and gets no updates.` };
          },
        );
      },
      async importFile(t, file, upload) {
        set({ importResult: null });
        if (file.size > MAX_BUNDLE_BYTES) {
          const text = `The file is ${sizeText(file.size)}, more than the 32 MiB a firmware bundle may have.`;
          set({ importResult: { kind: 'refused', fileName: file.name, title: 'File too large', text, code: null } });
          return { action: 'import', subject: file.name, tone: 'warn', text: `Not imported: ${text}`, code: 'TOO_LARGE', reason: null };
        }
        // Web mode uploads the file over HTTP (WebSocket frames stop at 64 KiB); IPC carries it as base64.
        const uploader = upload ?? (t.kind === 'websocket' ? httpFirmwareUploader() : null);
        let call: () => Promise<Result<FirmwareRelease>>;
        if (uploader) {
          call = async () => {
            let shown = 0;
            set({ upload: { fileName: file.name, sent: 0, total: file.size } });
            try {
              return await uploader(file, (p) => {
                // At most one render per percent: a fast upload fires progress far more often.
                const pct = uploadPercent(p);
                if (pct === shown) return;
                shown = pct;
                set({ upload: { fileName: file.name, sent: p.sent, total: p.total } });
              });
            } finally {
              set({ upload: null });
            }
          };
        } else {
          let dataBase64: string;
          try {
            dataBase64 = bytesToBase64(new Uint8Array(await file.arrayBuffer()));
          } catch (err) {
            const text = `The file could not be read: ${err instanceof Error ? err.message : String(err)}.`;
            set({ importResult: { kind: 'refused', fileName: file.name, title: 'File not readable', text, code: null } });
            return { action: 'import', subject: file.name, tone: 'warn', text, code: 'UNREADABLE', reason: null };
          }
          call = () => t.call('firmware.import', { fileName: file.name, dataBase64 });
        }
        const startedAt = Date.now();
        const n = await run('import', file.name, call, (release) => {
          const s = get().state;
          if (s && !s.releases.some((r) => r.id === release.id)) set({ state: { ...s, releases: [release, ...s.releases] } });
          set({ importResult: { kind: 'accepted', fileName: file.name, release } });
          return { tone: 'ok', text: `Imported: firmware ${release.version} for ${release.models.join(', ')}` };
        });
        // The import panel says how it went, with the details: the page's notice would say it twice.
        if (n.code !== 'BUSY') set({ notice: null });
        if (n.code !== null && n.code !== 'BUSY') {
          // The console keeps refused bundles with their reason: find this one for the title in words.
          // (An upload's answer may come before the modules.update that carries the refusal: ask.)
          if (n.code === 'FIRMWARE_REFUSED' || n.code === 'FIRMWARE_INVALID' || /^Refused: /.test(n.reason ?? ''))
            await get().actions.load(t);
          const skew = 60_000;
          const entry = get()
            .state?.refused.filter((r) => r.fileName === file.name && r.at >= startedAt - skew)
            .sort((a, b) => b.at - a.at)[0];
          set({
            importResult: {
              kind: 'refused',
              fileName: file.name,
              title: entry ? refusalTitle(entry.code) : 'Not imported',
              text: entry ? entry.message : n.text,
              code: entry?.code ?? null,
            },
          });
        }
        return n;
      },
      approve(t, releaseId, moduleIds, pin) {
        const req = { releaseId, moduleIds, ...(pin ? { pin } : {}) };
        return run(
          'approve',
          releaseId,
          () => t.call('firmware.approve', req),
          (r) => {
            mergeRollout(r);
            const n = r.moduleIds.length;
            return {
              tone: 'ok',
              text: `Update to ${r.version} approved for ${n} ${n === 1 ? 'module' : 'modules'}. ${rolloutStateText(r, moduleName).text}.`,
            };
          },
        );
      },
      stop(t, rolloutId, reason) {
        return run(
          'stop',
          rolloutId,
          () => t.call('firmware.stop', { rolloutId, reason: reason.trim() }),
          (r) => {
            mergeRollout(r);
            return { tone: 'ok', text: `Update to ${r.version} stopped: modules not yet updated keep their firmware.` };
          },
        );
      },
      dismiss() {
        set({ notice: null });
      },
      dismissImport() {
        set({ importResult: null });
      },
    },
  };
});

export const selectModulesState = (s: ModulesStoreState): ModulesState | null => s.state;
export const selectModulesLoadError = (s: ModulesStoreState): ModulesStoreState['loadError'] => s.loadError;
export const selectModulesBusy = (s: ModulesStoreState): ModulesStoreState['busy'] => s.busy;
export const selectModulesNotice = (s: ModulesStoreState): ModulesNotice | null => s.notice;
export const selectImportResult = (s: ModulesStoreState): ImportResult | null => s.importResult;
export const selectUpload = (s: ModulesStoreState): ModulesStoreState['upload'] => s.upload;
export const selectModulesActions = (s: ModulesStoreState): ModulesStoreState['actions'] => s.actions;
/** The console has no module management (no firmware root pinned): nothing to show, no way to the page. */
export const selectNoModuleManager = (s: ModulesStoreState): boolean => s.state === null && s.loadError?.code === 'UNAVAILABLE';

/** Modules needing a person now (the header's badge); re-evaluated with the plant clock. */
export function useModulesAttention(): number {
  const state = useModulesStore(selectModulesState);
  const now = usePlantStore(selectNow);
  return attentionCount(state, now);
}

/** Feeds the store from `transport`: modules.list at every connect, then modules.update; returns the stop. */
export function startModulesFeed(transport: Transport): () => void {
  const { actions } = useModulesStore.getState();
  const offUpdate = transport.subscribe('modules.update', (payload) => {
    if (looksLikeModulesState(payload)) actions.applyState(payload);
  });
  const offStatus = transport.onStatus((status) => {
    if (status === 'connected') void actions.load(transport);
  });
  // What one person did here (a result, an import's verification) is not shown to the next one.
  const offSession = useAuthStore.subscribe((s, prev) => {
    if (s.session?.id !== prev.session?.id) useModulesStore.setState({ notice: null, importResult: null });
  });
  return () => {
    offUpdate();
    offStatus();
    offSession();
  };
}
