/**
 * The `access` section of the plant configuration: who sees the console's own screen without
 * signing in, when its sessions lock, and the limits of remote support. Settings it replaced
 * are refused by name, with what to write instead, rather than as merely unknown keys.
 */
import { z } from 'zod';

/** Settings that were replaced, and what to write instead: a config still using one is refused with this. */
const REPLACED_ACCESS_KEYS: Readonly<Record<string, string>> = Object.freeze({
  localRole:
    'was removed: nobody acts as operator or maintenance without signing in any more. The local window shows the plant ' +
    'without sign-in while access.localViewWithoutLogin is true (the default); every change needs a signed-in account ' +
    '(plant-console user add). Delete the key.',
  localLoginRequired:
    'was replaced by access.localViewWithoutLogin, its opposite: write "localViewWithoutLogin": false to require sign-in ' +
    'on the local console (the window and a loopback browser).',
});

/** Refuses the replaced keys by name before the strict object would call them merely unknown. */
function refuseReplacedKeys(
  value: unknown,
  ctx: { addIssue(issue: { code: 'custom'; message: string; path: PropertyKey[] }): void },
): unknown {
  if (typeof value !== 'object' || value === null) return value;
  let replaced = false;
  for (const [key, why] of Object.entries(REPLACED_ACCESS_KEYS)) {
    if (!Object.hasOwn(value, key)) continue;
    replaced = true;
    ctx.addIssue({ code: 'custom', message: `access.${key} ${why}`, path: [key] });
  }
  return replaced ? z.NEVER : value;
}

/** The `access` section: sign-in on the local console, its session lock, remote support limits. */
export const AccessSchema = z.preprocess(
  refuseReplacedKeys,
  z
    .object({
      /**
       * The unsigned local console (the Electron window, or a loopback browser when web mode is
       * bound to loopback) shows the plant as the read-only `viewer` (default true); false: the
       * sign-in screen comes first. Every action needs a signed-in account either way.
       */
      localViewWithoutLogin: z.boolean().default(true),
      /** A local session locks after this long without a person using the console (default 15). */
      idleLockMinutes: z.number().int().min(1).max(720).default(15),
      /**
       * Sign-in lockouts: this many failed attempts in a row lock an account from where they came
       * (and a network source trying many names), for this long (absent: 5 and 15 min). An admin
       * lifts one early on the audit page or with `plant-console user unlock`.
       */
      lockout: z
        .object({
          afterFailures: z.number().int().min(2).max(50).default(5),
          minutes: z
            .number()
            .int()
            .min(1)
            .max(24 * 60)
            .default(15),
        })
        .strict()
        .optional(),
      /** A remote support session's default length (absent: 60), and the longest one may be granted (absent: 240). */
      remoteSessionMinutes: z
        .number()
        .int()
        .min(5)
        .max(24 * 60)
        .optional(),
      remoteSessionMaxMinutes: z
        .number()
        .int()
        .min(5)
        .max(24 * 60)
        .optional(),
    })
    .strict(),
);
