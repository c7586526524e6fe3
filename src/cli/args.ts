import { parseArgs as nodeParseArgs } from 'node:util';
import { LightvitError } from '../util/errors';

/**
 * The one strict command-line parser of the kit (every `lightvit` command and the bench): flags are declared once,
 * with their kind, checks and help, and the same declarations generate the help text. Built on node:util.parseArgs
 * (strict mode); what it adds: unknown flags suggest the nearest known one, negative numbers are read as values
 * (`--epochs -1` is an error about -1, not about a missing value), numbers are checked with the value and the
 * expected form named, and choice flags list the known values.
 */

/** A wrong command line: exit code 2, with a pointer to the command's --help. */
export class UsageError extends LightvitError {}

export type FlagKind = 'boolean' | 'string' | 'int' | 'number';

export interface FlagSpec {
  kind: FlagKind;
  /** One line for the help text. */
  help: string;
  /** Placeholder of the value in the help text, e.g. 'N', 'X', 'key=value'. */
  value?: string;
  /** Known values (string flags): anything else is an error listing them. */
  choices?: readonly string[];
  /** Lower bound, inclusive (int and number flags). */
  min?: number;
  /** number flags: must be > 0 (and finite). */
  positive?: boolean;
  /** May be given more than once (the values are collected in order). */
  repeat?: boolean;
}

export interface CommandSpec {
  name: string;
  summary: string;
  /** Positional synopsis for the usage line, e.g. '<model>'. */
  args?: string;
  /** How many positionals are accepted (default 0..0). */
  positionals?: { min: number; max: number; names?: string };
  flags: Record<string, FlagSpec>;
  /** Extra paragraphs after the flag list. */
  notes?: string;
}

export type FlagValue = string | boolean | number | string[] | undefined;

export interface ParsedCommand {
  positional: string[];
  values: Record<string, FlagValue>;
  /** The value of a string flag (undefined when absent). */
  str(name: string): string | undefined;
  /** The value of an int/number flag (undefined when absent). */
  num(name: string): number | undefined;
  /** True when a boolean flag was given. */
  bool(name: string): boolean;
  /** Every value of a repeatable flag, in order. */
  list(name: string): string[];
}

/** Flags every command takes. */
export const HELP_FLAG: FlagSpec = { kind: 'boolean', help: 'show this help' };

/** Levenshtein distance (small strings: flags, names). */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length];
}

/** The known word nearest to `word` (prefix, or edit distance ≤ max(2, a third of its length)), or undefined. */
export function nearest(word: string, known: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const kl = k.toLowerCase();
    const d = kl.startsWith(w) || w.startsWith(kl) ? Math.abs(kl.length - w.length) * 0.5 : editDistance(w, kl);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** Error for a value outside a known set: names the value, lists the known ones, suggests the nearest. */
export function unknownValue(what: string, value: string, known: readonly string[]): UsageError {
  const near = nearest(value, known);
  return new UsageError(
    `unknown ${what} '${value}'; expected one of: ${known.join(', ')}${near ? ` (did you mean '${near}'?)` : ''}`,
  );
}

/** Throw unless `value` is one of `known` (used for lists only known after loading, e.g. papers, tags). */
export function checkChoice(what: string, value: string | undefined, known: readonly string[]): void {
  if (value !== undefined && !known.includes(value)) throw unknownValue(what, value, known);
}

const NEGATIVE_NUMBER = /^-(\d|\.\d|Infinity$)/;

function checkNumber(name: string, raw: string, spec: FlagSpec): number {
  const n = raw.trim() === '' ? NaN : Number(raw);
  const form =
    spec.kind === 'int'
      ? `an integer${spec.min !== undefined ? ` ≥ ${spec.min}` : ''}`
      : `a finite number${spec.positive ? ' > 0' : ''}${spec.min !== undefined ? ` ≥ ${spec.min}` : ''} (e.g. 1e-3)`;
  const ok =
    Number.isFinite(n) &&
    (spec.kind !== 'int' || Number.isInteger(n)) &&
    (!spec.positive || n > 0) &&
    (spec.min === undefined || n >= spec.min);
  if (!ok) throw new UsageError(`--${name} ${raw} is not valid; expected ${form}`);
  return n;
}

/**
 * Parse `argv` (the words after the command name) against a command's flags. `--help`/`-h` is always accepted.
 * Throws UsageError naming the bad flag or value.
 */
export function parseCommand(spec: CommandSpec, argv: readonly string[]): ParsedCommand {
  const flags: Record<string, FlagSpec> = { help: HELP_FLAG, ...spec.flags };
  const known = Object.keys(flags);
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      args.push(...argv.slice(i));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = a.slice(2, eq < 0 ? undefined : eq);
      const f = flags[name];
      if (!f) {
        const near = nearest(name, known);
        throw new UsageError(
          `unknown option --${name}${near ? ` (did you mean --${near}?)` : ''}; ` +
            `'lightvit ${spec.name} --help' lists the options`,
        );
      }
      // a negative number after a value flag is its value (node's parser would call it ambiguous)
      if (eq < 0 && f.kind !== 'boolean' && i + 1 < argv.length && NEGATIVE_NUMBER.test(argv[i + 1])) {
        args.push(`${a}=${argv[++i]}`);
        continue;
      }
    }
    args.push(a);
  }
  let parsed: ReturnType<typeof nodeParseArgs>;
  try {
    parsed = nodeParseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: Object.fromEntries(
        Object.entries(flags).map(([k, f]) => [
          k,
          {
            type: f.kind === 'boolean' ? ('boolean' as const) : ('string' as const),
            multiple: !!f.repeat,
            ...(k === 'help' ? { short: 'h' } : {}),
          },
        ]),
      ),
    });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new UsageError(`${msg.split('\n')[0]}; 'lightvit ${spec.name} --help' lists the options`);
  }
  const values: Record<string, FlagValue> = {};
  for (const [k, raw] of Object.entries(parsed.values)) {
    const f = flags[k];
    if (raw === undefined) continue;
    if (f.kind === 'boolean') {
      values[k] = raw as boolean;
      continue;
    }
    const items = (Array.isArray(raw) ? raw : [raw]) as string[];
    for (const v of items) if (f.choices && !f.choices.includes(v)) throw unknownValue(`--${k} value`, v, f.choices);
    if (f.kind === 'int' || f.kind === 'number') {
      const nums = items.map((v) => checkNumber(k, v, f));
      values[k] = nums[nums.length - 1];
    } else values[k] = f.repeat ? items : items[items.length - 1];
  }
  const pos = parsed.positionals;
  const range = spec.positionals ?? { min: 0, max: 0 };
  if (!values.help) {
    if (pos.length > range.max) {
      const extra = pos.slice(range.max);
      throw new UsageError(
        `unexpected argument${extra.length > 1 ? 's' : ''} ${extra.map((p) => `'${p}'`).join(' ')}` +
          `; usage: lightvit ${spec.name}${spec.args ? ` ${spec.args}` : ''} [options]`,
      );
    }
    if (pos.length < range.min) {
      throw new UsageError(
        `needs ${range.names ?? spec.args ?? 'an argument'}; usage: lightvit ${spec.name} ${spec.args ?? ''} [options]`,
      );
    }
  }
  return {
    positional: pos,
    values,
    str: (n) => (typeof values[n] === 'string' ? (values[n] as string) : undefined),
    num: (n) => (typeof values[n] === 'number' ? (values[n] as number) : undefined),
    bool: (n) => values[n] === true,
    list: (n) =>
      Array.isArray(values[n]) ? (values[n] as string[]) : typeof values[n] === 'string' ? [values[n] as string] : [],
  };
}

/** Help text of a command, generated from its flag declarations. */
export function commandHelp(spec: CommandSpec): string {
  const flags: Record<string, FlagSpec> = { ...spec.flags, help: HELP_FLAG };
  const left = (k: string, f: FlagSpec) => {
    const placeholder = f.value ?? (f.kind === 'string' ? 'S' : 'N');
    const v = f.kind === 'boolean' ? '' : ` ${f.choices && f.choices.length <= 6 ? f.choices.join('|') : placeholder}`;
    return `--${k}${v}`;
  };
  const rows = Object.entries(flags).map(([k, f]) => [left(k, f), `${f.help}${f.repeat ? ' (repeatable)' : ''}`]);
  const w = Math.max(...rows.map(([l]) => l.length));
  return [
    spec.summary,
    '',
    `Usage: lightvit ` +
      `${spec.name}${spec.args ? ` ${spec.args}` : ''}${Object.keys(spec.flags).length ? ' [options]' : ''}`,
    '',
    'Options:',
    ...rows.map(([l, r]) => `  ${l.padEnd(w)}  ${r}`),
    ...(spec.notes ? ['', spec.notes] : []),
  ].join('\n');
}
