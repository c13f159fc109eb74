/** One machine's points with their class and what goes out for each: nothing, encrypted, readable. */
import type { Sensitivity, UplinkLeaves, UplinkPoints } from '../../../src-preload/contract';

type Machine = UplinkPoints['machines'][number];

/** The words of each class, as the page and its legend show them. */
export const CLASS_TEXT: Record<Sensitivity, { word: string; meaning: string }> = {
  local: { word: 'LOCAL', meaning: 'never leaves the plant' },
  sealed: { word: 'SEALED', meaning: 'encrypted at origin, readable only by the supplier cloud' },
  plain: { word: 'PLAIN', meaning: 'readable by anyone on the uplink path (TLS only)' },
};

const LEAVES_TEXT: Record<UplinkLeaves, string> = {
  nothing: 'nothing',
  encrypted: 'encrypted',
  readable: 'readable',
};

/** A class badge: a word and a border style, never colour alone. */
export function ClassBadge({ s }: { s: Sensitivity }) {
  return <span className={`sens-badge sens-${s}`}>{CLASS_TEXT[s].word}</span>;
}

/** The table of one machine. */
export function LeavesTable({ machine, configured }: { machine: Machine; configured: boolean }) {
  const counts = { local: 0, sealed: 0, plain: 0 };
  for (const p of machine.points) counts[p.sensitivity]++;
  return (
    <section className="card leaves-card" aria-labelledby={`leaves-${machine.id}-title`} data-testid={`leaves-${machine.id}`}>
      <h2 id={`leaves-${machine.id}-title`} className="card-title">
        {machine.name}{' '}
        <span className="muted">
          {machine.model} · {counts.sealed} sealed, {counts.plain} plain, {counts.local} local
          {machine.pseudonym && (
            <>
              {' '}
              · in topics as <span className="mono">{machine.pseudonym}</span>
            </>
          )}
        </span>
      </h2>
      <div className="table-scroll">
        <table className="point-table leaves-table">
          <thead>
            <tr>
              <th scope="col">Point</th>
              <th scope="col">Class</th>
              <th scope="col">What goes out</th>
            </tr>
          </thead>
          <tbody>
            {machine.points.map((p) => (
              <tr
                key={p.id}
                data-testid={`leaves-${machine.id}-${p.id}`}
                data-class={p.sensitivity}
                data-leaves={p.leaves}
                className={`leaves-row leaves-${p.leaves}`}
              >
                <th scope="row">
                  {p.name}
                  {p.unit && <span className="muted"> ({p.unit})</span>}
                  <span className="point-id">{p.id}</span>
                </th>
                <td>
                  <ClassBadge s={p.sensitivity} /> <span className="class-meaning">{CLASS_TEXT[p.sensitivity].meaning}</span>
                </td>
                <td className="leaves-what">
                  <strong>{LEAVES_TEXT[p.leaves]}</strong>
                  {!configured && p.sensitivity !== 'local' && <span className="muted"> (no uplink configured)</span>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
