import { describe, it, expect } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { Module, makeCtx } from '../src/nn/module';
import { WindowAttention } from '../src/nn/window-attention';
import { GroupedQueryAttention } from '../src/nn/gqa';
import { MoeLayer, type MoeDispatch } from '../src/nn/moe';
import { Router, ExpertMlps, topKGating, runExperts, superClassRouterLoss, type Dispatch } from '../src/nn/image-moe';
import { DWSpatialBlock, type DwnetConfig } from '../src/models/dwnet';
import { EitBlock, EitPatchProjection, type EitConfig } from '../src/models/eit';
import { resolveConfig } from '../src/models/registry';
import '../src/models';

/**
 * Golden tests against PyTorch: each fixture in test/fixtures/ was written by test/fixtures/torch/make_fixtures.py
 * (the block written from the official definitions in PyTorch, float64). The kit's layer gets the same weights and
 * input; its output, the scalar loss sum(out·R) (+ the block's auxiliary loss) and the gradients with respect to the
 * input and every weight must match to 1e-4, relative to each tensor's largest magnitude.
 */
interface Enc {
  shape: number[];
  data: number[];
}
interface Fixture {
  name: string;
  inputs: Record<string, Enc>;
  params: Record<string, Enc>;
  R: Enc;
  output: Enc;
  loss: number;
  grads: Record<string, Enc>;
  config: Record<string, number | string>;
  superClass?: number[];
  aux?: number;
}

const FIX = path.join(__dirname, 'fixtures');
const load = (name: string): Fixture => JSON.parse(fs.readFileSync(path.join(FIX, `${name}.json`), 'utf8')) as Fixture;
const tensor = (e: Enc) => tf.tensor(e.data, e.shape, 'float32');
const TOL = 1e-4;

/** max |a − b| / max(|b|, 1e-6): 0 when equal. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let mag = 1e-6;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    mag = Math.max(mag, Math.abs(b[i]));
  }
  return diff / mag;
}

/** Copy the fixture's weights into `m` (paths under `prefix`); every parameter of the module must be in it. */
function assign(m: Module, fx: Fixture, prefix = ''): void {
  for (const [p, param] of m.namedParams()) {
    const e = fx.params[prefix + p];
    if (!e) {
      const have = Object.keys(fx.params).join(', ');
      throw new Error(`${fx.name}: no weight '${prefix + p}' in the fixture; it has ${have}`);
    }
    expect([prefix + p, e.shape]).toEqual([prefix + p, [...param.shape]]);
    tf.tidy(() => param.value.assign(tensor(e)));
  }
}

/**
 * Evaluate `f(x)` (returns the output and an optional extra loss) under tf.variableGrads, with x and the modules'
 * trainable parameters (keyed by fixture path) as variables, and compare everything with the fixture.
 */
type BlockFn = (x: tf.Tensor) => { out: tf.Tensor; extra?: tf.Scalar };
function check(fx: Fixture, mods: Array<[Module, string]>, f: BlockFn): void {
  const x = tf.variable(tensor(fx.inputs.x), true, `${fx.name}-x-${Math.random()}`);
  const named: Array<[string, tf.Variable]> = [['x', x]];
  for (const [m, prefix] of mods) {
    for (const [p, param] of m.namedParams()) if (param.trainable) named.push([prefix + p, param.value]);
  }
  let out!: Float32Array;
  const { value, grads } = tf.variableGrads(
    () => {
      const r = f(x);
      out = r.out.dataSync() as Float32Array;
      const l = r.out.mul(tensor(fx.R)).sum() as tf.Scalar;
      return r.extra ? (l.add(r.extra) as tf.Scalar) : l;
    },
    named.map(([, v]) => v),
  );
  expect(relErr(out, fx.output.data), `${fx.name} output`).toBeLessThan(TOL);
  expect(Math.abs(value.dataSync()[0] - fx.loss) / Math.max(1, Math.abs(fx.loss)), `${fx.name} loss`).toBeLessThan(TOL);
  for (const [p, v] of named) {
    const want = fx.grads[p];
    expect(want, `${fx.name}: no gradient '${p}' in the fixture`).toBeDefined();
    const g = grads[v.name];
    const zero = want.data.every((u) => u === 0);
    if (!g) {
      expect(zero, `${fx.name}: the kit gives no gradient for ${p}, PyTorch a non-zero one`).toBe(true);
      continue;
    }
    expect(relErr(g.dataSync(), want.data), `${fx.name} grad ${p}`).toBeLessThan(TOL);
  }
  tf.dispose([value, ...Object.values(grads)]);
  x.dispose();
}

const BACKENDS = ['cpu', 'wasm'] as const;

describe.each(BACKENDS)('golden PyTorch fixtures on %s', (backend) => {
  it('Swin shifted-window attention with relative position bias and mask', async () => {
    await initBackend(backend);
    const fx = load('window-attention');
    const c = fx.config as { dim: number; heads: number; window: number; shift: number };
    const m = new WindowAttention(c.dim, c.heads, c.window).build(0);
    assign(m, fx);
    check(fx, [[m, '']], (x) => ({ out: m.forward(x as tf.Tensor4D, makeCtx({ training: false }), c.shift) }));
    m.dispose();
  });

  it.each(['dw', 'ddw', 'iddw'])('DWNet SpatialBlock with the %s conv (eval mode)', async (kind) => {
    await initBackend(backend);
    const fx = load(`dwnet-block-${kind}`);
    const k = fx.config as { dim: number; kernel: number; reduction: number; groupChannels: number; mlpRatio: number };
    const cfg = resolveConfig<DwnetConfig>('dwnet-test', {
      block: kind,
      embedDim: k.dim,
      kernelSize: k.kernel,
      dynamicReduction: k.reduction,
      groupChannels: [k.groupChannels, 4],
      mlpRatio: k.mlpRatio,
      dropout: 0,
      se: false,
    });
    const m = new DWSpatialBlock(cfg, k.dim, 0, 0).build(0);
    assign(m, fx);
    check(fx, [[m, '']], (x) => ({ out: m.forward(x as tf.Tensor4D, makeCtx({ training: false })) }));
    m.dispose();
  });

  it('EIT: conv + max-pool projection, class token, block with the channel split', async () => {
    await initBackend(backend);
    const fx = load('eit-block');
    const k = fx.config as Record<string, number>;
    const cfg = resolveConfig<EitConfig>('eit-test', {
      imageSize: k.imageSize,
      embedDim: k.embedDim,
      kernelSize: k.kernelSize,
      strideSize: k.strideSize,
      poolSize: k.poolSize,
      numHeads: k.numHeads,
      mlpRatio: k.mlpRatio,
      layerNormEps: k.layerNormEps,
      eitP: true,
      qkvBias: true,
      dropout: 0,
      attnDropout: 0,
      dropPath: 0,
    });
    const proj = new EitPatchProjection(cfg).build(0);
    const block = new EitBlock(cfg, { conv: k.convChannels, attn: k.attnChannels }, 0).build(0);
    assign(proj, fx, 'patch.');
    assign(block, fx, 'block.');
    const cls = tf.variable(tensor(fx.params.cls_token));
    const holder = new (class extends Module {
      constructor() {
        super();
        this.param('cls_token', [1, 1, k.embedDim], () => new Float32Array(k.embedDim));
      }
    })().build(0);
    tf.tidy(() => holder.namedParams()[0][1].value.assign(cls));
    check(
      fx,
      [
        [proj, 'patch.'],
        [block, 'block.'],
        [holder, ''],
      ],
      (x) => {
        const ctx = makeCtx({ training: false });
        const tok = proj.forward(x as tf.Tensor4D, ctx);
        const c = holder.namedParams()[0][1].value;
        const t = tf.concat([tf.tile(c, [tok.shape[0], 1, 1]), tok], 1) as tf.Tensor3D;
        return { out: block.forward(t, ctx) };
      },
    );
    [proj, block, holder].forEach((m) => m.dispose());
    cls.dispose();
  });

  it.each(['slots', 'fused', 'dense', 'sparse'] as MoeDispatch[])(
    "mLiT MoE (shared V/W2, top-2 router without noise, balance loss), dispatch '%s'",
    async (dispatch) => {
      await initBackend(backend);
      const fx = load('mlit-moe');
      const k = fx.config as Record<string, number>;
      const m = new MoeLayer(k.dim, {
        numExperts: k.numExperts,
        topK: k.topK,
        hidden: k.hidden,
        noise: false,
        balanceCoef: k.balanceCoef,
        dropout: 0,
        dispatch,
      }).build(0);
      assign(m, fx);
      check(fx, [[m, '']], (x) => {
        const r = m.forward(x as tf.Tensor3D, makeCtx({ training: true, seed: 1 }));
        expect(r.aux).not.toBeNull();
        expect(Math.abs(r.aux!.dataSync()[0] - fx.aux!)).toBeLessThan(TOL * Math.max(1, fx.aux!));
        return { out: r.y, extra: r.aux! };
      });
      m.dispose();
    },
  );

  it('grouped-query attention', async () => {
    await initBackend(backend);
    const fx = load('gqa');
    const k = fx.config as Record<string, number>;
    const m = new GroupedQueryAttention(k.dim, k.heads, k.groups, { bias: false }).build(0);
    assign(m, fx);
    check(fx, [[m, '']], (x) => ({ out: m.forward(x as tf.Tensor3D, makeCtx({ training: false })) }));
    m.dispose();
  });

  const VMOE = "Mobile V-MoE per-image router + experts + super-class loss, dispatch '%s'";
  it.each(['gather', 'dense'] as Dispatch[])(VMOE, async (dispatch) => {
    await initBackend(backend);
    const fx = load('vmoe-image-router');
    const k = fx.config as Record<string, number>;
    const router = new Router(k.dim, k.numExperts).build(0);
    const experts = new ExpertMlps(k.numExperts, k.dim, k.hidden, { activation: 'gelu' }).build(0);
    assign(router, fx, 'router.');
    assign(experts, fx);
    check(
      fx,
      [
        [router, 'router.'],
        [experts, ''],
      ],
      (x) => {
        const ctx = makeCtx({ training: true, seed: 1 });
        const [b, t, d] = x.shape;
        const logits = router.logits(x.slice([0, 0, 0], [b, 1, d]).reshape([b, d]) as tf.Tensor2D, ctx);
        const r = topKGating(logits, k.topK, 'topk', ctx);
        const out = runExperts(x, r, experts.experts, ctx, dispatch).reshape([b, t, d]);
        const sc = tf.tensor1d(fx.superClass!, 'int32');
        return { out, extra: superClassRouterLoss(logits, sc).mul(k.lambda) as tf.Scalar };
      },
    );
    router.dispose();
    experts.dispose();
  });
});
