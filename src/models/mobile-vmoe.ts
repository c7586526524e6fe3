import * as tf from '@tensorflow/tfjs';
import { type Ctx, Module, addAux, makeCtx } from '../nn/module';
import { Linear, LayerNorm, dropPath } from '../nn/layers';
import { MultiHeadAttention } from '../nn/attention';
import {
  type Dispatch,
  ExpertMlps,
  type GateNormalise,
  Router,
  type Routing,
  TokenMoeMlp,
  balanceLoss,
  superClassRouterLoss,
  topKGating,
} from '../nn/image-moe';
import { check, type OneOf } from './config';
import { ConfigError } from '../util/errors';
import { type ModelFamily, registerModel } from './registry';
import { VitBlock, type VitConfig, VitTokenClassifier, vitFamily, vitWeightInit, vitBiasInit } from './vit';

/**
 * Mobile V-MoE (Daxberger et al., arXiv 2309.04354): a ViT whose last L blocks are MoE-ViT blocks (one MLP per
 * expert, attention and norms shared; Fig. 2d) with ONE router per image placed after the last dense block
 * (Fig. 2c). The router picks the top-k experts for the whole image and every MoE block uses that choice, so only
 * k experts per MoE block need loading for an image. The router is trained with a cross-entropy towards the
 * image's super-class (weight λ = 0.3, Sec. 2.2) instead of load-balancing losses; the baselines of the routing
 * ablation (Fig. 3e) are the same per-image router trained end-to-end with balancing losses, and a regular
 * per-token V-MoE (Fig. 2b).
 */
export interface MobileVmoeConfig extends VitConfig {
  /** E: experts per MoE block. */
  numExperts: number;
  /** L: the last L blocks are MoE blocks. */
  moeLayers: number;
  /** k: experts active per image (per token for routing='token'). */
  topK: number;
  /** 'superclass-image' (Mobile V-MoE) | 'e2e-image' (per-image, balancing losses) | 'token' (V-MoE). */
  routing: OneOf<typeof ROUTINGS>;
  /**
   * Router input for per-image routing: the class token after the last dense block, or the mean of its patch tokens.
   */
  routerInput: OneOf<typeof ROUTER_INPUTS>;
  /** 'topk': gates renormalised over the top-k (docs/mobile-vmoe.md §3 default); 'none': raw softmax probabilities. */
  gateNormalise: OneOf<typeof GATE_NORMALISE>;
  /** λ of L = L_C + λ·L_g (Sec. 2.2). */
  routerLossWeight: number;
  /** Weight of the importance + load losses of the end-to-end routers. */
  balanceWeight: number;
  /** Std of Gaussian noise on router logits in training (V-MoE's noisy top-k); 0 = none (docs/mobile-vmoe.md §2). */
  routerNoise: number;
  /** 'gather': group images by expert and run each expert on its slice; 'dense': all experts, masked (reference). */
  dispatch: OneOf<typeof IMAGE_DISPATCH>;
  /** Fine class → super-class map (length numClasses); [] = use the dataset's coarse labels (ctx.targets.coarse). */
  superClassOf: number[];
}

const ROUTINGS = ['superclass-image', 'e2e-image', 'token'] as const;
const ROUTER_INPUTS = ['cls', 'mean'] as const;
const GATE_NORMALISE = ['topk', 'none'] as const;
const IMAGE_DISPATCH = ['gather', 'dense'] as const;

/** A MoE-ViT block (Fig. 2d): shared LN, MHSA, LN; E expert MLPs in place of the MLP. */
export class MoeVitBlock extends Module {
  readonly norm1: LayerNorm;
  readonly attn: MultiHeadAttention;
  readonly norm2: LayerNorm;
  /** Per-image routing: the experts; the router lives in the model. */
  readonly experts: ExpertMlps | null;
  /** Per-token routing: router + experts of this block. */
  readonly tokenMoe: TokenMoeMlp | null;
  constructor(
    readonly c: MobileVmoeConfig,
    readonly dropPathRate: number,
  ) {
    super();
    const wi = vitWeightInit(c.weightInit);
    const hidden = Math.round(c.mlpRatio * c.embedDim);
    const mlp = { bias: c.bias, activation: c.activation, dropout: c.dropout, weightInit: wi };
    this.norm1 = this.child('norm1', new LayerNorm(c.embedDim, c.layerNormEps));
    this.attn = this.child(
      'attn',
      new MultiHeadAttention(c.embedDim, c.numHeads, {
        qkvBias: c.bias,
        projBias: c.bias,
        attnDropout: c.attnDropout,
        projDropout: c.dropout,
        weightInit: wi,
      }),
    );
    this.norm2 = this.child('norm2', new LayerNorm(c.embedDim, c.layerNormEps));
    if (c.routing === 'token') {
      this.experts = null;
      this.tokenMoe = this.child(
        'moe',
        new TokenMoeMlp(c.embedDim, hidden, {
          numExperts: c.numExperts,
          topK: c.topK,
          gateNormalise: c.gateNormalise as GateNormalise,
          balanceWeight: c.balanceWeight,
          noise: c.routerNoise,
          mlp,
        }),
      );
    } else {
      this.tokenMoe = null;
      this.experts = this.child('moe', new ExpertMlps(c.numExperts, c.embedDim, hidden, mlp));
    }
  }
  /** `route`: the per-image routing decision (ignored by per-token blocks). */
  forward(x: tf.Tensor3D, ctx: Ctx, route: Routing | null, recordKey?: string): tf.Tensor3D {
    x = x.add(
      dropPath(
        this.attn.forward(this.norm1.forward(x) as tf.Tensor3D, ctx, recordKey && `attn.${recordKey}`),
        this.dropPathRate,
        ctx,
      ),
    );
    const h = this.norm2.forward(x) as tf.Tensor3D;
    const y = this.tokenMoe
      ? this.tokenMoe.forward(h, ctx, this.c.dispatch as Dispatch, recordKey && `moe.token.${recordKey}`)
      : this.experts!.forward(h, route!, ctx, this.c.dispatch as Dispatch);
    return x.add(dropPath(y, this.dropPathRate, ctx));
  }
}

export class MobileVmoe extends VitTokenClassifier<MobileVmoeConfig> {
  readonly blocks: VitBlock[];
  readonly router: Router | null;
  readonly moeBlocks: MoeVitBlock[];
  readonly norm: LayerNorm | null;
  readonly head: Linear;

  constructor(c: MobileVmoeConfig) {
    super(c);
    const wi = vitWeightInit(c.weightInit);
    const dp = (i: number) => (c.depth > 1 ? (c.dropPath * i) / (c.depth - 1) : 0);
    const nDense = c.depth - c.moeLayers;
    this.blocks = this.children(
      'blocks',
      Array.from({ length: nDense }, (_, i) => new VitBlock(c, dp(i))),
    );
    // Fig. 2c: a single per-image router after the last dense block
    this.router =
      c.routing === 'token' ? null : this.child('router', new Router(c.embedDim, c.numExperts, { weightInit: wi }));
    this.moeBlocks = this.children(
      'moe_blocks',
      Array.from({ length: c.moeLayers }, (_, j) => new MoeVitBlock(c, dp(nDense + j))),
    );
    this.norm = c.finalNorm ? this.child('norm', new LayerNorm(c.embedDim, c.layerNormEps)) : null;
    const head = { bias: c.bias, weightInit: wi?.(c.embedDim), biasInit: vitBiasInit(c.weightInit) };
    this.head = this.child('head', new Linear(c.embedDim, c.numClasses, head));
  }

  /** Parameters of one expert MLP. */
  expertParamCount(): number {
    return expertParams(this.config);
  }

  /**
   * Parameters used for one image at inference: shared parts, the router(s), and per MoE block the k chosen experts
   * (per-image routing) or up to min(E, T·k) experts (per-token routing: the paper's "up to 11.05M", Fig. 3e).
   */
  activeParamCount(): number {
    const c = this.config;
    const perLayer = c.routing === 'token' ? Math.min(c.numExperts, this.tokens() * c.topK) : c.topK;
    return this.paramCount() - c.moeLayers * (c.numExperts - perLayer) * this.expertParamCount();
  }

  /** Parameters used per token: shared parts, router(s), k experts per MoE block. */
  activeParamsPerToken(): number {
    const c = this.config;
    return this.paramCount() - c.moeLayers * (c.numExperts - c.topK) * this.expertParamCount();
  }

  tokens(): number {
    const c = this.config;
    return (c.imageSize / c.patchSize) ** 2 + (c.pool === 'cls' ? 1 : 0);
  }

  /** Tokens after the dense blocks: the router's input. */
  private denseTrunk(x: tf.Tensor4D, ctx: Ctx): tf.Tensor3D {
    let t = this.embed(x, ctx);
    this.blocks.forEach((b, i) => (t = b.forward(t, ctx, `attn.${i}`)));
    return t;
  }

  /** Per-image router logits [B, E] from the dense trunk's output (class token, or mean of patch tokens). */
  private routerLogits(t: tf.Tensor3D, ctx: Ctx): tf.Tensor2D {
    const cls = this.config.routerInput === 'cls';
    const off = this.clsToken ? 1 : 0;
    const v = cls ? t.slice([0, 0, 0], [-1, 1, -1]).squeeze([1]) : t.slice([0, off, 0], [-1, -1, -1]).mean(1);
    return this.router!.logits(v as tf.Tensor2D, ctx);
  }

  /** The super-class label of each image of the batch, from ctx.targets (null when the ctx carries none). */
  superClassTargets(ctx: Ctx): tf.Tensor1D | null {
    const map = this.config.superClassOf;
    if (map.length > 0) {
      const labels = ctx.targets?.labels;
      return labels ? (tf.gather(tf.tensor1d(map, 'int32'), labels.asType('int32')) as tf.Tensor1D) : null;
    }
    return ctx.targets?.coarse ?? null;
  }

  /** Route each image once (Fig. 2c) and add the router's training loss to ctx. */
  private routeImages(t: tf.Tensor3D, ctx: Ctx): Routing {
    const c = this.config;
    const r = topKGating(this.routerLogits(t, ctx), c.topK, c.gateNormalise as GateNormalise, ctx, c.routerNoise);
    if (ctx.training) {
      if (c.routing === 'superclass-image') {
        // Sec. 2.2: L = L_C + λ·L_g, L_g = CE(router softmax, super-class); no balancing loss
        const sc = this.superClassTargets(ctx);
        if (sc && c.routerLossWeight > 0)
          addAux(ctx, 'router_ce', superClassRouterLoss(r.logits, sc).mul(c.routerLossWeight) as tf.Scalar);
      } else if (c.balanceWeight > 0) {
        addAux(ctx, 'moe_balance', balanceLoss(r).mul(c.balanceWeight) as tf.Scalar);
      }
    }
    if (ctx.record) ctx.record('moe.image', tf.tensor2d(r.topIdx, [t.shape[0], c.topK], 'int32'));
    return r;
  }

  /** Logits; in training adds 'router_ce' (super-class router) or 'moe_balance' (end-to-end routers) to ctx.aux. */
  forward(x: tf.Tensor4D, ctx: Ctx): tf.Tensor2D {
    // aux losses are made inside the tidy: collect them in a local ctx and return them out of it
    const inner: Ctx = { ...ctx, aux: [] };
    const out = tf.tidy(() => {
      let t = this.denseTrunk(x, inner);
      const r = this.router ? this.routeImages(t, inner) : null;
      const nDense = this.blocks.length;
      this.moeBlocks.forEach((b, j) => (t = b.forward(t, inner, r, String(nDense + j))));
      if (this.norm) t = this.norm.forward(t) as tf.Tensor3D;
      const pooled = this.config.pool === 'cls' ? t.slice([0, 0, 0], [-1, 1, -1]).squeeze([1]) : t.mean(1);
      return { logits: this.head.forward(pooled, inner) as tf.Tensor2D, aux: inner.aux.map((a) => a.value) };
    });
    inner.aux.forEach((a, i) => addAux(ctx, a.name, out.aux[i]));
    return out.logits;
  }

  /** Per-image router probabilities [B, E] (eval mode); throws for per-token routing, which has no per-image router. */
  routerProbs(x: tf.Tensor4D): tf.Tensor2D {
    if (!this.router)
      throw new ConfigError(
        `${this.modelName || 'mobile-vmoe'}: routing='token' has no per-image router; routerProbs needs a ` +
          `per-image routing`,
      );
    return tf.tidy(() => {
      const ctx = makeCtx({ training: false });
      return tf.softmax(this.routerLogits(this.denseTrunk(x, ctx), ctx)) as tf.Tensor2D;
    });
  }

  /**
   * Router top-1 per image (eval mode): the predicted super-class, for router accuracy (Fig. 3b–c). Null for
   * per-token routing, which has no per-image decision.
   */
  routerPredictions(x: tf.Tensor4D): Int32Array | null {
    if (!this.router) return null;
    return tf.tidy(() => this.routerProbs(x).argMax(1).dataSync() as Int32Array);
  }

  /**
   * Which experts each image uses, from one eval forward pass: per image and MoE block the set of distinct experts
   * (per-image routing: the same k in every block; per-token: the union over the image's tokens).
   */
  expertsUsed(x: tf.Tensor4D): number[][][] {
    const c = this.config;
    const b = x.shape[0];
    const recs = new Map<string, Int32Array>();
    const ctx = makeCtx({
      training: false,
      record: (key, v) => key.startsWith('moe.') && recs.set(key, v.dataSync() as Int32Array),
    });
    tf.tidy(() => {
      this.forward(x, ctx);
    });
    const out: number[][][] = Array.from({ length: b }, () => []);
    const nDense = this.blocks.length;
    for (let j = 0; j < c.moeLayers; j++) {
      const key = c.routing === 'token' ? `moe.token.${nDense + j}` : 'moe.image';
      const idx = recs.get(key)!;
      const per = idx.length / b;
      for (let i = 0; i < b; i++) out[i].push([...new Set(idx.subarray(i * per, (i + 1) * per))].sort((p, q) => p - q));
    }
    return out;
  }
}

/** Parameters of one expert MLP: Linear(D → H), Linear(H → D). */
function expertParams(c: MobileVmoeConfig): number {
  const D = c.embedDim;
  const H = Math.round(c.mlpRatio * D);
  const b = c.bias ? 1 : 0;
  return D * H + b * H + H * D + b * D;
}

export const mobileVmoeFamily: ModelFamily<MobileVmoeConfig> = {
  family: 'mobile-vmoe',
  paper: '2309.04354',
  defaults: {
    ...vitFamily.defaults,
    numClasses: 100,
    embedDim: 192,
    depth: 12,
    numHeads: 3,
    mlpRatio: 4,
    numExperts: 10,
    moeLayers: 2,
    topK: 1,
    routing: 'superclass-image',
    routerInput: 'cls',
    gateNormalise: 'topk',
    routerLossWeight: 0.3,
    balanceWeight: 0.01,
    routerNoise: 0,
    dispatch: 'gather',
    superClassOf: [],
  },
  choices: {
    ...vitFamily.choices,
    routing: ROUTINGS,
    routerInput: ROUTER_INPUTS,
    gateNormalise: GATE_NORMALISE,
    dispatch: IMAGE_DISPATCH,
  },
  docs: {
    ...vitFamily.docs,
    numExperts: 'E: experts per MoE block (Mobile V-MoE: 10)',
    moeLayers: 'L: the last L blocks are MoE blocks (2)',
    topK: 'k: experts active per image (1)',
    routing: "'superclass-image' (Mobile V-MoE), 'e2e-image' or 'token' (V-MoE baselines)",
    routerInput: "per-image router input: 'cls' token after the last dense block or 'mean' of its patch tokens",
    gateNormalise: "'topk' (renormalise kept gates to sum 1) or 'none'",
    routerLossWeight: 'λ of the super-class router cross-entropy (0.3)',
    balanceWeight: 'weight of importance + load losses of end-to-end routers (0.01)',
    routerNoise: 'std of router logit noise in training (0)',
    dispatch: "'gather' (group by expert) or 'dense' (all experts, masked)",
    superClassOf: 'fine class → super-class map; empty = dataset coarse labels',
  },
  validate(c, name) {
    vitFamily.validate(c, name);
    check.positiveInt(name, c, 'numExperts', 'moeLayers', 'topK');
    check.that(
      c.moeLayers <= c.depth,
      `${name}: moeLayers=${c.moeLayers} exceeds depth=${c.depth}; expected 1 ≤ moeLayers ≤ depth`,
    );
    check.that(
      c.topK <= c.numExperts,
      `${name}: topK=${c.topK} exceeds numExperts=${c.numExperts}; expected 1 ≤ topK ≤ numExperts`,
    );
    check.that(
      !(c.routing !== 'token' && c.routerInput === 'cls' && c.pool !== 'cls'),
      `${name}: routerInput='cls' needs a class token but pool='${c.pool}'; set pool='cls' or routerInput='mean'`,
    );
    check.range(name, c, 'routerLossWeight', 0, 100);
    check.range(name, c, 'balanceWeight', 0, 100);
    check.range(name, c, 'routerNoise', 0, 100);
    const m = c.superClassOf;
    check.that(
      m.length === 0 || m.length === c.numClasses,
      `${name}: superClassOf has ${m.length} entries; expected 0 (use coarse labels) or numClasses=${c.numClasses}`,
    );
    const bad = m.findIndex((s) => !Number.isInteger(s) || s < 0 || s >= c.numExperts);
    check.that(
      bad < 0,
      `${name}: superClassOf[${bad}]=${m[bad]} is not a super-class in [0, numExperts=${c.numExperts})`,
    );
  },
  create: (c) => new MobileVmoe(c),
  closedFormParams(c) {
    const expert = expertParams(c);
    const router = c.embedDim * c.numExperts + c.numExperts; // the router Linear always has a bias
    const routers = c.routing === 'token' ? c.moeLayers : 1;
    return vitFamily.closedFormParams!(c) + c.moeLayers * (c.numExperts - 1) * expert + routers * router;
  },
};

/**
 * The paper's L×D grid (Fig. 1; Sec. 3.1: heads 6 for D = 384, 3 for D = 192 and 96, 2 for D = 64; MLP 4·D), at
 * CIFAR scale: 32×32 input with patch 4 gives 64 patch tokens, close to the paper's 49 (224² with patch 32;
 * docs/mobile-vmoe.md §4).
 */
export const VMOE_GRID: ReadonlyArray<{ depth: number; dim: number; heads: number }> = [
  { depth: 12, dim: 384, heads: 6 },
  { depth: 12, dim: 192, heads: 3 },
  { depth: 9, dim: 192, heads: 3 },
  { depth: 6, dim: 192, heads: 3 },
  { depth: 12, dim: 96, heads: 3 },
  { depth: 6, dim: 96, heads: 3 },
  { depth: 12, dim: 64, heads: 2 },
  { depth: 9, dim: 64, heads: 2 },
  { depth: 6, dim: 64, heads: 2 },
];

export const gridLabel = (depth: number, dim: number) => `${depth}x${dim}`;

for (const g of VMOE_GRID) {
  const label = gridLabel(g.depth, g.dim);
  const base = {
    imageSize: 32,
    patchSize: 4,
    numClasses: 100,
    embedDim: g.dim,
    depth: g.depth,
    numHeads: g.heads,
    mlpRatio: 4,
  };
  registerModel(`vit-${label}`, vitFamily, base, {
    description: `dense ViT ${g.depth}×${g.dim} (Mobile V-MoE Fig. 1 grid; patch 4, MLP 4×, CIFAR-100)`,
    tags: ['paper'],
  });
  registerModel(
    `vmoe-${label}`,
    mobileVmoeFamily,
    { ...base, numExperts: 10, moeLayers: 2, topK: 1 },
    {
      description: `Mobile V-MoE ${g.depth}×${g.dim}: last 2 blocks MoE, E = 10, k = 1, per-image super-class router`,
      tags: ['paper'],
    },
  );
}

const TINY = {
  imageSize: 8,
  patchSize: 4,
  numClasses: 10,
  embedDim: 8,
  depth: 2,
  numHeads: 2,
  mlpRatio: 2,
  numExperts: 3,
  moeLayers: 1,
};
// PyTorch-default init: with zero router biases the 8-wide router's top-1 margins are below the gradient check's
// finite-difference step, which then flips experts
registerModel(
  'vmoe-test',
  mobileVmoeFamily,
  { ...TINY, topK: 1, weightInit: 'torch' },
  {
    description: 'tiny per-image super-class MoE for tests',
    tags: ['test'],
  },
);
registerModel(
  'vmoe-e2e-test',
  mobileVmoeFamily,
  { ...TINY, routing: 'e2e-image', topK: 2, routerInput: 'mean' },
  {
    description: 'tiny per-image end-to-end MoE (k = 2, mean-pooled router input) for tests',
    tags: ['test'],
  },
);
registerModel(
  'vmoe-token-test',
  mobileVmoeFamily,
  { ...TINY, routing: 'token', topK: 2 },
  { description: 'tiny per-token V-MoE for tests', tags: ['test'] },
);
