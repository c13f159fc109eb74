/** The one teardown of a composition (core/teardown.ts): newest first, each once, nothing skipped behind a failure. */
import { describe, expect, it } from 'vitest';
import { ConsoleError } from '../../src-main/core/errors';
import { memoryLogger } from '../../src-main/core/log';
import { Teardown } from '../../src-main/core/teardown';

describe('Teardown', () => {
  it('undoes newest first, awaiting each step, and only once', async () => {
    const order: string[] = [];
    const t = new Teardown(memoryLogger());
    t.defer('store', () => void order.push('store'));
    const uplink = t.use('uplink', { name: 'uplink' }, async (u) => {
      await new Promise((r) => setImmediate(r));
      order.push(u.name);
    });
    t.defer('core', () => void order.push('core'));
    expect(uplink).toEqual({ name: 'uplink' });
    expect(t.size).toBe(3);
    await Promise.all([t.run(), t.run()]);
    await t.run();
    expect(order).toEqual(['core', 'uplink', 'store']);
    expect(t.size).toBe(0);
    expect(() => t.defer('late', () => undefined)).toThrow(/teardown has begun/);
  });

  it('runs every step behind a failing one, logs it, and names each failure', async () => {
    const log = memoryLogger();
    const order: string[] = [];
    const t = new Teardown(log);
    t.defer('store', () => void order.push('store'));
    t.defer('uplink', () => {
      throw new Error('broker gone');
    });
    t.defer('modules', () => Promise.reject(new Error('channel stuck')));
    t.defer('remote', () => void order.push('remote'));
    const failure = await t.run().catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(ConsoleError);
    expect(failure).toMatchObject({ code: 'INTERNAL', message: expect.stringContaining('modules, uplink') });
    expect((failure as ConsoleError).cause).toBeInstanceOf(AggregateError);
    expect(order).toEqual(['remote', 'store']);
    expect(log.lines.filter((l) => l.level === 'error').map((l) => l.fields?.['step'])).toEqual(['modules', 'uplink']);
  });
});
