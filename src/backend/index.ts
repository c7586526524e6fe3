import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { UnknownNameError } from '../util/errors';
import { registerWasmKernels } from './kernels';

/**
 * Pick and prepare the tfjs backend. Order of preference: tfjs-node-gpu ('tensorflow' on CUDA), tfjs-node
 * ('tensorflow' on CPU), wasm, cpu. `LIGHTVIT_BACKEND` or the CLI's `--backend` forces one.
 * On wasm, the training kernels wasm lacks are registered (./kernels), then native C++ kernels over them when
 * built (./native; `LIGHTVIT_NATIVE=0` turns them off).
 */
export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKENDS: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

export interface BackendChoice {
  name: BackendName;
  /** tfjs backend name actually active (tf.getBackend()). */
  tfBackend: string;
  /** Why each better backend was skipped. */
  skipped: Array<{ name: BackendName; reason: string }>;
  /** wasm only: kernels ./kernels registered (missing from tfjs-backend-wasm 4.22). */
  kernelsAdded?: string[];
  /** wasm only: whether the native C++ kernels were enabled over wasm, and why not. */
  native?: { enabled: boolean; reason: string };
}

let current: BackendChoice | null = null;

function firstLine(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split('\n')[0].slice(0, 200);
}

const NODE_PACKAGES = { 'tensorflow-gpu': '@tensorflow/tfjs-node-gpu', tensorflow: '@tensorflow/tfjs-node' } as const;

/** package.json of an installed package, or null when it is not installed. */
function installedPackage(pkg: string, from?: string): { dir: string; name: string; version: string } | null {
  let main: string;
  try {
    main = require.resolve(pkg, from ? { paths: [from] } : undefined);
  } catch {
    return null;
  }
  for (let dir = path.dirname(main); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (!fs.existsSync(file)) continue;
    const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (json.name) return { dir, name: json.name, version: json.version ?? '?' };
  }
  return null;
}

/**
 * tfjs 4.22 (and tfjs-node) call `util.isNullOrUndefined`, which Node 23 removed (tfjs #8609). Restore that one
 * function, only when missing.
 */
export function polyfillNodeUtil(): boolean {
  // the module object itself (what tfjs-node's require('util') returns), not an import namespace copy
  const u = require('node:util') as Record<string, unknown>;
  if (typeof u.isNullOrUndefined === 'function') return false;
  try {
    u.isNullOrUndefined = (v: unknown) => v === null || v === undefined;
  } catch {
    // a frozen module namespace: the later require fails with tfjs's own message
  }
  return true;
}

async function tryTensorflow(name: 'tensorflow-gpu' | 'tensorflow'): Promise<string> {
  const pkg = NODE_PACKAGES[name];
  const found = installedPackage(pkg);
  if (!found) throw new Error(`${pkg} is not installed (optional; see README "Backends")`);
  // danfojs-node's npm override installs plain @tensorflow/tfjs under the tfjs-node name: not the native binding
  if (found.name !== pkg) {
    throw new Error(
      `${pkg} is not installed (optional; node_modules/${pkg} is an alias of ${found.name} ${found.version})`,
    );
  }
  // the package must register on this process's tfjs: same tfjs-core copy, or at least the same version
  const ours = installedPackage('@tensorflow/tfjs-core');
  const theirs = installedPackage('@tensorflow/tfjs-core', found.dir);
  if (ours && theirs && ours.dir !== theirs.dir && ours.version !== theirs.version) {
    throw new Error(
      `${pkg} ${found.version} uses @tensorflow/tfjs-core ${theirs.version} but the kit uses ${ours.version}; ` +
        `install ${pkg}@${ours.version}`,
    );
  }
  polyfillNodeUtil();
  require(pkg);
  if (!tf.findBackendFactory('tensorflow')) {
    throw new Error(`${pkg} loaded but registered no 'tensorflow' backend on the kit's tfjs (two tfjs copies?)`);
  }
  if (!(await tf.setBackend('tensorflow')))
    throw new Error(`${pkg} loaded but the 'tensorflow' backend did not initialise`);
  return 'tensorflow';
}

/** The native addon's entry points (src/backend/native.ts, built separately). */
interface NativeModule {
  enableNativeKernels?: () => { enabled: boolean; reason: string };
}

async function loadNative(): Promise<NativeModule | null> {
  const spec = './native';
  let requireError: unknown;
  try {
    return require(spec) as NativeModule; // compiled dist/
  } catch (e) {
    requireError = e;
  }
  try {
    return (await import(spec)) as NativeModule; // TypeScript sources under vitest
  } catch {
    const e = requireError as NodeJS.ErrnoException;
    if (e?.code === 'MODULE_NOT_FOUND' && String(e.message).includes(`'${spec}'`)) return null;
    throw requireError;
  }
}

/** Enable the native C++ kernels over wasm unless LIGHTVIT_NATIVE=0; never throws. */
async function enableNative(): Promise<{ enabled: boolean; reason: string }> {
  if (process.env.LIGHTVIT_NATIVE === '0') return { enabled: false, reason: 'turned off by LIGHTVIT_NATIVE=0' };
  let mod: NativeModule | null;
  try {
    mod = await loadNative();
  } catch (e) {
    return { enabled: false, reason: `native kernels failed to load: ${firstLine(e)}` };
  }
  if (!mod || typeof mod.enableNativeKernels !== 'function') {
    return { enabled: false, reason: 'native kernels not built (src/backend/native.ts has no enableNativeKernels)' };
  }
  try {
    const r = mod.enableNativeKernels();
    return { enabled: !!r.enabled, reason: String(r.reason) };
  } catch (e) {
    return { enabled: false, reason: `native kernels failed to enable: ${firstLine(e)}` };
  }
}

async function tryBackend(name: BackendName): Promise<Pick<BackendChoice, 'tfBackend' | 'kernelsAdded' | 'native'>> {
  switch (name) {
    case 'tensorflow-gpu':
    case 'tensorflow':
      return { tfBackend: await tryTensorflow(name) };
    case 'wasm': {
      require('@tensorflow/tfjs-backend-wasm');
      if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend did not initialise');
      const kernelsAdded = registerWasmKernels();
      const native = await enableNative();
      return { tfBackend: 'wasm', kernelsAdded, native };
    }
    case 'cpu':
      if (!(await tf.setBackend('cpu'))) throw new Error('the cpu backend did not initialise');
      silenceCpuBanner();
      return { tfBackend: 'cpu' };
  }
}

/**
 * The cpu backend prints "Hi, looks like you are running TensorFlow.js in Node.js ..." on its first tensor write
 * (tfjs-backend-cpu 4.22 `MathBackendCPU.write`, guarded by its `firstUse` field). The kit chooses its backend
 * deliberately and says why in `lightvit info`, so the banner is noise: mark the backend as already used.
 */
export function silenceCpuBanner(): void {
  const cpu = tf.findBackend('cpu') as unknown as { firstUse?: boolean } | null;
  if (cpu && typeof cpu.firstUse === 'boolean') cpu.firstUse = false;
}

/**
 * Initialise the best available backend (or `force`, else $LIGHTVIT_BACKEND). Idempotent: a second call with
 * the same request returns the current choice (after making it the active tfjs backend again).
 */
export async function initBackend(force?: string): Promise<BackendChoice> {
  const req = force || process.env.LIGHTVIT_BACKEND || '';
  if (req && !(BACKENDS as readonly string[]).includes(req)) throw new UnknownNameError('backend', req, BACKENDS);
  if (current && (!req || req === current.name)) {
    if (tf.getBackend() !== current.tfBackend) await tf.setBackend(current.tfBackend);
    return current;
  }
  const order = req ? [req as BackendName] : BACKENDS;
  const skipped: BackendChoice['skipped'] = [];
  for (const name of order) {
    try {
      const got = await tryBackend(name);
      await tf.ready();
      current = { name, skipped, ...got };
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

/** One line for logs and notebooks: "wasm (skipped tensorflow-gpu: ...; native: ...)". */
export function describeBackend(c: BackendChoice | null = current): string {
  if (!c) return 'no backend initialised';
  const parts = c.skipped.map((s) => `skipped ${s.name}: ${s.reason}`);
  if (c.native) parts.push(`native: ${c.native.reason}`);
  return parts.length ? `${c.name} (${parts.join('; ')})` : c.name;
}

export { registerWasmKernels, WASM_TRAINING_KERNELS } from './kernels';
