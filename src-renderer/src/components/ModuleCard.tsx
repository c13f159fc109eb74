/**
 * One paired (or rejected) module: the machine it sits on, its health in word, shape and
 * colour, the firmware it runs (a signed release, or unknown firmware in alarm style), slot and
 * boots, the last heartbeat (missed in alarm style), the enclosure's tamper switch, the Modbus
 * clients, the update under way with its progress, the active threat events, and on request
 * the update history and the past events.
 */
import { useState, type ReactNode } from 'react';
import type { ModuleView } from '../../../src-preload/contract';
import { formatAgo, formatDateTime, formatDuration, formatHm } from '../lib/format';
import { HealthBadge, ProgressBar, SignedIcon, ToneIcon } from './ModuleIcons';
import { Fingerprint } from './ModulePairing';
import {
  eventTitle,
  firmwareText,
  heartbeatMissed,
  heartbeatText,
  historyOutcomeText,
  slotText,
  transferPercent,
  updateText,
} from './ModuleWords';

interface Props {
  m: ModuleView;
  machineName: string | null;
  now: number;
  tz: string;
}

/** A value in alarm style: red, the triangle and the words (never colour alone). */
function Alarm({ children, testId }: { children: ReactNode; testId: string }) {
  return (
    <span className="mod-alarm" data-testid={testId} data-alarm="true">
      <ToneIcon tone="alarm" size={18} className="mod-alarm-icon" />
      {children}
    </span>
  );
}

/** The event's own words repeat its title ("Enclosure opened"): said once. */
const sameWords = (a: string, b: string): boolean => a.trim().replace(/\.$/, '').toLowerCase() === b.toLowerCase();

/** One fact: label above, value below. */
function Fact({ label, children, wide = false }: { label: string; children: ReactNode; wide?: boolean }) {
  return (
    <div className={`mod-fact ${wide ? 'mod-fact-wide' : ''}`}>
      <dt className="mod-label">{label}</dt>
      <dd className="mod-value">{children}</dd>
    </div>
  );
}

/** The update state with a progress bar while downloading. */
function UpdateState({ u }: { u: ModuleView['update'] }) {
  const { text, tone } = updateText(u);
  const pct = u.state === 'downloading' ? transferPercent(u) : null;
  return (
    <span className={`mod-update mod-update-${tone}`} data-testid="module-update" data-state={u.state}>
      {tone === 'warn' && <ToneIcon tone="warn" size={16} className="mod-warn-icon" />}
      <span data-testid="module-update-text">{text}</span>
      {pct !== null && <ProgressBar label="Download" percent={pct} testId="module-progress" />}
    </span>
  );
}

/** The module's card. */
export function ModuleCard({ m, machineName, now, tz }: Props) {
  const [more, setMore] = useState(false);
  if (m.pairing === 'rejected') {
    return (
      <article className="card mod-card mod-card-rejected" data-testid={`module-${m.id}`} data-pairing="rejected">
        <header className="mod-head">
          <h3 className="mod-name">{machineName ?? 'Module not on a configured machine'}</h3>
          <span className="mod-id muted">
            module {m.id} · {m.model}
          </span>
          <span className="mod-badge mod-tone-unknown" data-testid="module-pairing">
            <ToneIcon tone="unknown" size={20} className="mod-badge-icon" />
            PAIRING REJECTED
          </span>
        </header>
        <p className="mod-small">
          Not trusted: its heartbeats are ignored and it gets no updates. Fingerprint <Fingerprint fp={m.fingerprint} />
        </p>
      </article>
    );
  }
  const fw = firmwareText(m);
  const missed = heartbeatMissed(m, now);
  const active = m.events.filter((e) => e.active);
  const past = m.events.filter((e) => !e.active);
  const foreign = active.some((e) => e.kind === 'foreign-modbus-client');
  const extra = past.length + m.history.length;
  return (
    <article className={`card mod-card mod-card-${m.health}`} data-testid={`module-${m.id}`} data-pairing="paired" data-health={m.health}>
      <header className="mod-head">
        <h3 className="mod-name" data-testid="module-name">
          {machineName ?? 'Module not on a configured machine'}
        </h3>
        <span className="mod-id muted">
          module {m.id} · {m.model}
        </span>
        <HealthBadge health={m.health} />
      </header>
      <dl className="mod-facts">
        <Fact label="Firmware">
          {fw.alarm ? (
            <Alarm testId="module-firmware">{fw.text}</Alarm>
          ) : (
            <span className="mod-firmware" data-testid="module-firmware">
              {m.knownRelease && <SignedIcon size={18} className="mod-signed-icon" />}
              {fw.text}
            </span>
          )}
        </Fact>
        <Fact label="Slot">
          <span data-testid="module-slot">{slotText(m)}</span>
          {m.uptimeS !== null && <span className="muted"> · up {formatDuration(m.uptimeS)}</span>}
        </Fact>
        <Fact label="Last heartbeat">
          {missed ? (
            <Alarm testId="module-heartbeat">{heartbeatText(m, now)}</Alarm>
          ) : (
            <span data-testid="module-heartbeat">{heartbeatText(m, now)}</span>
          )}
        </Fact>
        <Fact label="Enclosure">
          {m.tamper ? <Alarm testId="module-tamper">OPENED</Alarm> : <span data-testid="module-tamper">closed</span>}
        </Fact>
        <Fact label="Modbus clients">
          {foreign ? (
            <Alarm testId="module-clients">{`Another client: ${m.modbusClients.join(', ') || 'see events'}`}</Alarm>
          ) : (
            <span data-testid="module-clients">
              {m.modbusClients.length === 0 ? 'none connected' : 'only this console'}
              {m.modbusClients.length > 0 && <span className="muted mod-small"> ({m.modbusClients.join(', ')})</span>}
            </span>
          )}
        </Fact>
        <Fact label="Update" wide={m.update.state !== 'none'}>
          <UpdateState u={m.update} />
        </Fact>
      </dl>
      {active.length > 0 && (
        <ul className="mod-events" aria-label="Active threat and health events" data-testid="module-events">
          {active.map((e) => (
            <li key={e.id} className="mod-event mod-event-active" data-testid={`module-event-${e.kind}`}>
              <ToneIcon tone="alarm" size={20} className="mod-alarm-icon" />
              <strong>{eventTitle(e.kind)}</strong>
              {!sameWords(e.message, eventTitle(e.kind)) && <span>{e.message}</span>}
              <span className="mod-when">
                {formatAgo(e.at, now)} ({formatHm(e.at, tz)})
              </span>
            </li>
          ))}
        </ul>
      )}
      {extra > 0 && (
        <button type="button" className="btn mod-more" aria-expanded={more} onClick={() => setMore(!more)} data-testid="module-more">
          {more ? 'Hide history' : `Update history and past events (${extra})`}
        </button>
      )}
      {more && (
        <div className="mod-history" data-testid="module-history">
          {m.history.length > 0 && (
            <ul className="mod-list" aria-label="Update history">
              {m.history.map((h) => (
                <li key={`${h.at}-${h.version}`}>
                  <strong>{historyOutcomeText(h.outcome)}</strong> {h.version}
                  {h.message ? `: ${h.message}` : ''} <span className="mod-when">{formatDateTime(h.at, tz)}</span>
                </li>
              ))}
            </ul>
          )}
          {past.length > 0 && (
            <ul className="mod-list" aria-label="Past events">
              {past.map((e) => (
                <li key={e.id}>
                  <strong>{eventTitle(e.kind)}</strong> {sameWords(e.message, eventTitle(e.kind)) ? '' : e.message}{' '}
                  <span className="mod-when">cleared · {formatDateTime(e.at, tz)}</span>
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </article>
  );
}
