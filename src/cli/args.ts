import { ConfigError } from '../util/errors';

/** Minimal argv parser: positionals, `--flag`, `--key value`, `--key=value`, repeatable `--set k=v`. */
export interface ParsedArgs {
  positional: string[];
  flags: Record<string, string | boolean>;
  sets: string[];
}

export function parseArgs(argv: string[], booleans: readonly string[] = []): ParsedArgs {
  const out: ParsedArgs = { positional: [], flags: {}, sets: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      out.positional.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const key = eq > 0 ? a.slice(2, eq) : a.slice(2);
      let value: string | boolean;
      if (eq > 0) value = a.slice(eq + 1);
      else if (booleans.includes(key) || key === 'help' || i + 1 >= argv.length || argv[i + 1].startsWith('--')) value = true;
      else value = argv[++i];
      if (key === 'set') {
        if (typeof value !== 'string') throw new ConfigError('--set needs key=value (e.g. --set depth=6)');
        out.sets.push(value);
      } else out.flags[key] = value;
    } else if (a === '-h') out.flags.help = true;
    else out.positional.push(a);
  }
  return out;
}

export function flagString(a: ParsedArgs, key: string): string | undefined {
  const v = a.flags[key];
  return typeof v === 'string' ? v : undefined;
}

export function flagInt(a: ParsedArgs, key: string): number | undefined {
  const v = flagString(a, key);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new ConfigError(`--${key}=${v} is not an integer`);
  return n;
}
