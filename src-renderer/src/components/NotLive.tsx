/**
 * "—" in place of a value that is not live, with its reason on tap: a title for mouse users
 * and an expandable line for touch (no hover-only information).
 */
import { useState } from 'react';
import { NO_VALUE } from '../lib/format';
import { InfoIcon } from './Icon';

interface Props {
  reason: string;
  testId?: string;
}

/** The dash button and, when opened, the reason below it. */
export function NotLive({ reason, testId }: Props) {
  const [open, setOpen] = useState(false);
  return (
    <span className="not-live">
      <button
        type="button"
        className="reason-btn"
        title={reason}
        aria-expanded={open}
        aria-label={`No live value. ${reason}`}
        onClick={(e) => {
          e.stopPropagation();
          e.preventDefault();
          setOpen((o) => !o);
        }}
      >
        <span className="value-text" data-testid={testId}>
          {NO_VALUE}
        </span>
        <InfoIcon className="reason-icon" />
      </button>
      {open && (
        <span className="reason-detail" role="note">
          {reason}
        </span>
      )}
    </span>
  );
}
