/**
 * What this machine has beyond the npm dependencies, and the versions that matter for reproducing a number.
 * Every probe is local (PATH lookups and `--version` calls with a timeout): no network, and nothing throws.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import * as tf from '@tensorflow/tfjs';

export interface Extra {
  found: boolean;
  /** Absolute path of the executable that was found. */
  path?: string;
  /** What was found (a version line), or why it was not. */
  detail: string;
  /** One line: how to get it when missing, empty when found. */
  hint: string;
  /** What the kit uses it for. */
  use: string;
}

export interface Extras {
  chromium: Extra;
  /** `tslab` is true when the tslab kernel spec is installed in Jupyter. */
  jupyter: Extra & { tslab: boolean };
  cxx: Extra;
  python3: Extra;
}

export interface DetectOptions {
  /** Environment to read PATH and LIGHTVIT_CHROMIUM from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Absolute Chromium locations tried after PATH (default ['/usr/bin/chromium']). */
  chromiumPaths?: string[];
  /** Per-command timeout in ms (default 8000: `jupyter kernelspec list` starts Python). */
  timeoutMs?: number;
}

const CHROMIUM_NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** First executable named `name` on `pathVar` (':'-separated, ';' on Windows), or undefined. */
export function which(name: string, pathVar: string | undefined): string | undefined {
  const exts = process.platform === 'win32' ? ['', '.exe', '.cmd', '.bat'] : [''];
  for (const dir of (pathVar ?? '').split(path.delimiter)) {
    if (!dir) continue;
    for (const ext of exts) {
      const file = path.join(dir, name + ext);
      if (isExecutable(file)) return file;
    }
  }
  return undefined;
}

/** stdout then stderr of a command that exited 0, or undefined when it failed or timed out. */
function run(file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): string | undefined {
  const r = spawnSync(file, args, { env, timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  return `${r.stdout ?? ''}${r.stderr ?? ''}`;
}

function firstLine(s: string | undefined): string {
  return (s ?? '').trim().split('\n')[0].trim();
}

function detectChromium(env: NodeJS.ProcessEnv, fixed: string[]): Extra {
  const use = 'PNG/SVG figures (plotly in headless Chromium via playwright-core)';
  const forced = env.LIGHTVIT_CHROMIUM;
  if (forced) {
    if (isExecutable(forced)) return { found: true, path: forced, detail: `LIGHTVIT_CHROMIUM=${forced}`, hint: '', use };
    return {
      found: false,
      detail: `LIGHTVIT_CHROMIUM=${forced} is not an executable file`,
      hint: `point LIGHTVIT_CHROMIUM at a Chromium or Chrome binary, or unset it to search PATH`,
      use,
    };
  }
  for (const name of CHROMIUM_NAMES) {
    const p = which(name, env.PATH);
    if (p) return { found: true, path: p, detail: `${name} on PATH`, hint: '', use };
  }
  for (const p of fixed) {
    if (isExecutable(p)) return { found: true, path: p, detail: p, hint: '', use };
  }
  return {
    found: false,
    detail: `none of ${CHROMIUM_NAMES.join(', ')} on PATH${fixed.length ? ` or at ${fixed.join(', ')}` : ''}`,
    hint: 'apt-get install chromium (or set LIGHTVIT_CHROMIUM); without it figures are written as self-contained HTML',
    use,
  };
}

function detectJupyter(env: NodeJS.ProcessEnv, timeoutMs: number): Extras['jupyter'] {
  const use = 'running the notebooks headless (jupyter nbconvert --execute) and in JupyterLab';
  const p = which('jupyter', env.PATH);
  if (!p) {
    return {
      found: false,
      tslab: false,
      detail: 'jupyter not on PATH',
      hint: 'apt-get install jupyter-nbconvert python3-nbclient jupyter-client python3-ipykernel, then npx tslab install --python=python3',
      use,
    };
  }
  const listing = run(p, ['kernelspec', 'list', '--json'], env, timeoutMs);
  let specs: string[] = [];
  try {
    specs = Object.keys((JSON.parse(listing ?? '{}') as { kernelspecs?: object }).kernelspecs ?? {});
  } catch {
    specs = [];
  }
  const tslab = specs.includes('tslab');
  return {
    found: true,
    path: p,
    tslab,
    detail: listing === undefined ? 'jupyter kernelspec list failed' : `kernels: ${specs.join(', ') || 'none'}`,
    hint: tslab ? '' : 'npx tslab install --python=python3 (adds the TypeScript kernel the notebooks use)',
    use,
  };
}

function detectCxx(env: NodeJS.ProcessEnv, timeoutMs: number): Extra {
  const use = 'building the optional native kernels (native/, node-gyp)';
  const cxx = which('g++', env.PATH) ?? which('c++', env.PATH);
  const make = which('make', env.PATH);
  const missing = [cxx ? '' : 'g++ (or c++)', make ? '' : 'make'].filter(Boolean);
  if (missing.length) {
    return {
      found: false,
      path: cxx,
      detail: `${missing.join(' and ')} not on PATH`,
      hint: 'apt-get install g++ make (optional: only for the native kernels; wasm works without them)',
      use,
    };
  }
  const version = firstLine(run(cxx!, ['--version'], env, timeoutMs)) || path.basename(cxx!);
  return { found: true, path: cxx, detail: `${version}; make at ${make}`, hint: '', use };
}

function detectPython3(env: NodeJS.ProcessEnv, timeoutMs: number): Extra {
  const use = 'Jupyter, and the PyTorch reference benchmark (bench/)';
  const p = which('python3', env.PATH);
  if (!p) return { found: false, detail: 'python3 not on PATH', hint: 'apt-get install python3', use };
  const version = firstLine(run(p, ['--version'], env, timeoutMs));
  if (!version) {
    return { found: false, path: p, detail: `${p} --version failed`, hint: 'apt-get install python3 (the one on PATH does not run)', use };
  }
  return { found: true, path: p, detail: version, hint: '', use };
}

/** Chromium, Jupyter (+ tslab kernel), a C++ toolchain and python3: found or not, and how to get each. */
export function detectExtras(opts: DetectOptions = {}): Extras {
  const env = opts.env ?? process.env;
  const timeoutMs = opts.timeoutMs ?? 8000;
  return {
    chromium: detectChromium(env, opts.chromiumPaths ?? ['/usr/bin/chromium']),
    jupyter: detectJupyter(env, timeoutMs),
    cxx: detectCxx(env, timeoutMs),
    python3: detectPython3(env, timeoutMs),
  };
}

export interface Versions {
  node: string;
  tfjs: string;
  wasmBackend: string;
  kit: string;
  os: string;
  cpus: number;
}

function packageVersion(name: string): string {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** The kit's package.json version: two directories up from src/backend or dist/backend. */
function kitVersion(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const json = JSON.parse(fs.readFileSync(path.resolve(__dirname, rel), 'utf8')) as { name?: string; version?: string };
      if (json.name === 'lightvit-lab' && json.version) return json.version;
    } catch {
      // try the next location
    }
  }
  return 'unknown';
}

/** Versions to print beside any measured number. */
export function versions(): Versions {
  return {
    node: process.versions.node,
    tfjs: tf.version.tfjs,
    wasmBackend: packageVersion('@tensorflow/tfjs-backend-wasm'),
    kit: kitVersion(),
    os: `${os.type()} ${os.release()} (${process.platform}-${process.arch})`,
    cpus: os.cpus().length,
  };
}
