/**
 * A PIN keypad for confirmations on the touch panel: ten digit keys, Clear and Delete, each at
 * least 64 px (gloves), the PIN shown as dots only. A keyboard works too: the field takes
 * digits typed into it, and asks the operating system for no on-screen keyboard of its own.
 */
import { useId } from 'react';
import '../styles/lock.css';

interface Props {
  value: string;
  onChange(value: string): void;
  /** "Your PIN confirms this change". */
  label: string;
  disabled?: boolean;
  /** Why the last PIN was refused. */
  error?: string | null;
  maxLength?: number;
}

const KEYS = ['1', '2', '3', '4', '5', '6', '7', '8', '9'] as const;

/** The keypad, controlled by its parent. */
export function PinPad({ value, onChange, label, disabled = false, error = null, maxLength = 12 }: Props) {
  const id = useId();
  const press = (digit: string): void => {
    if (value.length < maxLength) onChange(value + digit);
  };
  const key = (digit: string) => (
    <button
      key={digit}
      type="button"
      className="btn pin-key"
      data-testid={`pin-key-${digit}`}
      disabled={disabled}
      onClick={() => press(digit)}
    >
      {digit}
    </button>
  );
  return (
    <div className="pin-pad" data-testid="pin-pad">
      <label className="pin-label" htmlFor={id}>
        {label}
      </label>
      <input
        id={id}
        className="pin-dots"
        type="password"
        inputMode="none"
        autoComplete="off"
        maxLength={maxLength}
        value={value}
        disabled={disabled}
        onChange={(e) => onChange(e.target.value.replace(/\D/g, '').slice(0, maxLength))}
        data-testid="pin-input"
      />
      {error && (
        <p className="pin-error" role="alert" data-testid="pin-error">
          {error}
        </p>
      )}
      <div className="pin-keys" role="group" aria-label="PIN keypad">
        {KEYS.map(key)}
        <button
          type="button"
          className="btn pin-key pin-key-action"
          data-testid="pin-clear"
          disabled={disabled || value === ''}
          onClick={() => onChange('')}
        >
          Clear
        </button>
        {key('0')}
        <button
          type="button"
          className="btn pin-key pin-key-action"
          aria-label="Delete the last digit"
          data-testid="pin-delete"
          disabled={disabled || value === ''}
          onClick={() => onChange(value.slice(0, -1))}
        >
          ⌫
        </button>
      </div>
    </div>
  );
}
