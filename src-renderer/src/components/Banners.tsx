/**
 * Fixed banners for conditions that change how every value must be read. They are not
 * dismissible: each stays exactly as long as its condition is true.
 */
import { useShallow } from 'zustand/react/shallow';
import { selectConnectionSince, selectEverConnected, selectIsLive, useConnectionStore } from '../stores/connection';
import { selectOfflineNames, useMachinesStore } from '../stores/machines';
import { selectDemoAccounts, selectNow, selectSimulated, selectTimezone, usePlantStore } from '../stores/plant';
import { useState } from 'react';
import { formatClock, formatDuration } from '../lib/format';
import { downForMs, selectUplinkStatus, useUplinkStore } from '../stores/uplink';
import { LinkLostIcon, SimulatedIcon, StateIcon, WarningIcon } from './Icon';
import { RemoteBanner } from './RemoteBanner';

/** The banner stack at the top of every screen. */
export function Banners() {
  const simulated = usePlantStore(selectSimulated);
  const demoAccounts = usePlantStore(selectDemoAccounts);
  const [helpOpen, setHelpOpen] = useState(false);
  const tz = usePlantStore(selectTimezone);
  const live = useConnectionStore(selectIsLive);
  const everConnected = useConnectionStore(selectEverConnected);
  const since = useConnectionStore(selectConnectionSince);
  const offline = useMachinesStore(useShallow(selectOfflineNames));
  const uplink = useUplinkStore(selectUplinkStatus);
  const now = usePlantStore(selectNow);
  const uplinkDownMs = downForMs(uplink, now);
  const uplinkDown = uplink !== null && uplinkDownMs > uplink.downBannerAfterS * 1000;
  return (
    <div className="banners">
      <RemoteBanner />
      {simulated && (
        <div className="banner banner-simulated" role="status" data-testid="banner-simulated">
          <SimulatedIcon className="banner-icon" />
          <strong>SIMULATED</strong>
          <span>Demo plant: every machine and value on this console is simulated, not a real plant.</span>
          {demoAccounts && demoAccounts.length > 0 && (
            <button
              type="button"
              className="banner-help-button"
              aria-expanded={helpOpen}
              data-testid="demo-accounts-toggle"
              onClick={() => setHelpOpen((o) => !o)}
            >
              {helpOpen ? 'Hide demo accounts' : 'Demo accounts'}
            </button>
          )}
        </div>
      )}
      {simulated && helpOpen && demoAccounts && (
        <div className="banner banner-simulated banner-help" role="note" data-testid="demo-accounts">
          <span>Sign in to try each role (demo plant only):</span>
          <ul>
            {demoAccounts.map((a) => (
              <li key={a.name}>
                <strong>{a.name}</strong> / {a.password} · {a.role}
                {a.pin ? ` · PIN ${a.pin}` : ''}
              </li>
            ))}
          </ul>
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
      {uplink?.plainTcp && (
        <div className="banner banner-link" role="alert" data-testid="banner-uplink-plain">
          <WarningIcon className="banner-icon" />
          <strong>Uplink without TLS: data travels readable</strong>
          <span>plain data and the plant's metadata can be read on the way to {uplink.broker}</span>
        </div>
      )}
      {uplinkDown && uplink && (
        <div className="banner banner-link" role="alert" data-testid="banner-uplink-down">
          <LinkLostIcon className="banner-icon" />
          <strong>Uplink to the supplier cloud down for {formatDuration(uplinkDownMs / 1000)}</strong>
          <span>
            batches wait in the outbox ({uplink.outbox.depth}){uplink.lastError ? ` · ${uplink.lastError.code}` : ''}
          </span>
        </div>
      )}
      {uplink?.outbox.full && (
        <div className="banner banner-offline" role="alert" data-testid="banner-uplink-full">
          <WarningIcon className="banner-icon" />
          <strong>Uplink outbox full: sealed data is not being recorded</strong>
          <span>since {formatClock(uplink.outbox.fullSince ?? now, tz)} · the cloud is told of the gap</span>
        </div>
      )}
    </div>
  );
}
