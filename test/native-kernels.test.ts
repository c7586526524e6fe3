import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { enableNativeKernels, disableNativeKernels, nativeStatus, FUSED } from '../src/backend/native';
import { layerNorm, activate, batchNormTrain, linear, packedSelfAttention, hasKernel } from '../src/nn/fused';
import { scaledDotProductAttention, mergeHeads } from '../src/nn/attention';
import { makeCtx } from '../src/nn/module';

const hasKernelOn = (backend: string, name: string) => tf.getKernel(name, backend) !== undefined;

/**
 * Every native kernel against tfjs's pure-JS `cpu` backend: forward results and gradients (which run the
 * backprop kernels) on random shapes, odd sizes, every transpose mode, broadcast batches, the strides, paddings and
 * dilations the models use. Error measure: max |native − cpu| / max(1, max |cpu|) ≤ 1e-4.
 */

let reason = '';
beforeAll(async () => {
  await initBackend('wasm');
  const r = enableNativeKernels();
  reason = r.reason;
  if (!r.enabled) console.warn(`native kernel tests skipped: ${r.reason}`);
});

afterAll(() => {
  disableNativeKernels();
});

const native = () => nativeStatus().enabled;

/** Deterministic uniform(−1, 1) data (xorshift), independent of any backend. */
function rand(shape: number[], seed: number): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = (s / 4294967296) * 2 - 1;
  }
  return out;
}

type Fn = (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[];

function runOn(shapes: number[][], f: Fn, seed: number): Float32Array[] {
  return tf.tidy(() => {
    const xs = shapes.map((s, i) => tf.tensor(rand(s, seed + i), s));
    const r = f(...xs);
    return (Array.isArray(r) ? r : [r]).map((t) => t.dataSync() as Float32Array);
  });
}

/** Max error of `f` on wasm+native relative to cpu, over all outputs. */
async function relErr(shapes: number[][], f: Fn, seed = 1): Promise<number> {
  await tf.setBackend('cpu');
  const ref = runOn(shapes, f, seed);
  await tf.setBackend('wasm');
  const got = runOn(shapes, f, seed);
  let err = 0;
  ref.forEach((r, i) => {
    expect(got[i].length).toBe(r.length);
    let mag = 1;
    for (const v of r) mag = Math.max(mag, Math.abs(v));
    for (let j = 0; j < r.length; j++) err = Math.max(err, Math.abs(got[i][j] - r[j]) / mag);
  });
  return err;
}

/** Value and gradients w.r.t. every input, with a fixed random upstream gradient (so backprop kernels run). */
function withGrads(f: (...xs: tf.Tensor[]) => tf.Tensor): Fn {
  return (...xs) => {
    const y = f(...xs);
    const dy = tf.tensor(rand(y.shape, 99), y.shape);
    const g = tf.grads((...ys: tf.Tensor[]) =>
      f(...ys)
        .mul(dy)
        .sum(),
    )(xs);
    return [y, ...g];
  };
}

const TOL = 1e-4;
const errors: Record<string, number> = {};

function check(name: string, err: number): void {
  errors[name] = Math.max(errors[name] ?? 0, err);
  expect(err, name).toBeLessThanOrEqual(TOL);
}

describe('native kernels vs cpu', () => {
  it('reports a one-line status', () => {
    const s = nativeStatus();
    expect(s.reason).toBe(reason);
    expect(s.reason).not.toContain('\n');
  });

  it('BatchMatMul: every transpose mode, odd sizes, batched and broadcast batch dims, with gradients', async (ctx) => {
    if (!native()) ctx.skip();
    const cases: Array<[number[], number[]]> = [
      [
        [7, 5],
        [5, 3],
      ],
      [
        [1, 1],
        [1, 1],
      ],
      [
        [33, 17],
        [17, 65],
      ],
      [
        [3, 9, 4],
        [3, 4, 11],
      ],
      [
        [2, 3, 13, 8],
        [2, 3, 8, 6],
      ],
      [
        [4, 6, 5],
        [5, 7],
      ], // rank-2 b broadcast over a's batch (forward only: tfjs's BatchMatMul gradient
      [
        [5, 3],
        [4, 3, 6],
      ], // does not reduce broadcast batch dims, on every backend)
      [
        [1, 4, 3],
        [2, 3, 5],
      ],
      [
        [130, 96],
        [96, 288],
      ], // large enough to split across threads
    ];
    for (const [sa, sb] of cases) {
      for (const ta of [false, true]) {
        for (const tb of [false, true]) {
          const a = ta ? [...sa.slice(0, -2), sa[sa.length - 1], sa[sa.length - 2]] : sa;
          const b = tb ? [...sb.slice(0, -2), sb[sb.length - 1], sb[sb.length - 2]] : sb;
          const f = (x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y, ta, tb);
          const err = await relErr([a, b], sa.length === sb.length && sa[0] === sb[0] ? withGrads(f) : f);
          check('BatchMatMul', err);
        }
      }
    }
    // general broadcast ([2,1,…]·[1,3,…]): tfjs's cpu kernel fills only max(batchA, batchB) matrices here, so the
    // reference multiplies explicitly tiled inputs
    const general = (x: tf.Tensor, y: tf.Tensor) =>
      tf.getBackend() === 'cpu' ? tf.matMul(tf.tile(x, [1, 3, 1, 1]), tf.tile(y, [2, 1, 1, 1])) : tf.matMul(x, y);
    check(
      'BatchMatMul',
      await relErr(
        [
          [2, 1, 4, 3],
          [1, 3, 3, 5],
        ],
        general,
      ),
    );
  });

  it('_FusedMatMul: bias (vector and scalar) and every supported activation, with gradients', async (ctx) => {
    if (!native()) ctx.skip();
    const acts = ['linear', 'relu', 'relu6', 'leakyrelu', 'sigmoid', 'elu'] as const;
    for (const act of acts) {
      for (const [ta, tb] of [
        [false, false],
        [true, false],
        [false, true],
        [true, true],
      ] as const) {
        const a = ta ? [2, 9, 6] : [2, 6, 9];
        const b = tb ? [2, 10, 9] : [2, 9, 10];
        const f = (x: tf.Tensor, y: tf.Tensor, bias: tf.Tensor) =>
          tf.fused.matMul({
            a: x as tf.Tensor3D,
            b: y as tf.Tensor3D,
            transposeA: ta,
            transposeB: tb,
            bias,
            activation: act,
            leakyreluAlpha: 0.1,
          });
        // relu-family gradients are discontinuous at 0; random inputs avoid it almost surely
        check('_FusedMatMul', await relErr([a, b, [10]], act === 'linear' ? withGrads(f) : f));
        check('_FusedMatMul', await relErr([a, b, [1]], f, 7));
      }
    }
    check(
      '_FusedMatMul',
      await relErr(
        [[50, 40], [40, 30], [30]],
        withGrads((x, y, bias) => tf.fused.matMul({ a: x as tf.Tensor2D, b: y as tf.Tensor2D, bias })),
      ),
    );
  });

  it('Transpose: ranks 2–6, size-1 dims, the head split/merge permutations, int32', async (ctx) => {
    if (!native()) ctx.skip();
    const cases: Array<[number[], number[]]> = [
      [
        [37, 53],
        [1, 0],
      ],
      [
        [64, 64, 3, 32],
        [0, 2, 1, 3],
      ],
      [
        [4, 3, 5, 7],
        [0, 2, 1, 3],
      ],
      [
        [4, 3, 5, 7],
        [3, 2, 1, 0],
      ],
      [
        [2, 1, 5, 1, 3],
        [4, 3, 2, 1, 0],
      ],
      [
        [6, 4, 3, 2, 5],
        [2, 0, 3, 1, 4],
      ],
      [
        [2, 3, 4, 5, 6, 7],
        [0, 1, 3, 2, 4, 5],
      ],
      [
        [2, 3, 4, 5, 6, 7],
        [5, 1, 3, 0, 4, 2],
      ],
      [
        [3, 65, 33],
        [0, 2, 1],
      ],
      [
        [8, 4, 8, 12],
        [0, 2, 1, 3],
      ],
      [
        [5, 6, 7],
        [1, 2, 0],
      ],
    ];
    for (const [shape, perm] of cases)
      check(
        'Transpose',
        await relErr(
          [shape],
          withGrads((x) => tf.transpose(x, perm)),
        ),
      );
    const i = tf.tensor(
      Int32Array.from({ length: 60 }, (_, j) => j * 7 - 100),
      [3, 4, 5],
      'int32',
    );
    expect(Array.from(tf.transpose(i, [2, 0, 1]).dataSync())).toEqual(
      Array.from(tf.tidy(() => tf.transpose(i.cast('float32'), [2, 0, 1]).cast('int32')).dataSync()),
    );
    expect(Array.from(i.transpose([2, 0, 1]).dataSync()).slice(0, 4)).toEqual([-100, -65, -30, 5]);
    i.dispose();
  });

  it('Slice, SplitV and Unpack: ranks 1–6, partial and whole dims, uneven splits, with gradients', async (ctx) => {
    if (!native()) ctx.skip();
    const slices: Array<[number[], number[], number[]]> = [
      [[11], [3], [5]],
      [
        [7, 9],
        [2, 0],
        [4, 9],
      ],
      [
        [7, 9],
        [1, 2],
        [5, 6],
      ],
      [
        [4, 5, 6, 7, 3],
        [1, 0, 2, 3, 1],
        [2, 5, 3, 4, 2],
      ],
      [
        [3, 4, 2, 5, 3, 2],
        [0, 1, 0, 2, 0, 1],
        [3, 2, 2, 3, 3, 1],
      ],
    ];
    for (const [shape, begin, size] of slices)
      check(
        'Slice',
        await relErr(
          [shape],
          withGrads((x) => tf.slice(x, begin, size)),
        ),
      );
    // the attention qkv split: [B, T, 3, H, d] along axis 2
    check(
      'SplitV',
      await relErr(
        [[4, 9, 3, 2, 5]],
        withGrads((x) =>
          tf.concat(
            tf.split(x, 3, 2).map((u, i) => u.mul(i + 1)),
            2,
          ),
        ),
      ),
    );
    check(
      'SplitV',
      await relErr(
        [[5, 11, 3]],
        withGrads((x) =>
          tf.concat(
            tf.split(x, [2, 6, 3], 1).map((u, i) => u.mul(i + 1)),
            1,
          ),
        ),
      ),
    );
    // Unpack (tf.unstack): the MoE router's top-k columns and slot rows, every axis, int32
    for (const [shape, axis] of [
      [[13, 2], 1],
      [[7, 3, 5], 1],
      [[4, 6], 0],
      [[3, 2, 4, 5], 3],
    ] as Array<[number[], number]>) {
      check(
        'Unpack',
        await relErr(
          [shape],
          withGrads((x) =>
            tf.stack(
              tf.unstack(x, axis).map((u, i) => u.mul(i + 1)),
              axis,
            ),
          ),
        ),
      );
    }
    check('Unpack', await relErr([[5, 3]], (x) => tf.stack(tf.unstack(x.mul(50).toInt(), 1), 0).toFloat()));
  });

  it('Softmax over the last axis, with gradients', async (ctx) => {
    if (!native()) ctx.skip();
    for (const shape of [[7], [3, 13], [2, 3, 64, 64], [5, 1]]) {
      check(
        'Softmax',
        await relErr(
          [shape],
          withGrads((x) => tf.softmax(x.mul(4))),
        ),
      );
    }
  });

  it('Conv2D and both gradients: kernels 1/3/5, strides 1/2, same/valid/explicit padding, dilation', async (ctx) => {
    if (!native()) ctx.skip();
    const cases: Array<{
      x: number[];
      f: number[];
      s: number | [number, number];
      p: 'same' | 'valid' | number;
      d?: number;
      grads?: boolean;
    }> = [
      { x: [2, 9, 9, 3], f: [3, 3, 3, 5], s: 1, p: 'same' },
      { x: [2, 9, 9, 3], f: [3, 3, 3, 5], s: 2, p: 'same' },
      { x: [3, 8, 7, 4], f: [3, 3, 4, 6], s: 1, p: 'valid' },
      { x: [2, 11, 11, 3], f: [5, 5, 3, 4], s: 2, p: 1 },
      { x: [2, 8, 8, 6], f: [1, 1, 6, 7], s: 1, p: 'valid' },
      { x: [2, 8, 8, 6], f: [1, 1, 6, 7], s: 2, p: 'valid' },
      { x: [2, 16, 16, 3], f: [4, 4, 3, 8], s: 4, p: 'valid' }, // patch-embedding conv
      { x: [2, 9, 9, 3], f: [3, 3, 3, 4], s: 1, p: 'same', d: 2, grads: false }, // tfjs has no dilated conv grads
    ];
    for (const c of cases) {
      const f = (x: tf.Tensor, w: tf.Tensor) =>
        tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.s, c.p as 'same', 'NHWC', c.d ?? 1);
      check('Conv2D', await relErr([c.x, c.f], c.grads === false ? f : withGrads(f)));
    }
  });

  it('DepthwiseConv2dNative and both gradients: multiplier 1 and 2, strides, padding, dilation', async (ctx) => {
    if (!native()) ctx.skip();
    const cases: Array<{
      x: number[];
      f: number[];
      s: number;
      p: 'same' | 'valid' | number;
      d?: number;
      grads?: boolean;
    }> = [
      { x: [2, 9, 9, 5], f: [3, 3, 5, 1], s: 1, p: 'same' },
      { x: [2, 9, 9, 5], f: [3, 3, 5, 1], s: 2, p: 'same' },
      { x: [2, 10, 10, 4], f: [7, 7, 4, 1], s: 1, p: 3 },
      { x: [3, 8, 7, 3], f: [3, 3, 3, 2], s: 1, p: 'valid' },
      { x: [2, 12, 12, 8], f: [5, 5, 8, 1], s: 2, p: 2 },
      { x: [2, 9, 9, 4], f: [3, 3, 4, 1], s: 1, p: 'same', d: 2, grads: false },
    ];
    for (const c of cases) {
      const f = (x: tf.Tensor, w: tf.Tensor) =>
        tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.s, c.p as 'same', 'NHWC', c.d ?? 1);
      check('DepthwiseConv2dNative', await relErr([c.x, c.f], c.grads === false ? f : withGrads(f)));
    }
  });

  it("MaxPoolGrad: EIT's non-overlapping pools, overlapping 3×3/2 same, odd maps, ties", async (ctx) => {
    if (!native()) ctx.skip();
    const cases: Array<{ x: number[]; k: number; s: number; p: 'valid' | 'same' }> = [
      { x: [2, 8, 8, 16], k: 2, s: 2, p: 'valid' },
      { x: [3, 9, 7, 5], k: 3, s: 2, p: 'same' },
      { x: [2, 11, 11, 3], k: 3, s: 3, p: 'valid' },
      { x: [1, 6, 6, 2], k: 2, s: 1, p: 'valid' },
    ];
    for (const c of cases)
      check(
        'MaxPoolGrad',
        await relErr(
          [c.x],
          withGrads((x) => tf.maxPool(x as tf.Tensor4D, c.k, c.s, c.p)),
        ),
      );
    // ties: a constant map sends each window's gradient to its first cell on both backends
    check(
      'MaxPoolGrad',
      await relErr(
        [[1, 4, 4, 2]],
        withGrads((x) => tf.maxPool(x.mul(0).add(1) as tf.Tensor4D, 2, 2, 'valid')),
      ),
    );
  });

  it(
    'registering the wasm training kernels again keeps the native ones (MaxPoolGrad is not taken for the buggy ' +
      'builtin)',
    async (ctx) => {
      if (!native()) ctx.skip();
      const { registerWasmKernels } = await import('../src/backend/kernels');
      expect(registerWasmKernels()).toEqual([]);
      expect((tf.getKernel('MaxPoolGrad', 'wasm')!.kernelFunc as { lightvitNative?: boolean }).lightvitNative).toBe(
        true,
      );
    },
  );

  it('Sum: last axis, leading axes, middle run, keepDims, size-1 axes; other patterns fall back', async (ctx) => {
    if (!native()) ctx.skip();
    const cases: Array<[number[], number | number[], boolean]> = [
      [[7, 13], -1, false],
      [[5, 9, 31], [0, 1], false],
      [[4, 6, 5, 3], [1, 2], true],
      [[3, 1, 8, 1, 5], [1, 2, 3], false],
      [[2, 3, 4], [0, 2], false], // not adjacent: the wasm kernel
      [[1, 17], 0, true],
      [[257], 0, false],
    ];
    for (const [shape, axis, keep] of cases)
      check(
        'Sum',
        await relErr(
          [shape],
          withGrads((x) => x.sum(axis, keep).mul(2)),
        ),
      );
  });

  it('Concat: every axis, uneven widths, one input, int32, with gradients', async (ctx) => {
    if (!native()) ctx.skip();
    check(
      'Concat',
      await relErr(
        [
          [4, 3, 5],
          [4, 2, 5],
          [4, 7, 5],
        ],
        withGrads((a, b, c) => tf.concat([a, b.mul(2), c], 1)),
      ),
    );
    check(
      'Concat',
      await relErr(
        [
          [2, 3, 5],
          [2, 3, 1],
        ],
        withGrads((a, b) => tf.concat([a, b], -1)),
      ),
    );
    check(
      'Concat',
      await relErr(
        [
          [3, 4],
          [5, 4],
        ],
        withGrads((a, b) => tf.concat([a, b], 0)),
      ),
    );
    check(
      'Concat',
      await relErr(
        [
          [2, 9, 1, 3, 4],
          [2, 9, 1, 3, 4],
          [2, 9, 1, 3, 4],
        ],
        withGrads((a, b, c) => tf.concat([a, b, c], 2)),
      ),
    );
    check(
      'Concat',
      await relErr([[6, 2]], (a) =>
        tf.concat([a.mul(100).toInt(), tf.zeros([6, 0], 'int32'), a.mul(7).toInt()], 1).toFloat(),
      ),
    );
  });

  it('fused LayerNorm against the composite (cpu): rows × 1, odd widths, γ/β gradients', async (ctx) => {
    if (!native()) ctx.skip();
    expect(hasKernelOn('wasm', FUSED.layerNorm)).toBe(true);
    expect(hasKernelOn('cpu', FUSED.layerNorm)).toBe(false); // cpu runs the composite: the reference
    for (const [shape, eps] of [
      [[5, 7], 1e-5],
      [[2, 9, 96], 1e-6],
      [[3, 1], 1e-5],
      [[4, 33, 13], 1e-5],
    ] as Array<[number[], number]>) {
      const d = shape[shape.length - 1];
      check(
        'LvLayerNorm',
        await relErr(
          [shape, [d], [d]],
          withGrads((x, g, b) => layerNorm(x.mul(3).add(0.5), g.add(1), b, eps)),
        ),
      );
    }
  });

  it('fused activations (GELU erf, GELU sigmoid, SiLU) against the composite (cpu), with gradients', async (ctx) => {
    if (!native()) ctx.skip();
    for (const kind of ['gelu', 'gelu-sigmoid', 'silu'] as const) {
      for (const shape of [[7], [3, 129], [2, 8, 8, 5]]) {
        // inputs spread over ±8, past where the exp/erf approximations saturate
        check(
          `LvActivation ${kind}`,
          await relErr(
            [shape],
            withGrads((x) => activate(x.mul(8), kind)),
          ),
        );
      }
    }
  });

  it('GatherV2: axes 0, 1 and last, repeated and 2-D indices, int32, gradients; out of range throws', async (ctx) => {
    if (!native()) ctx.skip();
    const idx = (v: number[], shape?: number[]) => tf.tensor(v, shape ?? [v.length], 'int32');
    check(
      'GatherV2',
      await relErr(
        [[6, 5, 3]],
        withGrads((x) => tf.gather(x, idx([5, 0, 0, 2, 5, 1, 3]), 0)),
      ),
    );
    check(
      'GatherV2',
      await relErr(
        [[4, 7, 3]],
        withGrads((x) => tf.gather(x, idx([6, 1, 1, 0]), 1)),
      ),
    );
    check(
      'GatherV2',
      await relErr(
        [[3, 4, 9]],
        withGrads((x) => tf.gather(x, idx([8, 0, 4, 4, 2, 7], [2, 3]), -1)),
      ),
    );
    check('GatherV2', await relErr([[5, 2]], (x) => tf.gather(x.mul(50).toInt(), idx([4, 3, 3]), 0).toFloat()));
    check('GatherV2', await relErr([[5, 2]], (x) => tf.gather(x, idx([]), 0).add(1)));
    await tf.setBackend('wasm');
    expect(tf.getKernel('GatherV2', 'wasm')!.kernelFunc).toHaveProperty('lightvitNative', true);
    const outOfRange = () => tf.tidy(() => tf.gather(tf.ones([3, 2]), idx([1, 3]), 0).dataSync());
    expect(outOfRange).toThrow(/index 3 is not in \[0, 2\]/);
  });

  it('UnsortedSegmentSum: dropped and repeated ids, 2-D ids, threaded sizes, empty segments, int32 via wasm', async (ctx) => {
    if (!native()) ctx.skip();
    // typed as 1-D for tf.unsortedSegmentSum's signature; the kernel takes any prefix of x's shape
    const ids = (v: number[], shape?: number[]): tf.Tensor1D => {
      const t: tf.Tensor = tf.tensor(v, shape ?? [v.length], 'int32');
      return t as tf.Tensor1D;
    };
    // ids -1 and 6 fall outside [0, 6) and are dropped; segment 3 receives nothing
    const some = [2, 0, 2, 5, -1, 1, 1, 6, 0];
    check('UnsortedSegmentSum', await relErr([[9, 4, 3]], (x) => tf.unsortedSegmentSum(x, ids(some), 6)));
    // 2-D ids (a prefix of x's shape); tfjs's cpu kernel cannot broadcast them, so the reference flattens both
    const twoD = (x: tf.Tensor) =>
      tf.getBackend() === 'cpu'
        ? tf.unsortedSegmentSum(x.reshape([9, 5]), ids(some), 7)
        : tf.unsortedSegmentSum(x, ids(some, [3, 3]), 7);
    check('UnsortedSegmentSum', await relErr([[3, 3, 5]], twoD));
    // 4,000 rows of 81: past the grain, so both threads add (each owns a range of segments)
    const many = Array.from({ length: 4000 }, (_, i) => (i * 37) % 300);
    check('UnsortedSegmentSum', await relErr([[4000, 81]], (x) => tf.unsortedSegmentSum(x, ids(many), 300)));
    check(
      'UnsortedSegmentSum',
      await relErr([[5, 2]], (x) => tf.unsortedSegmentSum(x.mul(50).toInt(), ids([1, 0, 1, 4, 2]), 3).toFloat()),
    );
    await tf.setBackend('wasm');
    expect(tf.getKernel('UnsortedSegmentSum', 'wasm')!.kernelFunc).toHaveProperty('lightvitNative', true);
  });

  it('Tile and broadcastTo: ranks 1–5, inner and outer reps, width-1 rows, int32, with gradients', async (ctx) => {
    if (!native()) ctx.skip();
    check(
      'Tile',
      await relErr(
        [[5]],
        withGrads((x) => tf.tile(x, [3])),
      ),
    );
    check(
      'Tile',
      await relErr(
        [[4, 1, 6]],
        withGrads((x) => tf.tile(x, [2, 3, 1])),
      ),
    );
    check(
      'Tile',
      await relErr(
        [[7, 1]],
        withGrads((x) => tf.tile(x, [1, 9])),
      ),
    );
    check(
      'Tile',
      await relErr(
        [[2, 3, 1, 2, 3]],
        withGrads((x) => tf.tile(x, [2, 1, 4, 3, 2])),
      ),
    );
    check('Tile', await relErr([[3, 4]], (x) => tf.tile(x.mul(40).toInt(), [2, 3]).toFloat()));
    check(
      'Tile',
      await relErr(
        [[6, 1, 5]],
        withGrads((x) => tf.broadcastTo(x, [6, 4, 5])),
      ),
    );
  });

  it('fused training BatchNorm vs the composite (cpu): NHWC and [B, T, C], all outputs and gradients', async (ctx) => {
    if (!native()) ctx.skip();
    expect(hasKernelOn('wasm', FUSED.batchNorm)).toBe(true);
    expect(hasKernelOn('cpu', FUSED.batchNorm)).toBe(false);
    for (const shape of [
      [4, 6, 6, 5],
      [3, 7, 16],
      [2, 1],
      [9, 33],
    ]) {
      const c = shape[shape.length - 1];
      const f = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, wm: tf.Tensor, wv: tf.Tensor) => {
        const r = batchNormTrain(x.mul(3).add(0.7), g.add(1), b, 1e-5);
        // the statistics outputs weighted too, so their gradients (zero in the models) are checked as well
        return r.y
          .mul(tf.tensor(rand(shape, 99), shape))
          .sum()
          .add(r.mean.mul(wm).sum())
          .add(r.variance.mul(wv).sum());
      };
      const outs = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
        const r = batchNormTrain(x.mul(3).add(0.7), g.add(1), b, 1e-5);
        return [r.y, r.mean, r.variance];
      };
      check('LvBatchNorm', await relErr([shape, [c], [c]], outs));
      check('LvBatchNorm', await relErr([shape, [c], [c], [c], [c]], (...xs) => tf.grads(f)(xs)));
    }
  });

  it('fused Linear against reshape + matMul (cpu): ranks 2–4, with and without bias, every gradient', async (ctx) => {
    if (!native()) ctx.skip();
    expect(hasKernelOn('wasm', FUSED.linear)).toBe(true);
    expect(hasKernelOn('cpu', FUSED.linear)).toBe(false);
    const cases: Array<[number[], number]> = [
      [[7, 5], 3],
      [[2, 9, 13], 17],
      [[2, 3, 4, 6], 1],
      [[1, 1], 8],
    ];
    for (const [shape, out] of cases) {
      const d = shape[shape.length - 1];
      const withBias = withGrads((x, w, b) => linear(x, w as tf.Tensor2D, b.mul(2)));
      check('LvLinear', await relErr([shape, [d, out], [out]], withBias));
      check(
        'LvLinear',
        await relErr(
          [shape, [d, out]],
          withGrads((x, w) => linear(x.mul(2), w as tf.Tensor2D, null)),
        ),
      );
    }
  });

  it('fused packed self-attention vs split + scaledDotProductAttention + merge (cpu), with gradients', async (ctx) => {
    if (!native()) ctx.skip();
    expect(hasKernelOn('wasm', FUSED.attention)).toBe(true);
    expect(hasKernelOn('cpu', FUSED.attention)).toBe(false);
    const composite = (qkv: tf.Tensor, scale: number) => {
      const [b, t, , h, d] = qkv.shape;
      const [q, k, v] = tf.split(qkv, 3, 2).map((u) => u.reshape([b, t, h, d]).transpose([0, 2, 1, 3]) as tf.Tensor4D);
      return mergeHeads(scaledDotProductAttention(q, k, v, makeCtx({ training: true }), { scale }));
    };
    for (const shape of [
      [2, 17, 3, 2, 32],
      [3, 5, 3, 3, 7],
      [1, 1, 3, 1, 4],
      [2, 65, 3, 4, 9],
    ]) {
      const scale = 1 / Math.sqrt(shape[4]);
      const f = (x: tf.Tensor) => {
        const qkv = x.mul(2);
        return hasKernel(FUSED.attention) ? packedSelfAttention(qkv, scale) : composite(qkv, scale);
      };
      check('LvAttention', await relErr([shape], withGrads(f)));
    }
  });

  it('max errors (reported)', () => {
    console.log(`native kernel max relative errors vs cpu: ${JSON.stringify(errors)}`);
    expect(true).toBe(true);
  });
});

describe('native thread pool', () => {
  const addon = path.resolve(__dirname, '..', 'native', 'build', 'Release', 'lightvit_native.node');
  it.skipIf(!fs.existsSync(addon))(
    'resizing the pool right after it starts, and back and forth under work, never deadlocks',
    () => {
      // A fresh process: the pool is created on load, and setThreads then stops workers that may not have run yet
      // (this deadlocked before the fix). Each resize is followed by a threaded GEMM.
      const script = `
      const a = require(${JSON.stringify(addon)});
      const m = 256, k = 64, n = 96, buf = new ArrayBuffer(4 * (m * k + k * n + m * n));
      for (let i = 0; i < 300; i++) {
        a.setThreads(1 + (i % 3));
        a.gemm(buf, 0, 4 * m * k, 4 * (m * k + k * n), -1, 1, m, n, k, false, false, 0, 0, 0, 0, 0);
      }
      a.setThreads(1);
      console.log('ok');`;
      const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
      expect(r.signal, 'child was killed: the pool deadlocked').toBeNull();
      expect(r.stdout.trim()).toBe('ok');
    },
  );
});
