/**
 * "—" in place of a value that is not live, with its reason on tap: a title for mouse users
 * and an expandable line for touch (no hover-only information). Controlled, so the caller can
 * lay the reason out across its whole row.
 */
import { NO_VALUE } from '../lib/format';
import { InfoIcon } from './Icon';

interface Props {
  reason: string;
  open: boolean;
  onToggle: () => void;
  testId?: string;
}

/** The dash button. */
export function NotLive({ reason, open, onToggle, testId }: Props) {
  return (
    <button
      type="button"
      className="reason-btn"
      title={reason}
      aria-expanded={open}
      aria-label={`No live value. ${reason}`}
      onClick={(e) => {
        e.stopPropagation();
        e.preventDefault();
        onToggle();
      }}
    >
      <span className="value-text" data-testid={testId}>
        {NO_VALUE}
      </span>
      <InfoIcon className="reason-icon" />
    </button>
  );
}

/** The reason, shown below the value once its button was tapped. */
export function ReasonDetail({ reason }: { reason: string }) {
  return (
    <span className="reason-detail" role="note">
      {reason}
    </span>
  );
}
