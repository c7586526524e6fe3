import * as tf from '@tensorflow/tfjs';
import { FUSED } from '../backend/kernel-names';
import { aleaSeed, dropoutMultiplier } from '../util/rng';

/**
 * LayerNorm, activations and the softmax gradient as single kernels where the active backend has them (the native
 * kernels over wasm register `LvLayerNorm`, `LvActivation`, … : see src/backend/kernel-names.ts), and as compositions
 * of
 * tfjs ops everywhere else (cpu, plain wasm, tfjs-node). Both paths compute the same function; the tests compare
 * the fused kernels and their gradients against the composite ones on the `cpu` backend.
 */

/** True when the active backend registers kernel `name`. */
export function hasKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

function runKernel(name: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap): tf.Tensor | tf.Tensor[] {
  return tf.engine().runKernel(name, inputs as unknown as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap) as
    | tf.Tensor
    | tf.Tensor[];
}

// Gradients of the fused kernels. Every output of the gradient kernel is computed at once; each closure hands back
// its tensor (tensors not asked for are freed with the rest of the backward pass).
tf.registerGradient({
  kernelName: FUSED.layerNorm,
  inputsToSave: ['x', 'gamma'],
  gradFunc: (dy, saved, attrs) => {
    const [x, gamma] = saved;
    const [dx, dgamma, dbeta] = runKernel(FUSED.layerNormGrad, { dy: dy as tf.Tensor, x, gamma }, attrs) as tf.Tensor[];
    return { x: () => dx, gamma: () => dgamma, beta: () => dbeta };
  },
});

tf.registerGradient({
  kernelName: FUSED.activation,
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => ({
    x: () => runKernel(FUSED.activationGrad, { dy: dy as tf.Tensor, x: saved[0] }, attrs) as tf.Tensor,
  }),
});

tf.registerGradient({
  kernelName: FUSED.batchNorm,
  inputsToSave: ['x', 'gamma'],
  gradFunc: (dys, saved, attrs) => {
    const [x, gamma] = saved;
    const [dy, dMean, dVar] = dys as tf.Tensor[];
    const [dx, dgamma, dbeta] = runKernel(FUSED.batchNormGrad, { dy, x, gamma, dMean, dVar }, attrs) as tf.Tensor[];
    return { x: () => dx, gamma: () => dgamma, beta: () => dbeta };
  },
});

tf.registerGradient({
  kernelName: FUSED.linear,
  inputsToSave: ['x', 'weight'],
  gradFunc: (dy, saved, attrs) => {
    const [x, weight] = saved;
    const hasBias = Boolean((attrs as { hasBias?: boolean }).hasBias);
    const g = runKernel(FUSED.linearGrad, { dy: dy as tf.Tensor, x, weight }, { hasBias }) as tf.Tensor[];
    const grads: Record<string, () => tf.Tensor> = { x: () => g[0], weight: () => g[1] };
    if (hasBias) grads.bias = () => g[2];
    return grads;
  },
});

/**
 * tf.dropout(x, rate, undefined, seed)'s multiplier of `shape` (0 or 1/keep, float32), bit for bit: one native kernel
 * (`LvDropoutMask`: Alea's recurrence and the mask in one pass, written into the tensor) where the backend has it,
 * else the same values built in JS. Either way no randomUniform, Add, Floor and RealDiv kernels run.
 */
export function dropoutMask(shape: number[], seed: number, rate: number): tf.Tensor {
  if (hasKernel(FUSED.dropoutMask)) {
    return runKernel(FUSED.dropoutMask, {}, { shape, state: aleaSeed(seed), keep: Math.fround(1 - rate) }) as tf.Tensor;
  }
  return tf.tensor(dropoutMultiplier(seed, tf.util.sizeFromShape(shape), rate), shape, 'float32');
}

/**
 * x·W (+ b) over the last axis of x, W [in, out]: one kernel forward and one for all gradients where the backend has
 * `LvLinear` (native), else reshape to rows, tf.fused.matMul / tf.matMul and reshape back.
 */
export function linear(x: tf.Tensor, weight: tf.Tensor2D, bias: tf.Tensor | null): tf.Tensor {
  const [k, n] = weight.shape;
  if (x.dtype === 'float32' && x.size > 0 && hasKernel(FUSED.linear)) {
    const inputs: tf.NamedTensorMap = bias ? { x, weight, bias } : { x, weight };
    return runKernel(FUSED.linear, inputs, { hasBias: !!bias }) as tf.Tensor;
  }
  const shape = x.shape;
  const x2 = shape.length === 2 ? (x as tf.Tensor2D) : x.reshape([x.size / k, k]);
  let y: tf.Tensor = bias
    ? tf.fused.matMul({ a: x2 as tf.Tensor2D, b: weight, bias })
    : tf.matMul(x2 as tf.Tensor2D, weight);
  if (shape.length !== 2) y = y.reshape([...shape.slice(0, -1), n]);
  return y;
}

tf.registerGradient({
  kernelName: FUSED.attention,
  inputsToSave: ['qkv'],
  outputsToSave: [false, true],
  gradFunc: (dys, saved, attrs) => {
    const [qkv, probs] = saved;
    // the probabilities are an output only for this gradient: callers never see them, so no gradient reaches them
    const dy = (dys as tf.Tensor[])[0];
    return { qkv: () => runKernel(FUSED.attentionGrad, { dy, qkv, probs }, attrs) as tf.Tensor };
  },
});

/**
 * Self-attention of a packed projection qkv [B, T, 3, H, d] (timm layout) as one kernel and one gradient kernel:
 * softmax(scale·Q·Kᵀ)·V with the heads merged, [B, T, H·d]. Only where the backend has `LvAttention`; check with
 * hasKernel(FUSED.attention) first (src/nn/attention.ts keeps the composite for every other case).
 */
export function packedSelfAttention(qkv: tf.Tensor, scale: number): tf.Tensor3D {
  return (runKernel(FUSED.attention, { qkv }, { scale }) as tf.Tensor[])[0] as tf.Tensor3D;
}

/**
 * Training-mode BatchNorm over the last axis with batch statistics: y = (x − mean)/√(var + eps)·γ + β, also
 * returning the batch mean and biased variance (for the running statistics). One kernel and one gradient kernel
 * where the backend has `LvBatchNorm`; tf.moments and elementwise ops elsewhere.
 */
export function batchNormTrain(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  eps: number,
): { y: tf.Tensor; mean: tf.Tensor; variance: tf.Tensor } {
  if (x.dtype === 'float32' && x.size > 0 && hasKernel(FUSED.batchNorm)) {
    const [y, mean, variance] = runKernel(FUSED.batchNorm, { x, gamma, beta }, { eps }) as tf.Tensor[];
    return { y, mean, variance };
  }
  const axes = x.shape.map((_, i) => i).slice(0, -1);
  const { mean, variance } = tf.moments(x, axes);
  return {
    y: x
      .sub(mean)
      .mul(tf.rsqrt(variance.add(eps)))
      .mul(gamma)
      .add(beta),
    mean,
    variance,
  };
}

/** LayerNorm over the last axis: (x − mean)/√(var + eps)·γ + β, with the biased variance. */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
  if (x.dtype === 'float32' && hasKernel(FUSED.layerNorm))
    return runKernel(FUSED.layerNorm, { x, gamma, beta }, { eps }) as tf.Tensor;
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true);
    return x
      .sub(mean)
      .mul(tf.rsqrt(variance.add(eps)))
      .mul(gamma)
      .add(beta);
  });
}

export type Activation = 'gelu' | 'gelu-sigmoid' | 'relu' | 'silu';

/** GELU (exact, erf), GELU's sigmoid approximation x·σ(1.702x), ReLU, SiLU. */
export function activate(x: tf.Tensor, kind: Activation): tf.Tensor {
  if (kind !== 'relu' && x.dtype === 'float32' && hasKernel(FUSED.activation))
    return runKernel(FUSED.activation, { x }, { kind }) as tf.Tensor;
  switch (kind) {
    case 'gelu':
      return tf.tidy(() => x.mul(tf.erf(x.mul(Math.SQRT1_2)).add(1)).mul(0.5));
    case 'gelu-sigmoid':
      return tf.tidy(() => x.mul(tf.sigmoid(x.mul(1.702))));
    case 'relu':
      return tf.relu(x);
    case 'silu':
      return tf.tidy(() => x.mul(tf.sigmoid(x)));
  }
}

/**
 * Route the softmax gradient through a fused `LvSoftmaxGrad` kernel on backends that have one; the tfjs gradient
 * (dy·y − Σ(dy·y)·y, four kernels) elsewhere. Installed once, at import; harmless where no backend has the kernel.
 */
function installSoftmaxGradient(): void {
  const original = tf.getGradient('Softmax');
  if (!original || (original as { lightvit?: boolean }).lightvit) return;
  const config: tf.GradConfig & { lightvit: boolean } = {
    ...original,
    lightvit: true,
    gradFunc: (dy, saved, attrs) => {
      const y = saved[0];
      const dim = Number((attrs as { dim?: number }).dim ?? -1);
      if ((dim === -1 || dim === y.rank - 1) && y.dtype === 'float32' && hasKernel(FUSED.softmaxGrad)) {
        return { logits: () => runKernel(FUSED.softmaxGrad, { dy: dy as tf.Tensor, y }, {}) as tf.Tensor };
      }
      return original.gradFunc(dy, saved, attrs);
    },
  };
  tf.registerGradient(config);
}
installSoftmaxGradient();

/**
 * The Tile gradient as one reshape and one sum: dy [r0·x0, r1·x1, …] viewed as [r0, x0, r1, x1, …] and summed over
 * the rep axes. tfjs's own gradient slices and adds once per repeated copy (a class token tiled over a batch of 64:
 * 128 kernels) and stops at rank 4. Installed once, at import, on every backend.
 */
function installTileGradient(): void {
  const original = tf.getGradient('Tile');
  if (!original || (original as { lightvit?: boolean }).lightvit) return;
  const config: tf.GradConfig & { lightvit: boolean } = {
    ...original,
    lightvit: true,
    gradFunc: (dy, saved, attrs) => {
      const x = saved[0];
      const reps = (attrs as { reps: number[] }).reps;
      return {
        x: () => {
          const split = x.shape.flatMap((d, i) => [reps[i], d]);
          const axes = reps.map((_, i) => 2 * i);
          return (dy as tf.Tensor).reshape(split).sum(axes).reshape(x.shape);
        },
      };
    },
  };
  tf.registerGradient(config);
}
installTileGradient();

/**
 * The Sum and Mean gradients as a broadcast of dy (one Tile kernel) instead of dy × tf.ones(x.shape): tfjs builds
 * that ones tensor in a JS typed array and uploads it on every call, a large cost for big reductions (the MoE
 * slot sums). Same values: dy (divided by the reduced size for Mean) copied over the reduced axes. Not on plain wasm,
 * whose Tile is slower still.
 */
function installReduceGradients(): void {
  // the plain wasm backend's Tile copies element by element in JS, slower than the ones tensor: keep tfjs's there
  const fastTile = () => {
    const tile = tf.getKernel('Tile', 'wasm')?.kernelFunc as { lightvitNative?: boolean } | undefined;
    return tf.getBackend() !== 'wasm' || Boolean(tile?.lightvitNative);
  };
  for (const name of ['Sum', 'Mean']) {
    const original = tf.getGradient(name);
    if (!original || (original as { lightvit?: boolean }).lightvit) continue;
    const config: tf.GradConfig & { lightvit: boolean } = {
      ...original,
      lightvit: true,
      gradFunc: (dy, saved, attrs) => {
        if (!fastTile()) return original.gradFunc(dy, saved, attrs);
        const x = saved[0];
        const axes = tf.util.parseAxisParam((attrs as { axis: number | number[] }).axis, x.shape);
        const expanded = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
        return {
          x: () => {
            let g = (dy as tf.Tensor).reshape(expanded);
            if (name === 'Mean') g = g.div(axes.reduce((n, a) => n * x.shape[a], 1));
            return tf.broadcastTo(g, x.shape);
          },
        };
      },
    };
    tf.registerGradient(config);
  }
}
installReduceGradients();
