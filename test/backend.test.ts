import { describe, it, expect, afterAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend, currentBackend, describeBackend, polyfillNodeUtil, BACKENDS } from '../src/backend';
import { WASM_TRAINING_KERNELS } from '../src/backend/kernels';
import { UnknownNameError } from '../src/util/errors';

const savedEnv = { backend: process.env.LIGHTVIT_BACKEND, native: process.env.LIGHTVIT_NATIVE };
afterAll(() => {
  for (const [k, v] of [
    ['LIGHTVIT_BACKEND', savedEnv.backend],
    ['LIGHTVIT_NATIVE', savedEnv.native],
  ] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

// Order matters in this file: the first test sees a fresh process (no backend chosen yet).
describe('initBackend', () => {
  it('by default picks wasm here, with a one-line reason for each skipped tensorflow backend', async () => {
    delete process.env.LIGHTVIT_BACKEND;
    const c = await initBackend();
    expect(c.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(c.skipped.map((s) => s.name)).toEqual(['tensorflow-gpu', 'tensorflow']);
    expect(c.skipped[0].reason).toMatch(/^@tensorflow\/tfjs-node-gpu is not installed \(optional/);
    // here node_modules/@tensorflow/tfjs-node exists, but as danfojs-node's alias of plain tfjs: still "not installed"
    expect(c.skipped[1].reason).toMatch(/^@tensorflow\/tfjs-node is not installed \(optional/);
    for (const s of c.skipped) expect(s.reason).not.toContain('\n');
    expect(c.kernelsAdded).toEqual([...WASM_TRAINING_KERNELS]);
    expect(typeof c.native?.enabled).toBe('boolean');
    expect(c.native?.reason.length).toBeGreaterThan(0);
    expect(describeBackend(c)).toMatch(/^wasm \(skipped tensorflow-gpu: .*; skipped tensorflow: .*; native: .+\)$/);
  });

  it('a second call returns the same choice and re-activates its tfjs backend', async () => {
    const first = currentBackend();
    await tf.setBackend('cpu');
    const again = await initBackend();
    expect(again).toBe(first);
    expect(tf.getBackend()).toBe('wasm');
  });

  it('an unknown name is an error naming it and listing the known ones', async () => {
    await expect(initBackend('webgpu')).rejects.toThrow(UnknownNameError);
    await expect(initBackend('webgpu')).rejects.toThrow(
      "unknown backend 'webgpu'; expected one of: tensorflow-gpu, tensorflow, wasm, cpu",
    );
    process.env.LIGHTVIT_BACKEND = 'tpu';
    await expect(initBackend()).rejects.toThrow(/unknown backend 'tpu'/);
    delete process.env.LIGHTVIT_BACKEND;
    expect(BACKENDS).toEqual(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']);
  });

  it(
    "forcing 'tensorflow' or 'tensorflow-gpu' here is a clear " + 'not-installed error, and the wasm choice stays',
    async () => {
      await expect(initBackend('tensorflow')).rejects.toThrow(
        /^backend 'tensorflow' could not be used: @tensorflow\/tfjs-node is not installed \(optional/,
      );
      await expect(initBackend('tensorflow-gpu')).rejects.toThrow(/@tensorflow\/tfjs-node-gpu is not installed/);
      expect(currentBackend()?.name).toBe('wasm');
      expect(tf.getBackend()).toBe('wasm');
    },
  );

  it('LIGHTVIT_BACKEND forces cpu; forcing wasm again with LIGHTVIT_NATIVE=0 records native as off', async () => {
    process.env.LIGHTVIT_BACKEND = 'cpu';
    const c = await initBackend();
    expect(c).toMatchObject({ name: 'cpu', tfBackend: 'cpu', skipped: [] });
    expect(tf.getBackend()).toBe('cpu');
    delete process.env.LIGHTVIT_BACKEND;
    process.env.LIGHTVIT_NATIVE = '0';
    const w = await initBackend('wasm');
    expect(w.name).toBe('wasm');
    expect(w.native).toEqual({ enabled: false, reason: 'turned off by LIGHTVIT_NATIVE=0' });
    expect(w.kernelsAdded).toEqual([]); // already registered by the first call
  });
});

describe('polyfillNodeUtil (tfjs 4.22 on Node 23 calls the removed util.isNullOrUndefined)', () => {
  it('adds the function only when missing', () => {
    const u = require('node:util') as Record<string, unknown>;
    const original = u.isNullOrUndefined;
    try {
      delete u.isNullOrUndefined;
      expect(polyfillNodeUtil()).toBe(true);
      const f = u.isNullOrUndefined as (v: unknown) => boolean;
      expect([f(null), f(undefined), f(0), f(''), f(false)]).toEqual([true, true, false, false, false]);
      expect(polyfillNodeUtil()).toBe(false);
    } finally {
      u.isNullOrUndefined = original;
    }
  });
});
