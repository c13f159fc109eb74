/**
 * The recommendations inbox (#/recommendations): the supplier's tuning proposals, checked by
 * the console on arrival, waiting for maintenance to decide; the decided ones with their
 * result and measured outcome; and the refused ones with the reason. Operators and anyone not
 * signed in read it without buttons; the console refuses their decisions anyway.
 */
import { useEffect } from 'react';
import { RecoCard } from '../components/RecoCard';
import { RecoRefused } from '../components/RecoRefused';
import { decideBlockedReason, isOpen, RECO_DECIDE_ROLES } from '../lib/reco';
import { selectAuthActions, selectCanSignIn, useAuthStore } from '../stores/auth';
import { selectNow, selectPlantInfo, usePlantStore } from '../stores/plant';
import { selectRecoActions, selectRecoInbox, selectRecoLoadError, useRecoStore } from '../stores/reco';
import { selectMe, useRemoteStore } from '../stores/remote';
import { useTransport } from '../transport/context';
import '../styles/reco.css';

/** "2 waiting for a decision · 3 decided · 1 refused". */
function summary(open: number, pending: number, decided: number, refused: number): string {
  const parts = [`${pending} waiting for a decision`];
  if (open > pending) parts.push(`${open - pending} deferred or being applied`);
  parts.push(`${decided} decided`, `${refused} refused`);
  return parts.join(' · ');
}

/** The page. */
export function RecommendationsPage() {
  const transport = useTransport();
  const inbox = useRecoStore(selectRecoInbox);
  const loadError = useRecoStore(selectRecoLoadError);
  const actions = useRecoStore(selectRecoActions);
  const info = usePlantStore(selectPlantInfo);
  const now = usePlantStore(selectNow);
  const me = useRemoteStore(selectMe);
  const canSignIn = useAuthStore(selectCanSignIn);
  const auth = useAuthStore(selectAuthActions);
  const tz = info?.timezone ?? 'UTC';
  const role = info?.caller.role;
  const mayDecide = role !== undefined && RECO_DECIDE_ROLES.includes(role);
  const readOnly = decideBlockedReason(role);
  const needsPin = me?.session?.hasPin === true;

  useEffect(() => {
    document.title = 'Recommendations — Plant Console';
    void actions.load(transport);
    return () => {
      document.title = 'Plant Console';
    };
  }, [actions, transport]);

  const items = inbox?.items ?? [];
  const open = items.filter((r) => isOpen(r.status));
  const decided = items.filter((r) => !isOpen(r.status));
  const refused = inbox?.refused ?? [];
  const machineName = (id: string): string => info?.machines.find((m) => m.id === id)?.name ?? id;
  const signIn = canSignIn && !mayDecide && (
    <button type="button" className="btn" onClick={() => auth.openLogin()} data-testid="reco-sign-in">
      Sign in to decide
    </button>
  );
  const card = (r: (typeof items)[number]) => (
    <RecoCard
      key={r.id}
      r={r}
      now={now}
      tz={tz}
      shiftEnd={info?.shift.end ?? null}
      mayDecide={mayDecide}
      needsPin={needsPin}
      autoRevertAllowed={inbox?.autoRevertAllowed ?? false}
    />
  );

  return (
    <main className="page page-reco" data-testid="reco-page">
      <header className="reco-page-head">
        <div>
          <h1>Recommendations</h1>
          <span className="muted" data-testid="reco-summary">
            {inbox
              ? summary(open.length, items.filter((r) => r.status === 'pending').length, decided.length, refused.length)
              : loadError
                ? 'Not loaded'
                : 'Loading…'}
          </span>
        </div>
        <p className="reco-page-intro">
          Tuning proposals from the supplier, signed by them and checked by this console against each machine’s limits. Nothing is changed
          until someone from maintenance applies it.
        </p>
      </header>
      {readOnly && info && !loadError && (
        <p className="write-readonly reco-readonly" data-testid="reco-readonly">
          {readOnly} {signIn}
        </p>
      )}
      {loadError && (
        <p className="page-message reco-load-error" role="alert" data-testid="reco-load-error">
          {loadError.text} {signIn}
        </p>
      )}
      {inbox && (
        <>
          <section aria-labelledby="reco-open-title" className="reco-section">
            <h2 id="reco-open-title" className="reco-section-title">
              Waiting for a decision ({open.length})
            </h2>
            {open.length === 0 ? <p className="muted">No recommendation is waiting.</p> : open.map(card)}
          </section>
          <section aria-labelledby="reco-decided-title" className="reco-section" data-testid="reco-decided">
            <h2 id="reco-decided-title" className="reco-section-title">
              Decided ({decided.length})
            </h2>
            {decided.length === 0 ? <p className="muted">Nothing decided yet.</p> : decided.map(card)}
          </section>
          <section aria-labelledby="reco-refused-title" className="reco-section">
            <h2 id="reco-refused-title" className="reco-section-title">
              Refused on arrival ({refused.length})
            </h2>
            <RecoRefused refused={refused} tz={tz} machineName={machineName} />
          </section>
        </>
      )}
    </main>
  );
}
