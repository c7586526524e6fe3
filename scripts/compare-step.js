#!/usr/bin/env node
'use strict';
/**
 * Time the trainer's step (forward, cross-entropy, tf.variableGrads, AdamW with weight decay 0.05 and clipping at 1)
 * of one model in the build at ROOT (a checkout with dist/ built and the native addon compiled), on wasm with
 * whatever native kernels that build has. Compares two builds of the kit, e.g. a worktree of an older commit:
 *
 *   git worktree add /tmp/before <commit> && (cd /tmp/before && ln -s $PWD/node_modules . && npx tsc -p tsconfig.build.json && node scripts/build-native.js)
 *   node scripts/compare-step.js /tmp/before mlit-xxs 32; node scripts/compare-step.js . mlit-xxs 32
 *
 * Prints one JSON line: ms per step (best of 3 rounds of 3 steps after 2 warm-up steps), img/s, last loss. The
 * models are the papers' quick-scale stand-ins as this checkout's build defines them (MAIN_QUICK_MODELS in its
 * dist/, so build it first), applied to both builds alike: an older build without that list runs the same configs.
 */
const path = require('node:path');

const root = path.resolve(process.argv[2] || '.');
const name = process.argv[3] || 'bench-vit';
const batch = Number(process.argv[4] || 32);
const { MAIN_QUICK_MODELS } = require(path.join(__dirname, '..', 'dist', 'experiments'));
const QUICK = { 'bench-vit': {}, ...Object.fromEntries(MAIN_QUICK_MODELS.map((m) => [m.model, m.overrides])) };

async function main() {
  const tf = require(require.resolve('@tensorflow/tfjs', { paths: [root] }));
  const { createModel } = require(path.join(root, 'dist', 'models'));
  const { makeCtx } = require(path.join(root, 'dist', 'nn', 'module'));
  const optim = require(path.join(root, 'dist', 'train', 'optim'));
  const { crossEntropy } = require(path.join(root, 'dist', 'train', 'losses'));
  const native = require(path.join(root, 'dist', 'backend', 'native'));
  await require(path.join(root, 'dist', 'backend')).initBackend('wasm');
  const model = createModel(name, QUICK[name] || {}, { seed: 0 });
  const c = model.config;
  const x = tf.randomNormal([batch, c.imageSize, c.imageSize, c.inChannels], 0, 1, 'float32', 1);
  const y = tf.tensor1d(
    Array.from({ length: batch }, (_, i) => i % c.numClasses),
    'int32',
  );
  const params = model.namedParams().filter(([, p]) => p.trainable);
  const byVar = new Map(params.map(([n, p]) => [p.value.name, n]));
  const opt = new optim.AdamW(params, { weightDecay: 0.05 });
  const fusedApi = typeof native.nativeAdamW === 'function'; // builds before it took clipNorm in apply()
  const step = () => {
    let loss = NaN;
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(
        () => {
          const ctx = makeCtx({ training: true, seed: 0, targets: { labels: y } });
          const l = crossEntropy(model.forward(x, ctx), y);
          return ctx.aux.length ? l.add(tf.addN(ctx.aux.map((a) => a.value))) : l;
        },
        params.map(([, p]) => p.value),
      );
      loss = value.dataSync()[0];
      const byPath = new Map(Object.entries(grads).map(([k, g]) => [byVar.get(k), g]));
      if (fusedApi) opt.apply(byPath, 1e-3, 1);
      else opt.apply(optim.clipByGlobalNorm(byPath, 1).grads, 1e-3);
    });
    return loss;
  };
  for (let i = 0; i < 2; i++) step();
  let best = Infinity;
  let loss;
  for (let r = 0; r < 3; r++) {
    const t = performance.now();
    for (let i = 0; i < 3; i++) loss = step();
    best = Math.min(best, (performance.now() - t) / 3);
  }
  console.log(
    JSON.stringify({
      root,
      model: name,
      batch,
      ms: +best.toFixed(1),
      img_per_s: +((batch * 1000) / best).toFixed(1),
      loss,
      native: native.nativeStatus().reason,
    }),
  );
}

main().catch((e) => {
  console.error(e?.message ? e.message : e);
  process.exit(1);
});
