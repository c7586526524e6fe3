import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { findJupyter, jupyterPython, kernelSpecDirs, findTslabKernel, detectExtras } from '../src/backend/env';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const launcher = require('../scripts/run-notebook.js') as {
  jupyterLaunchArgs(o: { server: string; uid: number; extra?: string[] }): string[];
  tslabInstallArgs(o: { python: string; tslab: string; prefix?: string }): string[];
};

/**
 * `npm run notebook` and `lightvit info`: which Jupyter is used, which Python gets the kernel, what Jupyter is told.
 */
let dir: string;
const fake = (d: string, name: string, body: string, shebang = '#!/bin/sh') => {
  fs.mkdirSync(d, { recursive: true });
  const f = path.join(d, name);
  fs.writeFileSync(f, `${shebang}\n${body}\n`, { mode: 0o755 });
  return f;
};

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lv-jupyter-launch-'));
  // a pyenv shim first on PATH: its Python has no Jupyter
  fake(path.join(dir, 'pyenv', 'shims'), 'jupyter', 'echo "pyenv: jupyter: command not found" >&2; exit 127');
  // Debian's apt Jupyter, not on PATH
  fake(
    path.join(dir, 'usr', 'bin'),
    'jupyter',
    [
      'case "$1 $2" in',
      '  "notebook --version") echo 6.4.12;;',
      '  "nbconvert --version") echo 6.5.3;;',
      '  "kernelspec list") echo \'{"kernelspecs": {"python3": {}}}\';;',
      '  *) exit 1;;',
      'esac',
    ].join('\n'),
  );
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('finding Jupyter', () => {
  it('skips a pyenv shim without Jupyter and takes the apt Jupyter, saying what the skipped one lacks', () => {
    const env = { PATH: path.join(dir, 'pyenv', 'shims') };
    const r = findJupyter(env, { fixed: [path.join(dir, 'usr', 'bin', 'jupyter')] });
    expect(r.chosen?.path).toBe(path.join(dir, 'usr', 'bin', 'jupyter'));
    expect(r.chosen).toMatchObject({
      notebook: true,
      lab: false,
      nbconvert: true,
      kernelspec: true,
      kernels: ['python3'],
    });
    expect(r.candidates[0].missing.join('; ')).toMatch(/no Jupyter server/);
    const none = findJupyter(env, { fixed: [] });
    expect(none.chosen).toBeUndefined();
    expect(none.candidates).toHaveLength(1);
  });

  it('reads the Python a jupyter script runs on from its first line', () => {
    expect(jupyterPython(fake(path.join(dir, 'a'), 'jupyter', '', '#!/usr/bin/python3'))).toBe('/usr/bin/python3');
    expect(jupyterPython(fake(path.join(dir, 'b'), 'jupyter', '', '#!/usr/bin/env python3.11'))).toBe('python3.11');
    expect(jupyterPython(fake(path.join(dir, 'c'), 'jupyter', ''))).toBeUndefined(); // a shell wrapper (pyenv shim)
  });

  it('finds a registered tslab kernel on disk even without `jupyter kernelspec` (jupyter-client missing)', () => {
    const data = path.join(dir, 'share', 'jupyter');
    const dirs = kernelSpecDirs({ JUPYTER_PATH: data }, path.join(dir, 'home'));
    expect(dirs[0]).toBe(path.join(data, 'kernels'));
    expect(dirs).toContain(path.join(dir, 'home', '.local', 'share', 'jupyter', 'kernels'));
    expect(findTslabKernel(dirs.slice(0, 1))).toBeUndefined();
    fs.mkdirSync(path.join(data, 'kernels', 'tslab'), { recursive: true });
    fs.writeFileSync(path.join(data, 'kernels', 'tslab', 'kernel.json'), '{}');
    expect(findTslabKernel(dirs.slice(0, 1))).toBe(path.join(data, 'kernels', 'tslab', 'kernel.json'));
    const noKernelspec = fake(
      path.join(dir, 'nokernelspec'),
      'jupyter',
      'case "$1" in notebook|nbconvert) echo 6.4;; *) exit 1;; esac',
    );
    const e = detectExtras({
      env: { PATH: path.dirname(noKernelspec) },
      chromiumPaths: [],
      jupyterPaths: [],
      kernelDirs: dirs.slice(0, 1),
    });
    expect(e.jupyter).toMatchObject({ found: true, tslab: true });
    expect(e.jupyter.detail).toMatch(/jupyter kernelspec missing \(jupyter-client\)/);
    expect(e.jupyter.hint).toMatch(/jupyter-client/);
  });
});

describe('launching Jupyter', () => {
  it('adds --allow-root for root only, once, and passes every other flag through', () => {
    expect(
      launcher.jupyterLaunchArgs({ server: 'notebook', uid: 0, extra: ['--no-browser', '--port', '8899'] }),
    ).toEqual(['notebook', '--allow-root', '--no-browser', '--port', '8899']);
    expect(launcher.jupyterLaunchArgs({ server: 'lab', uid: 1000, extra: ['--no-browser'] })).toEqual([
      'lab',
      '--no-browser',
    ]);
    expect(launcher.jupyterLaunchArgs({ server: 'lab', uid: 0, extra: ['--allow-root'] })).toEqual([
      'lab',
      '--allow-root',
    ]);
  });

  it('registers tslab for the Python Jupyter runs on', () => {
    expect(launcher.tslabInstallArgs({ python: '/usr/bin/python3', tslab: '/x/tslab' })).toEqual([
      'install',
      '--python=/usr/bin/python3',
      '--binary=/x/tslab',
    ]);
  });
});
