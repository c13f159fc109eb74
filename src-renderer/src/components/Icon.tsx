/**
 * Shapes that carry meaning alongside colour and text (colour-blind operators, washed-out
 * panels). Inline SVG: no icon font to load under the CSP, same look in every browser.
 */
import type { MachineState } from '../../../src-preload/contract';
import type { Trend } from '../lib/values';

interface IconProps {
  size?: number;
  className?: string;
}

/** Running ▶, idle ❚❚, fault ⚠, offline ⊘, unknown (?). */
export function StateIcon({ state, size = 24, className }: IconProps & { state: MachineState }) {
  return (
    <svg className={className} width={size} height={size} viewBox="0 0 24 24" aria-hidden="true" focusable="false">
      {state === 'running' && <path d="M7 4.5 L20 12 L7 19.5 Z" fill="currentColor" />}
      {state === 'idle' && (
        <g fill="currentColor">
          <rect x="6" y="5" width="4" height="14" rx="1" />
          <rect x="14" y="5" width="4" height="14" rx="1" />
        </g>
      )}
      {state === 'fault' && (
        <g>
          <path d="M12 2.5 L23 21.5 H1 Z" fill="currentColor" />
          <rect x="10.8" y="9" width="2.4" height="7" fill="var(--icon-contrast, #fff)" />
          <rect x="10.8" y="17.5" width="2.4" height="2.4" fill="var(--icon-contrast, #fff)" />
        </g>
      )}
      {state === 'offline' && (
        <g fill="none" stroke="currentColor" strokeWidth="2.6">
          <circle cx="12" cy="12" r="8.5" />
          <path d="M6 18 L18 6" />
        </g>
      )}
      {state === 'unknown' && (
        <g fill="none" stroke="currentColor" strokeWidth="2.6" strokeLinecap="round">
          <circle cx="12" cy="12" r="8.5" />
          <path d="M9.2 9.6 A2.9 2.9 0 1 1 12 13 V14.2" />
          <circle cx="12" cy="17.4" r="0.6" fill="currentColor" />
        </g>
      )}
    </svg>
  );
}

/** Trend arrow: rising ↗, falling ↘, steady →. */
export function TrendIcon({ trend, size = 20, className }: IconProps & { trend: Trend }) {
  const d =
    trend === 'rising' ? 'M5 17 L16 6 M9 6 H16 V13' : trend === 'falling' ? 'M5 7 L16 18 M9 18 H16 V11' : 'M4 12 H18 M13 7 L18 12 L13 17';
  return (
    <svg className={className} width={size} height={size} viewBox="0 0 22 24" aria-hidden="true" focusable="false">
      <path d={d} fill="none" stroke="currentColor" strokeWidth="2.6" strokeLinecap="round" strokeLinejoin="round" />
    </svg>
  );
}

/** Warning triangle for banners and deviations. */
export function WarningIcon({ size = 20, className }: IconProps) {
  return (
    <svg className={className} width={size} height={size} viewBox="0 0 24 24" aria-hidden="true" focusable="false">
      <path d="M12 2.5 L23 21.5 H1 Z" fill="currentColor" />
      <rect x="10.8" y="9" width="2.4" height="7" fill="var(--icon-contrast, #fff)" />
      <rect x="10.8" y="17.5" width="2.4" height="2.4" fill="var(--icon-contrast, #fff)" />
    </svg>
  );
}

/** Diamond marking a value outside its normal band. */
export function DeviationIcon({ size = 16, className }: IconProps) {
  return (
    <svg className={className} width={size} height={size} viewBox="0 0 16 16" aria-hidden="true" focusable="false">
      <path d="M8 1 L15 8 L8 15 L1 8 Z" fill="currentColor" />
    </svg>
  );
}

/** Broken link for lost connections. */
export function LinkLostIcon({ size = 20, className }: IconProps) {
  return (
    <svg className={className} width={size} height={size} viewBox="0 0 24 24" aria-hidden="true" focusable="false">
      <g fill="none" stroke="currentColor" strokeWidth="2.4" strokeLinecap="round">
        <path d="M10 7 L8 5 A4 4 0 0 0 3 10 L6 13" />
        <path d="M14 17 L16 19 A4 4 0 0 0 21 14 L18 11" />
        <path d="M4 4 L20 20" />
      </g>
    </svg>
  );
}

/** "Simulated" flask-free marker: a dashed square (not a real machine). */
export function SimulatedIcon({ size = 20, className }: IconProps) {
  return (
    <svg className={className} width={size} height={size} viewBox="0 0 24 24" aria-hidden="true" focusable="false">
      <rect x="3" y="3" width="18" height="18" rx="2" fill="none" stroke="currentColor" strokeWidth="2.4" strokeDasharray="4 3" />
      <path d="M8 12 H16" stroke="currentColor" strokeWidth="2.4" />
    </svg>
  );
}

/** Small "i" used on buttons that reveal a reason. */
export function InfoIcon({ size = 18, className }: IconProps) {
  return (
    <svg className={className} width={size} height={size} viewBox="0 0 24 24" aria-hidden="true" focusable="false">
      <circle cx="12" cy="12" r="10" fill="none" stroke="currentColor" strokeWidth="2.2" />
      <rect x="10.9" y="10" width="2.2" height="8" fill="currentColor" />
      <rect x="10.9" y="6" width="2.2" height="2.2" fill="currentColor" />
    </svg>
  );
}
