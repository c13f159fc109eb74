/** Reading and validating the plant configuration and device profiles from files. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import { ConsoleError } from '../core/errors';
import { parseJsonText } from './json-text';
import { deviceLimitProblems, profileWarnings } from './profile-checks';
import { ConfigSchema, ProfileSchema, type PlantConfig, type PlantConfigFile, type Profile, type ResolvedDevice } from './schema';

/** `devices[0].transport.port` from a zod issue path. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '(top level)';
}

/** One line per problem: `FILE: PATH: what is wrong`. */
export function formatIssues(file: string, error: z.ZodError): string {
  return error.issues.map((i) => `${file}: ${formatPath(i.path)}: ${i.message}`).join('\n');
}

function readJson(file: string, code: 'CONFIG_UNREADABLE'): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConsoleError(code, `${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  }
  try {
    return parseJsonText(text);
  } catch (err) {
    throw new ConsoleError('CONFIG_INVALID', `${file}: not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

/** The package root (where `profiles/` lives), found from this module's location. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'profiles'))) return dir;
    dir = dirname(dir);
  }
  throw new ConsoleError('INTERNAL', 'Cannot find the plant-console package root (profiles/ missing)');
}

/** Validates a profile object; `file` names it in errors. */
export function parseProfile(data: unknown, file: string): Profile {
  const parsed = ProfileSchema.safeParse(data);
  if (!parsed.success) throw new ConsoleError('PROFILE_INVALID', formatIssues(file, parsed.error));
  return parsed.data;
}

/** The file a profile reference (`builtin:MODEL` or a path relative to `baseDir`) names. */
export function profileFile(ref: string, baseDir: string): string {
  if (ref.startsWith('builtin:')) return join(packageRoot(), 'profiles', `${ref.slice('builtin:'.length)}.json`);
  return isAbsolute(ref) ? ref : resolve(baseDir, ref);
}

/** Loads a profile by path or `builtin:MODEL`. */
export function loadProfile(ref: string, baseDir: string): Profile {
  const file = profileFile(ref, baseDir);
  if (ref.startsWith('builtin:') && !existsSync(file)) {
    throw new ConsoleError('CONFIG_INVALID', `No built-in profile "${ref.slice(8)}" (looked for ${file})`);
  }
  return parseProfile(readJson(file, 'CONFIG_UNREADABLE'), file);
}

/** Every line of a profile's error, under the config file and the device's `profile` path. */
function underDevice(file: string, i: number, err: ConsoleError): ConsoleError {
  const lines = err.message.split('\n').map((l) => `${file}: devices[${i}].profile: ${l}`);
  return new ConsoleError('CONFIG_INVALID', lines.join('\n'), { cause: err });
}

/** Validates a config object and resolves its profiles; problems that do not stop the plant are in `warnings`. */
export function resolveConfig(data: unknown, file: string, opts: { simulated?: boolean } = {}): PlantConfig {
  const parsed = ConfigSchema.safeParse(data);
  if (!parsed.success) throw new ConsoleError('CONFIG_INVALID', formatIssues(file, parsed.error));
  const cfg: PlantConfigFile = parsed.data;
  const baseDir = dirname(resolve(file));
  const warnings = new Set<string>();
  const problems: string[] = [];
  const devices: ResolvedDevice[] = cfg.devices.map((d, i) => {
    let profileDef: Profile;
    try {
      profileDef = loadProfile(d.profile, baseDir);
    } catch (err) {
      throw err instanceof ConsoleError ? underDevice(file, i, err) : err;
    }
    const pfile = profileFile(d.profile, baseDir);
    for (const w of profileWarnings(profileDef, pfile)) warnings.add(w);
    for (const p of deviceLimitProblems(d, profileDef, pfile)) problems.push(`${file}: devices[${i}].${p}`);
    return { ...d, profileDef };
  });
  if (problems.length > 0) throw new ConsoleError('CONFIG_INVALID', problems.join('\n'));
  return { ...cfg, devices, simulated: opts.simulated ?? false, source: file, warnings: [...warnings] };
}

/** Loads and validates a plant configuration file. */
export function loadConfig(file: string): PlantConfig {
  return resolveConfig(readJson(file, 'CONFIG_UNREADABLE'), file);
}
