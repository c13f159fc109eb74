/** Level 3: the raw point table (address, type, raw registers, value, quality, sensitivity). */
import type { MachineSnapshot, PointFunction, PointMeta, Sensitivity } from '../../../src-preload/contract';
import { formatAgo, formatClock, formatPointValue, formatRaw, withUnit } from '../lib/format';
import { valueLiveness } from '../lib/liveness';

const FUNCTION_WORD: Record<PointFunction, string> = {
  coil: 'Coil',
  discrete: 'Discrete input',
  input: 'Input register',
  holding: 'Holding register',
};

export const SENSITIVITY_TEXT: Record<Sensitivity, { word: string; hint: string }> = {
  local: { word: 'LOCAL', hint: 'never leaves the plant' },
  sealed: { word: 'SEALED', hint: 'encrypted, only the supplier cloud can read it' },
  plain: { word: 'PLAIN', hint: 'ambient data, sent over TLS' },
};

function typeText(p: PointMeta): string {
  if (p.type === 'bool') return 'bool';
  const parts: string[] = [];
  if (p.registers > 1 && p.type !== 'string') parts.push(`words ${p.wordOrder}`);
  parts.push(`bytes ${p.byteOrder}`);
  const scale = p.scale !== 1 || p.offset !== 0 ? ` ×${p.scale}${p.offset ? ` ${p.offset > 0 ? '+' : '−'}${Math.abs(p.offset)}` : ''}` : '';
  return `${p.type}${scale} (${parts.join(', ')})`;
}

/** A sensitivity badge with its word (and the meaning as text for touch users below md width). */
export function SensitivityBadge({ s, testId }: { s: Sensitivity; testId?: string }) {
  const t = SENSITIVITY_TEXT[s];
  return (
    <span className={`sens-badge sens-${s}`} data-testid={testId} title={`${t.word}: ${t.hint}`}>
      {t.word}
    </span>
  );
}

interface Props {
  machine: MachineSnapshot;
  points: readonly PointMeta[];
  transportLive: boolean;
  now: number;
  pollIntervalMs: number;
  tz: string;
}

/** The table, one row per profile point. */
export function PointTable({ machine, points, transportLive, now, pollIntervalMs, tz }: Props) {
  return (
    <section className="card table-card" aria-labelledby="points-title">
      <h2 id="points-title" className="card-title">
        Points{' '}
        <span className="muted">
          ({points.length}) · sensitivity: LOCAL never leaves the plant, SEALED is encrypted to the supplier, PLAIN is ambient
        </span>
      </h2>
      <div className="table-scroll">
        <table className="point-table" data-testid="point-table">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Function</th>
              <th scope="col">Address</th>
              <th scope="col">Type</th>
              <th scope="col">Raw</th>
              <th scope="col" className="num">
                Value
              </th>
              <th scope="col">Quality</th>
              <th scope="col">Sensitivity</th>
            </tr>
          </thead>
          <tbody>
            {points.map((p) => {
              const pv = machine.values[p.id];
              const lv = valueLiveness(pv, machine, transportLive, now, pollIntervalMs);
              const quality = !transportLive ? 'not live' : (pv?.quality ?? 'no data');
              const qClass = lv.live ? 'q-good' : pv?.quality === 'bad' ? 'q-bad' : 'q-stale';
              return (
                <tr key={p.id} data-testid={`point-row-${p.id}`} className={lv.live ? '' : 'row-notlive'}>
                  <th scope="row">
                    {p.name}
                    <span className="point-id">{p.id}</span>
                  </th>
                  <td>{FUNCTION_WORD[p.function]}</td>
                  <td className="mono">
                    {p.address}
                    <span className="muted">
                      {' '}
                      ({p.registers} {p.function === 'coil' || p.function === 'discrete' ? 'bit' : p.registers === 1 ? 'reg' : 'regs'})
                    </span>
                  </td>
                  <td>{typeText(p)}</td>
                  <td className="mono raw">{lv.live && pv ? formatRaw(pv.raw, p.type === 'bool') : '—'}</td>
                  <td className="num value-cell">{lv.live ? withUnit(formatPointValue(pv?.value, p), p.unit) : '—'}</td>
                  <td className={qClass}>
                    <span className="q-word">{quality.toUpperCase()}</span>
                    {!lv.live && lv.reason && <span className="q-reason">{lv.reason}</span>}
                    {lv.live && pv && (
                      <span className="q-reason">
                        {formatClock(pv.ts, tz)} · {formatAgo(pv.ts, now)}
                      </span>
                    )}
                  </td>
                  <td>
                    <SensitivityBadge s={p.sensitivity} testId={`sensitivity-${p.id}`} />
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}
