/**
 * The command lines of the three programs (plant-console, device-agent, supplier-cloud) declare
 * each (sub)command once — options, arguments, a summary and an example — and that one
 * declaration both parses the command line and answers `--help`, so what help says and what is
 * accepted cannot drift apart. A new option is one more entry in its command's `options`.
 *
 * `parseCommand` throws `HelpRequested` for `-h`/`--help` (the program prints it, exit 0) and a
 * BAD_REQUEST ConsoleError naming the offending option or argument for a usage mistake (exit 2).
 */
import { parseArgs } from 'node:util';
import { ConsoleError } from './errors';

/** One `--name` option. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  /** Repeatable (`--set A=1 --set B=2`): the value is an array. */
  multiple?: boolean;
  /** The value when the option is absent (booleans default to false). */
  default?: string;
  /** The value's placeholder in help: FILE, DIR, N (string options). */
  arg?: string;
  /** The command is refused without it ("--out is required"). */
  required?: boolean;
  /** What it does, for --help. */
  help: string;
}

/** One positional argument. */
export interface ArgSpec {
  name: string;
  help: string;
  optional?: boolean;
  /** Takes every remaining argument (at least one unless optional). */
  variadic?: boolean;
}

/** A command that runs (a leaf of the program's command tree). */
export interface CommandSpec<O extends Record<string, OptionSpec> = Record<string, OptionSpec>> {
  /** The full command as typed: `plant-console user add`. */
  name: string;
  /** One line: what it does. */
  summary: string;
  /** More paragraphs for --help (plain text, wrapped as written). */
  details?: string;
  /** The synopsis after the name, when the generated one says less (e.g. "(--config FILE | --db FILE) [--json]"). */
  usage?: string;
  options: O;
  args?: readonly ArgSpec[];
  /** At least one complete command line that works. */
  examples: readonly [string, ...string[]];
}

/** A word that selects among commands: `plant-console`, `plant-console user`. */
export interface CommandGroup {
  name: string;
  summary: string;
  details?: string;
  commands: readonly (CommandSpec | CommandGroup)[];
  /** What runs when the first word names no command (device-agent serves a machine). */
  default?: CommandSpec;
}

type OptionValue<S extends OptionSpec> = S['type'] extends 'boolean'
  ? S['multiple'] extends true
    ? boolean[]
    : boolean
  : S['multiple'] extends true
    ? string[]
    : string;

/** The parsed values: present when required, defaulted or boolean, else possibly undefined. */
export type OptionValues<O extends Record<string, OptionSpec>> = {
  [K in keyof O]: O[K] extends { required: true } | { default: string } | { type: 'boolean'; multiple?: false }
    ? OptionValue<O[K]>
    : OptionValue<O[K]> | undefined;
};

/** `-h`/`--help` was given: `text` goes to standard output, the program exits with `exitCode`. */
export class HelpRequested extends Error {
  override readonly name = 'HelpRequested';
  constructor(
    readonly text: string,
    readonly exitCode = 0,
  ) {
    super('help requested');
  }
}

/** Declares a command (keeps the option names and kinds for the parsed values' type). */
export function defineCommand<const O extends Record<string, OptionSpec>>(spec: CommandSpec<O>): CommandSpec<O> {
  return spec;
}

/** Declares a group of commands. */
export function defineGroup(group: CommandGroup): CommandGroup {
  return group;
}

export function isGroup(c: CommandSpec | CommandGroup): c is CommandGroup {
  return 'commands' in c;
}

const lastWord = (name: string): string => name.slice(name.lastIndexOf(' ') + 1);

/** Words of `argv` before `--` ask for help. */
function asksHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/** The closest of `candidates` to `word` (a typo or two, or a part of it), for "did you mean". */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: { c: string; d: number } | undefined;
  for (const c of candidates) {
    const d = word.length >= 3 && c.includes(word) ? 1 : editDistance(word, c);
    if (d <= (word.length <= 4 ? 1 : 2) && (!best || d < best.d)) best = { c, d };
  }
  return best?.c;
}

/** Edits (insert, delete, replace, swap two neighbours) from `a` to `b`. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  return d[a.length]![b.length]!;
}

function usageError(spec: { name: string }, message: string): ConsoleError {
  return new ConsoleError('BAD_REQUEST', `${message} (see "${spec.name} --help")`);
}

/**
 * Parses `argv` (the words after the command's name) by `spec`. Throws HelpRequested for
 * -h/--help and a BAD_REQUEST ConsoleError for an unknown option, a missing or extra value, a
 * missing required option or a wrong number of arguments.
 */
export function parseCommand<O extends Record<string, OptionSpec>>(
  spec: CommandSpec<O>,
  argv: readonly string[],
): { values: OptionValues<O>; positionals: string[] } {
  if (asksHelp(argv)) throw new HelpRequested(formatCommandHelp(spec));
  const { tokens } = parseArgs({
    args: [...argv],
    strict: false,
    allowPositionals: true,
    tokens: true,
    options: Object.fromEntries(Object.entries(spec.options).map(([k, o]) => [k, { type: o.type }])),
  });
  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  const known = Object.keys(spec.options);
  for (const t of tokens) {
    if (t.kind === 'positional') positionals.push(t.value);
    if (t.kind !== 'option') continue;
    const o = spec.options[t.name];
    if (!o || !t.rawName.startsWith('--')) {
      const near = closest(t.name, known);
      throw usageError(spec, `unknown option "${t.rawName}"${near ? `: did you mean --${near}?` : ''}`);
    }
    let value: string | boolean;
    if (o.type === 'boolean') {
      if (t.value !== undefined) throw usageError(spec, `${t.rawName} takes no value (got "${t.value}")`);
      value = true;
    } else {
      // "--config --json" is a forgotten value, not a file named "--json" (as node's strict mode); "-1" is a value.
      if (t.value === undefined || (!t.inlineValue && /^--?[A-Za-z]/.test(t.value)))
        throw usageError(spec, `${t.rawName} needs a value (${o.arg ?? 'VALUE'})`);
      value = t.value;
    }
    // A repeated single option: the last one counts, so a wrapper can append an override.
    if (o.multiple) values[t.name] = [...((values[t.name] as unknown[] | undefined) ?? []), value];
    else values[t.name] = value;
  }
  for (const [k, o] of Object.entries(spec.options)) {
    if (k in values) continue;
    if (o.required) throw usageError(spec, `--${k} is required`);
    if (o.default !== undefined) values[k] = o.default;
    else if (o.type === 'boolean' && !o.multiple) values[k] = false;
  }
  checkArgs(spec, positionals);
  return { values: values as OptionValues<O>, positionals };
}

function checkArgs(spec: CommandSpec, positionals: string[]): void {
  const args = spec.args ?? [];
  const min = args.filter((a) => !a.optional).length;
  const variadic = args.some((a) => a.variadic);
  if (positionals.length < min) {
    const missing = args.filter((a) => !a.optional)[positionals.length]!;
    throw usageError(spec, `${lastWord(spec.name)} needs ${missing.name}: ${missing.help}`);
  }
  if (!variadic && positionals.length > args.length) {
    const extra = positionals.slice(args.length).map((p) => `"${p}"`);
    throw usageError(
      spec,
      args.length === 0
        ? `${lastWord(spec.name)} takes no arguments, got ${extra.join(' ')}`
        : `${lastWord(spec.name)} takes ${args.map((a) => a.name).join(' ')}; unexpected ${extra.join(' ')}`,
    );
  }
}

/**
 * Walks `group` by the first words of `argv` down to a command. Throws HelpRequested for a group's
 * `--help` (or no word at all: help with exit code 2) and a BAD_REQUEST for an unknown word.
 * `rest` is what the command parses.
 */
export function selectCommand(group: CommandGroup, argv: readonly string[]): { command: CommandSpec; rest: string[] } {
  const [word, ...rest] = argv;
  const helpWord = word === '--help' || word === '-h' || word === 'help';
  if (word === 'help' && rest.length > 0) {
    // `help user add` = `user add --help`.
    throw new HelpRequested(formatCommandHelp(selectCommand(group, [...rest, '--help']).command));
  }
  const found = group.commands.find((c) => lastWord(c.name) === word);
  if (found) return isGroup(found) ? selectCommand(found, rest) : { command: found, rest };
  if (group.default && !helpWord) return { command: group.default, rest: [...argv] };
  if (word === undefined) throw new HelpRequested(formatGroupHelp(group), 2);
  if (helpWord) throw new HelpRequested(formatGroupHelp(group));
  const names = group.commands.map((c) => lastWord(c.name));
  const near = closest(word, names);
  throw usageError(
    group,
    near ? `unknown command "${word}": did you mean "${near}"?` : `unknown command "${word}"; the commands are ${names.join(', ')}`,
  );
}

/** Every command under `group`, depth first (tests walk it). */
export function allCommands(group: CommandGroup): CommandSpec[] {
  return [...(group.default ? [group.default] : []), ...group.commands.flatMap((c) => (isGroup(c) ? allCommands(c) : [c]))];
}

const WIDTH = 100;

/** Wraps `text` to WIDTH, each line indented by `indent` (the first by `first`). */
function wrap(text: string, indent: number, first = indent): string {
  const lines: string[] = [];
  let line = ' '.repeat(first);
  let empty = true;
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (!empty && line.length + 1 + word.length > WIDTH) {
      lines.push(line);
      line = ' '.repeat(indent);
      empty = true;
    }
    line += (empty ? '' : ' ') + word;
    empty = false;
  }
  lines.push(line);
  return lines.join('\n');
}

function optionLabel(name: string, o: OptionSpec): string {
  return `--${name}${o.type === 'string' ? ` ${o.arg ?? 'VALUE'}` : ''}`;
}

function argLabel(a: ArgSpec): string {
  const n = a.variadic ? `${a.name}...` : a.name;
  return a.optional ? `[${n}]` : n;
}

/** The generated synopsis: required options, then [options], then the arguments. */
function synopsis(spec: CommandSpec): string {
  if (spec.usage !== undefined) return `${spec.name} ${spec.usage}`;
  const entries = Object.entries(spec.options);
  const required = entries.filter(([, o]) => o.required).map(([k, o]) => optionLabel(k, o));
  const optional = entries.length > required.length ? ['[options]'] : [];
  return [spec.name, ...required, ...optional, ...(spec.args ?? []).map(argLabel)].join(' ');
}

/** Two columns: label, then its help wrapped beside it (below it when the label is long). */
function table(rows: [string, string][]): string {
  const col = Math.min(Math.max(...rows.map(([l]) => l.length)) + 4, 30);
  return rows
    .map(([label, help]) => {
      const text = wrap(help, col);
      return label.length + 4 > col ? `  ${label}\n${text}` : `  ${label.padEnd(col - 2)}${text.slice(col)}`;
    })
    .join('\n');
}

function optionHelp(o: OptionSpec): string {
  const notes = [
    ...(o.required ? ['required'] : []),
    ...(o.multiple ? ['repeatable'] : []),
    ...(o.default !== undefined ? [`default ${o.default}`] : []),
  ];
  return notes.length ? `${o.help} [${notes.join('; ')}]` : o.help;
}

/** The `--help` text of one command. */
export function formatCommandHelp(spec: CommandSpec): string {
  const parts = [`${spec.name} — ${spec.summary}`, `Usage: ${synopsis(spec)}`];
  if (spec.details)
    parts.push(
      spec.details
        .split(/\n\s*\n/)
        .map((p) => wrap(p, 0))
        .join('\n\n'),
    );
  if (spec.args?.length) parts.push(`Arguments:\n${table(spec.args.map((a) => [a.name, a.help]))}`);
  const rows: [string, string][] = Object.entries(spec.options).map(([k, o]) => [optionLabel(k, o), optionHelp(o)]);
  rows.push(['-h, --help', 'this help']);
  parts.push(`Options:\n${table(rows)}`);
  // Examples stay on one line each, to be copied as they are.
  parts.push(`${spec.examples.length > 1 ? 'Examples' : 'Example'}:\n${spec.examples.map((e) => `  ${e}`).join('\n')}`);
  return parts.join('\n\n') + '\n';
}

/** The `--help` text of a group: its commands with their summaries (and its default command's help). */
export function formatGroupHelp(group: CommandGroup): string {
  const parts = [`${group.name} — ${group.summary}`];
  if (group.default) parts.push(formatCommandHelp(group.default).split('\n\n').slice(1).join('\n\n').trimEnd());
  else parts.push(`Usage: ${group.name} COMMAND [options]`);
  if (group.details)
    parts.push(
      group.details
        .split(/\n\s*\n/)
        .map((p) => wrap(p, 0))
        .join('\n\n'),
    );
  const rows: [string, string][] = group.commands.map((c) => [lastWord(c.name), c.summary]);
  parts.push(`Commands:\n${table(rows)}`);
  parts.push(`Run "${group.name} COMMAND --help" for a command's options and an example.`);
  return parts.join('\n\n') + '\n';
}

/**
 * What a program prints and returns for an error out of a command: help (exit 0, or 2 when no
 * command was given), a ConsoleError's message (exit 2 for usage mistakes, else 1). Anything
 * else is rethrown.
 */
export function cliErrorExit(err: unknown, program: string, io: { out: (s: string) => void; err: (s: string) => void }): number {
  if (err instanceof HelpRequested) {
    io.out(err.text);
    return err.exitCode;
  }
  if (err instanceof ConsoleError) {
    io.err(`${program}: ${err.message}\n`);
    return err.code === 'BAD_REQUEST' ? 2 : 1;
  }
  throw err;
}
