import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, dir))) {
    const rel = join(dir, name);
    if (statSync(join(root, rel)).isDirectory()) out.push(...sources(rel));
    else if (/\.(ts|tsx|js|mjs)$/.test(name)) out.push(rel);
  }
  return out;
}

/** Every module specifier a file imports (static, dynamic, re-export, require). */
function imports(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  const specs: string[] = [];
  const re =
    /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm;
  for (const m of text.matchAll(re)) specs.push((m[1] ?? m[2] ?? m[3] ?? m[4])!);
  return specs;
}

const NODE_BUILTINS = /^(node:|fs$|path$|net$|http$|https$|child_process$|os$|crypto$|tls$|stream$|url$|util$|events$)/;
const NATIVE_OR_NODE_ONLY = /^(modbus-serial|serialport|mqtt|sodium-native|libsql|ws)(\/|$)/;

describe('process boundaries', () => {
  it('the plant core never imports electron outside src-main/electron/', () => {
    const offenders = [...sources('src-main'), ...sources('device-agent'), ...sources('supplier-cloud')]
      .filter((f) => !f.startsWith('src-main/electron/'))
      .flatMap((f) =>
        imports(f)
          .filter((s) => s === 'electron' || s.startsWith('electron/'))
          .map((s) => `${f} → ${s}`),
      );
    expect(offenders).toEqual([]);
  });

  it('the renderer imports neither Node, native modules nor src-main', () => {
    const offenders = sources('src-renderer').flatMap((f) =>
      imports(f)
        .filter(
          (s) =>
            NODE_BUILTINS.test(s) ||
            NATIVE_OR_NODE_ONLY.test(s) ||
            s === 'electron' ||
            s.includes('src-main') ||
            s.includes('device-agent'),
        )
        .map((s) => `${f} → ${s}`),
    );
    expect(offenders).toEqual([]);
  });

  it('the preload imports only electron and the contract', () => {
    const offenders = sources('src-preload').flatMap((f) =>
      imports(f)
        .filter((s) => !(s === 'electron' || s === 'zod' || s.startsWith('./')))
        .map((s) => `${f} → ${s}`),
    );
    expect(offenders).toEqual([]);
    // The sandboxed preload bundle must stay free of the schema library.
    expect(imports('src-preload/index.ts').filter((s) => s !== 'electron' && s !== './channels')).toEqual([]);
  });

  it('the detector itself finds an electron import', () => {
    expect(imports('src-main/electron/main.ts')).toContain('electron');
    expect(relative(root, join(root, 'src-main'))).toBe('src-main');
  });
});
