/**
 * The wasm kernels of src/backend/kernels.ts against the pure-JS cpu backend: same random inputs, gradients by
 * tf.grads on each backend, max abs error relative to the reference's magnitude ≤ 1e-4.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { WASM_TRAINING_KERNELS, isOurWasmKernel, kernelTuning } from '../src/backend/kernels';

const TOL = 1e-4;
const measured: Record<string, number> = {};

beforeAll(async () => {
  process.env.LIGHTVIT_NATIVE = '0'; // test these kernels, not native ones registered over them
  await initBackend('wasm');
});

afterAll(() => {
  const rows = Object.entries(measured).map(([k, v]) => `  ${k.padEnd(52)} ${v.toExponential(2)}`);
  console.log(`max relative error, wasm vs cpu:\n${rows.join('\n')}`);
});

/** Deterministic values in [-1, 1) (mulberry32). */
function rand(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let a = seed >>> 0;
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1;
  }
  return out;
}

type Compute = () => tf.Tensor[];

/** Run `f` on a backend and copy its outputs out (nothing crosses backends). */
async function on(backend: 'cpu' | 'wasm', f: Compute): Promise<{ shape: number[]; values: Float32Array }[]> {
  await tf.setBackend(backend);
  const before = tf.memory().numTensors;
  const ts = tf.tidy(f);
  const out = ts.map((t) => ({ shape: t.shape, values: Float32Array.from(t.dataSync()) }));
  tf.dispose(ts);
  expect(tf.memory().numTensors).toBe(before);
  return out;
}

function relErr(got: Float32Array, want: Float32Array): number {
  let scale = 1;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  let err = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    err = Math.max(err, Number.isNaN(d) ? Infinity : d);
  }
  return err / scale;
}

/** Compare every output of `f` between wasm and cpu; record the worst error under `label`. */
async function agree(label: string, f: Compute): Promise<number> {
  const want = await on('cpu', f);
  const got = await on('wasm', f);
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    expect(got[i].shape).toEqual(want[i].shape);
    worst = Math.max(worst, relErr(got[i].values, want[i].values));
  }
  measured[label] = Math.max(measured[label] ?? 0, worst);
  expect(worst).toBeLessThanOrEqual(TOL);
  return worst;
}

const t4 = (shape: number[], seed: number) =>
  tf.tensor(
    rand(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    shape,
  );

/** Gradients of Σ r ⊙ f(x, w) (r random, so every output position carries a distinct weight). */
function gradsOf(
  f: (x: tf.Tensor, w: tf.Tensor) => tf.Tensor,
  xShape: number[],
  wShape: number[],
  seed: number,
): Compute {
  return () => {
    const x = t4(xShape, seed);
    const w = t4(wShape, seed + 1);
    const y0 = f(x, w);
    const r = t4(y0.shape, seed + 2);
    const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => f(a, b).mul(r).sum())([x, w]);
    return [y0, dx, dw];
  };
}

describe('registration', () => {
  it('registers each missing kernel for wasm, and a second registration is a no-op', async () => {
    for (const name of WASM_TRAINING_KERNELS) expect(isOurWasmKernel(name)).toBe(true);
    const { registerWasmKernels } = await import('../src/backend/kernels');
    expect(registerWasmKernels()).toEqual([]);
    expect(registerWasmKernels({ override: true })).toEqual([...WASM_TRAINING_KERNELS]);
    for (const name of WASM_TRAINING_KERNELS) expect(isOurWasmKernel(name)).toBe(true);
  });
});

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

describe('Conv2DBackpropFilter (conv2d gradients)', () => {
  const cases: Array<{ x: number[]; w: number[]; s: number | [number, number]; pad: Pad }> = [
    { x: [2, 7, 7, 3], w: [3, 3, 3, 4], s: 1, pad: 'same' },
    { x: [2, 8, 8, 3], w: [3, 3, 3, 5], s: 2, pad: 'same' },
    { x: [2, 9, 9, 2], w: [3, 3, 2, 3], s: 2, pad: 'same' },
    { x: [1, 9, 7, 2], w: [3, 2, 2, 3], s: 2, pad: 'valid' },
    { x: [2, 7, 7, 3], w: [3, 3, 3, 4], s: 1, pad: 'valid' },
    { x: [2, 8, 8, 3], w: [4, 4, 3, 8], s: 4, pad: 'valid' },
    { x: [1, 6, 7, 2], w: [1, 1, 2, 6], s: 1, pad: 'same' },
    {
      x: [2, 7, 6, 3],
      w: [3, 3, 3, 2],
      s: [2, 1],
      pad: [
        [0, 0],
        [1, 2],
        [0, 1],
        [0, 0],
      ],
    },
    { x: [1, 5, 8, 3], w: [2, 3, 3, 4], s: [1, 2], pad: 'same' },
  ];
  for (const [i, c] of cases.entries()) {
    const padName = typeof c.pad === 'string' ? c.pad : 'explicit';
    it(`x ${c.x.join('×')} w ${c.w.join('×')} stride ${c.s} ${padName}`, async () => {
      await agree(
        'Conv2DBackpropFilter (conv2d)',
        gradsOf((x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.s, c.pad), c.x, c.w, 10 * i),
      );
    });
  }

  it('conv2dTranspose, conv1d, separableConv2d and fused.conv2d gradients', async () => {
    await agree(
      'Conv2DBackpropFilter (conv2dTranspose)',
      gradsOf(
        (x, w) => tf.conv2dTranspose(x as tf.Tensor4D, w as tf.Tensor4D, [2, 9, 9, 3], 2, 'same'),
        [2, 5, 5, 4],
        [3, 3, 3, 4],
        100,
      ),
    );
    await agree(
      'Conv2DBackpropFilter (conv1d)',
      gradsOf((x, w) => tf.conv1d(x as tf.Tensor3D, w as tf.Tensor3D, 2, 'same'), [2, 11, 3], [3, 3, 4], 110),
    );
    await agree('Conv2DBackpropFilter (separableConv2d)', () => {
      const x = t4([2, 6, 6, 3], 120);
      const dw = t4([3, 3, 3, 2], 121);
      const pw = t4([1, 1, 6, 4], 122);
      const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
        tf.separableConv2d(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, 1, 'same');
      const r = t4(f(x, dw, pw).shape, 123);
      return tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => f(a, b, c).mul(r).sum())([x, dw, pw]);
    });
    await agree('Conv2DBackpropFilter (fused.conv2d)', () => {
      const x = t4([2, 6, 6, 3], 130);
      const w = t4([3, 3, 3, 4], 131);
      const bias = t4([4], 132);
      const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
        tf.fused.conv2d({
          x: a as tf.Tensor4D,
          filter: b as tf.Tensor4D,
          strides: 2,
          pad: 'same',
          bias: c,
          activation: 'relu',
        });
      return tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => f(a, b, c).sum())([x, w, bias]);
    });
  });

  it('im2col in chunks that start mid-row and mid-image gives the same filter gradient', async () => {
    const saved = kernelTuning.im2colChunkFloats;
    kernelTuning.im2colChunkFloats = 27 * 7; // K = 27: 7 output positions per chunk, OW = 4
    try {
      await agree(
        'Conv2DBackpropFilter (chunked im2col)',
        gradsOf((x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 'same'), [3, 7, 8, 3], [3, 3, 3, 4], 140),
      );
    } finally {
      kernelTuning.im2colChunkFloats = saved;
    }
  });

  it('rejects NCHW with a message naming the data format', () => {
    const x = tf.zeros([1, 3, 4, 4]);
    const dy = tf.zeros([1, 2, 4, 4]);
    expect(() =>
      tf
        .engine()
        .runKernel(
          'Conv2DBackpropFilter',
          { x, dy },
          { strides: 1, pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 3, 2] },
        ),
    ).toThrow(/NHWC.*'NCHW'/);
    tf.dispose([x, dy]);
  });
});

for (const viaForward of [true, false]) {
  describe(
    `DepthwiseConv2dNativeBackpropInput/Filter (depthwiseConv2d gradients), input grad ` +
      `${viaForward ? 'via the wasm forward kernel' : 'in JS'}`,
    () => {
      const saved = kernelTuning.depthwiseInputViaForward;
      beforeAll(() => {
        kernelTuning.depthwiseInputViaForward = viaForward;
      });
      afterAll(() => {
        kernelTuning.depthwiseInputViaForward = saved;
      });

      const cases: Array<{ x: number[]; w: number[]; s: number | [number, number]; pad: Pad }> = [
        { x: [2, 7, 7, 4], w: [3, 3, 4, 1], s: 1, pad: 'same' },
        { x: [2, 8, 8, 3], w: [3, 3, 3, 1], s: 2, pad: 'same' },
        { x: [2, 9, 9, 3], w: [3, 3, 3, 1], s: 2, pad: 'same' },
        { x: [1, 9, 7, 3], w: [5, 5, 3, 2], s: 2, pad: 'valid' },
        { x: [2, 7, 7, 2], w: [7, 7, 2, 1], s: 1, pad: 'same' },
        { x: [1, 8, 6, 4], w: [3, 3, 4, 3], s: [1, 2], pad: 'same' },
        {
          x: [2, 7, 6, 3],
          w: [3, 3, 3, 1],
          s: 2,
          pad: [
            [0, 0],
            [1, 1],
            [2, 0],
            [0, 0],
          ],
        },
        { x: [2, 8, 8, 3], w: [3, 3, 3, 1], s: 2, pad: 'valid' },
        {
          x: [1, 6, 5, 2],
          w: [3, 3, 2, 1],
          s: 1,
          pad: [
            [0, 0],
            [3, 0],
            [0, 4],
            [0, 0],
          ],
        }, // pads > kernel: JS fallback
      ];
      for (const [i, c] of cases.entries()) {
        const padName = typeof c.pad === 'string' ? c.pad : 'explicit';
        it(`x ${c.x.join('×')} w ${c.w.join('×')} stride ${c.s} ${padName}`, async () => {
          await agree(
            `DepthwiseConv2dNativeBackpropInput/Filter${viaForward ? '' : ' (JS input grad)'}`,
            gradsOf(
              (x, w) => tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.s, c.pad),
              c.x,
              c.w,
              200 + 10 * i,
            ),
          );
        });
      }

      it('fused.depthwiseConv2d gradients', async () => {
        await agree(`DepthwiseConv2dNativeBackpropInput/Filter${viaForward ? '' : ' (JS input grad)'}`, () => {
          const x = t4([2, 7, 7, 3], 300);
          const w = t4([3, 3, 3, 1], 301);
          const bias = t4([3], 302);
          const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
            tf.fused.depthwiseConv2d({
              x: a as tf.Tensor4D,
              filter: b as tf.Tensor4D,
              strides: 2,
              pad: 'same',
              bias: c,
              activation: 'relu',
            });
          return tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => f(a, b, c).sum())([x, w, bias]);
        });
      });

      // tfjs refuses gradients with dilation > 1 on every backend, and the cpu backprop kernels ignore dilation, so the
      // reference is the equivalent undilated conv: a dilated k×k filter is a ((k−1)d+1)² filter with zeros between
      // taps.
      for (const c of [
        { x: [2, 9, 9, 3], k: 3, m: 1, d: 2, s: 1, pad: 'same' as const },
        { x: [1, 11, 10, 2], k: 3, m: 2, d: 3, s: 1, pad: 'valid' as const },
        { x: [2, 9, 9, 3], k: 2, m: 1, d: 2, s: 1, pad: 'same' as const },
      ]) {
        it(`dilation ${c.d}, k ${c.k}, multiplier ${c.m}, ${c.pad} (kernels run directly)`, async () => {
          const C = c.x[3];
          const ke = (c.k - 1) * c.d + 1;
          const xs = rand(
            c.x.reduce((a, b) => a * b, 1),
            400 + c.d,
          );
          const ws = rand(c.k * c.k * C * c.m, 401 + c.d);
          const wide = new Float32Array(ke * ke * C * c.m);
          for (let i = 0; i < c.k; i++)
            for (let j = 0; j < c.k; j++)
              for (let q = 0; q < C * c.m; q++)
                wide[(i * c.d * ke + j * c.d) * C * c.m + q] = ws[(i * c.k + j) * C * c.m + q];
          const want = await on('cpu', () => {
            const x = tf.tensor4d(xs, c.x as [number, number, number, number]);
            const w = tf.tensor4d(wide, [ke, ke, C, c.m]);
            const y = tf.depthwiseConv2d(x, w, c.s, c.pad);
            const r = t4(y.shape, 402);
            const [dx, dwWide] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
              tf
                .depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.s, c.pad)
                .mul(r)
                .sum(),
            )([x, w]);
            const taps = dwWide.reshape([ke, ke, C * c.m]).stridedSlice([0, 0, 0], [ke, ke, C * c.m], [c.d, c.d, 1]);
            return [y, dx, taps.reshape([c.k, c.k, C, c.m])];
          });
          const got = await on('wasm', () => {
            const x = tf.tensor4d(xs, c.x as [number, number, number, number]);
            const w = tf.tensor4d(ws, [c.k, c.k, C, c.m]);
            const y = tf.depthwiseConv2d(x, w, c.s, c.pad, 'NHWC', c.d);
            const r = t4(y.shape, 402);
            const attrs = { strides: c.s, dilations: c.d, pad: c.pad };
            const dx = tf
              .engine()
              .runKernel('DepthwiseConv2dNativeBackpropInput', { dy: r, filter: w }, { ...attrs, inputShape: c.x });
            const dw = tf
              .engine()
              .runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy: r }, { ...attrs, filterShape: w.shape });
            return [y, dx as tf.Tensor, dw as tf.Tensor];
          });
          let worst = 0;
          for (let i = 0; i < 3; i++) {
            expect(got[i].shape).toEqual(want[i].shape);
            worst = Math.max(worst, relErr(got[i].values, want[i].values));
          }
          const label = `DepthwiseConv2dNativeBackpropInput/Filter (dilated${viaForward ? '' : ', JS input grad'})`;
          measured[label] = Math.max(measured[label] ?? 0, worst);
          expect(worst).toBeLessThanOrEqual(TOL);
        });
      }
    },
  );
}

describe('UnsortedSegmentSum (gather gradients)', () => {
  it('gather axis 0 with repeated indices', async () => {
    await agree('UnsortedSegmentSum (gather grad)', () => {
      const x = t4([6, 5], 500);
      const idx = tf.tensor1d([0, 2, 2, 5, 0, 0, 3], 'int32');
      const r = t4([7, 5], 501);
      return [tf.grad((a: tf.Tensor) => tf.gather(a, idx).mul(r).sum())(x)];
    });
  });
  it('gather axis 1 with 2-D indices, and batchDims 1', async () => {
    await agree('UnsortedSegmentSum (gather grad)', () => {
      const x = t4([3, 4, 2], 510);
      const idx = tf.tensor2d(
        [
          [0, 3],
          [1, 1],
          [3, 3],
        ],
        [3, 2],
        'int32',
      );
      const r1 = t4([3, 3, 2, 2], 511);
      const r2 = t4([3, 2, 2], 512);
      return [
        tf.grad((a: tf.Tensor) => tf.gather(a, idx, 1).mul(r1).sum())(x),
        tf.grad((a: tf.Tensor) => tf.gather(a, idx, 1, 1).mul(r2).sum())(x),
      ];
    });
  });
  it('direct: float32 and int32, out-of-range ids dropped', async () => {
    await agree('UnsortedSegmentSum (direct)', () => [
      tf.unsortedSegmentSum(t4([5, 3, 2], 520), tf.tensor1d([1, 0, 1, 3, 1], 'int32'), 4),
      tf.unsortedSegmentSum(tf.tensor1d([1, 2, 3, 4], 'int32'), tf.tensor1d([0, 1, 0, 1], 'int32'), 2).toFloat(),
    ]);
    await tf.setBackend('wasm');
    const y = tf.unsortedSegmentSum(tf.tensor1d([1, 2, 3, 4]), tf.tensor1d([0, -1, 5, 1], 'int32'), 2);
    expect(Array.from(y.dataSync())).toEqual([1, 4]);
    const yi = tf.unsortedSegmentSum(tf.tensor1d([1, 2, 3, 4], 'int32'), tf.tensor1d([1, 1, 0, 1], 'int32'), 2);
    expect(yi.dtype).toBe('int32');
    expect(Array.from(yi.dataSync())).toEqual([3, 7]);
    tf.dispose([y, yi]);
  });
  it(
    'direct: rank-2 ids over the leading dims of x (TensorFlow ' + 'semantics; the cpu kernel mis-broadcasts these)',
    async () => {
      await tf.setBackend('wasm');
      // x[i, j, :] = [10(3i + j), 10(3i + j) + 1]; ids [[0, 2, 2], [1, 0, 2]]
      const x = tf.tensor3d(
        Array.from({ length: 12 }, (_, k) => 10 * (k >> 1) + (k & 1)),
        [2, 3, 2],
      );
      const y = tf.unsortedSegmentSum(
        x,
        tf.tensor2d(
          [
            [0, 2, 2],
            [1, 0, 2],
          ],
          [2, 3],
          'int32',
        ) as unknown as tf.Tensor1D,
        3,
      );
      expect(y.shape).toEqual([3, 2]);
      expect(Array.from(y.dataSync())).toEqual([0 + 40, 1 + 41, 30, 31, 10 + 20 + 50, 11 + 21 + 51]);
      tf.dispose([x, y]);
    },
  );
});

describe('MaxPoolGrad (replaces the wasm built-in, which misroutes gradients for some shapes)', () => {
  const cases = [
    { x: [2, 8, 8, 16], k: 2, s: 2, pad: 'valid' as const },
    { x: [1, 8, 8, 3], k: 2, s: 2, pad: 'valid' as const },
    { x: [2, 9, 7, 5], k: 3, s: 2, pad: 'same' as const },
    { x: [1, 12, 12, 4], k: 4, s: 4, pad: 'valid' as const },
    { x: [2, 7, 7, 6], k: 3, s: 1, pad: 'same' as const },
  ];
  for (const c of cases) {
    it(`x ${c.x.join('×')} pool ${c.k} stride ${c.s} ${c.pad}`, async () => {
      await agree('MaxPoolGrad', () => {
        const x = t4(c.x, 5);
        const y0 = tf.maxPool(x as tf.Tensor4D, c.k, c.s, c.pad);
        const r = t4(y0.shape, 6);
        return [
          y0,
          tf.grad((a: tf.Tensor) =>
            tf
              .maxPool(a as tf.Tensor4D, c.k, c.s, c.pad)
              .mul(r)
              .sum(),
          )(x),
        ];
      });
    });
  }
});

describe('Einsum (forward)', () => {
  it(
    'matmul, batched transposed matmul, attention scores, ' + 'outer product, trace, diagonal, implicit output',
    async () => {
      await agree('Einsum', () => [
        tf.einsum('ij,jk->ik', t4([3, 4], 600), t4([4, 5], 601)),
        tf.einsum('bij,bkj->bik', t4([2, 3, 4], 602), t4([2, 5, 4], 603)),
        tf.einsum('bhqd,bhkd->bhqk', t4([2, 3, 4, 5], 604), t4([2, 3, 6, 5], 605)),
        tf.einsum('i,j->ij', t4([3], 606), t4([4], 607)),
        tf.einsum('ij->', t4([3, 4], 608)).reshape([1]),
        tf.einsum('bnd,de->bne', t4([2, 3, 4], 611), t4([4, 5], 612)),
      ]);
      await tf.setBackend('wasm');
      const d = tf.einsum(
        'ii->i',
        tf.tensor2d([
          [1, 2],
          [3, 4],
        ]),
      );
      expect(Array.from(d.dataSync())).toEqual([1, 4]);
      const tr = tf.einsum(
        'ii->',
        tf.tensor2d([
          [1, 2],
          [3, 4],
        ]),
      );
      expect(tr.dataSync()[0]).toBe(5);
      // implicit output: the letters used once, sorted ('ij,jk' -> 'ik'; 'ba' -> 'ab', a transpose)
      const a = tf.tensor2d([
        [1, 2, 3],
        [4, 5, 6],
      ]);
      const b = tf.tensor2d([
        [1, 0],
        [0, 1],
        [1, 1],
      ]);
      const im = tf.einsum('ij,jk', a, b);
      expect(Array.from(im.dataSync())).toEqual([4, 5, 10, 11]);
      const tp = tf.einsum('ba', a);
      expect(tp.shape).toEqual([3, 2]);
      expect(Array.from(tp.dataSync())).toEqual([1, 4, 2, 5, 3, 6]);
      expect(() => tf.einsum('ij,jk->ik', a, a)).toThrow(/index 'j' has size 3 and 2/);
      tf.dispose([d, tr, a, b, im, tp]);
    },
  );
});

describe('a small conv + embedding network trains the same on wasm and cpu', () => {
  it('gradients agree and no tensor leaks across steps', async () => {
    const step = () => {
      const x = t4([2, 8, 8, 3], 700);
      const w1 = t4([3, 3, 3, 8], 701).mul(0.3);
      const w2 = t4([3, 3, 8, 1], 702).mul(0.3);
      const emb = t4([10, 8], 703);
      const ids = tf.tensor1d([1, 7], 'int32');
      const loss = (a: tf.Tensor, b: tf.Tensor, e: tf.Tensor) => {
        const h = tf.relu(tf.conv2d(x as tf.Tensor4D, a as tf.Tensor4D, 2, 'same'));
        const g = tf.depthwiseConv2d(h as tf.Tensor4D, b as tf.Tensor4D, 1, 'same').mean([1, 2]);
        return g.mul(tf.gather(e, ids)).sum();
      };
      return tf.grads(loss)([w1, w2, emb]);
    };
    await agree('end-to-end (conv2d + depthwise + gather)', step);
    await tf.setBackend('wasm');
    const n0 = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) tf.dispose(tf.tidy(step));
    expect(tf.memory().numTensors).toBe(n0);
  });
});
