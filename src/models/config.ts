import { ConfigError } from '../util/errors';

/**
 * Typed model configs and `--set key=value` overrides. Every model config is a flat object of numbers, booleans,
 * strings and number arrays; its family's defaults fix the type of each key. Fields every model shares have the
 * same name everywhere: imageSize, patchSize, numClasses, embedDim, depth, numHeads.
 */
export type ConfigValue = number | boolean | string | number[];
export type Config = Record<string, ConfigValue>;

export interface BaseConfig {
  imageSize: number;
  numClasses: number;
  inChannels: number;
}

/** The literal union of a `choices` list: `OneOf<typeof VIT_POOLS>` is 'cls' | 'mean'. */
export type OneOf<T extends readonly string[]> = T[number];

/**
 * Allowed string values per key, for validation and --help. A config's string keys are typed as the literal union
 * of their list (`pool: OneOf<typeof VIT_POOLS>`), so the list is the one place the allowed values are written.
 */
export type Choices<C> = { [K in keyof C]?: C[K] extends string ? readonly C[K][] : never };

/** Parse ['k=v', ...] into an object of strings (values typed later against the config). */
export function parseSetArgs(sets: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of sets) {
    const i = s.indexOf('=');
    if (i <= 0) throw new ConfigError(`--set '${s}' is not of the form key=value (e.g. --set depth=6)`);
    out[s.slice(0, i).trim()] = s.slice(i + 1).trim();
  }
  return out;
}

function coerce(model: string, key: string, raw: unknown, like: ConfigValue, choices?: readonly string[]): ConfigValue {
  const bad = (expected: string) =>
    new ConfigError(`${model}: ${key}=${JSON.stringify(raw)} is not valid; expected ${expected}`);
  if (typeof like === 'number') {
    const v = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
    if (!Number.isFinite(v)) throw bad(`a number (default ${like})`);
    return v;
  }
  if (typeof like === 'boolean') {
    if (typeof raw === 'boolean') return raw;
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    throw bad('true or false');
  }
  if (Array.isArray(like)) {
    const arr = Array.isArray(raw)
      ? raw
      : typeof raw === 'string'
        ? raw
            .split(',')
            .map((s) => s.trim())
            .filter((s) => s)
        : [raw];
    const nums = arr.map(Number);
    if (nums.some((n) => !Number.isFinite(n)))
      throw bad(`a comma-separated list of numbers (default ${like.join(',')})`);
    return nums;
  }
  const s = String(raw);
  if (choices && !choices.includes(s)) throw bad(`one of ${choices.join(', ')}`);
  return s;
}

/**
 * Merge overrides into defaults, checking every key exists and every value has the default's type (strings from
 * the command line are converted). Unknown keys are an error naming the key and the known keys.
 */
export function applyOverrides<C extends object>(
  model: string,
  defaults: C,
  overrides: Record<string, unknown> = {},
  choices: Choices<C> = {},
): C {
  const out: Record<string, ConfigValue> = { ...(defaults as Record<string, ConfigValue>) };
  for (const [k, raw] of Object.entries(overrides)) {
    if (raw === undefined) continue;
    if (!(k in out)) {
      throw new ConfigError(`${model}: unknown config key '${k}'; expected one of: ${Object.keys(out).join(', ')}`);
    }
    out[k] = coerce(model, k, raw, out[k], (choices as Record<string, readonly string[]>)[k]);
  }
  for (const [k, list] of Object.entries(choices as Record<string, readonly string[]>)) {
    if (list && typeof out[k] === 'string' && !list.includes(out[k] as string)) {
      throw new ConfigError(`${model}: ${k}='${out[k]}' is not valid; expected one of ${list.join(', ')}`);
    }
  }
  return out as C;
}

/** Checks shared by model validators; each error names the values and the rule. */
export const check = {
  positiveInt(model: string, c: object, ...keys: string[]) {
    for (const k of keys) {
      const v = (c as Record<string, unknown>)[k];
      if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
        throw new ConfigError(`${model}: ${k}=${v} must be a positive integer`);
    }
  },
  divisible(model: string, c: object, key: string, by: string) {
    const a = (c as Record<string, number>)[key];
    const b = (c as Record<string, number>)[by];
    if (a % b !== 0)
      throw new ConfigError(
        `${model}: ${key}=${a} is not divisible by ${by}=${b}; expected ${key} to be a multiple of ${by}`,
      );
  },
  range(model: string, c: object, key: string, lo: number, hi: number) {
    const v = (c as Record<string, number>)[key];
    if (!(v >= lo && v <= hi))
      throw new ConfigError(`${model}: ${key}=${v} is out of range; expected ${lo} ≤ ${key} ≤ ${hi}`);
  },
  that(cond: boolean, message: string) {
    if (!cond) throw new ConfigError(message);
  },
};
