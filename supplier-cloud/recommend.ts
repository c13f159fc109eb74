/**
 * `supplier-cloud recommend`: one tuning recommendation, signed with the supplier key, sealed to
 * the plant's X25519 key and published on its downlink (docs/recommendations.md). The values the
 * plant should hold now come from the latest data the cloud received (or are given as OLD:NEW);
 * the machine may be named by the identifier seen in sealed data or by its pseudonym. With
 * `--demo-data-dir` it works against the SIMULATED demo plant, whose cloud keys and broker
 * credentials are in `<dataDir>/demo-cloud/`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadProfile } from '../src-main/config/load';
import { defineCommand, parseCommand } from '../src-main/core/command-line';
import { ConsoleError } from '../src-main/core/errors';
import { isPseudonym, wipe, type RecommendationBody, type SigningKeyPair } from '../src-main/protocol';
import { demoReceiverConfig, type DemoCloudBroker } from '../src-main/uplink/demo-cloud';
import { brokerOptions, clientIdFor, connectOnce } from './broker';
import { loadReceiverConfig, resolveReceiverConfig, type RegisteredPlant, type ResolvedReceiverConfig } from './config';
import { KEY_FILES, readSupplierSigner } from './keyfiles';
import { guardText, parseExpect, parseGuards, parseId, parseSets, parseValid, parseWhy, parseWindow } from './recommend-args';
import { newRecommendationId, sendRecommendation } from './reco-send';
import { openCloudStore, type CloudStore } from './store';

/** `supplier-cloud recommend`. */
export const RECOMMEND_COMMAND = defineCommand({
  name: 'supplier-cloud recommend',
  summary: "one tuning recommendation: signed, sealed to the plant's key and published on its downlink",
  usage: '(--config FILE --keys DIR | --demo-data-dir DIR) [--plant P] --machine M --set POINT=VALUE... --why TEXT [options]',
  details: `Signed with the supplier key in DIR, sealed to the plant's X25519 key (docs/recommendations.md).
The value each point holds now is the latest the cloud received (else give POINT=OLD:NEW).`,
  options: {
    config: { type: 'string', arg: 'FILE', help: 'the receiver configuration (broker, registry, database); with --keys' },
    keys: {
      type: 'string',
      arg: 'DIR',
      help: 'the supplier key that signs (with --demo-data-dir: signs a forgery the plant refuses, for tests)',
    },
    'demo-data-dir': {
      type: 'string',
      arg: 'DIR',
      help: "the SIMULATED demo plant's --data-dir: its demo-cloud/ holds the keys and the broker",
    },
    plant: { type: 'string', arg: 'P', help: "the plant's id or pseudonym (needed when the registry has more than one)" },
    machine: { type: 'string', arg: 'M', help: 'the machine: its id as seen in sealed data, or its pseudonym' },
    set: { type: 'string', arg: 'POINT=VALUE', multiple: true, help: 'one change (POINT=OLD:NEW when the cloud has no value yet); 1–8' },
    why: { type: 'string', arg: 'TEXT', help: "the rationale the plant's maintenance staff read [required]" },
    valid: { type: 'string', arg: 'DURATION', help: 'how long it may be applied (default 2h, at most 30d)' },
    expect: { type: 'string', arg: 'KPI:±N%', help: 'the expected relative change, e.g. cycleTime:-4% or oee:+2%' },
    guard: {
      type: 'string',
      arg: 'KPI:±N',
      multiple: true,
      help: 'must not rise (+) or fall (-) by more than N: points for ratios (scrapRate:+1), s for cycleTime, per hour for throughput; at most 4',
    },
    window: { type: 'string', arg: 'DURATION', help: 'the observation window after applying (default 30m, 10s–7d)' },
    'auto-revert': { type: 'boolean', help: "revert by itself when a guard is breached (only where the plant's configuration allows it)" },
    id: { type: 'string', arg: 'ID', help: 'the recommendation id (default: a new one)' },
    json: { type: 'boolean', help: 'the result as JSON' },
  },
  examples: [
    'supplier-cloud recommend --demo-data-dir .data --machine im-1 --set zone1-sp=218 --why "Zone 1 runs cold" --expect cycleTime:-3% --guard scrapRate:+1 --window 2m',
    'supplier-cloud recommend --config cloud.json --keys keys --plant acme-lyon-7 --machine im250-sn-1 --set zone2-sp=218 --why "Zone 2 runs cold"',
  ],
});

/** Output channels, environment and clock (tests inject them). */
export interface RecommendIo {
  out: (s: string) => void;
  err: (s: string) => void;
  env?: Record<string, string | undefined>;
  now?: () => number;
}

function bad(message: string): ConsoleError {
  return new ConsoleError('BAD_REQUEST', message);
}

/** The demo plant's cloud directory from its --data-dir (or the demo-cloud directory itself). */
export function demoCloudDir(dataDir: string): string {
  const dir = existsSync(join(dataDir, 'demo-cloud', 'broker.json')) ? join(dataDir, 'demo-cloud') : resolve(dataDir);
  if (!existsSync(join(dir, 'broker.json')))
    throw bad(
      `${dataDir} is not a demo plant's data directory: no demo-cloud/broker.json (start it with "plant-console serve --data-dir ${dataDir}")`,
    );
  return dir;
}

/** The receiver configuration of the demo's cloud (its broker, keys, registry and cloud.db). */
export function demoConfig(
  dataDir: string,
  env: Record<string, string | undefined> = process.env,
): { config: ResolvedReceiverConfig; keysDir: string } {
  const dir = demoCloudDir(dataDir);
  let broker: DemoCloudBroker;
  try {
    broker = JSON.parse(readFileSync(join(dir, 'broker.json'), 'utf8')) as DemoCloudBroker;
  } catch (err) {
    throw new ConsoleError('CONFIG_UNREADABLE', `Cannot read ${join(dir, 'broker.json')}: ${(err as Error).message}`, { cause: err });
  }
  const raw = demoReceiverConfig(broker, 'cloud.db', { provisioning: 'provisioning.json', keysShow: 'plant-keys.json' });
  return { config: resolveReceiverConfig(raw, dir, env, broker.cloud.password), keysDir: dir };
}

function findPlant(config: ResolvedReceiverConfig, name: string | undefined): RegisteredPlant {
  const known = config.plants.map((p) => `${p.id} (${p.pseudonym})`).join(', ');
  if (name === undefined) {
    if (config.plants.length === 1) return config.plants[0]!;
    throw bad(`--plant is required: the registry has ${known}`);
  }
  const p = config.plants.find((x) => x.id === name || x.pseudonym === name);
  if (!p) throw bad(`--plant ${name}: not in the registry (known: ${known})`);
  return p;
}

function findMachine(
  store: CloudStore,
  plant: RegisteredPlant,
  name: string | undefined,
): { pseudonym: string; id: string | null; model: string | null } {
  if (name === undefined || name === '') throw bad('--machine is required: the machine id seen in sealed data, or its pseudonym');
  const seen = store.reco.machines(plant.pseudonym);
  const hit = seen.find((m) => m.id === name || m.pseudonym === name);
  if (hit) return { pseudonym: hit.pseudonym, id: hit.id, model: hit.model };
  if (isPseudonym(name)) return { pseudonym: name, id: null, model: null };
  throw bad(
    `--machine ${name}: no machine of plant ${plant.id} with that id has reached the cloud in sealed data` +
      (seen.length ? ` (seen: ${seen.map((m) => m.id).join(', ')})` : ' yet') +
      '; give its pseudonym (16 base32 characters) instead',
  );
}

/** Problems the plant would refuse the change for, as far as the built-in profile of the model tells. */
function profileWarnings(model: string | null, changes: RecommendationBody['changes']): string[] {
  if (!model) return [];
  let profile;
  try {
    profile = loadProfile(`builtin:${model}`, process.cwd());
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const c of changes) {
    const p = profile.points.find((x) => x.id === c.point);
    if (!p) out.push(`${model} has no point ${c.point}`);
    else if (!p.writable) out.push(`${c.point} is not writable on ${model}`);
    else {
      if (c.proposed < p.writable.min || c.proposed > p.writable.max)
        out.push(`${c.point} ${c.proposed} is outside ${p.writable.min} … ${p.writable.max}${p.unit ? ` ${p.unit}` : ''}`);
      if (Math.abs(c.proposed - c.expected) > p.writable.maxStep)
        out.push(`${c.point} moves by more than its largest step ${p.writable.maxStep}`);
    }
  }
  return out;
}

/** Runs `recommend …`; resolves with the exit code. Bad arguments throw BAD_REQUEST. */
export async function runRecommendCommand(argv: string[], io: RecommendIo): Promise<number> {
  const { values } = parseCommand(RECOMMEND_COMMAND, argv);
  const env = io.env ?? process.env;
  const now = (io.now ?? Date.now)();
  // Every argument is checked before anything is read or connected.
  const sets = parseSets(values.set);
  const rationale = parseWhy(values.why);
  const validMs = parseValid(values.valid);
  const expect = parseExpect(values.expect);
  const guards = parseGuards(values.guard);
  const windowS = parseWindow(values.window);
  const id = values.id !== undefined ? parseId(values.id) : newRecommendationId('reco', now);
  const demo = values['demo-data-dir'];
  if (demo !== undefined && values.config !== undefined) throw bad('give either --demo-data-dir or --config, not both');
  if (demo === undefined && values.config === undefined) throw bad('--config FILE (with --keys DIR) or --demo-data-dir DIR is required');
  if (demo === undefined && values.keys === undefined)
    throw bad('--keys DIR is required with --config: the supplier signing key signs the recommendation');

  const target =
    demo !== undefined ? demoConfig(demo, env) : { config: loadReceiverConfig(values.config!, env), keysDir: resolve(values.keys!) };
  const { config } = target;
  // With the demo, --keys signs with other keys than its supplier's: a forgery the plant must refuse (tests).
  const keysDir = values.keys !== undefined ? resolve(values.keys) : target.keysDir;
  const plant = findPlant(config, values.plant);
  const signer: SigningKeyPair = readSupplierSigner(join(keysDir, KEY_FILES.supplierSecret));
  const store = openCloudStore(config.database, { receiver: 'recommend', ...(config.databaseKey ? { key: config.databaseKey } : {}) });
  try {
    const machine = findMachine(store, plant, values.machine);
    const notes: string[] = [];
    const changes = sets.map((s) => {
      if (s.expected !== undefined) return { point: s.point, expected: s.expected, proposed: s.proposed };
      const latest = store.reco.latestValue(plant.pseudonym, machine.pseudonym, s.point);
      if (!latest)
        throw bad(
          `No value of ${s.point} from machine ${values.machine} has reached the cloud yet: give the current one, as --set ${s.point}=OLD:${s.proposed}`,
        );
      notes.push(`${s.point}: current value ${latest.value} as received at ${new Date(latest.at).toISOString()}`);
      return { point: s.point, expected: Math.round(latest.value * 1e6) / 1e6, proposed: s.proposed };
    });
    const body: RecommendationBody = {
      v: 1,
      id,
      plant: plant.pseudonym,
      machine: machine.pseudonym,
      issuedAt: now,
      validUntil: now + validMs,
      changes,
      rationale,
      expect,
      windowS,
      guards,
      autoRevert: values['auto-revert'],
    };
    for (const w of profileWarnings(machine.model, changes)) io.err(`supplier-cloud: warning: the plant will refuse this: ${w}\n`);
    const client = await connectOnce(brokerOptions(config.broker, clientIdFor('sc-reco'), { reconnectPeriod: 0, clean: true }));
    let sent;
    try {
      sent = await sendRecommendation({
        store,
        plant,
        body,
        signer,
        origin: 'cli',
        now,
        publish: async (topic, text) => {
          const ack = (await client.publishAsync(topic, text, { qos: 1, retain: false })) as { reasonCode?: number } | undefined;
          if ((ack?.reasonCode ?? 0) >= 128)
            throw new ConsoleError(
              'UNAVAILABLE',
              `The broker refused the recommendation on ${topic} (reason ${ack?.reasonCode}): check the ACL`,
            );
        },
      });
    } finally {
      await client.endAsync();
    }
    const machineName = machine.id ?? machine.pseudonym;
    if (values.json) {
      io.out(
        JSON.stringify(
          {
            id,
            plant: plant.id,
            plantPseudonym: plant.pseudonym,
            machine: machineName,
            machinePseudonym: machine.pseudonym,
            topic: sent.topic,
            plantKey: sent.boxKid,
            supplierKey: sent.signerKid,
            body,
          },
          null,
          2,
        ) + '\n',
      );
      return 0;
    }
    io.out(
      [
        `Recommendation ${id} sent to plant ${plant.id} (${plant.pseudonym}), machine ${machineName} (${machine.pseudonym}):`,
        ...changes.map((c) => `  ${c.point}  ${c.expected} → ${c.proposed}`),
        ...notes.map((n) => `  (${n})`),
        `  expect ${expect.kpi} ${expect.change > 0 ? '+' : ''}${Number((expect.change * 100).toFixed(4))} % over ${windowS} s after applying`,
        ...guards.map((g) => `  guard: ${guardText(g)}`),
        `  valid until ${new Date(body.validUntil).toISOString()}${body.autoRevert ? '; revert automatically on a breached guard (if the plant allows it)' : ''}`,
        `  sealed to plant key ${sent.boxKid}, signed by supplier key ${sent.signerKid}, published on ${sent.topic}`,
      ].join('\n') + '\n',
    );
    return 0;
  } finally {
    wipe(signer.secretKey);
    store.close();
  }
}
