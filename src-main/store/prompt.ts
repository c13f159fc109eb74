/** Asking for the store passphrase on a terminal, without echo. */
import { StoreError } from './errors';

/** What the passphrase is asked for: unlocking, or creating a new store (asked twice). */
export type PassphrasePurpose = 'unlock' | 'create' | 'confirm';

/** Returns the passphrase; injected so that tests and other front ends need no terminal. */
export type PassphrasePrompt = (purpose: PassphrasePurpose) => Promise<string>;

const QUESTIONS: Record<PassphrasePurpose, string> = {
  unlock: 'Passphrase of the plant store: ',
  create: 'New passphrase for the plant store (at least 8 characters): ',
  confirm: 'The same passphrase again: ',
};

interface TtyIn extends NodeJS.ReadableStream {
  isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
}

/** A prompt on the process's terminal, or null when stdin is not a terminal (services, CI). */
export function ttyPassphrasePrompt(input: TtyIn = process.stdin, output: NodeJS.WritableStream = process.stderr): PassphrasePrompt | null {
  if (!input.isTTY || typeof input.setRawMode !== 'function') return null;
  return (purpose) =>
    new Promise<string>((resolve, reject) => {
      output.write(QUESTIONS[purpose]);
      let typed = '';
      const finish = (err: Error | null): void => {
        input.removeListener('data', onData);
        input.setRawMode?.(false);
        input.pause();
        output.write('\n');
        if (err) reject(err);
        else resolve(typed);
      };
      const onData = (chunk: Buffer | string): void => {
        for (const ch of chunk.toString('utf8')) {
          if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish(null);
          if (ch === '\u0003') return finish(new StoreError('locked', 'Cancelled: the store stays locked'));
          if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
          else typed += ch;
        }
      };
      input.setRawMode?.(true);
      input.resume();
      input.on('data', onData);
    });
}
