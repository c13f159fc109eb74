/** Hands the one transport to components that fetch on demand (history, KPI history, metadata). */
import { createContext, useContext } from 'react';
import type { Transport } from '../../../src-preload/contract';

export const TransportContext = createContext<Transport | null>(null);

/** The transport of this window; throws outside the provider (a wiring error, not a runtime state). */
export function useTransport(): Transport {
  const t = useContext(TransportContext);
  if (!t) throw new Error('useTransport outside TransportContext');
  return t;
}
