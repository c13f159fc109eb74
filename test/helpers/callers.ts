/**
 * Fixed callers for tests that drive the API or a transport directly, without sign-in. The
 * product has none of these: its transports always resolve who a call comes from (a session,
 * or the read-only LOCAL_VIEWER), and every resolver is a required option.
 */
import type { Caller } from '../../src-preload/contract';

/** A local operator without a session. */
export const LOCAL_OPERATOR: Caller = Object.freeze({ user: 'local-operator', role: 'operator', origin: 'local' });
