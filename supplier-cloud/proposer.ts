/**
 * Runs the reference rule (rules.ts) on the batches a receiver stores and sends what it
 * proposes: at most one open recommendation per machine (judged from the store, so a restart
 * remembers), none before `firstAfterMs` from start, and none for `cooldownMs` after the last one
 * sent to that machine. Used by the demo's in-process cloud and `supplier-cloud receive --propose`.
 */
import { loadProfile } from '../src-main/config/load';
import type { RecommendationBody, SigningKeyPair } from '../src-main/protocol';
import type { RegisteredPlant } from './config';
import type { ReceiverEvent } from './events';
import type { ObservedBatch } from './inbox';
import { newRecommendationId, sendRecommendation } from './reco-send';
import { DEFAULT_RULE_OPTIONS, evaluateTuningRule, isOpen, ruleModelFromProfile, type RuleModel, type RuleOptions } from './rules';
import type { CloudStore } from './store';

export interface ProposerOptions {
  store: CloudStore;
  plants: readonly RegisteredPlant[];
  signer: SigningKeyPair;
  publish: (topic: string, text: string) => Promise<void>;
  receiver: string;
  onEvent?: (e: ReceiverEvent) => void;
  now?: () => number;
  /** Nothing is proposed before this long after start (ms; default 60 s). */
  firstAfterMs?: number;
  /** Nothing more for a machine this long after the last recommendation sent to it (default 30 min). */
  cooldownMs?: number;
  rule?: Partial<RuleOptions>;
  /** The rule's view of a model (default: the built-in profile of that name). */
  models?: (model: string) => RuleModel | null;
}

export interface Proposer {
  observe(b: ObservedBatch): void;
  /** Resolves when no send is in flight. */
  idle(): Promise<void>;
}

const builtinModels = new Map<string, RuleModel | null>();

/** The rule's view of a built-in profile (profiles/<model>.json), cached; null when there is none. */
export function builtinRuleModel(model: string): RuleModel | null {
  if (!builtinModels.has(model)) {
    let m: RuleModel | null = null;
    try {
      m = /^[a-z0-9][a-z0-9_-]{0,63}$/.test(model) ? ruleModelFromProfile(loadProfile(`builtin:${model}`, process.cwd())) : null;
    } catch {
      m = null;
    }
    builtinModels.set(model, m);
  }
  return builtinModels.get(model) ?? null;
}

/** Starts watching; `observe` each stored batch. */
export function createProposer(o: ProposerOptions): Proposer {
  const now = o.now ?? Date.now;
  const started = now();
  const firstAfterMs = o.firstAfterMs ?? 60_000;
  const cooldownMs = o.cooldownMs ?? 30 * 60_000;
  const rule = { ...DEFAULT_RULE_OPTIONS, ...o.rule };
  const models = o.models ?? builtinRuleModel;
  const plants = new Map(o.plants.map((p) => [p.pseudonym, p]));
  const windows = new Map<string, { model?: string; points: Map<string, [number, unknown][]> }>();
  const inflight = new Set<Promise<void>>();
  const busy = new Set<string>();
  // After a failed send (no plant key, broker refused), the machine waits a minute before the next try.
  const retryAt = new Map<string, number>();

  function remember(b: ObservedBatch): { model?: string; points: Map<string, [number, unknown][]> } {
    const key = `${b.plant}/${b.machine}`;
    const w = windows.get(key) ?? { points: new Map<string, [number, unknown][]>() };
    windows.set(key, w);
    if (b.model) w.model = b.model;
    const from = b.to - rule.lookbackMs;
    for (const [id, series] of Object.entries(b.points)) {
      const kept = (w.points.get(id) ?? []).filter((s) => s[0] >= from);
      kept.push(...series.samples);
      w.points.set(id, kept);
    }
    return w;
  }

  function blocked(plant: string, machine: string, t: number): boolean {
    const sent = o.store.reco.sent({ plant, machine });
    const last = sent.at(-1);
    if (last && t - last.sentAt < cooldownMs) return true;
    const reportsOn = (id: string) => o.store.reco.reports({ plant, recommendation: id }).map((r) => r.body);
    return sent.some((s) => isOpen({ validUntil: s.validUntil, windowS: s.body.windowS }, reportsOn(s.id), t));
  }

  async function send(
    plant: RegisteredPlant,
    b: ObservedBatch,
    proposal: NonNullable<ReturnType<typeof evaluateTuningRule>>,
  ): Promise<void> {
    const t = now();
    const body: RecommendationBody = {
      v: 1,
      id: newRecommendationId('rule', t),
      plant: plant.pseudonym,
      machine: b.machine,
      issuedAt: t,
      validUntil: t + proposal.validMs,
      changes: proposal.changes,
      rationale: proposal.rationale,
      expect: proposal.expect,
      windowS: proposal.windowS,
      guards: proposal.guards,
      autoRevert: proposal.autoRevert,
    };
    const sent = await sendRecommendation({ store: o.store, plant, body, signer: o.signer, publish: o.publish, origin: 'rule', now: t });
    o.onEvent?.({
      event: 'reco-sent',
      receiver: o.receiver,
      plant: plant.id,
      machine: b.machineId ?? b.machine,
      recommendation: body.id,
      topic: sent.topic,
      changes: body.changes.map((c) => `${c.point} ${c.expected} → ${c.proposed}`).join(', '),
    });
  }

  return {
    observe(b) {
      const w = remember(b);
      const plant = plants.get(b.plant);
      const key = `${b.plant}/${b.machine}`;
      if (!plant || busy.has(key) || now() - started < firstAfterMs || now() < (retryAt.get(key) ?? 0)) return;
      const model = w.model ? models(w.model) : null;
      if (!model) return;
      const proposal = evaluateTuningRule(model, Object.fromEntries(w.points), b.to, rule);
      if (!proposal || blocked(b.plant, b.machine, now())) return;
      busy.add(key);
      const p = send(plant, b, proposal)
        .catch((err: unknown) => {
          retryAt.set(key, now() + 60_000);
          o.onEvent?.({ event: 'error', receiver: o.receiver, message: `recommendation not sent: ${(err as Error).message}` });
        })
        .finally(() => {
          busy.delete(key);
          inflight.delete(p);
        });
      inflight.add(p);
    },
    async idle() {
      await Promise.allSettled([...inflight]);
    },
  };
}
