/**
 * What this machine has beyond the npm dependencies, and the versions that matter for reproducing a number.
 * Every probe is local (PATH lookups and `--version` calls with a timeout): no network, and nothing throws.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
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
  /** Jupyter locations tried after PATH (default JUPYTER_FIXED_PATHS). */
  jupyterPaths?: string[];
  /** Kernel-spec folders searched for tslab/kernel.json (default kernelSpecDirs(env)). */
  kernelDirs?: string[];
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
    if (isExecutable(forced))
      return { found: true, path: forced, detail: `LIGHTVIT_CHROMIUM=${forced}`, hint: '', use };
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

/** Every executable named `name` on PATH, in PATH order (`which -a`). */
export function whichAll(name: string, pathVar: string | undefined): string[] {
  const out: string[] = [];
  for (const dir of (pathVar ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    if (isExecutable(file) && !out.includes(file)) out.push(file);
  }
  return out;
}

/** Places Jupyter installs outside PATH-first order (Debian's apt Jupyter under pyenv/conda, Homebrew). */
export const JUPYTER_FIXED_PATHS = ['/usr/bin/jupyter', '/usr/local/bin/jupyter', '/opt/homebrew/bin/jupyter'];

/**
 * The interpreter a `jupyter` script runs on, from its first line: `#!/usr/bin/python3` → '/usr/bin/python3',
 * `#!/usr/bin/env python3` → 'python3'; undefined for a wrapper (a pyenv shim is a bash script) or a binary.
 */
export function jupyterPython(jupyterPath: string): string | undefined {
  let head = '';
  try {
    const fd = fs.openSync(jupyterPath, 'r');
    const buf = Buffer.alloc(256);
    const n = fs.readSync(fd, buf, 0, 256, 0);
    fs.closeSync(fd);
    head = buf.subarray(0, n).toString('utf8').split('\n')[0];
  } catch {
    return undefined;
  }
  const m = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(head);
  if (!m) return undefined;
  const [, exe, arg] = m;
  if (exe.endsWith('/env')) return arg && /python/.test(arg) ? arg : undefined;
  return /python/.test(path.basename(exe)) ? exe : undefined;
}

export interface JupyterCandidate {
  path: string;
  /** The Python it runs on (for `tslab install --python=`), when its first line says. */
  python?: string;
  lab: boolean;
  notebook: boolean;
  nbconvert: boolean;
  /** `jupyter kernelspec list` works (package jupyter-client). */
  kernelspec: boolean;
  /** Kernel names `jupyter kernelspec list` reports. */
  kernels: string[];
  /** What this candidate lacks, in words ('no Jupyter server: ...'). */
  missing: string[];
}

/** Probe one `jupyter`: which subcommands run, which kernels it lists. */
export function probeJupyter(p: string, env: NodeJS.ProcessEnv = process.env, timeoutMs = 15000): JupyterCandidate {
  const ok = (args: string[]) => run(p, args, env, timeoutMs) !== undefined;
  const listing = run(p, ['kernelspec', 'list', '--json'], env, timeoutMs);
  let kernels: string[] = [];
  try {
    kernels = Object.keys(
      (JSON.parse((listing ?? '{}').slice((listing ?? '{}').indexOf('{'))) as { kernelspecs?: object }).kernelspecs ??
        {},
    );
  } catch {
    kernels = [];
  }
  const c: JupyterCandidate = {
    path: p,
    python: jupyterPython(p),
    lab: ok(['lab', '--version']),
    notebook: ok(['notebook', '--version']),
    nbconvert: ok(['nbconvert', '--version']),
    kernelspec: listing !== undefined,
    kernels,
    missing: [],
  };
  if (!c.lab && !c.notebook) c.missing.push('no Jupyter server (jupyter lab / jupyter notebook)');
  if (!c.kernelspec) c.missing.push('no `jupyter kernelspec` (package jupyter-client)');
  if (!c.nbconvert) c.missing.push('no `jupyter nbconvert`');
  return c;
}

/** Every distinct `jupyter` on PATH, then the fixed locations (a symlink and its target count once). */
export function jupyterPaths(env: NodeJS.ProcessEnv = process.env, fixed = JUPYTER_FIXED_PATHS): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const p of [...whichAll('jupyter', env.PATH), ...fixed.filter(isExecutable)]) {
    let real = p;
    try {
      real = fs.realpathSync(p);
    } catch {
      /* keep p */
    }
    if (seen.has(real)) continue;
    seen.add(real);
    out.push(p);
  }
  return out;
}

/**
 * The Jupyter to use: the first candidate that can start a server (lab or notebook), probing in PATH order and
 * then the fixed locations, so a pyenv or conda Python without Jupyter first on PATH does not hide Debian's apt
 * Jupyter. `chosen` is undefined when none can; `candidates` says what each one lacks.
 */
export function findJupyter(
  env: NodeJS.ProcessEnv = process.env,
  opts: { fixed?: string[]; timeoutMs?: number } = {},
): { chosen?: JupyterCandidate; candidates: JupyterCandidate[] } {
  const candidates: JupyterCandidate[] = [];
  for (const p of jupyterPaths(env, opts.fixed)) {
    const c = probeJupyter(p, env, opts.timeoutMs);
    candidates.push(c);
    if (c.lab || c.notebook) return { chosen: c, candidates };
  }
  return { candidates };
}

/**
 * Folders Jupyter searches for kernel specs (…/kernels), as `jupyter --paths` lists its data dirs: JUPYTER_PATH,
 * the user's data dir (JUPYTER_DATA_DIR, ~/.local/share/jupyter, ~/Library/Jupyter on macOS), an active conda or
 * virtual env, then /usr/local/share/jupyter and /usr/share/jupyter.
 */
export function kernelSpecDirs(env: NodeJS.ProcessEnv = process.env, home = os.homedir()): string[] {
  const data = [
    ...(env.JUPYTER_PATH ?? '').split(path.delimiter).filter(Boolean),
    env.JUPYTER_DATA_DIR ?? '',
    path.join(env.XDG_DATA_HOME || path.join(home, '.local', 'share'), 'jupyter'),
    path.join(home, 'Library', 'Jupyter'),
    env.CONDA_PREFIX ? path.join(env.CONDA_PREFIX, 'share', 'jupyter') : '',
    env.VIRTUAL_ENV ? path.join(env.VIRTUAL_ENV, 'share', 'jupyter') : '',
    '/usr/local/share/jupyter',
    '/usr/share/jupyter',
  ].filter(Boolean);
  return [...new Set(data.map((d) => path.join(d, 'kernels')))];
}

/** The tslab kernel spec file Jupyter would find, read from disk (works without `jupyter kernelspec`). */
export function findTslabKernel(dirs: string[] = kernelSpecDirs()): string | undefined {
  for (const d of dirs) {
    const f = path.join(d, 'tslab', 'kernel.json');
    if (fs.existsSync(f)) return f;
  }
  return undefined;
}

function detectJupyter(
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  fixed?: string[],
  kernelDirs?: string[],
): Extras['jupyter'] {
  const use = 'the notebooks in Jupyter (npm run notebook) and headless (jupyter nbconvert --execute)';
  const apt = 'apt-get install jupyter-notebook jupyter-nbconvert python3-nbclient jupyter-client python3-ipykernel';
  const { chosen, candidates } = findJupyter(env, { timeoutMs, fixed });
  const onDisk = findTslabKernel(kernelDirs ?? kernelSpecDirs(env));
  const c = chosen ?? candidates[0];
  if (!c) {
    return {
      found: false,
      tslab: !!onDisk,
      detail: 'jupyter not found (PATH, /usr/bin, /usr/local/bin)',
      hint: `${apt}, or see the README (pipx / venv)`,
      use,
    };
  }
  const tslab = c.kernels.includes('tslab') || !!onDisk;
  const others = candidates.filter((x) => x !== c).map((x) => `${x.path}: ${x.missing.join(', ')}`);
  const detail = [
    c.kernelspec
      ? `kernels: ${c.kernels.join(', ') || 'none'}`
      : `jupyter kernelspec missing (jupyter-client)${onDisk ? `; tslab kernel at ${onDisk}` : ''}`,
    ...(c.missing.length ? [`missing: ${c.missing.join(', ')}`] : []),
    ...(others.length ? [`skipped ${others.join('; ')}`] : []),
  ].join('; ');
  const hint = !chosen
    ? `${apt} (or pipx install jupyterlab)`
    : !tslab
      ? 'npm run notebook registers the tslab kernel (or: npx tslab install --python=<the Python Jupyter runs on>)'
      : c.missing.length
        ? apt
        : '';
  return { found: !!chosen, path: c.path, tslab, detail, hint, use };
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
    return {
      found: false,
      path: p,
      detail: `${p} --version failed`,
      hint: 'apt-get install python3 (the one on PATH does not run)',
      use,
    };
  }
  return { found: true, path: p, detail: version, hint: '', use };
}

/** Chromium, Jupyter (+ tslab kernel), a C++ toolchain and python3: found or not, and how to get each. */
export function detectExtras(opts: DetectOptions = {}): Extras {
  const env = opts.env ?? process.env;
  const timeoutMs = opts.timeoutMs ?? 8000;
  return {
    chromium: detectChromium(env, opts.chromiumPaths ?? ['/usr/bin/chromium']),
    jupyter: detectJupyter(env, timeoutMs, opts.jupyterPaths, opts.kernelDirs),
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
      const json = JSON.parse(fs.readFileSync(path.resolve(__dirname, rel), 'utf8')) as {
        name?: string;
        version?: string;
      };
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
