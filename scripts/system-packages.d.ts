// Types of scripts/system-packages.js (plain JavaScript: scripts/test.js runs it before any build).

/** The list's package names (scripts/system-packages.json). */
export function systemPackageNames(): string[];
/** Packages of `names` that dpkg does not report installed; null where there is no dpkg-query. */
export function missingPackages(names: string[]): string[] | null;
/** Checks (and as root with apt-get installs) the packages; says whether npm test may go on. */
export function ensureSystemPackages(opts?: {
  names?: string[];
  canInstall?: boolean;
  env?: Record<string, string | undefined>;
  log?: (line: string) => void;
}): { ok: true; skipped: string[] } | { ok: false; message: string };
