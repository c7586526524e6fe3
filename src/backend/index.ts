import * as tf from '@tensorflow/tfjs';
import { UnknownNameError } from '../util/errors';

/**
 * Pick and prepare the tfjs backend. Order of preference: tfjs-node-gpu ('tensorflow' on CUDA), tfjs-node
 * ('tensorflow' on CPU), wasm, cpu. `LIGHTVIT_BACKEND` or the CLI's `--backend` forces one.
 */
export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKENDS: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

export interface BackendChoice {
  name: BackendName;
  /** tfjs backend name actually active (tf.getBackend()). */
  tfBackend: string;
  /** Why each better backend was skipped. */
  skipped: Array<{ name: BackendName; reason: string }>;
}

let current: BackendChoice | null = null;

function firstLine(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split('\n')[0].slice(0, 200);
}

async function tryBackend(name: BackendName): Promise<string> {
  switch (name) {
    case 'tensorflow-gpu':
    case 'tensorflow': {
      const pkg = name === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
      try {
        require.resolve(pkg);
      } catch {
        throw new Error(`${pkg} is not installed (optional; see README "Backends")`);
      }
      require(pkg);
      if (!(await tf.setBackend('tensorflow'))) throw new Error(`${pkg} loaded but the 'tensorflow' backend did not initialise`);
      return 'tensorflow';
    }
    case 'wasm': {
      require('@tensorflow/tfjs-backend-wasm');
      if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend did not initialise');
      const { registerWasmKernels } = await import('./kernels');
      registerWasmKernels();
      return 'wasm';
    }
    case 'cpu':
      if (!(await tf.setBackend('cpu'))) throw new Error('the cpu backend did not initialise');
      return 'cpu';
  }
}

/**
 * Initialise the best available backend (or `force`, else $LIGHTVIT_BACKEND). Idempotent: a second call with
 * the same request returns the current choice.
 */
export async function initBackend(force?: string): Promise<BackendChoice> {
  const req = force || process.env.LIGHTVIT_BACKEND || '';
  if (req && !(BACKENDS as readonly string[]).includes(req)) throw new UnknownNameError('backend', req, BACKENDS);
  if (current && (!req || req === current.name)) return current;
  const order = req ? [req as BackendName] : BACKENDS;
  const skipped: BackendChoice['skipped'] = [];
  for (const name of order) {
    try {
      const tfBackend = await tryBackend(name);
      await tf.ready();
      current = { name, tfBackend, skipped };
      return current;
    } catch (e) {
      if (req) throw new Error(`backend '${req}' could not be used: ${firstLine(e)}`);
      skipped.push({ name, reason: firstLine(e) });
    }
  }
  throw new Error(`no tfjs backend could be initialised: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}

export function currentBackend(): BackendChoice | null {
  return current;
}
