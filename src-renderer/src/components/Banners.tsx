/**
 * Fixed banners for conditions that change how every value must be read. They are not
 * dismissible: each stays exactly as long as its condition is true.
 */
import { useShallow } from 'zustand/react/shallow';
import { selectConnectionSince, selectEverConnected, selectIsLive, useConnectionStore } from '../stores/connection';
import { selectOfflineNames, useMachinesStore } from '../stores/machines';
import { selectSimulated, selectTimezone, usePlantStore } from '../stores/plant';
import { formatClock } from '../lib/format';
import { LinkLostIcon, SimulatedIcon, StateIcon } from './Icon';

/** The banner stack at the top of every screen. */
export function Banners() {
  const simulated = usePlantStore(selectSimulated);
  const tz = usePlantStore(selectTimezone);
  const live = useConnectionStore(selectIsLive);
  const everConnected = useConnectionStore(selectEverConnected);
  const since = useConnectionStore(selectConnectionSince);
  const offline = useMachinesStore(useShallow(selectOfflineNames));
  return (
    <div className="banners">
      {simulated && (
        <div className="banner banner-simulated" role="status" data-testid="banner-simulated">
          <SimulatedIcon className="banner-icon" />
          <strong>SIMULATED</strong>
          <span>Demo plant: every machine and value on this console is simulated, not a real plant.</span>
        </div>
      )}
      {!live && (
        <div className="banner banner-link" role="alert" data-testid="banner-connection">
          <LinkLostIcon className="banner-icon" />
          {everConnected ? (
            <>
              <strong>Connection to the console core lost — values are not live</strong>
              <span>since {formatClock(since, tz)} · reconnecting…</span>
            </>
          ) : (
            <>
              <strong>Connecting to the console core — values are not live yet</strong>
            </>
          )}
        </div>
      )}
      {live && offline.length > 0 && (
        <div className="banner banner-offline" role="alert" data-testid="banner-offline">
          <StateIcon state="offline" className="banner-icon" size={22} />
          <strong>
            {offline.length} machine{offline.length === 1 ? '' : 's'} offline: {offline.join(', ')}
          </strong>
        </div>
      )}
    </div>
  );
}
