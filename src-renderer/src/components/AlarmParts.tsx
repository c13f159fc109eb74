/**
 * The pieces every alarm display shares: the priority as colour AND shape AND word (and its
 * number inside the shape), and the unacknowledged marker that blinks until someone
 * acknowledges (static for people who asked for reduced motion).
 */
import type { AlarmPriority } from '../../../src-preload/contract';
import { PRIORITY_NUMBER, PRIORITY_WORD } from '../lib/alarms';
import '../styles/alarms.css';

interface IconProps {
  priority: AlarmPriority;
  size?: number;
  className?: string;
}

/** Strokes of the digits 1–4, centred on (12, 12.5): drawn, not text, so they add nothing to the text of what holds them. */
const DIGIT: Record<number, string> = {
  1: 'M10 9.8 L12.2 8 V17',
  2: 'M9.6 10 Q10 8 12.2 8 Q14.6 8 14.6 10.2 Q14.6 12 9.6 17 H14.8',
  3: 'M9.8 8 H14.4 L11.6 11.8 Q14.8 11.6 14.8 14.4 Q14.6 17 12 17 Q10.2 17 9.4 15.8',
  4: 'M13.6 17 V8 L9.2 14 H15.4',
};

/** Where the digit sits in each shape (a triangle's room is low, an inverted one's high). */
const DIGIT_SHIFT: Record<AlarmPriority, string> = {
  critical: 'translate(0 -0.5)',
  high: 'translate(0 3.2)',
  medium: 'translate(3 0.6) scale(0.75)',
  low: 'translate(0 -0.5)',
};

/** Critical octagon, high ▲, medium ▼, low ● — each with its priority number inside. */
export function PriorityIcon({ priority, size = 22, className }: IconProps) {
  const shape =
    priority === 'critical' ? (
      <path d="M7.5 1.5 H16.5 L22.5 7.5 V16.5 L16.5 22.5 H7.5 L1.5 16.5 V7.5 Z" />
    ) : priority === 'high' ? (
      <path d="M12 1.5 L23 22 H1 Z" />
    ) : priority === 'medium' ? (
      <path d="M1 2 H23 L12 22.5 Z" />
    ) : (
      <circle cx="12" cy="12" r="10.5" />
    );
  return (
    <svg
      className={`prio-icon prio-${priority}${className ? ` ${className}` : ''}`}
      width={size}
      height={size}
      viewBox="0 0 24 24"
      aria-hidden="true"
      focusable="false"
    >
      <g className="prio-icon-shape">{shape}</g>
      <path className="prio-icon-num" d={DIGIT[PRIORITY_NUMBER[priority]]} transform={DIGIT_SHIFT[priority]} />
    </svg>
  );
}

/** The priority badge; `hollow` for a cleared alarm (outlined, not filled). */
export function PriorityBadge({ priority, hollow = false }: { priority: AlarmPriority; hollow?: boolean }) {
  return (
    <span className={`alarm-prio prio-${priority}${hollow ? ' alarm-prio-hollow' : ''}`}>
      <PriorityIcon priority={priority} size={24} />
      <span className="alarm-prio-word">{PRIORITY_WORD[priority]}</span>
    </span>
  );
}

/** The unacknowledged marker: blinks (or, with reduced motion, stands out statically); its "!" is drawn by CSS so it adds no text. */
export function UnackMarker({ priority, testId }: { priority: AlarmPriority; testId?: string }) {
  return (
    <span
      className={`alarm-marker prio-${priority}`}
      data-testid={testId}
      role="img"
      aria-label="Not acknowledged"
      title="Not acknowledged"
    />
  );
}
