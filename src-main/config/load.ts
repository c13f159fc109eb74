/** Reading and validating the plant configuration and device profiles from files. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import { ConsoleError } from '../core/errors';
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
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ConsoleError('CONFIG_INVALID', `${file}: not valid JSON (${(err as Error).message})`, { cause: err });
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

/** Loads a profile by path or `builtin:MODEL`. */
export function loadProfile(ref: string, baseDir: string): Profile {
  const file = ref.startsWith('builtin:')
    ? join(packageRoot(), 'profiles', `${ref.slice('builtin:'.length)}.json`)
    : isAbsolute(ref)
      ? ref
      : resolve(baseDir, ref);
  if (ref.startsWith('builtin:') && !existsSync(file)) {
    throw new ConsoleError('CONFIG_INVALID', `No built-in profile "${ref.slice(8)}" (looked for ${file})`);
  }
  return parseProfile(readJson(file, 'CONFIG_UNREADABLE'), file);
}

/** Validates a config object and resolves its profiles. */
export function resolveConfig(data: unknown, file: string, opts: { simulated?: boolean } = {}): PlantConfig {
  const parsed = ConfigSchema.safeParse(data);
  if (!parsed.success) throw new ConsoleError('CONFIG_INVALID', formatIssues(file, parsed.error));
  const cfg: PlantConfigFile = parsed.data;
  const baseDir = dirname(resolve(file));
  const devices: ResolvedDevice[] = cfg.devices.map((d, i) => {
    try {
      return { ...d, profileDef: loadProfile(d.profile, baseDir) };
    } catch (err) {
      if (err instanceof ConsoleError && err.code === 'CONFIG_UNREADABLE') {
        throw new ConsoleError('CONFIG_INVALID', `${file}: devices[${i}].profile: ${err.message}`, { cause: err });
      }
      throw err;
    }
  });
  return { ...cfg, devices, simulated: opts.simulated ?? false, source: file };
}

/** Loads and validates a plant configuration file. */
export function loadConfig(file: string): PlantConfig {
  return resolveConfig(readJson(file, 'CONFIG_UNREADABLE'), file);
}
