import * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/rng';
import { ConfigError } from '../util/errors';

/**
 * The kit's one layer style: small classes with a `forward(x, ctx)` method. A `Module` declares its parameters
 * (`this.param`) and sub-modules (`this.child`) in its constructor; nothing is allocated until `build(seed)`, so
 * parameter counts of paper-size models need no memory. Initial values are generated in JS from a per-parameter
 * seed (model seed + parameter path), so every backend starts from identical weights.
 */

/** Fills a freshly allocated array of `size` values for a parameter of `shape`. */
export type InitFn = (shape: readonly number[], rng: Rng) => Float32Array;

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

export const init = {
  zeros: (): InitFn => (s) => new Float32Array(sizeOf(s)),
  ones: (): InitFn => (s) => new Float32Array(sizeOf(s)).fill(1),
  constant:
    (v: number): InitFn =>
    (s) =>
      new Float32Array(sizeOf(s)).fill(v),
  normal:
    (std = 1, mean = 0): InitFn =>
    (s, rng) => {
      const a = new Float32Array(sizeOf(s));
      for (let i = 0; i < a.length; i++) a[i] = mean + std * rng.normal();
      return a;
    },
  /**
   * N(mean, std²) truncated to [a, b] in absolute units by resampling, as PyTorch's and timm's
   * `trunc_normal_(std, a=-2, b=2)`: with std 0.02 the bounds sit at ±100σ, so this is a plain normal of that std.
   */
  truncNormal:
    (std = 0.02, a = -2, b = 2, mean = 0): InitFn =>
    (s, rng) => {
      if (!(a <= mean && mean <= b && a < b)) {
        throw new ConfigError(`truncNormal bounds [${a}, ${b}] with mean ${mean}: expected a < b and a ≤ mean ≤ b`);
      }
      const out = new Float32Array(sizeOf(s));
      for (let i = 0; i < out.length; i++) {
        let v = mean + std * rng.normal();
        while (v < a || v > b) v = mean + std * rng.normal();
        out[i] = v;
      }
      return out;
    },
  uniform:
    (bound: number): InitFn =>
    (s, rng) => {
      const a = new Float32Array(sizeOf(s));
      for (let i = 0; i < a.length; i++) a[i] = (2 * rng.next() - 1) * bound;
      return a;
    },
  /** PyTorch's default for Linear/Conv weights and biases: U(±1/√fan_in). */
  torchDefault: (fanIn: number): InitFn => init.uniform(1 / Math.sqrt(Math.max(1, fanIn))),
  /** Kaiming normal, fan-out mode, ReLU gain (torchvision ResNets, EIT convs). */
  kaimingNormalFanOut: (fanOut: number): InitFn => init.normal(Math.sqrt(2 / Math.max(1, fanOut))),
};

export interface ParamOptions {
  /** Apply weight decay (AdamW). Default: true for rank ≥ 2, false for vectors (norms, biases). */
  decay?: boolean;
  /** Trained by the optimiser. Running statistics (BatchNorm) are false. */
  trainable?: boolean;
}

export class Param {
  readonly size: number;
  readonly decay: boolean;
  readonly trainable: boolean;
  private variable: tf.Variable | null = null;

  constructor(
    readonly shape: readonly number[],
    readonly initFn: InitFn,
    opts: ParamOptions = {},
  ) {
    for (const d of shape) {
      if (!Number.isInteger(d) || d <= 0)
        throw new ConfigError(`parameter shape [${shape.join(', ')}] has a non-positive or fractional dimension`);
    }
    this.size = sizeOf(shape);
    this.decay = opts.decay ?? shape.length >= 2;
    this.trainable = opts.trainable ?? true;
  }

  get built(): boolean {
    return this.variable !== null;
  }

  /** The tf.Variable; the owning model must have been built. */
  get value(): tf.Variable {
    if (!this.variable) throw new Error('parameter used before model.build(seed) was called');
    return this.variable;
  }

  materialize(rng: Rng): tf.Variable {
    if (!this.variable) {
      const data = this.initFn(this.shape, rng);
      this.variable = tf.tidy(() => tf.variable(tf.tensor(data, this.shape as number[], 'float32'), this.trainable));
    }
    return this.variable;
  }

  dispose(): void {
    this.variable?.dispose();
    this.variable = null;
  }
}

/** Auxiliary loss a layer adds during training (MoE balancing, router supervision). Already weighted. */
export interface AuxLoss {
  name: string;
  value: tf.Scalar;
}

/** Per-call context: mode, randomness, and sinks for what layers report. */
export interface Ctx {
  training: boolean;
  rng: Rng;
  /** Auxiliary losses collected in this forward pass; the trainer adds their sum to the task loss. */
  aux: AuxLoss[];
  /** Labels of the current batch, for layers supervised by them (super-class router). */
  targets?: { labels?: tf.Tensor1D; coarse?: tf.Tensor1D };
  /** MAC counter, set by `analysis.countMacs`. */
  macs?: MacSink;
  /**
   * Optional recorder for analysis (routing decisions, attention maps). A layer calls `record(key, t)` with a
   * tensor it computed; the recorder must `tf.keep` what it stores. Undefined during training.
   */
  record?: (key: string, value: tf.Tensor) => void;
}

export type MacKind = 'linear' | 'conv' | 'attention' | 'other';
export interface MacSink {
  add(kind: MacKind, macs: number): void;
}

export function makeCtx(opts: Partial<Ctx> & { training: boolean; seed?: number }): Ctx {
  return {
    aux: [],
    rng: opts.rng ?? new Rng(opts.seed ?? 0),
    ...opts,
  } as Ctx;
}

/** Add a weighted auxiliary loss (training only; a no-op in evaluation). */
export function addAux(ctx: Ctx, name: string, value: tf.Scalar): void {
  if (ctx.training) ctx.aux.push({ name, value });
}

/** 32-bit FNV-1a of a string: per-parameter seeds that do not move when other parameters are added. */
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export abstract class Module {
  private readonly _params = new Map<string, Param>();
  private readonly _children = new Map<string, Module>();

  protected param(name: string, shape: readonly number[], initFn: InitFn, opts?: ParamOptions): Param {
    if (this._params.has(name) || this._children.has(name)) throw new Error(`duplicate member '${name}'`);
    const p = new Param(shape, initFn, opts);
    this._params.set(name, p);
    return p;
  }

  protected child<M extends Module>(name: string, m: M): M {
    if (this._params.has(name) || this._children.has(name)) throw new Error(`duplicate member '${name}'`);
    this._children.set(name, m);
    return m;
  }

  /** Register a list of sub-modules as `name.0`, `name.1`, … */
  protected children<M extends Module>(name: string, ms: M[]): M[] {
    const list = new ModuleList(ms);
    this.child(name, list);
    return ms;
  }

  /** Every parameter with its dotted path, in declaration order. */
  namedParams(prefix = ''): Array<[string, Param]> {
    const out: Array<[string, Param]> = [];
    for (const [n, p] of this._params) out.push([prefix + n, p]);
    for (const [n, c] of this._children) out.push(...c.namedParams(`${prefix}${n}.`));
    return out;
  }

  namedModules(prefix = ''): Array<[string, Module]> {
    const out: Array<[string, Module]> = [[prefix.replace(/\.$/, ''), this]];
    for (const [n, c] of this._children) out.push(...c.namedModules(`${prefix}${n}.`));
    return out;
  }

  /** Number of scalars in trainable parameters (running statistics excluded). No allocation. */
  paramCount(): number {
    return this.namedParams().reduce((s, [, p]) => s + (p.trainable ? p.size : 0), 0);
  }

  /** Allocate and initialise every parameter. Idempotent. */
  build(seed = 0): this {
    for (const [path, p] of this.namedParams()) p.materialize(new Rng((seed ^ hash32(path)) >>> 0));
    return this;
  }

  get isBuilt(): boolean {
    return this.namedParams().every(([, p]) => p.built);
  }

  trainableVariables(): tf.Variable[] {
    return this.namedParams()
      .filter(([, p]) => p.trainable)
      .map(([, p]) => p.value);
  }

  dispose(): void {
    for (const [, p] of this.namedParams()) p.dispose();
  }
}

export class ModuleList<M extends Module = Module> extends Module {
  constructor(readonly items: M[]) {
    super();
    items.forEach((m, i) => this.child(String(i), m));
  }
}
