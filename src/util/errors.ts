/**
 * Errors users meet. Each names the bad value and the expected form (house style), so the message alone says
 * what to fix. Subclasses let callers and tests tell the kinds apart.
 */
export class LightvitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
/** A model config or override that cannot work (unknown key, wrong type, impossible dims). */
export class ConfigError extends LightvitError {}
/** A data file that is missing, truncated, foreign, or fails its checksum. */
export class DataError extends LightvitError {}
/** An unknown name: model, dataset, experiment, backend, paper. */
export class UnknownNameError extends LightvitError {
  constructor(kind: string, name: string, known: readonly string[]) {
    const near = known.filter((k) => k.includes(name) || name.includes(k)).slice(0, 5);
    super(
      `unknown ${kind} '${name}'; expected one of: ${known.join(', ')}` +
        (near.length ? ` (did you mean ${near.map((n) => `'${n}'`).join(' or ')}?)` : ''),
    );
  }
}
/** Training diverged: NaN or infinite loss. */
export class DivergenceError extends LightvitError {}

/** 12345678 -> "12,345,678" (sizes in messages). */
export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
