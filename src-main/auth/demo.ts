/**
 * The SIMULATED demo plant's accounts: one per role, with known passwords, created once at the
 * first start of a demo store and never in a configured plant's store (the store's own demo
 * marker is checked). The SIMULATED banner's help shows them; nothing else should.
 */
import type { Role } from '../../src-preload/contract';
import { ConsoleError } from '../core/errors';
import type { StoreDb } from '../store/schema';
import type { AccountStore } from './accounts';

/** A demo account and its well-known credentials. */
export interface DemoAccount {
  name: string;
  role: Role;
  password: string;
  pin: string | null;
}

const DEMO_ACCOUNTS: readonly DemoAccount[] = Object.freeze([
  { name: 'operator', role: 'operator', password: 'operator-demo', pin: '1234' },
  { name: 'maintenance', role: 'maintenance', password: 'maintenance-demo', pin: '2345' },
  { name: 'admin', role: 'admin', password: 'admin-demo', pin: '3456' },
  { name: 'support', role: 'supplier-support', password: 'support-demo', pin: null },
]);

const MARKER = 'demo_accounts_created';

/** The demo plant's accounts and credentials, for the SIMULATED banner's help. */
export function demoAccounts(): DemoAccount[] {
  return DEMO_ACCOUNTS.map((a) => ({ ...a }));
}

/** Creates the demo accounts once in a demo store; returns those created now (none after the first start). */
export async function ensureDemoAccounts(db: StoreDb, accounts: AccountStore): Promise<DemoAccount[]> {
  const meta = (key: string) => (db.prepare('SELECT value FROM meta WHERE key = ?').raw().get([key]) as [string] | undefined)?.[0];
  if (meta('demo') !== 'true')
    throw new ConsoleError('FORBIDDEN', 'Demo accounts exist only in the SIMULATED demo plant: this store belongs to a configured plant');
  if (meta(MARKER) !== undefined) return [];
  const created: DemoAccount[] = [];
  for (const a of DEMO_ACCOUNTS) {
    if (accounts.get(a.name)) continue;
    await accounts.add(
      { name: a.name, role: a.role, password: a.password, ...(a.pin ? { pin: a.pin } : {}) },
      { user: 'demo-setup', origin: 'local' },
      {},
      { fixedPassword: true },
    );
    created.push({ ...a });
  }
  db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)').run([MARKER, String(Date.now())]);
  return created;
}
