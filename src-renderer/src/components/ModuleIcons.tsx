/**
 * Shapes of the Modules page, so that a module's state never rests on colour alone: a tick is
 * healthy, a diamond is a warning, a triangle with "!" is an alarm, a slashed circle is no
 * report; a key waits for pairing, a shield marks a signed release.
 */
import type { ReactNode } from 'react';
import type { ModuleView } from '../../../src-preload/contract';
import { healthWords, type Tone } from './ModuleWords';

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

/** The shape of a tone: tick, diamond, triangle with "!", slashed circle. */
export function ToneIcon({ tone, ...p }: IconProps & { tone: Tone }) {
  switch (tone) {
    case 'ok':
      return (
        <Svg {...p}>
          <path d="M4 12.5 L9.5 18 L20 6.5" {...stroke} strokeWidth={3} />
        </Svg>
      );
    case 'warn':
      return (
        <Svg {...p}>
          <path d="M12 2 L22 12 L12 22 L2 12 Z" fill="currentColor" />
        </Svg>
      );
    case 'alarm':
      return (
        <Svg {...p}>
          <path d="M12 2.5 L23 21.5 H1 Z" fill="currentColor" />
          <rect x="10.8" y="9" width="2.4" height="7" fill="var(--icon-contrast, #fff)" />
          <rect x="10.8" y="17.5" width="2.4" height="2.4" fill="var(--icon-contrast, #fff)" />
        </Svg>
      );
    case 'unknown':
      return (
        <Svg {...p}>
          <circle cx="12" cy="12" r="8.5" {...stroke} />
          <path d="M6 18 L18 6" {...stroke} />
        </Svg>
      );
  }
}

/** A key: a module waiting for its pairing to be approved. */
export function KeyIcon(p: IconProps) {
  return (
    <Svg {...p}>
      <circle cx="7.5" cy="12" r="4.5" {...stroke} />
      <path d="M12 12 H21.5 M18 12 V16 M21 12 V15" {...stroke} />
    </Svg>
  );
}

/** A shield with a tick: signed by the supplier's release keys. */
export function SignedIcon(p: IconProps) {
  return (
    <Svg {...p}>
      <path d="M12 2.5 L20 5.5 V11 C20 16 16.5 19.5 12 21.5 C7.5 19.5 4 16 4 11 V5.5 Z" {...stroke} />
      <path d="M8.5 12 L11 14.5 L15.5 9.5" {...stroke} />
    </Svg>
  );
}

/** A health badge: word, shape and colour together. */
export function HealthBadge({ health }: { health: ModuleView['health'] }) {
  const { word, tone } = healthWords(health);
  return (
    <span className={`mod-badge mod-tone-${tone}`} data-testid="module-health">
      <ToneIcon tone={tone} size={20} className="mod-badge-icon" />
      {word}
    </span>
  );
}

/** The badge of a module waiting for pairing. */
export function PairingBadge() {
  return (
    <span className="mod-badge mod-tone-pending" data-testid="module-pairing">
      <KeyIcon size={20} className="mod-badge-icon" />
      WAITING FOR PAIRING
    </span>
  );
}

/** A transfer's progress bar (a module's download, a bundle's upload): the percent, and in words for screen readers. */
export function ProgressBar({ label, percent, valueText, testId }: { label: string; percent: number; valueText?: string; testId: string }) {
  return (
    <span
      className="mod-progress"
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={percent}
      {...(valueText ? { 'aria-valuetext': valueText } : {})}
      data-testid={testId}
    >
      <span className="mod-progress-fill" style={{ width: `${percent}%` }} />
    </span>
  );
}
