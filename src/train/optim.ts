import * as tf from '@tensorflow/tfjs';
import type { Param } from '../nn/module';
import { ConfigError } from '../util/errors';
import type { AdamWSlot } from '../backend/kernel-names';
import { nativeAdamW } from './adamw-native';

/** What the trainer and checkpoints need of an optimizer: one update from gradients keyed by parameter path. */
export interface Optimizer {
  step: number;
  apply(grads: Map<string, tf.Tensor>, lr: number, clipNorm?: number): void;
  /** Step and per-parameter slot tensors (AdamW: moments m, v; SGD: the momentum buffer in m, v empty). */
  state(): { step: number; m: Map<string, tf.Tensor>; v: Map<string, tf.Tensor> };
  loadState(step: number, m: Map<string, Float32Array>, v: Map<string, Float32Array>): void;
  dispose(): void;
}

/**
 * AdamW (Loshchilov & Hutter 2019) with decoupled weight decay, as torch.optim.AdamW:
 *   p ← p·(1 − lr·wd)                       (only parameters with `decay`: not norms, biases, position embeddings)
 *   m ← β1·m + (1 − β1)·g,  v ← β2·v + (1 − β2)·g²
 *   p ← p − lr · (m / (1 − β1ᵗ)) / (√(v / (1 − β2ᵗ)) + ε)
 */
export class AdamW implements Optimizer {
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  step = 0;

  constructor(
    readonly params: Array<[string, Param]>,
    readonly opts: { beta1?: number; beta2?: number; eps?: number; weightDecay: number },
  ) {}

  /**
   * Apply one update from gradients keyed by parameter path, after scaling them to a global L2 norm of at most
   * `clipNorm` (0: no clipping). Call inside tf.tidy. Where the native kernels are on (wasm), the whole update is one
   * in-place kernel; elsewhere it is composed of tfjs ops. Both follow the formulas above in the same order.
   */
  apply(grads: Map<string, tf.Tensor>, lr: number, clipNorm = 0): void {
    const b1 = this.opts.beta1 ?? 0.9;
    const b2 = this.opts.beta2 ?? 0.999;
    const eps = this.opts.eps ?? 1e-8;
    this.step += 1;
    const c1 = 1 - b1 ** this.step;
    const c2 = 1 - b2 ** this.step;
    const slots: AdamWSlot[] = [];
    const paths: string[] = [];
    for (const [path, p] of this.params) {
      const g = grads.get(path);
      if (!g || !p.trainable) continue;
      const w = p.value;
      let m = this.m.get(path);
      let v = this.v.get(path);
      if (!m || !v) {
        // the zeros are freed at once, so each moment owns its memory (the in-place update requires it)
        m = tf.tidy(() => tf.variable(tf.zerosLike(w), false));
        v = tf.tidy(() => tf.variable(tf.zerosLike(w), false));
        this.m.set(path, m);
        this.v.set(path, v);
      }
      slots.push({
        param: w,
        grad: g,
        m,
        v,
        decay: p.decay && this.opts.weightDecay > 0 ? 1 - lr * this.opts.weightDecay : 1,
      });
      paths.push(path);
    }
    if (nativeAdamW(slots, { lr, beta1: b1, beta2: b2, eps, c1, c2, clipNorm })) return;
    const used = new Map(slots.map((s, i) => [paths[i], s.grad]));
    const clipped = clipNorm > 0 ? clipByGlobalNorm(used, clipNorm).grads : used;
    slots.forEach((s, i) => {
      const g = clipped.get(paths[i])!;
      const [w, m, v] = [s.param, s.m, s.v] as tf.Variable[];
      const mNew = m.mul(b1).add(g.mul(1 - b1));
      const vNew = v.mul(b2).add(g.square().mul(1 - b2));
      m.assign(mNew);
      v.assign(vNew);
      const decayed = s.decay !== 1 ? w.mul(s.decay) : w;
      w.assign(decayed.sub(mNew.div(c1).div(vNew.div(c2).sqrt().add(eps)).mul(lr)));
    });
  }

  /** State for checkpoints: step and moment tensors by parameter path. */
  state(): { step: number; m: Map<string, tf.Tensor>; v: Map<string, tf.Tensor> } {
    return { step: this.step, m: this.m, v: this.v };
  }

  loadState(step: number, m: Map<string, Float32Array>, v: Map<string, Float32Array>): void {
    this.step = step;
    for (const [path, p] of this.params) {
      const mm = m.get(path);
      const vv = v.get(path);
      if (!mm || !vv) continue;
      this.m.get(path)?.dispose();
      this.v.get(path)?.dispose();
      this.m.set(
        path,
        tf.tidy(() => tf.variable(tf.tensor(mm, p.shape as number[]), false)),
      );
      this.v.set(
        path,
        tf.tidy(() => tf.variable(tf.tensor(vv, p.shape as number[]), false)),
      );
    }
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}

/** Linear warm-up from ~0 to `lr` over `warmupSteps`, then cosine decay to `minLr` at `totalSteps`. */
export function cosineWithWarmup(
  step: number,
  totalSteps: number,
  warmupSteps: number,
  lr: number,
  minLr: number,
): number {
  if (warmupSteps > 0 && step < warmupSteps) return (lr * (step + 1)) / warmupSteps;
  const span = Math.max(1, totalSteps - warmupSteps);
  const t = Math.min(1, (step - warmupSteps) / span);
  return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * t));
}

/** Scale gradients so their global L2 norm is at most maxNorm. Returns the norm before clipping. Call inside tidy. */
export function clipByGlobalNorm(
  grads: Map<string, tf.Tensor>,
  maxNorm: number,
): { grads: Map<string, tf.Tensor>; norm: tf.Scalar } {
  const norm = tf.sqrt(tf.addN([...grads.values()].map((g) => g.square().sum()))) as tf.Scalar;
  if (!(maxNorm > 0)) return { grads, norm };
  const scale = tf.minimum(tf.scalar(1), tf.scalar(maxNorm).div(norm.add(1e-6)));
  const out = new Map<string, tf.Tensor>();
  for (const [k, g] of grads) out.set(k, g.mul(scale));
  return { grads: out, norm };
}

/**
 * SGD with momentum and coupled L2 weight decay, as torch.optim.SGD (dampening 0, no Nesterov): the standard CIFAR
 * ResNet recipe (He et al. 2016; lr 0.1, momentum 0.9, wd 5e-4):
 *   g ← g + wd·p   (parameters with `decay`)
 *   b ← μ·b + g    (b = g at the first step)
 *   p ← p − lr·b
 */
export class Sgd implements Optimizer {
  private readonly buf = new Map<string, tf.Variable>();
  step = 0;

  constructor(
    readonly params: Array<[string, Param]>,
    readonly opts: { momentum?: number; weightDecay: number },
  ) {}

  /** One update after global-norm clipping at `clipNorm` (0: none). Call inside tf.tidy. */
  apply(grads: Map<string, tf.Tensor>, lr: number, clipNorm = 0): void {
    const mu = this.opts.momentum ?? 0.9;
    this.step += 1;
    const used = new Map<string, tf.Tensor>();
    for (const [path, p] of this.params) {
      const g = grads.get(path);
      if (g && p.trainable) used.set(path, g);
    }
    const clipped = clipNorm > 0 ? clipByGlobalNorm(used, clipNorm).grads : used;
    for (const [path, p] of this.params) {
      let g = clipped.get(path);
      if (!g) continue;
      const w = p.value;
      if (p.decay && this.opts.weightDecay > 0) g = g.add(w.mul(this.opts.weightDecay));
      let b = this.buf.get(path);
      if (!b) {
        b = tf.tidy(() => tf.variable(g!.clone(), false));
        this.buf.set(path, b);
      } else if (mu > 0) {
        b.assign(b.mul(mu).add(g));
      } else {
        b.assign(g);
      }
      w.assign(w.sub(b.mul(lr)));
    }
  }

  state(): { step: number; m: Map<string, tf.Tensor>; v: Map<string, tf.Tensor> } {
    return { step: this.step, m: this.buf, v: new Map() };
  }

  loadState(step: number, m: Map<string, Float32Array>): void {
    this.step = step;
    for (const [path, p] of this.params) {
      const mm = m.get(path);
      if (!mm) continue;
      this.buf.get(path)?.dispose();
      this.buf.set(
        path,
        tf.tidy(() => tf.variable(tf.tensor(mm, p.shape as number[]), false)),
      );
    }
  }

  dispose(): void {
    for (const t of this.buf.values()) t.dispose();
    this.buf.clear();
  }
}

/**
 * Exponential moving average of the model's weights (timm ModelEmaV2, the DeiT/EIT recipe with decay 0.99996):
 * after every step, e ← d·e + (1 − d)·p for every parameter and running statistic. `evaluateWith` swaps the averages
 * in for a function call (evaluation) and restores the trained weights after it.
 */
export class ModelEma {
  private readonly shadow = new Map<string, tf.Variable>();

  constructor(
    readonly params: Array<[string, Param]>,
    readonly decay: number,
  ) {
    if (!(decay > 0 && decay < 1)) throw new ConfigError(`EMA decay ${decay}: expected 0 < decay < 1 (DeiT: 0.99996)`);
    for (const [path, p] of params)
      this.shadow.set(
        path,
        tf.tidy(() => tf.variable(p.value.clone(), false)),
      );
  }

  update(): void {
    const d = this.decay;
    tf.tidy(() => {
      for (const [path, p] of this.params) {
        const e = this.shadow.get(path)!;
        e.assign(e.mul(d).add(p.value.mul(1 - d)));
      }
    });
  }

  /** The averaged value of one parameter (for tests and checkpoints). */
  value(path: string): tf.Variable | undefined {
    return this.shadow.get(path);
  }

  /** Run `fn` with the averaged weights in the model, then restore the trained ones (also if `fn` throws). */
  evaluateWith<T>(fn: () => T): T {
    const saved = this.params.map(([, p]) => tf.keep(p.value.clone()));
    tf.tidy(() => this.params.forEach(([path, p]) => p.value.assign(this.shadow.get(path)!)));
    try {
      return fn();
    } finally {
      tf.tidy(() => this.params.forEach(([, p], i) => p.value.assign(saved[i])));
      saved.forEach((t) => t.dispose());
    }
  }

  dispose(): void {
    for (const t of this.shadow.values()) t.dispose();
    this.shadow.clear();
  }
}
