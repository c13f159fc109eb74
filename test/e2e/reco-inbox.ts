/**
 * A scripted recommendations inbox for the e2e tests: answers the reco.* calls and the
 * reco.update stream of the page's WebSocket (everything else goes to the real console), so
 * that every state of the recommendations page can be reached on purpose. Its machine ids
 * (`im-scripted`, `press-scripted`) are not machines of the demo plant: the page shows the value
 * now from the live machine data when it has it, and here it must show the scripted one (the
 * refused entry names a real machine: it shows no values).
 */
import type { Page, WebSocketRoute } from '@playwright/test';
import type { RecoInbox, Recommendation } from '../../src-preload/contract';

const MIN = 60_000;

/** A recommendation of the scripted inbox. */
export function reco(now: number, p: Partial<Recommendation> & Pick<Recommendation, 'id'>): Recommendation {
  return {
    machineId: 'im-scripted',
    machineName: 'Moulding 1',
    issuedAt: now - 3 * MIN,
    validUntil: now + 95 * MIN,
    receivedAt: now - 2 * MIN,
    status: 'pending',
    changes: [
      {
        pointId: 'zone1-sp',
        name: 'Zone 1 setpoint',
        unit: '°C',
        decimals: 1,
        expected: 215,
        current: 215,
        proposed: 218,
        limits: { min: 180, max: 240, maxStep: 5 },
      },
      {
        pointId: 'zone2-sp',
        name: 'Zone 2 setpoint',
        unit: '°C',
        decimals: 1,
        expected: 220,
        current: 221.5,
        proposed: 224,
        limits: { min: 180, max: 240, maxStep: 5 },
      },
    ],
    rationale: 'Cycle time is 6 % above ideal while both barrel zones run at the low end of the material’s range.',
    expect: { kpi: 'cycleTime', change: -0.04 },
    windowS: 10,
    guards: [{ kpi: 'scrapRate', direction: 'rise', by: 0.01 }],
    autoRevert: false,
    machineState: 'running',
    interlock: { ok: true, message: null },
    decision: null,
    apply: null,
    outcome: null,
    ...p,
  };
}

/** The inbox the page starts with: one waiting, one decided with a guard breached, one refused. */
function startInbox(now: number): RecoInbox {
  const appliedAt = now - 40 * MIN;
  return {
    autoRevertAllowed: false,
    items: [
      reco(now, { id: 'r-new' }),
      reco(now, {
        id: 'r-old',
        machineId: 'press-scripted',
        machineName: 'Press 2',
        status: 'applied',
        receivedAt: now - 70 * MIN,
        windowS: 1800,
        changes: [
          {
            pointId: 'ram-speed-sp',
            name: 'Ram speed setpoint',
            unit: 'mm/s',
            decimals: 0,
            expected: 120,
            current: 130,
            proposed: 130,
            limits: { min: 60, max: 180, maxStep: 20 },
          },
        ],
        rationale: 'Press 2 waits on the ram at the end of each stroke.',
        expect: { kpi: 'throughput', change: 0.05 },
        guards: [{ kpi: 'scrapRate', direction: 'rise', by: 0.01 }],
        decision: { action: 'apply', user: 'maintenance', at: appliedAt, reason: null, deferredUntil: null },
        apply: {
          ok: true,
          summary: 'All 1 change written and read back',
          at: appliedAt,
          steps: [{ pointId: 'ram-speed-sp', action: 'write', writeId: 'w-old', outcome: 'written', code: null, message: null }],
        },
        outcome: {
          state: 'done',
          windowS: 1800,
          beforeFrom: appliedAt - 1800_000,
          appliedAt,
          until: appliedAt + 1800_000,
          expected: { kpi: 'throughput', before: 180, after: 191, delta: 11, relative: 0.061 },
          expectMet: true,
          guards: [{ kpi: 'scrapRate', before: 0.012, after: 0.027, delta: 0.015, relative: 1.25, limit: 0.01, breached: true }],
          revertProposed: true,
          autoReverted: false,
        },
      }),
    ],
    refused: [
      {
        ref: 'r-forged',
        receivedAt: now - 20 * MIN,
        code: 'bad_signature',
        message: 'the signature does not verify with any pinned supplier key',
        machineId: 'im-1',
      },
    ],
  };
}

/**
 * Answers the reco.* calls and the reco.update stream of every WebSocket the page opens, and
 * passes everything else to the real console. Decisions change the scripted inbox and are
 * pushed to every subscribed page, as the core does.
 */
/** The PIN the scripted apply and revert accept: the demo maintenance account's. */
const PIN = '2345';

export async function scriptInbox(page: Page, now: number) {
  let inbox = startInbox(now);
  const requests: { name: string; request: Record<string, unknown> }[] = [];
  const subscribed = new Set<WebSocketRoute>();
  const push = (): void => {
    for (const ws of subscribed) ws.send(JSON.stringify({ type: 'event', name: 'reco.update', payload: inbox }));
  };
  const replace = (r: Recommendation): Recommendation => {
    inbox = { ...inbox, items: inbox.items.map((x) => (x.id === r.id ? r : x)) };
    return r;
  };
  const find = (id: unknown): Recommendation => {
    const r = inbox.items.find((x) => x.id === id);
    if (!r) throw new Error(`no recommendation ${String(id)}`);
    return r;
  };
  const decide = (name: string, req: Record<string, unknown>): Recommendation => {
    const r = find(req.id);
    const at = Date.now();
    const decision = (action: 'apply' | 'reject' | 'defer' | 'revert') => ({
      action,
      user: 'maintenance',
      at,
      reason: typeof req.reason === 'string' ? req.reason : null,
      deferredUntil: typeof req.untilMs === 'number' ? req.untilMs : null,
    });
    switch (name) {
      case 'reco.apply':
        return replace({
          ...r,
          status: 'applied',
          changes: r.changes.map((c) => ({ ...c, current: c.proposed })),
          decision: decision('apply'),
          apply: {
            ok: true,
            summary: `All ${r.changes.length} changes written and read back`,
            at,
            steps: r.changes.map((c, i) => ({
              pointId: c.pointId,
              action: 'write' as const,
              writeId: `w-${i}`,
              outcome: 'written' as const,
              code: null,
              message: null,
            })),
          },
          outcome: {
            state: 'measuring',
            windowS: r.windowS,
            beforeFrom: at - r.windowS * 1000,
            appliedAt: at,
            until: at + r.windowS * 1000,
            expected: null,
            expectMet: null,
            guards: [],
            revertProposed: false,
            autoReverted: false,
          },
        });
      case 'reco.revert':
        return replace({ ...r, status: 'reverted', decision: decision('revert') });
      case 'reco.reject':
        return replace({ ...r, status: 'rejected', decision: decision('reject') });
      default:
        return replace({ ...r, status: 'deferred', decision: decision('defer') });
    }
  };
  await page.routeWebSocket(/\/api$/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((message) => {
      const m = JSON.parse(typeof message === 'string' ? message : message.toString()) as {
        type: string;
        id?: number;
        name?: string;
        request?: Record<string, unknown>;
      };
      if (m.type === 'subscribe' && m.name === 'reco.update') {
        subscribed.add(ws);
        return;
      }
      if (m.type === 'call' && m.name?.startsWith('reco.')) {
        requests.push({ name: m.name, request: m.request ?? {} });
        // Apply and revert change the plant: like the core, they want the demo maintenance PIN.
        if ((m.name === 'reco.apply' || m.name === 'reco.revert') && m.request?.pin !== PIN) {
          const error = m.request?.pin
            ? { code: 'BAD_PIN', message: 'Wrong PIN: 4 more tries before the account is locked' }
            : { code: 'PIN_REQUIRED', message: 'Enter your PIN to confirm the change' };
          ws.send(JSON.stringify({ type: 'result', id: m.id, result: { ok: false, error } }));
          return;
        }
        const value = m.name === 'reco.list' ? inbox : decide(m.name, m.request ?? {});
        ws.send(JSON.stringify({ type: 'result', id: m.id, result: { ok: true, value } }));
        if (m.name !== 'reco.list') push();
        return;
      }
      server.send(message);
    });
    ws.onClose(() => subscribed.delete(ws));
  });
  return {
    requests,
    /** A new recommendation arrives. */
    arrive(r: Recommendation) {
      inbox = { ...inbox, items: [r, ...inbox.items] };
      push();
    },
    /** The observation window of `id` ends with this outcome. */
    measured(id: string, outcome: Recommendation['outcome']) {
      replace({ ...find(id), outcome });
      push();
    },
  };
}
