/** "What leaves this plant" (#/uplink): every point's class and what goes out, and the live uplink state. */
import { useEffect } from 'react';
import { CLASS_TEXT, ClassBadge, LeavesTable } from '../components/LeavesTable';
import { UplinkStatePanel } from '../components/UplinkStatePanel';
import { selectNow, selectTimezone, usePlantStore } from '../stores/plant';
import { selectUplinkLoadError, selectUplinkPoints, selectUplinkStatus, useUplinkStore } from '../stores/uplink';
import '../styles/uplink.css';

/** The uplink page. */
export function UplinkPage() {
  const status = useUplinkStore(selectUplinkStatus);
  const points = useUplinkStore(selectUplinkPoints);
  const loadError = useUplinkStore(selectUplinkLoadError);
  const now = usePlantStore(selectNow);
  const tz = usePlantStore(selectTimezone);

  useEffect(() => {
    document.title = 'What leaves this plant — Plant Console';
    return () => {
      document.title = 'Plant Console';
    };
  }, []);

  return (
    <main className="page page-uplink" data-testid="uplink-page">
      <header className="uplink-head">
        <h1>What leaves this plant</h1>
        <p className="muted">
          Each point's class comes from its device profile; this console enforces it when it builds what it sends. Unclassified points are
          LOCAL.
        </p>
        <ul className="class-legend" aria-label="Classes">
          {(['local', 'sealed', 'plain'] as const).map((c) => (
            <li key={c}>
              <ClassBadge s={c} /> {CLASS_TEXT[c].meaning}
            </li>
          ))}
        </ul>
      </header>
      {loadError && !status && <p className="page-message">Cannot load the uplink: {loadError}</p>}
      {!loadError && !status && <p className="page-message">Loading the uplink…</p>}
      {status && <UplinkStatePanel status={status} now={now} tz={tz} />}
      {points?.machines.map((m) => (
        <LeavesTable key={m.id} machine={m} configured={points.configured} />
      ))}
    </main>
  );
}
