/** The tile's reason line: why a state is unknown or a machine was never reached, and a noisy line, in words. */
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { TileReason } from '../../src-renderer/src/components/TileReason';
import type { MachineSnapshot } from '../../src-preload/contract';
import { machine } from './renderer-fixtures';

const text = (m: MachineSnapshot): string =>
  renderToStaticMarkup(<TileReason m={m} />)
    .replace(/<[^>]+>/g, '')
    .replaceAll('&quot;', '"');

describe('TileReason', () => {
  const m = machine('im-1', { ts: 1000 });

  it('says nothing for a machine whose state is read from it', () => {
    expect(renderToStaticMarkup(<TileReason m={m} />)).toBe('');
  });

  it('says why a state is unknown and that the KPIs leave it out', () => {
    const unknown = {
      ...m,
      state: 'unknown' as const,
      stateReason: 'no point could be read: illegal data address (exception 2) reading input register 200',
    };
    expect(text(unknown)).toBe(
      'State unknown: no point could be read: illegal data address (exception 2) reading input register 200. KPIs leave this time out.',
    );
  });

  it('says why a machine was never reached, and not for one seen before', () => {
    const error = { code: 'PROFILE_INVALID', message: 'not polled: Point "x" at address 65535 runs past the last Modbus address 65535' };
    const never = { ...m, state: 'offline' as const, link: { ...m.link, state: 'offline' as const, lastOkAt: null, lastError: error } };
    expect(text(never)).toBe(`Never reached: ${error.message}`);
    expect(text({ ...never, link: { ...never.link, lastOkAt: 500 } })).toBe('');
  });

  it('flags a noisy line with a word and the figures', () => {
    const noisy = { ...m, link: { ...m.link, noise: { spoiled: 8, answers: 100, noisy: true } } };
    expect(text(noisy)).toBe(' NOISY LINE — 8 of the last 100 answers spoiled');
    expect(text({ ...noisy, link: { ...noisy.link, noise: { spoiled: 1, answers: 100, noisy: false } } })).toBe('');
  });
});
