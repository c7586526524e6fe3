import * as tf from '@tensorflow/tfjs';
import { type Ctx, Module, type InitFn, addAux, init } from './module';
import { Linear, Mlp, type Activation } from './layers';
import { ConfigError } from '../util/errors';

/**
 * Sparse mixture-of-experts pieces for ViTs (Mobile V-MoE, arXiv 2309.04354, Sec. 2; V-MoE, Riquelme et al. 2021).
 *
 * A MoE layer computes y = Σ_i g(x)_i · e_i(x) (Mobile V-MoE Eq. 1) with experts e_i = separate MLPs and a gate
 * g(x) = TOP_k(softmax(W x)) (Eq. 2, V-MoE convention). Routing happens either per image (one decision per image,
 * shared by every MoE block: Mobile V-MoE, Fig. 2c) or per token (V-MoE, Fig. 2b). Both use the same row-wise
 * dispatch: a "row" is one image ([T, D] tokens) for per-image routing and one token ([D]) for per-token routing.
 *
 * tfjs has no gradient for TopK: the top-k indices are read as constants and turned into a one-hot mask, so the
 * gradient reaches the router through the softmax probabilities that the mask keeps.
 */

/** How the kept top-k probabilities become gates: renormalised to sum to 1 over the top-k, or the raw softmax. */
export type GateNormalise = 'topk' | 'none';

export interface Routing {
  /** Router logits [N, E]. */
  logits: tf.Tensor2D;
  /** Softmax probabilities [N, E] (before top-k). */
  probs: tf.Tensor2D;
  /** Gates [N, E]: zero outside each row's top-k. */
  gates: tf.Tensor2D;
  /** The chosen experts, row-major [N·k], best first (constants: no gradient). */
  topIdx: Int32Array;
  k: number;
}

/**
 * Top-k gating of router logits (Eq. 2): softmax, keep the k largest probabilities, optionally renormalise them.
 * `noise` (std) is added to the logits in training, as V-MoE's noisy top-k; Mobile V-MoE's supervised router uses none.
 */
export function topKGating(logits: tf.Tensor2D, k: number, normalise: GateNormalise, ctx: Ctx, noise = 0): Routing {
  const [n, e] = logits.shape;
  if (!Number.isInteger(k) || k < 1 || k > e)
    throw new ConfigError(`topK=${k} is not valid for ${e} experts; expected 1 ≤ topK ≤ numExperts`);
  let l = logits;
  if (noise > 0 && ctx.training) l = l.add(tf.randomNormal([n, e], 0, noise, 'float32', ctx.rng.int()));
  const probs = tf.softmax(l) as tf.Tensor2D;
  const topIdx = tf.tidy(() => tf.topk(probs, k).indices.dataSync() as Int32Array);
  const mask = tf.tidy(() =>
    tf
      .oneHot(tf.tensor2d(topIdx, [n, k], 'int32'), e)
      .sum(1)
      .asType('float32'),
  );
  let gates = probs.mul(mask) as tf.Tensor2D;
  if (normalise === 'topk') gates = gates.div(gates.sum(1, true)) as tf.Tensor2D;
  return { logits, probs, gates, topIdx: Int32Array.from(topIdx), k };
}

/**
 * Efficient dispatch: group the rows by expert with one gather, split the groups (one kernel), run each expert once
 * on its slice, scale all outputs by their gates with one product, and put them back in row order (gather with the
 * inverse permutation; k > 1 sums a row's k slots). Experts that no row chose are not run, so MACs (and the counted
 * cost) are those of the k active experts per row. Per expert only its own layers run: the gathers, gate products
 * and their gradients are shared by all experts (a per-expert gather costs about ten small kernels per step).
 */
export function dispatchToExperts(x: tf.Tensor, r: Routing, experts: Mlp[], ctx: Ctx): tf.Tensor {
  const n = x.shape[0];
  const e = experts.length;
  const { k, topIdx } = r;
  const rowsOf: number[][] = Array.from({ length: e }, () => []);
  const slotOf: number[][] = Array.from({ length: e }, () => []);
  for (let row = 0; row < n; row++) {
    for (let s = 0; s < k; s++) {
      rowsOf[topIdx[row * k + s]].push(row);
      slotOf[topIdx[row * k + s]].push(s);
    }
  }
  // rows grouped by expert (row order inside a group), the gate of each grouped row in the flat [N·E] gates, the
  // group sizes of the experts that run, and the position in the grouped outputs of (slot s, row): [k·N]
  const order = new Int32Array(k * n);
  const gateIdx = new Int32Array(k * n);
  const pos = new Int32Array(k * n);
  const active: number[] = [];
  const sizes: number[] = [];
  let offset = 0;
  for (let i = 0; i < e; i++) {
    const rows = rowsOf[i];
    if (rows.length === 0) continue;
    active.push(i);
    sizes.push(rows.length);
    rows.forEach((row, j) => {
      order[offset + j] = row;
      gateIdx[offset + j] = row * e + i;
      pos[slotOf[i][j] * n + row] = offset + j;
    });
    offset += rows.length;
  }
  const grouped = tf.gather(x, tf.tensor1d(order, 'int32'));
  const pieces = active.length === 1 ? [grouped] : tf.split(grouped, sizes, 0);
  const outs = pieces.map((piece, j) => experts[active[j]].forward(piece, ctx));
  const all = outs.length === 1 ? outs[0] : tf.concat(outs, 0);
  const bcast = x.shape.slice(1).map(() => 1);
  const gates = tf.gather(r.gates.reshape([n * e]), tf.tensor1d(gateIdx, 'int32')).reshape([k * n, ...bcast]);
  const back = tf.gather(all.mul(gates), tf.tensor1d(pos, 'int32'));
  return k === 1 ? back : back.reshape([k, ...x.shape]).sum(0);
}

/**
 * Reference dispatch: run every expert on every row and combine with the gates (E× the cost; for tests and small E).
 */
export function denseMaskedExperts(x: tf.Tensor, r: Routing, experts: Mlp[], ctx: Ctx): tf.Tensor {
  const bcast = x.shape.slice(1).map(() => 1);
  const n = x.shape[0];
  let y: tf.Tensor | null = null;
  experts.forEach((ex, i) => {
    const g = r.gates.slice([0, i], [n, 1]).reshape([n, ...bcast]);
    const t = ex.forward(x, ctx).mul(g);
    y = y ? y.add(t) : t;
  });
  return y!;
}

export type Dispatch = 'gather' | 'dense';

export function runExperts(x: tf.Tensor, r: Routing, experts: Mlp[], ctx: Ctx, dispatch: Dispatch): tf.Tensor {
  return dispatch === 'gather' ? dispatchToExperts(x, r, experts, ctx) : denseMaskedExperts(x, r, experts, ctx);
}

/**
 * Load-balancing losses of end-to-end routers (the baselines of the routing ablation, Mobile V-MoE Fig. 3e):
 * V-MoE's importance loss, the squared coefficient of variation of Σ_rows p(x) over experts, plus a load loss
 * E·Σ_i f_i·P_i (f_i = fraction of rows whose first choice is i, a constant; P_i = mean router probability; the
 * Switch-Transformer form, a simple differentiable stand-in for V-MoE's noise-based load estimate). Returns their mean.
 */
export function balanceLoss(r: Routing): tf.Scalar {
  return tf.tidy(() => {
    const [n, e] = r.probs.shape;
    const imp = r.probs.sum(0);
    const { mean, variance } = tf.moments(imp);
    const importance = variance.div(mean.square().add(1e-10));
    const first = new Float32Array(e);
    for (let row = 0; row < n; row++) first[r.topIdx[row * r.k]] += 1 / n;
    const load = tf.tensor1d(first).mul(r.probs.mean(0)).sum().mul(e);
    return importance.add(load).mul(0.5) as tf.Scalar;
  });
}

/**
 * Super-class-guided router loss (Mobile V-MoE Sec. 2.2): cross-entropy between the router's softmax (before
 * top-k) and the super-class label, so that expert i learns super-class i. Labels must lie in [0, E).
 */
export function superClassRouterLoss(logits: tf.Tensor2D, superClass: tf.Tensor1D): tf.Scalar {
  const e = logits.shape[1];
  const max = tf.tidy(() => superClass.max().dataSync()[0]);
  if (max >= e) {
    throw new ConfigError(
      `super-class label ${max} ≥ numExperts=${e}; the super-class router needs one expert per super-class ` +
        '(set numExperts to the number of super-classes, or pass a fine→super-class map with as many groups as ' +
        'experts)',
    );
  }
  return tf.tidy(() => tf.losses.softmaxCrossEntropy(tf.oneHot(superClass.asType('int32'), e), logits) as tf.Scalar);
}

/** E expert MLPs of the same shape (one MoE-ViT layer, Fig. 2d). */
export class ExpertMlps extends Module {
  readonly experts: Mlp[];
  constructor(
    readonly numExperts: number,
    dim: number,
    hidden: number,
    opts: { bias?: boolean; activation?: Activation; dropout?: number; weightInit?: (fanIn: number) => InitFn } = {},
  ) {
    super();
    this.experts = this.children(
      'experts',
      Array.from({ length: numExperts }, () => new Mlp(dim, hidden, opts)),
    );
  }
  forward(x: tf.Tensor, r: Routing, ctx: Ctx, dispatch: Dispatch = 'gather'): tf.Tensor {
    return runExperts(x, r, this.experts, ctx, dispatch);
  }
}

/**
 * One router: a Linear(D → E) on a D-vector per row (per-image: the class token or pooled tokens; per-token: each
 * token).
 */
export class Router extends Module {
  readonly proj: Linear;
  constructor(
    dim: number,
    readonly numExperts: number,
    opts: { weightInit?: (fanIn: number) => InitFn } = {},
  ) {
    super();
    // re-initialised weights come with zero biases (timm/big_vision); the PyTorch default otherwise
    const biasInit = opts.weightInit ? init.zeros() : undefined;
    this.proj = this.child('proj', new Linear(dim, numExperts, { weightInit: opts.weightInit?.(dim), biasInit }));
  }
  logits(x: tf.Tensor2D, ctx: Ctx): tf.Tensor2D {
    return this.proj.forward(x, ctx) as tf.Tensor2D;
  }
}

/**
 * Per-token MoE MLP of a regular V-MoE layer (Fig. 2b): its own router on every token, top-k experts per token,
 * importance/load losses added to ctx under 'moe_balance' (already weighted). No capacity limit: no token is dropped.
 * Records the chosen experts [B, T, k] under `recordKey` when the ctx has a recorder.
 */
export class TokenMoeMlp extends Module {
  readonly router: Router;
  readonly mlps: ExpertMlps;
  constructor(
    dim: number,
    hidden: number,
    readonly opts: {
      numExperts: number;
      topK: number;
      gateNormalise: GateNormalise;
      balanceWeight: number;
      noise: number;
      mlp?: { bias?: boolean; activation?: Activation; dropout?: number; weightInit?: (fanIn: number) => InitFn };
    },
  ) {
    super();
    this.router = this.child('router', new Router(dim, opts.numExperts, { weightInit: opts.mlp?.weightInit }));
    this.mlps = this.child('mlp', new ExpertMlps(opts.numExperts, dim, hidden, opts.mlp));
  }
  forward(x: tf.Tensor3D, ctx: Ctx, dispatch: Dispatch = 'gather', recordKey?: string): tf.Tensor3D {
    const [b, t, d] = x.shape;
    const rows = x.reshape([b * t, d]) as tf.Tensor2D;
    const r = topKGating(this.router.logits(rows, ctx), this.opts.topK, this.opts.gateNormalise, ctx, this.opts.noise);
    if (ctx.training && this.opts.balanceWeight > 0)
      addAux(ctx, 'moe_balance', balanceLoss(r).mul(this.opts.balanceWeight) as tf.Scalar);
    if (ctx.record && recordKey) ctx.record(recordKey, tf.tensor3d(r.topIdx, [b, t, r.k], 'int32'));
    return this.mlps.forward(rows, r, ctx, dispatch).reshape([b, t, d]) as tf.Tensor3D;
  }
}
