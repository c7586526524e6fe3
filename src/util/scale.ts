import { ConfigError } from './errors';

/**
 * The three scales every experiment has:
 * - smoke: seconds; a few steps on a tiny subset (tests and CI);
 * - quick: minutes per paper on a 2-core CPU;
 * - paper: the papers' recipes, meant for a GPU.
 */
export type Scale = 'smoke' | 'quick' | 'paper';
export const SCALES: readonly Scale[] = ['smoke', 'quick', 'paper'];

export function parseScale(s: string | undefined, fallback: Scale = 'quick'): Scale {
  if (s === undefined || s === '') return fallback;
  if ((SCALES as readonly string[]).includes(s)) return s as Scale;
  throw new ConfigError(`scale '${s}' is not one of ${SCALES.join(', ')}`);
}

/** The scale from $LIGHTVIT_SCALE (default quick). */
export function envScale(fallback: Scale = 'quick'): Scale {
  return parseScale(process.env.LIGHTVIT_SCALE, fallback);
}
