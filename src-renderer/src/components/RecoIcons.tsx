/**
 * Shapes of the recommendations page, so that a status never rests on colour alone: an open
 * envelope waits for a decision, a clock is deferred or expired, a tick is applied, a triangle
 * needs a look, a cross is rejected, a back arrow is put back, a slashed shield is refused.
 */
import type { ReactNode } from 'react';
import type { RecoStatus } from '../../../src-preload/contract';

interface IconProps {
  size?: number;
  className?: string;
}

function Svg({ size = 22, className, children }: IconProps & { children: ReactNode }) {
  return (
    <svg className={className} width={size} height={size} viewBox="0 0 24 24" aria-hidden="true" focusable="false">
      {children}
    </svg>
  );
}

const stroke = { fill: 'none', stroke: 'currentColor', strokeWidth: 2.6, strokeLinecap: 'round', strokeLinejoin: 'round' } as const;

/** An envelope: a recommendation waiting for a decision. */
export function InboxIcon(p: IconProps) {
  return (
    <Svg {...p}>
      <rect x="2.5" y="5" width="19" height="14" rx="2" {...stroke} />
      <path d="M3 6.5 L12 13 L21 6.5" {...stroke} />
    </Svg>
  );
}

/** A clock: deferred, expired, time left. */
export function ClockIcon(p: IconProps) {
  return (
    <Svg {...p}>
      <circle cx="12" cy="12" r="9" {...stroke} />
      <path d="M12 7 V12 L15.5 14" {...stroke} />
    </Svg>
  );
}

/** A tick: applied, a guard kept, the effect met. */
export function TickIcon(p: IconProps) {
  return (
    <Svg {...p}>
      <path d="M4 12.5 L9.5 18 L20 6.5" {...stroke} strokeWidth={3} />
    </Svg>
  );
}

/** A cross: rejected, not met. */
export function CrossIcon(p: IconProps) {
  return (
    <Svg {...p}>
      <path d="M6 6 L18 18 M18 6 L6 18" {...stroke} strokeWidth={3} />
    </Svg>
  );
}

/** A triangle with "!": needs a look (not applied, a guard breached). */
export function AttentionIcon(p: IconProps) {
  return (
    <Svg {...p}>
      <path d="M12 2.5 L23 21.5 H1 Z" fill="currentColor" />
      <rect x="10.8" y="9" width="2.4" height="7" fill="var(--icon-contrast, #fff)" />
      <rect x="10.8" y="17.5" width="2.4" height="2.4" fill="var(--icon-contrast, #fff)" />
    </Svg>
  );
}

/** An arrow turning back: the old values were put back. */
export function BackIcon(p: IconProps) {
  return (
    <Svg {...p}>
      <path d="M9 5 L4 10 L9 15" {...stroke} />
      <path d="M4 10 H14 a6 6 0 0 1 0 12 H10" {...stroke} />
    </Svg>
  );
}

/** Two arrows in a circle: being written now. */
export function BusyIcon(p: IconProps) {
  return (
    <Svg {...p}>
      <path d="M19 12 a7 7 0 0 1 -12 5" {...stroke} />
      <path d="M5 12 a7 7 0 0 1 12 -5" {...stroke} />
      <path d="M17 3 V7 H13 M7 21 V17 H11" {...stroke} />
    </Svg>
  );
}

/** A shield with a slash: refused, never actionable. */
export function RefusedIcon(p: IconProps) {
  return (
    <Svg {...p}>
      <path d="M12 2.5 L20 5.5 V11 c0 5 -3.5 8.5 -8 10.5 C7.5 19.5 4 16 4 11 V5.5 Z" {...stroke} />
      <path d="M7.5 16 L16.5 7" {...stroke} />
    </Svg>
  );
}

/** A padlock, closed when the interlock blocks changes now. */
export function LockIcon({ open, ...p }: IconProps & { open: boolean }) {
  return (
    <Svg {...p}>
      <rect x="4" y="11" width="16" height="11" rx="2" fill="currentColor" />
      <path d={open ? 'M8 11 V7 a4 4 0 0 1 8 0' : 'M8 11 V7 a4 4 0 0 1 8 0 V11'} {...stroke} strokeWidth={2.5} />
    </Svg>
  );
}

/** The shape of each status. */
export function RecoStatusIcon({ status, ...p }: IconProps & { status: RecoStatus }) {
  switch (status) {
    case 'pending':
      return <InboxIcon {...p} />;
    case 'deferred':
    case 'expired':
      return <ClockIcon {...p} />;
    case 'applying':
      return <BusyIcon {...p} />;
    case 'applied':
      return <TickIcon {...p} />;
    case 'apply-failed':
      return <AttentionIcon {...p} />;
    case 'rejected':
      return <CrossIcon {...p} />;
    case 'reverted':
      return <BackIcon {...p} />;
  }
}
