/** Machine state as colour AND word AND shape; the word is the element's text for tests and readers. */
import type { MachineState } from '../../../src-preload/contract';
import { StateIcon } from './Icon';

export const STATE_WORD: Record<MachineState, string> = {
  running: 'RUNNING',
  idle: 'IDLE',
  fault: 'FAULT',
  offline: 'OFFLINE',
  unknown: 'UNKNOWN',
};

interface Props {
  state: MachineState;
  testId?: string;
  size?: 'normal' | 'large';
}

/** The badge; `testId` goes on the element whose text is exactly the state word. */
export function StateBadge({ state, testId, size = 'normal' }: Props) {
  return (
    <span className={`state-badge state-${state} state-badge-${size}`}>
      <StateIcon state={state} size={size === 'large' ? 28 : 22} className="state-icon" />
      <span className="state-word" data-testid={testId}>
        {STATE_WORD[state]}
      </span>
    </span>
  );
}
