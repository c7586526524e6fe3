import * as tf from '@tensorflow/tfjs';
import { initBackend, silenceCpuBanner } from '../backend';
import { enableNativeKernels, disableNativeKernels, nativeStatus, setNativeThreads } from '../backend/native';
import { measureSgemmGflops } from './sgemm-probe';
import { createModel } from '../models';
import { MAIN_QUICK_MODELS } from '../experiments';
import { countMacs } from '../analysis/count';
import { makeCtx } from '../nn/module';
import { Rng } from '../util/rng';
import { findTorchPython, runTwin, twinSpec, type TwinSpec } from './torch';
import { AdamW } from '../train/optim';
import { trainStep } from '../train/trainer';

/**
 * Training-throughput benchmark (issue 9): img/s of bench-vit and of each paper's main quick-scale model
 * (`--models quick`, the default with bench-vit) per engine, against each model's PyTorch twin (bench/torch/, issue
 * 15: same architecture and trainable-parameter count, built from the kit's config), all in one run so the figures
 * are comparable ratios on a noisy machine. Same work on both sides: batch 64 of N(0,1) images, softmax
 * cross-entropy (+ the model's auxiliary losses), Adam lr 1e-3, warm-up steps then timed steps. wasm+native,
 * tensorflow and the PyTorch twins (1 and 2 threads) are measured in `--rounds` interleaved rounds, best kept; cpu and
 * plain wasm (30–100× slower) once, with at most 3 timed steps (cpu: `--cpu-steps`).
 *
 *   lightvit bench [--json] [--models bench-vit|quick|NAME@quick|NAME,...] [--steps 10] [--warmup 2] [--rounds 2]
 *                  [--batch 64] [--cpu-steps 2] [--threads 1,2] [--engines cpu,wasm,wasm+native,tensorflow] [--no-torch]
 *                  [--leak [--leak-steps 1000] [--leak-batch 8]]
 */

export interface BenchRow {
  model: string;
  engine: string;
  batch: number;
  img_per_s: number;
  ms_per_step: number;
  steps: number;
  threads?: number;
  /** img/s divided by the best img/s of the model's PyTorch twin in the same run. */
  ratio_to_torch?: number;
  /** Trainable parameters (the kit's count; a twin's row carries the count it was checked against). */
  params?: number;
  /** 3 × countMacs × 2 FLOP per image × img/s. */
  gflops?: number;
  /** gflops / measured single-thread sgemm GFLOP/s. */
  of_sgemm_peak?: number;
  wasm_heap_bytes?: number;
  tf_bytes?: number;
  rss_bytes?: number;
  final_loss?: number;
  note?: string;
}

interface Opts {
  json: boolean;
  models: ModelSpec[];
  steps: number;
  warmup: number;
  rounds: number;
  batch: number;
  cpuSteps: number;
  threads: number[];
  engines: string[];
  torch: boolean;
  leak: boolean;
  leakSteps: number;
  leakBatch: number;
}

const ENGINES = ['cpu', 'wasm', 'wasm+native', 'tensorflow'];

/** A model to measure: registry name + overrides, shown as `label`. */
interface ModelSpec {
  label: string;
  model: string;
  overrides: Record<string, unknown>;
}

const BENCH_VIT: ModelSpec = { label: 'bench-vit', model: 'bench-vit', overrides: {} };
/** Each paper's main quick-scale model, as its experiments build it. */
const QUICK: ModelSpec[] = MAIN_QUICK_MODELS.map((m) => ({
  label: `${m.model}@quick`,
  model: m.model,
  overrides: m.overrides,
}));

function parse(argv: string[]): Opts {
  const o: Opts = {
    json: false,
    models: [BENCH_VIT, ...QUICK],
    steps: 10,
    warmup: 2,
    rounds: 2,
    batch: 64,
    cpuSteps: 2,
    threads: [1, 2],
    engines: ENGINES,
    torch: true,
    leak: false,
    leakSteps: 1000,
    leakBatch: 8,
  };
  const int = (k: string, v: string | undefined) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${k}=${v}: expected a non-negative integer`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i];
    if (!raw.startsWith('--')) throw new Error(`unexpected argument '${raw}' (options start with --)`);
    const eq = raw.indexOf('=');
    const key = raw.slice(2, eq < 0 ? undefined : eq);
    const takesValue = !['json', 'leak', 'no-torch'].includes(key);
    const val = eq >= 0 ? raw.slice(eq + 1) : takesValue ? argv[++i] : undefined;
    switch (key) {
      case 'json':
        o.json = true;
        break;
      case 'leak':
        o.leak = true;
        break;
      case 'no-torch':
        o.torch = false;
        break;
      case 'models': {
        const names = (val ?? '')
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        const specs = [
          BENCH_VIT,
          ...names.flatMap((n) => {
            if (n === 'quick') return QUICK;
            // a quick model by its label (`vmoe-6x64@quick`), else a registered model at its defaults
            const quick = QUICK.find((q) => q.label === n);
            return [quick ?? { label: n, model: n, overrides: {} }];
          }),
        ];
        o.models = specs.filter((m, i) => specs.findIndex((q) => q.label === m.label) === i);
        // unknown names fail here, with the list
        for (const m of o.models) createModel(m.model, m.overrides, { build: false });
        break;
      }
      case 'steps':
        o.steps = Math.max(1, int(key, val));
        break;
      case 'warmup':
        o.warmup = int(key, val);
        break;
      case 'rounds':
        o.rounds = Math.max(1, int(key, val));
        break;
      case 'batch':
        o.batch = Math.max(1, int(key, val));
        break;
      case 'cpu-steps':
        o.cpuSteps = int(key, val);
        break;
      case 'leak-steps':
        o.leakSteps = Math.max(20, int(key, val));
        break;
      case 'leak-batch':
        o.leakBatch = Math.max(1, int(key, val));
        break;
      case 'threads':
        o.threads = (val ?? '').split(',').map((s) => Math.max(1, int(key, s)));
        break;
      case 'engines': {
        o.engines = (val ?? '').split(',').map((s) => s.trim());
        const bad = o.engines.filter((e) => !ENGINES.includes(e));
        if (bad.length)
          throw new Error(`--engines: unknown '${bad.join(', ')}' (expected some of ${ENGINES.join(', ')})`);
        break;
      }
      default:
        throw new Error(
          `unknown option --${key} (expected --json, --models, --steps, --warmup, --rounds, --batch, ` +
            `--cpu-steps, --threads, --engines, --no-torch, --leak, --leak-steps, --leak-batch)`,
        );
    }
  }
  return o;
}

interface WasmInternals {
  wasm: { HEAPU8: Uint8Array };
}

function wasmHeapBytes(): number | undefined {
  try {
    return (tf.findBackend('wasm') as unknown as WasmInternals)?.wasm?.HEAPU8.byteLength;
  } catch {
    return undefined;
  }
}

/** Fixed batch shared by every engine: N(0,1) images and uniform labels from a seeded JS generator. */
function makeBatch(
  batch: number,
  imageSize: number,
  channels: number,
  classes: number,
): { x: Float32Array; y: Int32Array } {
  const rng = new Rng(1234);
  const x = new Float32Array(batch * imageSize * imageSize * channels);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal();
  const y = Int32Array.from({ length: batch }, () => Math.floor(rng.next() * classes) % classes);
  return { x, y };
}

interface Measured {
  msPerStep: number;
  finalLoss: number;
  tfBytes: number;
  rss: number;
}

/**
 * A training step on a fixed batch: the trainer's own `trainStep` (forward, cross-entropy + auxiliary losses,
 * `tf.variableGrads`, the kit's AdamW), with weight decay 0 and no clipping, i.e. Adam with lr 1e-3 like the PyTorch
 * reference. `step()` returns the loss; `dispose()` frees model, optimizer state and batch.
 */
function stepper(
  spec: ModelSpec,
  batch: number,
): { step: () => number; dispose: () => void; peakTfBytes: () => number } {
  const model = createModel(spec.model, spec.overrides, { seed: 0 });
  const c = model.config;
  const data = makeBatch(batch, c.imageSize, c.inChannels, c.numClasses);
  const x = tf.tensor4d(data.x, [batch, c.imageSize, c.imageSize, c.inChannels]);
  const y = tf.tensor1d(data.y, 'int32');
  const params = model.namedParams().filter(([, p]) => p.trainable);
  const opt = new AdamW(params, { weightDecay: 0 });
  let tfBytes = 0;
  const step = (): number => {
    let loss = NaN;
    tf.tidy(() => {
      const ctx = makeCtx({ training: true, seed: 0, targets: { labels: y } });
      const afterForward = () => (tfBytes = Math.max(tfBytes, tf.memory().numBytes));
      loss = trainStep({ model, params, optimizer: opt, x, y, ctx, lr: 1e-3, clipNorm: 0, afterForward }).loss;
    });
    return loss;
  };
  const dispose = () => {
    opt.dispose();
    model.dispose();
    x.dispose();
    y.dispose();
  };
  return { step, dispose, peakTfBytes: () => tfBytes };
}

/** Train `warmup + steps` steps of `name` on the active backend and time the last `steps`. Frees everything. */
function measure(spec: ModelSpec, batch: number, warmup: number, steps: number): Measured {
  const s = stepper(spec, batch);
  let rss = 0;
  const step = () => {
    const v = s.step();
    rss = Math.max(rss, process.memoryUsage().rss);
    return v;
  };
  try {
    for (let i = 0; i < warmup; i++) step();
    let last = NaN;
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) last = step();
    const msPerStep = (performance.now() - t0) / steps;
    return { msPerStep, finalLoss: last, tfBytes: s.peakTfBytes(), rss };
  } finally {
    s.dispose();
  }
}

function fmt(n: number | undefined, digits = 1): string {
  return n === undefined || !Number.isFinite(n) ? '' : n.toFixed(digits);
}

function printTable(rows: BenchRow[]): void {
  const cols: Array<[string, (r: BenchRow) => string]> = [
    ['model', (r) => r.model],
    ['engine', (r) => r.engine + (r.threads ? ` (${r.threads}T)` : '')],
    ['batch', (r) => String(r.batch)],
    ['img/s', (r) => fmt(r.img_per_s)],
    ['ms/step', (r) => fmt(r.ms_per_step, 0)],
    ['vs PyTorch', (r) => (r.ratio_to_torch === undefined ? '' : `${r.ratio_to_torch.toFixed(2)}×`)],
    ['GFLOP/s', (r) => fmt(r.gflops)],
    ['of sgemm peak', (r) => (r.of_sgemm_peak === undefined ? '' : `${(100 * r.of_sgemm_peak).toFixed(0)}%`)],
    ['wasm heap MB', (r) => fmt(r.wasm_heap_bytes === undefined ? undefined : r.wasm_heap_bytes / 2 ** 20, 0)],
    ['tf MB', (r) => fmt(r.tf_bytes === undefined ? undefined : r.tf_bytes / 2 ** 20, 0)],
    ['RSS MB', (r) => fmt(r.rss_bytes === undefined ? undefined : r.rss_bytes / 2 ** 20, 0)],
    ['note', (r) => r.note ?? ''],
  ];
  const cells = rows.map((r) => cols.map(([, f]) => f(r)));
  const widths = cols.map(([h], i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const numeric = new Set([2, 3, 4, 5, 6, 7, 8, 9, 10]);
  const line = (c: string[]) =>
    c
      .map((s, i) => (numeric.has(i) ? s.padStart(widths[i]) : s.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  console.log(line(cols.map(([h]) => h)));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const c of cells) console.log(line(c));
}

/** 1,000 (--leak-steps) training steps on wasm+native: tensor count and wasm heap must stay flat after warm-up. */
function leakCheck(o: Opts, say: (s: string) => void, emit: (obj: object) => void): void {
  const s = stepper(BENCH_VIT, o.leakBatch);
  const step = () => s.step();
  const warm = 10;
  for (let i = 0; i < warm; i++) step();
  const t0 = { tensors: tf.memory().numTensors, heap: wasmHeapBytes() ?? 0, bytes: tf.memory().numBytes };
  const start = performance.now();
  for (let i = warm; i < o.leakSteps; i++) step();
  const t1 = { tensors: tf.memory().numTensors, heap: wasmHeapBytes() ?? 0, bytes: tf.memory().numBytes };
  const ok = t1.tensors === t0.tensors && t1.bytes === t0.bytes && t1.heap === t0.heap;
  const result = {
    check: 'leak',
    model: 'bench-vit',
    engine: tf.getBackend() === 'wasm' && nativeStatus().enabled ? 'wasm+native' : tf.getBackend(),
    batch: o.leakBatch,
    steps: o.leakSteps,
    tensors: [t0.tensors, t1.tensors],
    tf_bytes: [t0.bytes, t1.bytes],
    wasm_heap_bytes: [t0.heap, t1.heap],
    seconds: Math.round((performance.now() - start) / 100) / 10,
    ok,
  };
  emit(result);
  say(
    `leak check (${result.engine}, bench-vit, batch ${o.leakBatch}, ${o.leakSteps} steps): tensors ` +
      `${t0.tensors} → ${t1.tensors}, ` +
      `tf bytes ${t0.bytes} → ${t1.bytes}, wasm heap ${t0.heap} → ${t1.heap}: ${ok ? 'flat' : 'GROWING'}`,
  );
  s.dispose();
}

export async function runBench(argv: string[]): Promise<void> {
  const o = parse(argv);
  const say = (s: string) => {
    if (!o.json) console.log(s);
  };
  const emit = (obj: object) => {
    if (o.json) console.log(JSON.stringify(obj));
  };
  const notes: string[] = [];

  await initBackend('wasm');
  const native = enableNativeKernels();
  if (!native.enabled) notes.push(`wasm+native skipped: ${native.reason}`);
  const engines = o.engines.filter((e) => e !== 'wasm+native' || native.enabled);
  let tfAvailable = false;
  if (engines.includes('tensorflow')) {
    try {
      await initBackend('tensorflow');
      tfAvailable = tf.getBackend() === 'tensorflow';
    } catch (e) {
      notes.push(`tensorflow skipped: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`);
    }
    await tf.setBackend('wasm');
  }

  let peak: number | undefined;
  let peakNote = '';
  if (native.enabled) {
    peak = measureSgemmGflops(1);
    peakNote =
      `single-thread sgemm peak ${peak.toFixed(1)} GFLOP/s ` + `(native ${nativeStatus().gemm}, [4096×96]·[96×288])`;
  }

  const torchPy = o.torch ? findTorchPython() : { missing: 'PyTorch twins skipped (--no-torch)' };
  const python = 'python' in torchPy ? torchPy.python : null;
  if ('missing' in torchPy) notes.push(torchPy.missing);

  const best = new Map<string, BenchRow>();
  const keep = (row: BenchRow) => {
    const key = `${row.model}|${row.engine}|${row.threads ?? ''}`;
    const prev = best.get(key);
    if (!prev || row.img_per_s > prev.img_per_s) best.set(key, row);
  };
  const macs = new Map<string, number>();
  const twins = new Map<string, TwinSpec>();
  for (const m of o.models) {
    const model = createModel(m.model, m.overrides, { seed: 0 });
    macs.set(m.label, countMacs(model).macs);
    const spec = twinSpec(model);
    if (spec) twins.set(m.label, spec);
    else if (python) notes.push(`${m.label}: no PyTorch twin for model class ${model.constructor.name}`);
    model.dispose();
  }
  const twinFailed = new Set<string>();

  for (let round = 0; round < o.rounds; round++) {
    for (const m of o.models) {
      for (const engine of engines) {
        if (engine === 'tensorflow' && !tfAvailable) continue;
        // cpu (~100× slower) and plain wasm (~30×): one short measurement in the first round
        if (engine === 'cpu' && (round > 0 || o.cpuSteps === 0)) continue;
        if (engine === 'wasm' && round > 0) continue;
        const variants = engine === 'wasm+native' ? o.threads : [undefined];
        for (const threads of variants) {
          await tf.setBackend(engine === 'wasm+native' ? 'wasm' : engine === 'wasm' ? 'wasm' : engine);
          if (engine === 'cpu') silenceCpuBanner();
          if (engine === 'wasm') disableNativeKernels();
          if (engine === 'wasm+native') {
            enableNativeKernels();
            setNativeThreads(threads!);
          }
          const steps = engine === 'cpu' ? o.cpuSteps : engine === 'wasm' ? Math.min(3, o.steps) : o.steps;
          const warmup = engine === 'cpu' || engine === 'wasm' ? Math.min(1, o.warmup) : o.warmup;
          say(
            `  measuring ${m.label} on ` +
              `${engine}${threads ? ` (${threads} thread${threads > 1 ? 's' : ''})` : ''}, round ` +
              `${round + 1}/${o.rounds} …`,
          );
          const r = measure(m, o.batch, warmup, steps);
          const img = (1000 * o.batch) / r.msPerStep;
          keep({
            model: m.label,
            engine,
            batch: o.batch,
            img_per_s: img,
            ms_per_step: r.msPerStep,
            steps,
            threads,
            params: twins.get(m.label)?.params,
            gflops: (3 * 2 * macs.get(m.label)! * img) / 1e9,
            wasm_heap_bytes: engine.startsWith('wasm') ? wasmHeapBytes() : undefined,
            tf_bytes: r.tfBytes,
            rss_bytes: r.rss,
            final_loss: r.finalLoss,
          });
        }
      }
      const spec = twins.get(m.label);
      if (python && spec && !twinFailed.has(m.label)) {
        for (const threads of o.threads) {
          say(
            `  measuring the PyTorch twin of ${m.label} (${threads} thread${threads > 1 ? 's' : ''}), round ` +
              `${round + 1}/${o.rounds} …`,
          );
          const t = runTwin(python, spec, { batch: o.batch, steps: o.steps, warmup: o.warmup, threads });
          if (typeof t === 'string') {
            notes.push(`${m.label}: ${t}`);
            twinFailed.add(m.label);
            break;
          }
          keep({
            model: m.label,
            engine: 'pytorch',
            batch: o.batch,
            img_per_s: t.img_per_s,
            ms_per_step: t.ms_per_step,
            steps: o.steps,
            threads,
            params: t.params,
            gflops: (3 * 2 * macs.get(m.label)! * t.img_per_s) / 1e9,
            final_loss: t.final_loss,
            note: `torch ${t.version}`,
          });
        }
      }
    }
  }
  // restore the default: native on, all cores
  await tf.setBackend('wasm');
  if (native.enabled) {
    enableNativeKernels();
    setNativeThreads(o.threads[o.threads.length - 1]);
  }

  const rows = [...best.values()];
  const torchBest = new Map<string, number>();
  for (const r of rows)
    if (r.engine === 'pytorch') torchBest.set(r.model, Math.max(torchBest.get(r.model) ?? 0, r.img_per_s));
  for (const r of rows) {
    const tb = torchBest.get(r.model);
    if (tb) r.ratio_to_torch = r.img_per_s / tb;
    if (peak && r.gflops !== undefined) r.of_sgemm_peak = r.gflops / peak;
  }

  if (o.json) {
    for (const r of rows) emit(r);
    for (const n of notes) emit({ note: n });
    if (peak) emit({ sgemm_peak_gflops_1thread: peak });
  } else {
    console.log('');
    console.log(
      `Training throughput, synthetic N(0,1) batch, Adam lr 1e-3, softmax cross-entropy; best of ${o.rounds} ` +
        `interleaved round(s), ${o.warmup} warm-up + ${o.steps} timed steps (plain wasm: 1 round, ` +
        `${Math.min(3, o.steps)} steps; cpu: 1 round, ${o.cpuSteps}).`,
    );
    console.log(
      `Machine: ${require('node:os').cpus()[0]?.model ?? 'unknown CPU'}, ${require('node:os').cpus().length} ` +
        `cores, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}. ${peakNote}`,
    );
    console.log('');
    printTable(rows);
    for (const n of notes) console.log(`note: ${n}`);
    console.log(
      'GFLOP/s counts 3 × inference MACs × 2 per image (forward + backward); memory columns are peaks seen ' +
        'during the run.',
    );
  }
  if (o.leak) {
    if (native.enabled) {
      await tf.setBackend('wasm');
      enableNativeKernels();
    }
    leakCheck(o, say, emit);
  }
}
