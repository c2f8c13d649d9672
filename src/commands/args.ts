import { parseArgs as parseNodeArgs } from 'node:util';

/** A command line that cannot run as written: one line on stderr, exit 2, nothing done. */
export class UsageError extends Error {}

/** A command that ran and could not do its work for a reason the user can act on: one line, exit 1. */
export class CommandError extends Error {}

/** Something the command names does not exist (an id, an organisation): one line, exit 1. */
export class NotFoundError extends CommandError {}

/**
 * string: any text; flag: present or not; int: a whole number in [min, max]; size: bytes written as
 * 16MiB, 5M, 1GiB or a plain number, in [min, max]; list: comma-separated, blanks dropped.
 */
export type OptionKind = 'string' | 'flag' | 'int' | 'size' | 'list';

export interface OptionSpec {
  kind: OptionKind;
  short?: string;
  /** The placeholder usage and help show: FILE, N, SIZE. */
  value?: string;
  help: string;
  required?: boolean;
  /** What an absent int or size option is worth; shown in help. */
  default?: string;
  min?: number;
  max?: number;
  /** An alias kept for old scripts: accepted, not advertised in usage lines. */
  hidden?: boolean;
}

export interface PositionalSpec {
  /** As usage shows it: FILE, ID. */
  name: string;
  /** FILE…: one or more. */
  many?: boolean;
}

/** One command's table: everything its parsing, its usage line and its --help come from. */
export interface CommandSpec {
  /** As typed after `stowage`: 'upload', 'keys create'. */
  name: string;
  summary: string;
  positionals: PositionalSpec[];
  options: Record<string, OptionSpec>;
  /** Paragraphs --help prints after the options (size formats, scopes, environment). */
  notes?: string[];
}

export interface ParsedArgs {
  spec: CommandSpec;
  positional: string[];
  string(name: string): string | undefined;
  /** An int or size option, its default when absent. */
  number(name: string): number;
  flag(name: string): boolean;
  list(name: string): string[];
}

const HELP_OPTION: OptionSpec = { kind: 'flag', short: 'h', help: 'show this help' };

export const seeHelp = (spec: CommandSpec) => `see stowage ${spec.name} --help`;

/** True when -h/--help comes before any `--`: help wins over every other mistake on the line. */
export function wantsHelp(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '-h' || a === '--help');
}

/**
 * Parses `argv` (what follows the command's name) against its table with node:util's strict parser,
 * then checks every value, so a command refused here has touched neither the network nor a database.
 */
export async function parseCommand(spec: CommandSpec, argv: string[]): Promise<ParsedArgs> {
  // Loaded only for a command with a size option: it brings the progress bars, which help and the
  // other commands' start-up have no use for.
  const parseSize = Object.values(spec.options).some((o) => o.kind === 'size') ? (await import('./progress.js')).parseSize : () => NaN;
  const options = Object.fromEntries(
    Object.entries({ ...spec.options, help: HELP_OPTION }).map(([name, o]) => [
      name,
      { type: o.kind === 'flag' ? ('boolean' as const) : ('string' as const), ...(o.short && { short: o.short }) },
    ]),
  );
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseNodeArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (error) {
    throw diagnose(spec, argv, options, error, parseSize);
  }
  checkPositionals(spec, parsed.positionals);

  const numbers = new Map<string, number>();
  for (const [name, o] of Object.entries(spec.options)) {
    const text = parsed.values[name];
    if (o.required && (text === undefined || text === '')) {
      throw new UsageError(`${spec.name} needs --${name} ${o.value ?? ''}`.trimEnd() + `; usage: ${usageLine(spec)}`);
    }
    if (o.kind === 'int' || o.kind === 'size') {
      const value = typeof text === 'string' ? text : o.default;
      if (value !== undefined) numbers.set(name, checkNumber(name, o, value, parseSize));
    }
  }
  const values = parsed.values;
  const own = (name: string, kinds: OptionKind[]) => {
    const o = spec.options[name];
    if (!o || !kinds.includes(o.kind)) throw new Error(`${spec.name} has no ${kinds.join('/')} option --${name}`);
  };
  return {
    spec,
    positional: parsed.positionals,
    string(name) {
      own(name, ['string']);
      return values[name] as string | undefined;
    },
    number(name) {
      own(name, ['int', 'size']);
      const n = numbers.get(name);
      if (n === undefined) throw new Error(`--${name} has no value and no default`);
      return n;
    },
    flag(name) {
      own(name, ['flag']);
      return values[name] === true;
    },
    list(name) {
      own(name, ['list']);
      return String(values[name] ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    },
  };
}

function checkPositionals(spec: CommandSpec, positionals: string[]): void {
  const many = spec.positionals.some((p) => p.many);
  const missing = spec.positionals[positionals.length];
  if (missing) throw new UsageError(`missing ${missing.name}; usage: ${usageLine(spec)}`);
  if (!many && positionals.length > spec.positionals.length) {
    throw new UsageError(`unexpected argument "${positionals[spec.positionals.length]}"; usage: ${usageLine(spec)}`);
  }
}

type SizeParser = (text: string) => number;

function checkNumber(name: string, o: OptionSpec, text: string, parseSize: SizeParser): number {
  const shown = (n: number) => (o.kind === 'size' ? compactSize(n) : String(n));
  const range = `${o.min === undefined ? '' : shown(o.min)}${o.max === undefined ? '' : ` to ${shown(o.max)}`}`;
  let n: number;
  if (o.kind === 'int') {
    n = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
    if (!Number.isSafeInteger(n)) throw new UsageError(`--${name} takes a whole number${range ? ` from ${range}` : ''}, not "${text}"`);
  } else {
    try {
      n = parseSize(text);
    } catch {
      throw new UsageError(`--${name} takes a size such as 16MiB, 5M, 1GiB or a number of bytes, not "${text}"`);
    }
  }
  if ((o.min !== undefined && n < o.min) || (o.max !== undefined && n > o.max)) {
    throw new UsageError(`--${name} must be from ${range}, not ${text}`);
  }
  return n;
}

/** 5242880 → 5MiB: the largest binary unit that divides it, as sizes are typed. */
export function compactSize(bytes: number): string {
  const units = ['', 'KiB', 'MiB', 'GiB', 'TiB'];
  let unit = 0;
  while (unit < units.length - 1 && bytes >= 1024 ** (unit + 1) && bytes % 1024 ** (unit + 1) === 0) unit++;
  return `${bytes / 1024 ** unit}${units[unit]}`;
}

type NodeOptions = Record<string, { type: 'string' | 'boolean'; short?: string }>;

/**
 * node:util's messages are several lines long and speak of its own API; this reruns the parser
 * leniently for its tokens and says in one line which argument is wrong and how.
 */
function diagnose(spec: CommandSpec, argv: string[], options: NodeOptions, error: unknown, parseSize: SizeParser): Error {
  const code = (error as { code?: string }).code ?? '';
  if (!code.startsWith('ERR_PARSE_ARGS_')) return error as Error;
  const { tokens = [] } = parseNodeArgs({ args: argv, options, strict: false, allowPositionals: true, tokens: true });
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const typed = token.rawName;
    const known = options[token.name];
    if (!known) {
      const close = closest(token.name, Object.keys(options));
      return new UsageError(`unknown option ${typed}${close ? `; did you mean --${close}?` : ''} (${seeHelp(spec)})`);
    }
    if (known.type === 'boolean' && token.value !== undefined) return new UsageError(`${typed} takes no value (${seeHelp(spec)})`);
    if (known.type === 'string' && token.value === undefined) {
      const o = spec.options[token.name];
      return new UsageError(`${typed} needs a value${o?.value ? ` (${o.value})` : ''} (${seeHelp(spec)})`);
    }
    if (known.type === 'string' && !token.inlineValue && token.value?.startsWith('-') && token.value.length > 1) {
      // A value that looks like an option: a negative number, or a forgotten value before the next option.
      const o = spec.options[token.name];
      if (o && (o.kind === 'int' || o.kind === 'size')) checkNumber(token.name, o, token.value, parseSize);
      return new UsageError(`${typed} needs a value, not the option-like "${token.value}" (write ${typed}=${token.value} if you mean it)`);
    }
  }
  return new UsageError(`${String((error as Error).message).split('\n')[0]} (${seeHelp(spec)})`);
}

/** The known name a typo most likely meant: at most two edits away (or a prefix of it). */
export function closest(typed: string, names: string[]): string | null {
  let best: string | null = null;
  let bestDistance = 3;
  for (const name of names) {
    const d = name.startsWith(typed) && typed.length >= 3 ? 1 : editDistance(typed, name);
    if (d < bestDistance) [best, bestDistance] = [name, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  return previous[b.length];
}

const flagText = (name: string, o: OptionSpec) => `${o.short ? `-${o.short}` : `--${name}`}${o.value ? ` ${o.value}` : ''}`;

/** `stowage files verify ID [--org NAME]`: required options bare, the others in brackets. */
export function usageLine(spec: CommandSpec): string {
  const positionals = spec.positionals.map((p) => (p.many ? `${p.name}…` : p.name));
  const options = Object.entries(spec.options)
    .filter(([, o]) => !o.hidden)
    .map(([name, o]) => (o.required ? flagText(name, o) : `[${flagText(name, o)}]`));
  return ['stowage', spec.name, ...positionals, ...options].join(' ');
}

/** What `stowage COMMAND --help` prints: usage, summary, every option with its default, then the notes. */
export function commandHelp(spec: CommandSpec): string {
  const rows = Object.entries({ ...spec.options, help: HELP_OPTION }).map(([name, o]) => {
    const names = `${o.short ? `-${o.short}, ` : ''}--${name}${o.value ? ` ${o.value}` : ''}`;
    const extra = [o.required && 'required', o.default !== undefined && `default ${o.default}`].filter(Boolean).join(', ');
    return [names, `${o.help}${extra ? ` (${extra})` : ''}`] as const;
  });
  const width = Math.max(...rows.map(([names]) => names.length)) + 2;
  const lines = [`usage: ${usageLine(spec)}`, '', wrap(spec.summary), '', 'options:'];
  for (const [names, help] of rows) lines.push(wrap(`  ${names.padEnd(width)}${help}`, ' '.repeat(width + 2)));
  for (const note of spec.notes ?? [])
    lines.push('', ...note.split('\n').map((line) => wrap(line, line.startsWith(' ') ? ' '.repeat(18) : '')));
  return `${lines.join('\n')}\n`;
}

const WIDTH = 100;

/** Breaks `text` at spaces to lines of at most WIDTH columns, continuing them with `indent`. */
export function wrap(text: string, indent = ''): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/(?<=\S) (?=\S)/)) {
    if (line && line.length + 1 + word.length > WIDTH) {
      lines.push(line);
      line = indent + word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines.join('\n');
}
