import * as tf from '@tensorflow/tfjs';
import { type Ctx, Module, type Param, init } from './module';
import { Linear, activate, dropout } from './layers';
import { ConfigError } from '../util/errors';

/**
 * Token-routed mixture of SwiGLU experts, as in mLiT (arXiv 2407.17783; docs/mlit.md §2.6, wired after the
 * author's code): a noisy top-k router (Shazeer et al. 2017) sends every token to k experts, with no capacity
 * limit and no token dropping, and the layer returns `y = Σ_{e ∈ top-k} g_e · Expert_e(x)`.
 *
 * Expert e: `Dropout( W2( SiLU(x·W_e + b_e) ⊙ (x·V + b_V) ) + b_2 )`. W_e (m → h) is private to the expert;
 * V (m → h) and W2 (h → m) are **shared by all experts of the layer** (the paper's saving), or private with
 * `shareVW2: false` (ablation).
 */

/**
 * Keys under which a recording forward pass (`ctx.record`) stores routing tensors. The writers (the MoE layer, the
 * models' blocks) and the readers (routing statistics) build them here, so a renamed key cannot drift apart.
 */
export const routingKeys = {
  /** A transformer block's key: `block.3`. */
  block: (i: number): string => `block.${i}`,
  /** The MoE layer inside a block: `block.3.moe`. */
  moe: (blockKey: string): string => `${blockKey}.moe`,
  /** Gates after top-k, [tokens, E]: `block.3.moe.gates`. */
  gates: (moeKey: string): string => `${moeKey}.gates`,
  /** The router's noise-free logits, [tokens, E]: `block.3.moe.logits`. */
  logits: (moeKey: string): string => `${moeKey}.logits`,
};

/** How the experts are evaluated. All give the same output up to dropout's randomness (see `MoeLayer`). */
export type MoeDispatch = 'auto' | 'dense' | 'sparse' | 'slots' | 'fused';
export const MOE_DISPATCH: readonly MoeDispatch[] = ['auto', 'dense', 'sparse', 'slots', 'fused'];

export interface RouterOptions {
  /** Std offset of the noise, σ = softplus(x·W_noise) + noiseEps (author's code: 0.01). */
  noiseEps?: number;
  /** Coefficient of CV²(importance) + CV²(load) per layer (Shazeer et al., author's code: 0.01). */
  balanceCoef?: number;
  /** Add router noise during training (author's code: yes). */
  noise?: boolean;
}

export interface Routing {
  /** Chosen experts per token, best first: [N, k] int32. */
  topIdx: tf.Tensor2D;
  /** Softmax over the k chosen logits: [N, k], rows sum to 1. */
  topGates: tf.Tensor2D;
  /** The same gates scattered to [N, E] (zeros for experts not chosen). */
  gates: tf.Tensor2D;
  /** Noise-free router logits x·W_g: [N, E]. */
  clean: tf.Tensor2D;
  /** balanceCoef · (CV²(importance) + CV²(load)); training only, else null. */
  loss: tf.Scalar | null;
}

/** tf.tidy for a function returning an object of tensors in which some entries may be null. */
export function tidyObject<T>(fn: () => T): T {
  return tf.tidy(fn as unknown as () => tf.TensorContainer) as unknown as T;
}

/** CV²(v) = var(v) / (mean(v)² + 1e-10) with the unbiased (n − 1) variance, as torch.var. */
export function cvSquared(v: tf.Tensor1D): tf.Scalar {
  const n = v.shape[0];
  if (n <= 1) return tf.scalar(0);
  return tf.tidy(() => {
    const mean = v.mean();
    const variance = v
      .sub(mean)
      .square()
      .sum()
      .div(n - 1);
    return variance.div(mean.square().add(1e-10)) as tf.Scalar;
  });
}

/** Standard normal CDF Φ(z) = ½(1 + erf(z/√2)). */
export function normalCdf(z: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.erf(z.mul(Math.SQRT1_2)).add(1).mul(0.5));
}

/**
 * Noisy top-k gating (Shazeer et al. 2017, eqs. 3–5 and App. A), with the author's choices: W_g and W_noise are
 * bias-free m × E matrices initialised N(0, 1); noise only in training; softmax over the top-k logits only.
 */
export class NoisyTopKRouter extends Module {
  readonly wg: Param;
  readonly wNoise: Param;
  constructor(
    readonly dim: number,
    readonly numExperts: number,
    readonly topK: number,
    readonly opts: RouterOptions = {},
  ) {
    super();
    if (!(Number.isInteger(topK) && topK >= 1 && topK <= numExperts)) {
      throw new ConfigError(
        `router: topK=${topK} with numExperts=${numExperts}; expected an integer 1 ≤ topK ≤ numExperts`,
      );
    }
    this.wg = this.param('w_gate', [dim, numExperts], init.normal(1));
    this.wNoise = this.param('w_noise', [dim, numExperts], init.normal(1));
  }

  /** x: [N, m] tokens. */
  route(x: tf.Tensor2D, ctx: Ctx): Routing {
    const E = this.numExperts;
    const k = this.topK;
    const noisy = ctx.training && (this.opts.noise ?? true);
    return tidyObject((): Routing => {
      const clean = tf.matMul(x, this.wg.value as tf.Tensor2D) as tf.Tensor2D;
      if (E === 1) {
        // one expert (a dense FFN in MoE form, e.g. mLiT's dense arm): every token goes to it with gate 1
        const ones = tf.onesLike(clean) as tf.Tensor2D;
        const topIdx = tf.zeros([x.shape[0], 1], 'int32') as tf.Tensor2D;
        return { topIdx, topGates: ones, gates: ones.clone(), clean, loss: ctx.training ? tf.scalar(0) : null };
      }
      let logits: tf.Tensor2D = clean;
      let sigma: tf.Tensor2D | null = null;
      if (noisy) {
        // H(x)_i = x·W_g + ε·(softplus(x·W_noise) + eps), ε ~ N(0, 1)  (Shazeer eq. 4)
        sigma = tf
          .softplus(tf.matMul(x, this.wNoise.value as tf.Tensor2D))
          .add(this.opts.noiseEps ?? 0.01) as tf.Tensor2D;
        logits = clean.add(tf.randomNormal(clean.shape, 0, 1, 'float32', ctx.rng.int()).mul(sigma));
      }
      // tfjs has no gradient for TopK: the chosen indices are read back (off the tape) and the values are taken
      // through one-hot masks, so gradients flow through the selected logits as in PyTorch.
      const kk = Math.min(k + 1, E);
      const indices = tf.tensor2d(tf.topk(logits, kk).indices.dataSync() as Int32Array, [x.shape[0], kk], 'int32');
      const cols = tf.unstack(indices, 1);
      const oneHots = cols.map((c) => tf.oneHot(c, E).toFloat() as tf.Tensor2D);
      const topVals = oneHots.map((oh) => logits.mul(oh).sum(1) as tf.Tensor1D);
      const topGates = tf.softmax(tf.stack(topVals.slice(0, k), 1) as tf.Tensor2D) as tf.Tensor2D;
      // columns by slice, not unstack: tfjs's Unpack gradient fails when k = 1
      const gates = tf.addN(oneHots.slice(0, k).map((oh, j) => oh.mul(topGates.slice([0, j], [-1, 1])))) as tf.Tensor2D;
      const topIdx = (kk === k ? indices : indices.slice([0, 0], [-1, k])) as tf.Tensor2D;
      let loss: tf.Scalar | null = null;
      if (ctx.training) {
        const importance = gates.sum(0) as tf.Tensor1D;
        // 1 where the expert is among the k chosen (noisy > (k+1)-th largest); built from the one-hot masks because
        // tfjs has no gradient for comparisons on the path to the loss
        const inTopK = tf.addN(oneHots.slice(0, k)) as tf.Tensor2D;
        let load: tf.Tensor1D;
        if (sigma && k < E) {
          // Smooth load estimate (Shazeer App. A): P(expert e stays in the top-k when its noise is re-sampled).
          const thrIn = topVals[k].expandDims(1);
          const thrOut = topVals[k - 1].expandDims(1);
          const pIn = normalCdf(clean.sub(thrIn).div(sigma));
          const pOut = normalCdf(clean.sub(thrOut).div(sigma));
          load = inTopK.mul(pIn).add(inTopK.neg().add(1).mul(pOut)).sum(0) as tf.Tensor1D;
        } else {
          load = inTopK.sum(0) as tf.Tensor1D;
        }
        loss = cvSquared(importance)
          .add(cvSquared(load))
          .mul(this.opts.balanceCoef ?? 0.01) as tf.Scalar;
      }
      return { topIdx, topGates, gates, clean, loss };
    });
  }
}

/**
 * The experts of one layer: private W_e stored side by side as one m × (E·h) matrix (expert e owns columns
 * e·h … (e+1)·h − 1, PyTorch default init per expert), shared or private V and W2.
 */
export class SwiGLUExperts extends Module {
  readonly w: Param;
  readonly b: Param;
  /** Shared V and W2 (shareVW2) … */
  readonly vShared: Linear | null = null;
  readonly w2Shared: Linear | null = null;
  /** … or private ones: V [m, E·h] + [E·h]; W2 [E, h, m] + [E, 1, m]. */
  readonly vPriv: Param | null = null;
  readonly bvPriv: Param | null = null;
  readonly w2Priv: Param | null = null;
  readonly b2Priv: Param | null = null;

  constructor(
    readonly dim: number,
    readonly hidden: number,
    readonly numExperts: number,
    readonly shareVW2 = true,
  ) {
    super();
    const [m, h, E] = [dim, hidden, numExperts];
    this.w = this.param('w', [m, E * h], init.torchDefault(m));
    this.b = this.param('b', [E * h], init.torchDefault(m));
    if (shareVW2) {
      this.vShared = this.child('v', new Linear(m, h));
      this.w2Shared = this.child('w2', new Linear(h, m));
    } else {
      this.vPriv = this.param('v', [m, E * h], init.torchDefault(m));
      this.bvPriv = this.param('bv', [E * h], init.torchDefault(m));
      this.w2Priv = this.param('w2', [E, h, m], init.torchDefault(h));
      this.b2Priv = this.param('b2', [E, 1, m], init.torchDefault(h));
    }
  }

  /** SwiGLU hidden activations of every expert: [N, E, h] = SiLU(x·W_e + b_e) ⊙ (x·V_e + b_V). */
  hiddenAll(x: tf.Tensor2D): tf.Tensor3D {
    const [n] = x.shape;
    const [h, E] = [this.hidden, this.numExperts];
    return tf.tidy(() => {
      const u = activate(tf.fused.matMul({ a: x, b: this.w.value as tf.Tensor2D, bias: this.b.value }), 'silu').reshape(
        [n, E, h],
      );
      const g = this.vShared
        ? this.vShared.forward(x).reshape([n, 1, h])
        : tf.fused.matMul({ a: x, b: this.vPriv!.value as tf.Tensor2D, bias: this.bvPriv!.value }).reshape([n, E, h]);
      return u.mul(g) as tf.Tensor3D;
    });
  }

  /** W2 of every expert applied to its own hidden state: [N, E, h] → [N, E, m]. */
  outputAll(hAll: tf.Tensor3D): tf.Tensor3D {
    const [n, E, h] = hAll.shape;
    return tf.tidy(() => {
      if (this.w2Shared)
        return this.w2Shared.forward(hAll.reshape([n * E, h])).reshape([n, E, this.dim]) as tf.Tensor3D;
      const y = tf
        .matMul(hAll.transpose([1, 0, 2]) as tf.Tensor3D, this.w2Priv!.value as tf.Tensor3D)
        .add(this.b2Priv!.value);
      return y.transpose([1, 0, 2]) as tf.Tensor3D;
    });
  }

  /** Expert e alone on its tokens x: [n, m] → [n, m] (sparse dispatch). */
  expert(e: number, x: tf.Tensor2D): tf.Tensor2D {
    const [m, h] = [this.dim, this.hidden];
    return tf.tidy(() => {
      const linear = (w: tf.Tensor, b: tf.Tensor, a: tf.Tensor) => tf.matMul(a as tf.Tensor2D, w as tf.Tensor2D).add(b);
      const u = activate(linear(this.w.value.slice([0, e * h], [m, h]), this.b.value.slice([e * h], [h]), x), 'silu');
      if (this.vShared) return this.w2Shared!.forward(u.mul(this.vShared.forward(x))) as tf.Tensor2D;
      const hid = u.mul(linear(this.vPriv!.value.slice([0, e * h], [m, h]), this.bvPriv!.value.slice([e * h], [h]), x));
      return linear(
        this.w2Priv!.value.slice([e, 0, 0], [1, h, m]).reshape([h, m]),
        this.b2Priv!.value.slice([e, 0, 0], [1, 1, m]).reshape([m]),
        hid,
      ) as tf.Tensor2D;
    });
  }

  static paramCount(dim: number, hidden: number, numExperts: number, shareVW2 = true): number {
    const [m, h, E] = [dim, hidden, numExperts];
    const priv = m * h + h;
    const vw2 = m * h + h + h * m + m;
    return E * priv + (shareVW2 ? vw2 : E * vw2);
  }
}

export interface MoeOptions extends RouterOptions {
  numExperts: number;
  topK: number;
  hidden: number;
  shareVW2?: boolean;
  /** Dropout on each expert's output (author's code: 0.1). */
  dropout?: number;
  dispatch?: MoeDispatch;
}

export interface MoeOutput {
  y: tf.Tensor3D;
  /** The layer's balancing loss (training only), already multiplied by balanceCoef; null in evaluation. */
  aux: tf.Scalar | null;
}

/**
 * One MoE feed-forward layer: router + experts. Dispatch strategies (identical outputs without dropout):
 * - 'dense': every expert on every token, multiplied by the sparse gate vector (the reference);
 * - 'sparse': each expert only on the tokens routed to it (gathered; indices read back to JS);
 * - 'slots': every W_e (one matmul, cheap), then for each of the k slots the chosen expert's hidden state picked by
 *   a one-hot mask and passed through the shared W2 with its own dropout: k W2 products per token, per-expert
 *   dropout exactly as the author's code, no gathers (the training default with shared V/W2);
 * - 'fused': W2 applied once to Σ g_e·h_e. Exact because W2 is shared and the gates sum to 1 (docs/mlit.md §2.6):
 *   Σ g_e (W2 h_e + b2) = W2 (Σ g_e h_e) + b2. In training its one dropout mask replaces the k per-expert masks
 *   (same expectation); the evaluation default with shared V/W2.
 * 'auto' = 'slots' in training and 'fused' in evaluation with shared V/W2; 'dense' with private V/W2.
 *
 * MACs are reported as docs/mlit.md §2.1 counts them: the router (x·W_g) plus k experts per token, each
 * evaluating W_e, V and W2, whatever the dispatch actually computes.
 */
export class MoeLayer extends Module {
  readonly router: NoisyTopKRouter;
  readonly experts: SwiGLUExperts;
  constructor(
    readonly dim: number,
    readonly opts: MoeOptions,
  ) {
    super();
    this.router = this.child('router', new NoisyTopKRouter(dim, opts.numExperts, opts.topK, opts));
    this.experts = this.child('experts', new SwiGLUExperts(dim, opts.hidden, opts.numExperts, opts.shareVW2 ?? true));
  }

  resolveDispatch(training: boolean): Exclude<MoeDispatch, 'auto'> {
    const d = this.opts.dispatch ?? 'auto';
    const shared = this.opts.shareVW2 ?? true;
    // one expert with gate 1: the fused form is exactly the dense FFN (and needs no one-hot over one expert)
    if (d === 'auto' && this.opts.numExperts === 1) return shared ? 'fused' : 'dense';
    if (d === 'auto') return shared ? (training ? 'slots' : 'fused') : 'dense';
    if (!shared && (d === 'slots' || d === 'fused')) {
      throw new ConfigError(
        `MoE: dispatch='${d}' needs shared V/W2 (shareVW2=true); use 'dense' or 'sparse' with private V/W2`,
      );
    }
    return d;
  }

  /** x: [B, T, m]. Records `${recordKey}.gates` [B·T, E] and `${recordKey}.logits` (noise-free) when recording. */
  forward(x: tf.Tensor3D, ctx: Ctx, recordKey?: string): MoeOutput {
    const [b, t, m] = x.shape;
    const n = b * t;
    const { numExperts: E, topK: k, hidden: h } = this.opts;
    ctx.macs?.add('linear', n * m * E + n * k * 3 * m * h);
    const rate = this.opts.dropout ?? 0;
    const mode = this.resolveDispatch(ctx.training);
    return tidyObject((): MoeOutput => {
      const x2 = x.reshape([n, m]) as tf.Tensor2D;
      const r = this.router.route(x2, ctx);
      if (ctx.record && recordKey) {
        ctx.record(routingKeys.gates(recordKey), r.gates);
        ctx.record(routingKeys.logits(recordKey), r.clean);
      }
      let y: tf.Tensor2D;
      if (mode === 'dense') {
        const out = dropout(this.experts.outputAll(this.experts.hiddenAll(x2)), rate, ctx);
        y = out.mul(r.gates.expandDims(2)).sum(1) as tf.Tensor2D;
      } else if (mode === 'fused') {
        const hSum = this.experts.hiddenAll(x2).mul(r.gates.expandDims(2)).sum(1) as tf.Tensor2D;
        y = dropout(this.experts.w2Shared!.forward(hSum), rate, ctx) as tf.Tensor2D;
      } else if (mode === 'slots') {
        const hAll = this.experts.hiddenAll(x2);
        const idxCols = tf.unstack(r.topIdx, 1);
        const hSlots = tf.stack(
          idxCols.map((c) => hAll.mul(tf.oneHot(c, E).toFloat().expandDims(2)).sum(1)),
          1,
        ) as tf.Tensor3D; // [N, k, h]
        const out = dropout(this.experts.w2Shared!.forward(hSlots.reshape([n * k, h])).reshape([n, k, m]), rate, ctx);
        y = out.mul(r.topGates.expandDims(2)).sum(1) as tf.Tensor2D;
      } else {
        y = this.sparse(x2, r, rate, ctx);
      }
      return { y: y.reshape([b, t, m]) as tf.Tensor3D, aux: r.loss };
    });
  }

  /** Each expert on exactly the tokens routed to it; outputs gathered back per slot and weighted by the gates. */
  private sparse(x2: tf.Tensor2D, r: Routing, rate: number, ctx: Ctx): tf.Tensor2D {
    const [n] = x2.shape;
    const E = this.opts.numExperts;
    const k = r.topIdx.shape[1];
    const idx = r.topIdx.dataSync();
    const rows: number[][] = Array.from({ length: E }, () => []);
    const where = new Int32Array(n * k); // position of (token, slot) in the concatenated expert outputs
    for (let i = 0; i < n; i++) for (let s = 0; s < k; s++) rows[idx[i * k + s]].push(i * k + s);
    const outs: tf.Tensor2D[] = [];
    let offset = 0;
    for (let e = 0; e < E; e++) {
      if (rows[e].length === 0) continue;
      const tokens = tf.tensor1d(
        rows[e].map((p) => Math.floor(p / k)),
        'int32',
      );
      outs.push(dropout(this.experts.expert(e, tf.gather(x2, tokens)), rate, ctx) as tf.Tensor2D);
      rows[e].forEach((p, j) => (where[p] = offset + j));
      offset += rows[e].length;
    }
    const all = tf.concat(outs, 0);
    const perSlot = tf.gather(all, tf.tensor1d(where, 'int32')).reshape([n, k, this.dim]);
    return perSlot.mul(r.topGates.expandDims(2)).sum(1) as tf.Tensor2D;
  }

  /** Trainable parameters of the layer (router + experts). */
  static paramCount(dim: number, hidden: number, numExperts: number, shareVW2 = true): number {
    return 2 * dim * numExperts + SwiGLUExperts.paramCount(dim, hidden, numExperts, shareVW2);
  }

  /** Parameters one token uses: router, the k chosen experts' private parts, the shared parts. */
  static activeParamCount(dim: number, hidden: number, numExperts: number, topK: number, shareVW2 = true): number {
    return 2 * dim * numExperts + SwiGLUExperts.paramCount(dim, hidden, Math.min(topK, numExperts), shareVW2);
  }
}
