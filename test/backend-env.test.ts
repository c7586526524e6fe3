import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { detectExtras, versions, which } from '../src/backend/env';

let dir: string;
let full: string;
let empty: string;

/** An executable shell script named `name` in `d`. */
function fake(d: string, name: string, body: string): string {
  const file = path.join(d, name);
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lightvit-env-'));
  full = path.join(dir, 'full');
  empty = path.join(dir, 'empty');
  fs.mkdirSync(full);
  fs.mkdirSync(empty);
  fake(full, 'chromium-browser', 'exit 0');
  fake(full, 'g++', 'echo "g++ (Fake 1) 99.1.0"; echo "Copyright"');
  fake(full, 'make', 'echo "GNU Make 9.9"');
  fake(full, 'python3', 'echo "Python 3.99.1"');
  fake(
    full,
    'jupyter',
    'if [ "$1 $2 $3" = "kernelspec list --json" ]; then echo \'{"kernelspecs": {"python3": {}, "tslab": ' +
      '{}}}\'; elif [ "$2" = "--version" ]; then echo 6.4; else exit 2; fi',
  );
  fs.writeFileSync(path.join(full, 'c++'), 'not executable', { mode: 0o644 });
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('which', () => {
  it('finds executables on a PATH string in order and skips non-executable files', () => {
    expect(which('g++', `${empty}${path.delimiter}${full}`)).toBe(path.join(full, 'g++'));
    expect(which('c++', full)).toBeUndefined();
    expect(which('g++', '')).toBeUndefined();
    expect(which('g++', undefined)).toBeUndefined();
  });
});

describe('detectExtras', () => {
  it('finds every extra on a PATH that has them, with version details and the tslab kernel', () => {
    const e = detectExtras({ env: { PATH: full }, chromiumPaths: [], jupyterPaths: [], kernelDirs: [] });
    expect(e.chromium).toMatchObject({ found: true, path: path.join(full, 'chromium-browser'), hint: '' });
    expect(e.cxx).toMatchObject({ found: true, path: path.join(full, 'g++'), hint: '' });
    expect(e.cxx.detail).toMatch(/^g\+\+ \(Fake 1\) 99\.1\.0; make at /);
    expect(e.python3).toMatchObject({ found: true, detail: 'Python 3.99.1', hint: '' });
    expect(e.jupyter).toMatchObject({ found: true, tslab: true, detail: 'kernels: python3, tslab', hint: '' });
  });

  it('on an empty PATH reports each extra missing with a one-line hint, and does not throw', () => {
    const e = detectExtras({ env: { PATH: empty }, chromiumPaths: [], jupyterPaths: [], kernelDirs: [] });
    for (const x of Object.values(e)) {
      expect(x.found).toBe(false);
      expect(x.hint.length).toBeGreaterThan(10);
      expect(x.hint).not.toContain('\n');
    }
    expect(e.chromium.hint).toContain('apt-get install chromium');
    expect(e.cxx.hint).toContain('apt-get install g++ make');
    expect(e.jupyter.hint).toContain('apt-get install jupyter-notebook');
    expect(e.jupyter.tslab).toBe(false);
    // no PATH at all: the same answer (every extra missing, with its hint), not an exception
    const none = detectExtras({ env: {}, chromiumPaths: [], jupyterPaths: [], kernelDirs: [] });
    expect(Object.entries(none).map(([k, x]) => [k, x.found, x.hint])).toEqual(
      Object.entries(e).map(([k, x]) => [k, false, x.hint]),
    );
  });

  it('Jupyter without the tslab kernel spec, and a compiler without make', () => {
    const partial = path.join(dir, 'partial');
    fs.mkdirSync(partial);
    fake(partial, 'jupyter', 'echo \'{"kernelspecs": {"python3": {}}}\'');
    fake(partial, 'c++', 'echo "c++ 1.0"');
    const e = detectExtras({ env: { PATH: partial }, chromiumPaths: [], jupyterPaths: [], kernelDirs: [] });
    expect(e.jupyter).toMatchObject({ found: true, tslab: false });
    expect(e.jupyter.hint).toMatch(/npx tslab install/);
    expect(e.cxx).toMatchObject({ found: false, path: path.join(partial, 'c++'), detail: 'make not on PATH' });
  });

  it('LIGHTVIT_CHROMIUM wins over PATH; a wrong value is reported, not searched around', () => {
    const mine = fake(dir, 'my-chrome', 'exit 0');
    expect(
      detectExtras({
        env: { PATH: full, LIGHTVIT_CHROMIUM: mine },
        chromiumPaths: [],
        jupyterPaths: [],
        kernelDirs: [],
      }).chromium,
    ).toMatchObject({
      found: true,
      path: mine,
    });
    const bad = detectExtras({
      env: { PATH: full, LIGHTVIT_CHROMIUM: '/nope/chrome' },
      chromiumPaths: [],
      jupyterPaths: [],
      kernelDirs: [],
    }).chromium;
    expect(bad.found).toBe(false);
    expect(bad.detail).toContain('/nope/chrome');
  });

  it('falls back to fixed Chromium locations after PATH', () => {
    const fixed = fake(dir, 'chromium', 'exit 0');
    expect(
      detectExtras({ env: { PATH: empty }, chromiumPaths: [fixed], jupyterPaths: [], kernelDirs: [] }).chromium,
    ).toMatchObject({ found: true, path: fixed });
  });
});

describe('versions', () => {
  it('reports node, tfjs, the wasm backend, the kit and the OS', () => {
    const v = versions();
    const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../package.json'), 'utf8'));
    expect(v.node).toBe(process.versions.node);
    expect(v.tfjs).toBe(tf.version.tfjs);
    expect(v.wasmBackend).toBe('4.22.0');
    expect(v.kit).toBe(pkg.version);
    expect(v.os).toContain(os.type());
    expect(v.cpus).toBeGreaterThan(0);
  });
});
