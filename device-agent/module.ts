/**
 * The module runtime: what `device-agent --state-dir D` runs. It boots the slot the state says
 * (a trial, the committed slot or the factory image), serves that image's simulated machine
 * over Modbus TCP, runs the health check of a trial (self-test passed, and the machine read from
 * outside — by the console's poller or a confirming heartbeat answer — within the timeout) and
 * commits it or falls back on its own, sends signed heartbeats, and fetches and installs the
 * updates its console hands it, then reboots into them (in process: the Modbus server and the
 * simulation restart, as after a real reboot).
 *
 * A `crash` image ends the module at boot via `onCrash` (the CLI exits non-zero); the boot was
 * counted first, so after enough restarts by the supervisor the trial is given up.
 */
import { existsSync } from 'node:fs';
import { ConsoleError } from '../src-main/core/errors';
import { silentLogger, type Logger } from '../src-main/core/log';
import { requestPairing } from '../src-main/modules/pairing';
import { startAgent, type Agent } from './agent';
import type { ConsoleTls } from './console-client';
import { parseFirmwareImage, tuningOf, type FirmwareImage } from './firmware-image';
import { startHeartbeats, type HeartbeatAnswer, type HeartbeatBody, type HeartbeatSender } from './heartbeat';
import { ensureIdentity, type ModuleIdentity } from './identity';
import { lockState, openState, readState, withDeclined, writeState, type RollbackEvent } from './module-state';
import { commitTrial, planBoot, rollBack, rotateRoot, type BootPlan, type Pause } from './slots';
import { fetchAndInstall, type TransferLimits, type UpdateProgress } from './updater';

/** How often an unpaired module asks again (until someone on site decides). */
const PAIRING_RETRY_MS = 10_000;

export interface ModuleOptions {
  stateDir: string;
  model: string;
  /** The root of trust to pin at first start (manufacture); null: the state dir must have one. */
  root: Uint8Array | null;
  host?: string;
  port: number;
  unitId?: number;
  seed?: number;
  /** How long a trial may wait for its outside read or console confirmation (default 60 s). */
  healthTimeoutMs?: number;
  /** Boots a trial may take before it is given up (default 3). */
  maxTrialBoots?: number;
  console?: {
    url: string;
    tls: ConsoleTls;
    heartbeatMs?: number;
    /** Stall timeout and minimum rate of update downloads (updater.ts DEFAULT_TRANSFER_LIMITS). */
    limits?: Partial<TransferLimits>;
    /** Default 10 s. */
    pairingRetryMs?: number;
  };
  /** Reported in heartbeats; the identity's key id unless given. */
  moduleId?: string;
  /** The simulated enclosure switch: the file exists = the housing is open. */
  tamperFile?: string;
  pause?: Pause;
  clock?: () => number;
  logger?: Logger;
  /** One line per event people should see (stdout in the CLI). */
  say?: (line: string) => void;
  /** A `crash` image ended the boot; the CLI exits non-zero. Throws CRASHED from start() unless given. */
  onCrash?: (message: string) => void;
}

export interface ModuleRuntime {
  readonly identity: ModuleIdentity;
  /** The agent serving the running image (changes at every reboot). */
  agent(): Agent;
  /** What runs now. */
  running(): { plan: BootPlan; image: FirmwareImage; committed: boolean };
  /** Fetches release `id` from the console, installs it and reboots into it. */
  update(id: string): Promise<{ ok: boolean; message: string }>;
  /** Confirms the running trial as healthy (what a console's confirming heartbeat answer does). */
  confirmHealth(): void;
  /** The next heartbeat's body, as it would be sent now. */
  heartbeatBody(): Omit<HeartbeatBody, 'seq'>;
  /** Settles after the current boot (including its health check) finished. */
  settled(): Promise<void>;
  /** Aborts an update transfer in progress (waiting for an install already writing), then lets the state directory go. */
  stop(): Promise<void>;
}

class Crashed extends Error {}

/** Starts a module from its state directory; resolves once the first boot serves Modbus. */
export async function startModule(opts: ModuleOptions): Promise<ModuleRuntime> {
  const clock = opts.clock ?? Date.now;
  const log = opts.logger ?? silentLogger;
  const say = opts.say ?? (() => undefined);
  const healthTimeoutMs = opts.healthTimeoutMs ?? 60_000;
  const maxTrialBoots = opts.maxTrialBoots ?? 3;
  const dir = opts.stateDir;

  const opened = openState(dir, opts.model, opts.root);
  const unlock = lockState(dir);
  if (opened.note) say(`device-agent: ${opened.note}`);
  const { identity } = ensureIdentity(dir, clock());
  const moduleId = opts.moduleId ?? identity.kid;
  const startedAt = clock();

  let agent: Agent | null = null;
  let current: { plan: BootPlan; image: FirmwareImage; committed: boolean } | null = null;
  let readSeen = false;
  let confirmed: (() => void) | null = null;
  // Cleared at stop without settling: a stopped module leaves its trial as power loss would.
  let healthTimer: NodeJS.Timeout | undefined;
  let heartbeats: HeartbeatSender | null = null;
  let progress: UpdateProgress = { state: 'idle', version: null, received: 0, total: 0, error: null };
  let updating: Promise<{ ok: boolean; message: string }> | null = null;
  // The transfer and install of an update: what stop() aborts and waits for before it unlocks.
  let transfer: Promise<unknown> | null = null;
  const aborter = new AbortController();
  let booting: Promise<void> = Promise.resolve();
  let stopped = false;
  // Update ids (and roots) already handled: installed, or refused for good (those are kept in the
  // state too, so a restart does not forget them). A console offering the same release again
  // never causes a second install; an image rolled back from is refused by the updater.
  const handled = new Set<string>(readState(dir).declined.flatMap((d) => (d.kind === 'refused' ? [d.update] : [])));
  let tamper = { open: opts.tamperFile ? existsSync(opts.tamperFile) : false, since: null as number | null };
  let cpu = { at: clock(), usage: process.cpuUsage() };

  const sayRollback = (e: RollbackEvent): void =>
    say(
      `device-agent: rolled back from ${e.from.version} (${e.from.slot ? `slot ${e.from.slot}` : 'factory'}) to ${e.to.version} (${e.to.slot ? `slot ${e.to.slot}` : 'factory image'}): ${e.reason} — ${e.detail}`,
    );

  /** Waits for the trial's health: an outside read or a console confirmation (the self-test ran at boot). */
  const healthCheck = (): Promise<{ ok: true } | { ok: false; reason: 'health_timeout'; detail: string }> => {
    if (readSeen) return Promise.resolve({ ok: true });
    return new Promise((resolve) => {
      const timer = (healthTimer = setTimeout(() => {
        confirmed = null;
        resolve({ ok: false, reason: 'health_timeout', detail: `nobody read the machine within ${Math.round(healthTimeoutMs / 1000)} s` });
      }, healthTimeoutMs));
      confirmed = () => {
        clearTimeout(timer);
        confirmed = null;
        resolve({ ok: true });
      };
    });
  };

  const bootOnce = async (): Promise<'served' | 'again'> => {
    const { plan, events } = await planBoot(dir, { now: clock, maxTrialBoots, ...(opts.pause ? { pause: opts.pause } : {}) });
    events.forEach(sayRollback);
    let image: FirmwareImage;
    try {
      image = parseFirmwareImage(plan.image);
      if (image.model !== opts.model) throw new ConsoleError('BAD_REQUEST', `the image is for model ${image.model}, not ${opts.model}`);
      if (image.version !== plan.version)
        throw new ConsoleError('BAD_REQUEST', `the image says version ${image.version}, its manifest ${plan.version}`);
    } catch (err) {
      const e = rollBack(dir, plan.slot, 'bad_image', (err as Error).message, clock());
      if (!e) throw err;
      sayRollback(e);
      return 'again';
    }
    const where = plan.slot ? `slot ${plan.slot}` : 'the factory image';
    say(`device-agent: firmware ${plan.version} from ${where}${plan.trial ? ` (trial boot ${plan.trialBoot} of ${maxTrialBoots})` : ''}`);
    if (image.selfTest === 'crash') throw new Crashed(`firmware ${plan.version} crashed at boot (simulated)`);
    // A failed self-test is the image finding itself broken: it is left before it serves anything.
    if (image.selfTest === 'fail') {
      const e = rollBack(dir, plan.slot, 'self_test_failed', `the self-test of ${plan.version} failed`, clock());
      if (!e) throw new ConsoleError('INTERNAL', `The self-test of the ${where} failed`);
      sayRollback(e);
      return 'again';
    }
    readSeen = false;
    agent = await startAgent({
      host: opts.host ?? '127.0.0.1',
      port: opts.port,
      model: opts.model,
      unitId: opts.unitId ?? 1,
      ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
      tuning: tuningOf(image),
      firmwareVersion: plan.version,
      onRead: () => {
        readSeen = true;
        confirmed?.();
      },
      logger: log,
    });
    current = { plan, image, committed: !plan.trial };
    markServing();
    say(`device-agent: firmware ${plan.version} serving Modbus TCP on ${agent.host}:${agent.port} — SIMULATED`);
    startHeartbeatLoop();
    if (!plan.trial) return 'served';
    await opts.pause?.('trial-serving');
    const health = await healthCheck();
    if (health.ok) {
      commitTrial(dir, clock());
      current = { plan, image, committed: true };
      say(`device-agent: committed firmware ${plan.version} in slot ${plan.slot}`);
      heartbeats?.sendNow();
      return 'served';
    }
    const e = rollBack(dir, plan.slot, health.reason, health.detail, clock());
    if (e) sayRollback(e);
    await shutdownBoot();
    return 'again';
  };

  const shutdownBoot = async (): Promise<void> => {
    await heartbeats?.stop();
    heartbeats = null;
    const stopping = agent;
    agent = null;
    await stopping?.stop();
  };

  const boot = async (): Promise<void> => {
    for (let i = 0; i < 4; i++) if ((await bootOnce()) === 'served') return;
    throw new ConsoleError('INTERNAL', 'No image could be booted');
  };

  const collect = (): Omit<HeartbeatBody, 'seq'> => {
    const st = readState(dir);
    const cur = current;
    const now = clock();
    const usage = process.cpuUsage();
    const elapsedMs = Math.max(1, now - cpu.at);
    const cpuPercent = ((usage.user - cpu.usage.user + usage.system - cpu.usage.system) / 1000 / elapsedMs) * 100;
    cpu = { at: now, usage };
    const mem = process.memoryUsage();
    return {
      kind: 'plant-console/module-heartbeat/v1',
      module: moduleId,
      model: opts.model,
      boot: st.boots,
      time: now,
      uptimeS: Math.max(0, (now - startedAt) / 1000),
      firmware: {
        version: cur?.plan.version ?? st.committed.version,
        blake2b512: cur?.plan.blake2b512 ?? '0'.repeat(128),
        slot: cur?.plan.slot ?? null,
        state: cur && !cur.committed ? 'trial' : cur?.plan.slot ? 'committed' : 'factory',
        trialBoot: cur && !cur.committed ? cur.plan.trialBoot : 0,
      },
      rollbacks: st.rollbacks,
      tamper,
      resources: { rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, cpuPercent: Math.max(0, Math.round(cpuPercent * 10) / 10) },
      modbusClients: agent?.clients() ?? [],
      update: progress,
    };
  };

  const onAnswer = (a: HeartbeatAnswer): void => {
    if (stopped) return;
    if (a.confirmHealth) confirmed?.();
    if (a.root && a.root.root !== readState(dir).root && !handled.has(a.root.root)) {
      const r = rotateRoot(dir, { root: Buffer.from(a.root.root, 'base64'), signatures: a.root.signatures });
      if (r.ok) say(`device-agent: pinned root v${r.version}`);
      else {
        handled.add(a.root.root);
        log.log('warn', 'device-agent: root rotation refused', { code: r.code, message: r.message });
      }
    }
    if (a.update && !updating && !handled.has(a.update.id)) void runtime.update(a.update.id);
  };

  // Pairing (docs/firmware.md §12): the module announces its identity, signed by the key it
  // announces, until someone on site approved or rejected it; heartbeats count only once paired.
  let pairing: ReturnType<typeof setTimeout> | null = null;
  let pairState: 'unknown' | 'pending' | 'paired' | 'rejected' = 'unknown';
  const askPairing = (): void => {
    pairing = null;
    if (!opts.console || stopped || pairState === 'paired' || pairState === 'rejected') return;
    const endpoint = { url: opts.console.url, tls: opts.console.tls, moduleId };
    requestPairing(endpoint, { model: opts.model, now: clock() }, identity.keys)
      .then((a) => {
        if (stopped) return;
        if (a.state !== pairState) say(`device-agent: pairing ${a.state} (fingerprint ${a.fingerprint})`);
        pairState = a.state;
      })
      .catch((err: unknown) => log.log('warn', 'device-agent: pairing request failed', { error: String(err) }))
      .finally(() => {
        if (!stopped && pairState !== 'paired' && pairState !== 'rejected')
          pairing = setTimeout(askPairing, opts.console?.pairingRetryMs ?? PAIRING_RETRY_MS);
      });
  };

  function startHeartbeatLoop(): void {
    if (!opts.console || heartbeats) return;
    if (pairState === 'unknown' && pairing === null) askPairing();
    heartbeats = startHeartbeats({
      endpoint: { url: opts.console.url, tls: opts.console.tls, moduleId },
      keys: identity.keys,
      intervalMs: opts.console.heartbeatMs ?? 10_000,
      collect,
      onAnswer,
      logger: log,
    });
  }

  const tamperTimer = opts.tamperFile
    ? setInterval(() => {
        const open = existsSync(opts.tamperFile!);
        if (open === tamper.open) return;
        tamper = { open, since: clock() };
        say(`device-agent: enclosure ${open ? 'opened' : 'closed'}`);
        heartbeats?.sendNow();
      }, 250)
    : null;
  tamperTimer?.unref();

  let markServing!: () => void;
  const firstServing = new Promise<void>((r) => (markServing = r));
  /** A boot that failed after start() returned ends the module the way a crash does. */
  const fatal = (err: unknown): void => {
    if (stopped) return;
    const message = err instanceof Crashed ? err.message : `boot failed: ${(err as Error).message}`;
    say(`device-agent: ${message}`);
    if (opts.onCrash) opts.onCrash(message);
    else log.log('error', 'device-agent: the module stopped serving', { error: message });
  };

  const runtime: ModuleRuntime = {
    identity,
    agent() {
      if (!agent) throw new ConsoleError('UNAVAILABLE', 'The module is not serving (booting or stopped)');
      return agent;
    },
    running() {
      if (!current) throw new ConsoleError('UNAVAILABLE', 'The module has not booted yet');
      return current;
    },
    update(id) {
      const endpoint = opts.console ? { url: opts.console.url, tls: opts.console.tls, moduleId } : null;
      if (!endpoint) return Promise.resolve({ ok: false, message: 'No console is configured (--console)' });
      if (stopped) return Promise.resolve({ ok: false, message: 'The module is stopping' });
      updating ??= (async () => {
        await booting;
        if (stopped) return { ok: false, message: 'The module is stopping' };
        const t = fetchAndInstall({
          dir,
          endpoint,
          id,
          now: clock,
          signal: aborter.signal,
          ...(opts.console?.limits ? { limits: opts.console.limits } : {}),
          ...(opts.pause ? { pause: opts.pause } : {}),
          onProgress: (p) => (progress = p),
          logger: log,
        }).then((r) => {
          // A refusal for good is remembered before stop() may let the state directory go.
          if (!r.ok && (!('retry' in r) || !r.retry) && r.code !== 'aborted') {
            handled.add(id);
            const entry = { kind: 'refused' as const, at: clock(), update: id.slice(0, 200), version: progress.version, code: r.code };
            writeState(dir, withDeclined(readState(dir), entry));
          }
          return r;
        });
        transfer = t;
        const r = await t.finally(() => (transfer = null));
        if (!r.ok) {
          if (r.code === 'aborted') return { ok: false, message: r.message };
          say(`device-agent: update ${id} not installed: ${r.code} — ${r.message}`);
          heartbeats?.sendNow();
          return { ok: false, message: r.message };
        }
        handled.add(id);
        say(`device-agent: installed firmware ${r.manifest.version} in slot ${r.slot}; rebooting into it`);
        progress = { state: 'idle', version: null, received: 0, total: 0, error: null };
        await shutdownBoot();
        if (stopped) return { ok: true, message: 'installed; stopped before the reboot' };
        booting = boot().catch(fatal);
        await booting;
        return { ok: true, message: `installed ${r.manifest.version}` };
      })().finally(() => (updating = null));
      return updating;
    },
    confirmHealth: () => confirmed?.(),
    heartbeatBody: collect,
    settled: () => booting,
    async stop() {
      stopped = true;
      if (pairing) clearTimeout(pairing);
      if (tamperTimer) clearInterval(tamperTimer);
      confirmed = null;
      clearTimeout(healthTimer);
      // The transfer ends before the lock is released: a supervisor's quick restart never finds
      // two processes on one partial file or slot.
      aborter.abort();
      await transfer?.catch(() => undefined);
      await shutdownBoot();
      unlock();
    },
  };

  // The first boot: start() resolves once Modbus is served; a trial's health check runs on.
  const first = boot();
  booting = first.catch(fatal);
  try {
    await Promise.race([firstServing, first]);
  } catch (err) {
    // Failed before serving: a crash image is reported through onCrash, anything else thrown.
    if (!(err instanceof Crashed) || !opts.onCrash) {
      unlock();
      throw err;
    }
  }
  return runtime;
}
