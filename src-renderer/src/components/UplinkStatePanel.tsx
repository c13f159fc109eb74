/** The live uplink state: broker, TLS and the server certificate, connection, outbox, acknowledgements, drops. */
import type { UplinkStatus } from '../../../src-preload/contract';
import { formatAgo, formatDateTime, formatDuration, formatNumber } from '../lib/format';
import { LinkLostIcon, WarningIcon } from './Icon';

interface Props {
  status: UplinkStatus;
  now: number;
  tz: string;
}

const STATE_WORD: Record<UplinkStatus['state'], string> = {
  online: 'CONNECTED',
  connecting: 'CONNECTING',
  offline: 'DISCONNECTED',
  closed: 'STOPPED',
  disabled: 'NOT CONFIGURED',
};

/** "12.3 kB", "4.0 MiB": sizes people read. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${formatNumber(n / 1024, 1)} KiB`;
  if (n < 1024 ** 3) return `${formatNumber(n / 1024 ** 2, 1)} MiB`;
  return `${formatNumber(n / 1024 ** 3, 2)} GiB`;
}

/** Whether what is published reaches the cloud, in words. */
function deliveryText(d: UplinkStatus['delivery'], tz: string): string {
  if (d.state === 'held')
    return `KEPT IN THE OUTBOX: ${d.detail ?? 'not delivered'}${d.retryAt !== null ? ` · trying again at ${formatDateTime(d.retryAt, tz)}` : ''}`;
  if (d.state === 'waiting') return `WAITING FOR THE CLOUD: ${d.detail ?? 'no acknowledgement'}`;
  return d.acknowledgement === 'cloud'
    ? `acknowledged by the cloud · ${formatNumber(d.outstanding, 0)} waiting for its acknowledgement (window ${formatNumber(d.window, 0)})`
    : "on the broker's acknowledgement (the cloud sends none)";
}

function dropsText(d: UplinkStatus['drops']): string {
  const parts: string[] = [];
  if (d.droppedPlain > 0) parts.push(`${formatNumber(d.droppedPlain, 0)} plain batches dropped (${formatBytes(d.droppedBytes)})`);
  if (d.notRecordedSealed + d.notRecordedPlain > 0)
    parts.push(`${formatNumber(d.notRecordedSealed, 0)} sealed and ${formatNumber(d.notRecordedPlain, 0)} plain batches not recorded`);
  if (d.lostSeqs > 0) parts.push(`${formatNumber(d.lostSeqs, 0)} sequence numbers lost by the store and declared`);
  if (parts.length === 0) return 'none';
  return `${parts.join(' · ')} · ${formatNumber(d.gapNotices, 0)} gap notice${d.gapNotices === 1 ? '' : 's'} sent`;
}

/** The state card of the uplink page. */
export function UplinkStatePanel({ status: s, now, tz }: Props) {
  const down = s.state !== 'online' && s.configured;
  return (
    <section className="card uplink-state-card" aria-labelledby="uplink-state-title" data-testid="uplink-state-card">
      <h2 id="uplink-state-title" className="card-title">
        Uplink to the supplier cloud
      </h2>
      <p className={`uplink-state uplink-state-${s.state}`}>
        {down && <LinkLostIcon className="uplink-state-icon" />}
        <strong data-testid="uplink-state" data-state={s.state}>
          {STATE_WORD[s.state]}
        </strong>{' '}
        {s.configured && (
          <span className="muted">
            {s.state === 'online' && s.connectedSince !== null
              ? `since ${formatDateTime(s.connectedSince, tz)} (${formatDuration((now - s.connectedSince) / 1000)})`
              : s.downSince !== null
                ? `no broker connection since ${formatDateTime(s.downSince, tz)} (${formatDuration((now - s.downSince) / 1000)}) · reconnecting`
                : ''}
          </span>
        )}
      </p>
      {!s.configured && <p>No uplink is configured: nothing leaves this plant.</p>}
      {s.lastError && (s.state !== 'online' || s.delivery.state !== 'ok') && (
        <p className="uplink-error" role="alert" data-testid="uplink-error">
          <WarningIcon className="uplink-state-icon" /> <strong>{s.lastError.code}</strong> {s.lastError.message}
        </p>
      )}
      {s.configured && (
        <dl className="stat-list uplink-stats">
          <div>
            <dt>Broker</dt>
            <dd className="mono" data-testid="uplink-broker">
              {s.broker} <span className="muted">(MQTT {s.protocolVersion === 5 ? '5' : '3.1.1'})</span>
            </dd>
          </div>
          <div>
            <dt>Transport security</dt>
            <dd data-testid="uplink-tls">
              {s.tls.enabled ? (
                <>
                  TLS on, server certificate verified{s.tls.servername ? ` for ${s.tls.servername}` : ''}
                  {s.tls.clientCertificate ? ', client certificate' : ''}
                </>
              ) : (
                <span className="uplink-plain-warning">
                  <WarningIcon /> PLAIN TCP: everything travels readable
                </span>
              )}
            </dd>
          </div>
          {s.tls.enabled && (
            <div>
              <dt>Server certificate SHA-256</dt>
              <dd className="mono fingerprint" data-testid="uplink-fingerprint">
                {s.tls.serverFingerprint ?? '— (not connected yet)'}
                {s.tls.serverFingerprint && s.state !== 'online' && <span className="muted"> (at the last connection)</span>}
              </dd>
            </div>
          )}
          <div>
            <dt>Outbox</dt>
            <dd data-testid="uplink-outbox-depth" data-depth={s.outbox.depth}>
              {formatNumber(s.outbox.depth, 0)} batch{s.outbox.depth === 1 ? '' : 'es'} waiting ({formatBytes(s.outbox.bytes)} of{' '}
              {formatBytes(s.outbox.budgetBytes)})
              {s.outbox.full && (
                <strong className="uplink-full" data-testid="uplink-outbox-full">
                  {' '}
                  · {s.outbox.fullCause === 'disk' ? 'DISK FULL' : 'FULL'}: not recording since{' '}
                  {formatDateTime(s.outbox.fullSince ?? now, tz)}
                </strong>
              )}
            </dd>
          </div>
          <div>
            <dt>Delivery</dt>
            <dd
              data-testid="uplink-delivery"
              data-state={s.delivery.state}
              className={s.delivery.state === 'ok' ? undefined : 'link-error'}
            >
              {s.delivery.state !== 'ok' && <WarningIcon className="uplink-state-icon" />} {deliveryText(s.delivery, tz)}
            </dd>
          </div>
          <div>
            <dt>Oldest waiting batch</dt>
            <dd data-testid="uplink-oldest">
              {s.outbox.oldestCreatedAt === null
                ? '—'
                : `${formatAgo(s.outbox.oldestCreatedAt, now)} (${formatDateTime(s.outbox.oldestCreatedAt, tz)})`}
            </dd>
          </div>
          <div>
            <dt>Last acknowledged sequence</dt>
            <dd data-testid="uplink-last-ack" data-seq={s.lastAckSeq ?? ''}>
              {s.lastAckSeq === null ? 'none yet' : `#${formatNumber(s.lastAckSeq, 0)}`}{' '}
              <span className="muted">
                of #{formatNumber(s.lastSeq, 0)} recorded · {formatNumber(s.inflight, 0)} in flight
              </span>
            </dd>
          </div>
          <div>
            <dt>Drops</dt>
            <dd data-testid="uplink-drops">{dropsText(s.drops)}</dd>
          </div>
          {s.plant && (
            <div>
              <dt>Plant pseudonym · keys</dt>
              <dd className="mono">
                {s.plant.pseudonym}{' '}
                <span className="muted">
                  · signing key {s.plant.signingKeyId} · sealed to cloud key {s.plant.cloudKeyId}
                </span>
              </dd>
            </div>
          )}
          <div>
            <dt>Downlink</dt>
            <dd>
              {formatNumber(s.downlink.accepted, 0)} verified, {formatNumber(s.downlink.refused, 0)} refused
              {s.downlink.lastRefusal && <span className="muted"> · last refused: {s.downlink.lastRefusal}</span>}
            </dd>
          </div>
        </dl>
      )}
    </section>
  );
}
