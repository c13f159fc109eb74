/** The `access` section: who sees the local console without sign-in, its idle lock, and the keys it replaced. */
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src-main/config/load';
import { ConsoleError } from '../../src-main/core/errors';

const device = { id: 'm1', name: 'M1', profile: 'builtin:im250', transport: { type: 'tcp', host: '127.0.0.1', port: 5020 } };
const config = (access?: unknown) => ({ plant: { name: 'P' }, devices: [device], ...(access === undefined ? {} : { access }) });

function problem(access: unknown): string {
  try {
    resolveConfig(config(access), 'plant.json');
  } catch (err) {
    expect(err).toBeInstanceOf(ConsoleError);
    expect((err as ConsoleError).code).toBe('CONFIG_INVALID');
    return (err as ConsoleError).message;
  }
  throw new Error('expected the config to be refused');
}

describe('access settings', () => {
  it('views the local console without sign-in and locks it after 15 min by default', () => {
    expect(resolveConfig(config(), 'plant.json').access).toEqual({ localViewWithoutLogin: true, idleLockMinutes: 15 });
    expect(resolveConfig(config({}), 'plant.json').access).toEqual({ localViewWithoutLogin: true, idleLockMinutes: 15 });
    expect(resolveConfig(config({ localViewWithoutLogin: false, idleLockMinutes: 5 }), 'plant.json').access).toEqual({
      localViewWithoutLogin: false,
      idleLockMinutes: 5,
    });
  });

  it('keeps the idle lock between 1 min and 12 h, in whole minutes', () => {
    expect(problem({ idleLockMinutes: 0 })).toMatch(/^plant\.json: access\.idleLockMinutes: .*>=1/);
    expect(problem({ idleLockMinutes: 721 })).toMatch(/^plant\.json: access\.idleLockMinutes: .*<=720/);
    expect(problem({ idleLockMinutes: 1.5 })).toMatch(/^plant\.json: access\.idleLockMinutes: /);
    expect(resolveConfig(config({ idleLockMinutes: 720 }), 'plant.json').access.idleLockMinutes).toBe(720);
  });

  it('takes the lockout rule of the plant: failures in a row (2–50) and minutes (1–1440), defaults filled in', () => {
    expect(resolveConfig(config({ lockout: {} }), 'plant.json').access.lockout).toEqual({ afterFailures: 5, minutes: 15 });
    expect(resolveConfig(config({ lockout: { afterFailures: 10, minutes: 30 } }), 'plant.json').access.lockout).toEqual({
      afterFailures: 10,
      minutes: 30,
    });
    expect(problem({ lockout: { afterFailures: 1 } })).toMatch(/^plant\.json: access\.lockout\.afterFailures: .*>=2/);
    expect(problem({ lockout: { minutes: 0 } })).toMatch(/^plant\.json: access\.lockout\.minutes: .*>=1/);
    expect(problem({ lockout: { forever: true } })).toMatch(/^plant\.json: access\.lockout: Unrecognized key/);
  });

  it('refuses the replaced keys by name, saying what replaced them', () => {
    expect(problem({ localRole: 'maintenance' })).toBe(
      'plant.json: access.localRole: access.localRole was removed: nobody acts as operator or maintenance without signing in any more. ' +
        'The local window shows the plant without sign-in while access.localViewWithoutLogin is true (the default); every change ' +
        'needs a signed-in account (plant-console user add). Delete the key.',
    );
    expect(problem({ localLoginRequired: true })).toBe(
      'plant.json: access.localLoginRequired: access.localLoginRequired was replaced by access.localViewWithoutLogin, its opposite: ' +
        'write "localViewWithoutLogin": false to require sign-in on the local console (the window and a loopback browser).',
    );
    const both = problem({ localRole: 'operator', localLoginRequired: false, idleLockMinutes: 10 }).split('\n');
    expect(both.map((l) => l.split(':').slice(0, 2).join(':'))).toEqual([
      'plant.json: access.localRole',
      'plant.json: access.localLoginRequired',
    ]);
    // Anything else unknown is still refused as unknown.
    expect(problem({ localViewOnly: true })).toMatch(/^plant\.json: access: Unrecognized key/);
  });
});
