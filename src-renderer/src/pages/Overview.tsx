/** Level 1: every machine at once, sized so up to 12 fit one 1366×768 screen without scrolling. */
import { MachineTile, type Density } from '../components/MachineTile';
import { selectMachinesLoadError, selectMachinesLoaded, selectOrder, useMachinesStore } from '../stores/machines';

/** Columns, rows and density for n tiles on a landscape panel. */
export function gridFor(n: number): { cols: number; rows: number; density: Density } {
  if (n <= 3) return { cols: Math.max(1, n), rows: 1, density: 'roomy' };
  if (n === 4) return { cols: 4, rows: 1, density: 'narrow' };
  if (n <= 6) return { cols: 3, rows: 2, density: 'rows2' };
  if (n <= 8) return { cols: 4, rows: 2, density: 'rows2' };
  // Beyond 12 the grid keeps three rows and adds columns (up to 6): denser, still one screen.
  const cols = Math.min(6, Math.ceil(n / 3));
  return { cols, rows: Math.ceil(n / cols), density: 'rows3' };
}

/** The overview page. */
export function Overview() {
  const order = useMachinesStore(selectOrder);
  const loaded = useMachinesStore(selectMachinesLoaded);
  const error = useMachinesStore(selectMachinesLoadError);
  if (!loaded) {
    return (
      <main className="page page-overview page-message" data-testid="overview">
        <p>{error ? `Cannot load the machines: ${error}` : 'Loading machines…'}</p>
      </main>
    );
  }
  if (order.length === 0) {
    return (
      <main className="page page-overview page-message" data-testid="overview">
        <p>No machines are configured for this plant.</p>
      </main>
    );
  }
  const { cols, rows, density } = gridFor(order.length);
  return (
    <main className="page page-overview" data-testid="overview">
      <h1 className="sr-only">Plant overview</h1>
      <div
        className={`tile-grid grid-${density}`}
        style={{ gridTemplateColumns: `repeat(${cols}, minmax(0, 1fr))`, gridTemplateRows: `repeat(${rows}, minmax(0, 1fr))` }}
      >
        {order.map((id) => (
          <MachineTile key={id} id={id} density={density} />
        ))}
      </div>
    </main>
  );
}
