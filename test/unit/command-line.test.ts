/**
 * The shared command-line helper (src-main/core/command-line.ts), and every command of the three
 * programs walked through it: each answers --help with its own options and an example that its
 * own parser accepts, and an unknown option is named.
 */
import { describe, expect, it } from 'vitest';
import { runDeviceAgentCli, DEVICE_AGENT } from '../../device-agent/cli';
import { PLANT_CONSOLE, runCli } from '../../src-main/cli';
import {
  allCommands,
  defineCommand,
  defineGroup,
  formatCommandHelp,
  HelpRequested,
  parseCommand,
  selectCommand,
  type CommandGroup,
} from '../../src-main/core/command-line';
import { ConsoleError } from '../../src-main/core/errors';
import { runSupplierCloudCli, SUPPLIER_CLOUD } from '../../supplier-cloud/cli';

const COPY = defineCommand({
  name: 'tool copy',
  summary: 'copies things',
  options: {
    to: { type: 'string', arg: 'DIR', required: true, help: 'where to' },
    mode: { type: 'string', arg: 'MODE', default: '0644', help: 'file mode' },
    tag: { type: 'string', arg: 'T', multiple: true, help: 'a tag' },
    force: { type: 'boolean', help: 'overwrite' },
    seed: { type: 'string', arg: 'N', help: 'a number' },
  },
  args: [{ name: 'FILE', help: 'what to copy', variadic: true }],
  examples: ['tool copy --to /tmp a.txt'],
});

const TOOL = defineGroup({
  name: 'tool',
  summary: 'a tool',
  commands: [COPY, defineGroup({ name: 'tool key', summary: 'keys', commands: [{ ...COPY, name: 'tool key make', args: [] }] })],
});

function usageMessage(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(ConsoleError);
    expect((err as ConsoleError).code).toBe('BAD_REQUEST');
    return (err as ConsoleError).message;
  }
  throw new Error('no usage error');
}

function helpText(f: () => unknown): { text: string; exitCode: number } {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(HelpRequested);
    return err as HelpRequested;
  }
  throw new Error('no help');
}

describe('parseCommand', () => {
  it('gives typed values: required, defaulted, booleans false, repeatable, --name=value', () => {
    const { values, positionals } = parseCommand(COPY, ['--to=/tmp', 'a', '--tag', 'x', '--tag', 'y', 'b', '--seed', '-1']);
    expect(values).toEqual({ to: '/tmp', mode: '0644', tag: ['x', 'y'], force: false, seed: '-1' });
    expect(positionals).toEqual(['a', 'b']);
    expect(parseCommand(COPY, ['--to', 'd', '--force', '--', '--not-an-option']).positionals).toEqual(['--not-an-option']);
    expect(parseCommand(COPY, ['a', '--to', 'd', '--to', 'e']).values.to).toBe('e');
  });

  it('names what is wrong, and the help to read', () => {
    expect(usageMessage(() => parseCommand(COPY, ['a', '--to', 'd', '--colour', 'red']))).toBe(
      'unknown option "--colour" (see "tool copy --help")',
    );
    expect(usageMessage(() => parseCommand(COPY, ['a', '--to', 'd', '--froce']))).toMatch(
      /^unknown option "--froce": did you mean --force\?/,
    );
    expect(usageMessage(() => parseCommand(COPY, ['a', '--to', 'd', '-f']))).toMatch(/^unknown option "-f"/);
    expect(usageMessage(() => parseCommand(COPY, ['a']))).toMatch(/^--to is required/);
    expect(usageMessage(() => parseCommand(COPY, ['a', '--to']))).toMatch(/^--to needs a value \(DIR\)/);
    expect(usageMessage(() => parseCommand(COPY, ['a', '--to', '--force']))).toMatch(/^--to needs a value/);
    expect(usageMessage(() => parseCommand(COPY, ['a', '--to', 'd', '--force=yes']))).toMatch(/^--force takes no value/);
    expect(usageMessage(() => parseCommand(COPY, ['--to', 'd']))).toMatch(/^copy needs FILE: what to copy/);
    const noArgs = { ...COPY, args: [] };
    expect(usageMessage(() => parseCommand(noArgs, ['--to', 'd', 'x']))).toMatch(/^copy takes no arguments, got "x"/);
  });

  it('answers -h and --help anywhere before --, whatever else is wrong', () => {
    for (const argv of [['--help'], ['--bogus', '-h'], ['--to', '--help']]) {
      const { text, exitCode } = helpText(() => parseCommand(COPY, argv));
      expect(exitCode).toBe(0);
      expect(text).toBe(formatCommandHelp(COPY));
    }
    expect(parseCommand(COPY, ['--to', 'd', '--', '--help']).positionals).toEqual(['--help']);
  });
});

describe('help text', () => {
  it('has the synopsis, every option with its value, default and notes, and the example', () => {
    const text = formatCommandHelp(COPY);
    expect(text).toContain('tool copy — copies things\n\nUsage: tool copy --to DIR [options] FILE...\n');
    expect(text).toMatch(/^ {2}--to DIR +where to \[required\]$/m);
    expect(text).toMatch(/^ {2}--mode MODE +file mode \[default 0644\]$/m);
    expect(text).toMatch(/^ {2}--tag T +a tag \[repeatable\]$/m);
    expect(text).toMatch(/^ {2}-h, --help +this help$/m);
    expect(text).toContain('Example:\n  tool copy --to /tmp a.txt\n');
    for (const line of text.split('\n').filter((l) => !l.startsWith('tool copy —') && !l.startsWith('  tool ')))
      expect(line.length).toBeLessThanOrEqual(100);
  });
});

describe('selectCommand', () => {
  it('walks groups down to a command, and answers help at every level', () => {
    expect(selectCommand(TOOL, ['key', 'make', '--to', 'd'])).toMatchObject({ command: { name: 'tool key make' }, rest: ['--to', 'd'] });
    const top = helpText(() => selectCommand(TOOL, ['--help']));
    expect(top.exitCode).toBe(0);
    expect(top.text).toMatch(/^Commands:\n {2}copy +copies things\n {2}key +keys$/m);
    expect(helpText(() => selectCommand(TOOL, [])).exitCode).toBe(2);
    expect(helpText(() => selectCommand(TOOL, ['key'])).text).toContain('tool key — keys');
    expect(helpText(() => selectCommand(TOOL, ['help', 'key', 'make'])).text).toContain('Usage: tool key make --to DIR [options]');
    expect(helpText(() => selectCommand(TOOL, ['help', 'key'])).exitCode).toBe(0);
  });

  it('names an unknown command, with the closest one or the list', () => {
    expect(usageMessage(() => selectCommand(TOOL, ['cpy']))).toBe('unknown command "cpy": did you mean "copy"? (see "tool --help")');
    expect(usageMessage(() => selectCommand(TOOL, ['key', 'zzz']))).toBe(
      'unknown command "zzz"; the commands are make (see "tool key --help")',
    );
  });

  it("runs a group's default command when the first word names none", () => {
    const group: CommandGroup = { ...TOOL, default: COPY };
    expect(selectCommand(group, ['--to', 'd', 'a'])).toMatchObject({ command: COPY, rest: ['--to', 'd', 'a'] });
    expect(helpText(() => selectCommand(group, ['--help'])).text).toMatch(/Usage: tool copy --to DIR[\s\S]*Commands:/);
  });
});

/** Words of a one-line example's last command as a shell splits them (double quotes, leading VAR=value). */
function shellWords(line: string): string[] {
  const pipe = line.lastIndexOf(' | ');
  const command = pipe < 0 ? line : line.slice(pipe + 3);
  const words = [...command.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
  while (words[0] !== undefined && /^[A-Z_]+=/.test(words[0])) words.shift();
  return words;
}

type Runner = (argv: string[]) => Promise<{ code: number; out: string; err: string }>;
const programs: [CommandGroup, Runner][] = [
  [
    PLANT_CONSOLE,
    async (argv) => {
      let out = '';
      let err = '';
      const code = await runCli(argv, { out: (s) => void (out += s), err: (s) => void (err += s) });
      return { code, out, err };
    },
  ],
  [
    DEVICE_AGENT,
    async (argv) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await runDeviceAgentCli(argv, {
        out: (l) => void out.push(l),
        err: (l) => void err.push(l),
        stopSignal: Promise.resolve(),
      });
      return { code, out: out.join('\n') + '\n', err: err.join('\n') + '\n' };
    },
  ],
  [
    SUPPLIER_CLOUD,
    async (argv) => {
      let out = '';
      let err = '';
      const code = await runSupplierCloudCli(argv, { out: (s) => void (out += s), err: (s) => void (err += s) });
      return { code, out, err };
    },
  ],
];

describe.each(programs.map(([g, run]) => [g.name, g, run] as const))('every command of %s', (_, program, run) => {
  const commands = allCommands(program);

  it('is listed in the program help', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    for (const c of commands) {
      const first = c.name.split(' ')[1];
      if (first) expect(r.out).toMatch(new RegExp(`^ {2}${first} `, 'm'));
    }
  });

  it.each(commands.map((c) => [c.name, c] as const))('%s --help: its options and an example its parser accepts', async (_, c) => {
    const words = c.name.split(' ').slice(1);
    const r = await run([...words, '--help']);
    expect(r.code, r.err).toBe(0);
    expect(r.err.trim()).toBe('');
    // A group's default command (device-agent) answers with the group's help.
    expect(r.out).toContain(c === program.default ? `${program.name} — ${program.summary}` : `${c.name} — ${c.summary}`);
    expect(r.out).toContain(`Usage: ${c.name}`);
    for (const name of Object.keys(c.options)) expect(r.out).toMatch(new RegExp(`^ {2}--${name}\\b`, 'm'));
    expect(r.out).toMatch(/^Examples?:$/m);
    expect(c.examples.length).toBeGreaterThan(0);
    for (const example of c.examples) {
      expect(r.out).toContain(`  ${example}\n`);
      const argv = shellWords(example);
      expect(argv.slice(0, words.length + 1).join(' '), example).toBe(c.name);
      expect(() => parseCommand(c, argv.slice(words.length + 1)), example).not.toThrow();
    }
  });

  it.each(commands.map((c) => [c.name, c] as const))('%s --no-such-option: names it, exit 2, nothing run', async (_, c) => {
    const words = c.name.split(' ').slice(1);
    const r = await run([...words, '--no-such-option']);
    expect(r.code).toBe(2);
    expect(r.out.trim()).toBe('');
    expect(r.err).toContain(`unknown option "--no-such-option" (see "${c.name} --help")`);
  });
});
