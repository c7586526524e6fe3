import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs, flagString, flagInt, ParsedArgs } from './args';
import { LightvitError } from '../util/errors';
import { parseScale, envScale, SCALES, Scale } from '../util/scale';
import { dataDir, figuresDir, writeJsonAtomic } from '../util/fsx';

/**
 * `lightvit`: the kit's command line. Each subcommand loads only what it needs, so `--help` and `info` are fast.
 */
const COMMANDS: Record<string, { summary: string; usage: string; run: (a: ParsedArgs) => Promise<void> }> = {
  info: {
    summary: 'backend chosen (and why the better ones were skipped), versions, optional extras, datasets',
    usage: `lightvit info [--backend tensorflow-gpu|tensorflow|wasm|cpu] [--json]`,
    run: cmdInfo,
  },
  models: {
    summary: 'list registered models (name, family, paper, description)',
    usage: `lightvit models [--family F] [--tag test|paper|bench] [--json]`,
    run: cmdModels,
  },
  params: {
    summary: 'parameter count, active parameters and MACs of a model',
    usage: `lightvit params <model> [--set key=value ...] [--json] [--config]

  Counting convention: every trainable scalar (head included, BatchNorm running statistics excluded);
  MACs of one 1-image inference forward pass: Linear, Conv and attention matmuls (q·kᵀ and attn·v);
  'macsWithoutAttention' drops the attention matmuls (EIT/ptflops convention); FLOPs (Mobile V-MoE) = 2 × MACs.
  --config prints the full resolved config, i.e. every key --set accepts.`,
    run: cmdParams,
  },
  train: {
    summary: 'train one model on one dataset and write a results JSON and a checkpoint',
    usage: `lightvit train <model> [--data synth10|synth100|cifar10|cifar100|svhn|flowers102] [--scale smoke|quick|paper]
                 [--set key=value ...] [--epochs N] [--batch N] [--lr X] [--seed N] [--resume] [--out FILE]

  Writes data/results/train/<model>-<data>-<scale>-s<seed>.json (config, backend, versions, seed, metric history,
  wall time) and the checkpoint data/checkpoints/train/<...>.ckpt; --resume continues from that checkpoint.`,
    run: cmdTrain,
  },
  data: {
    summary: 'list datasets, download CIFAR/SVHN/Flowers (resumable, MD5-checked), generate synth',
    usage: `lightvit data list
  lightvit data download cifar10|cifar100|svhn|flowers102
  lightvit data synth            (generate the embedded synthetic datasets now; otherwise done on first use)

  The data folder is ${'$'}LIGHTVIT_DATA_DIR or <repo>/data.`,
    run: cmdData,
  },
  reproduce: {
    summary: "run every paper's experiments at a scale, then regenerate all figures and the summary table (npm start)",
    usage: `lightvit reproduce [--scale smoke|quick|paper] [--paper P] [--force] [--synth] [--data NAME]

  Default scale: ${'$'}LIGHTVIT_SCALE or quick. Uses CIFAR where downloaded (--synth forces the embedded synthetic
  data). Runs whose results are stored are skipped unless --force. Papers: mlit, mae, mobile-vmoe, dwnet, eit.`,
    run: cmdReproduce,
  },
  run: {
    summary: 'run one experiment (or all of one paper) without regenerating every figure',
    usage: `lightvit run <experiment-id|paper> [--scale S] [--force] [--synth]
  lightvit run --list`,
    run: cmdRun,
  },
  figures: {
    summary: 're-render figures from stored results (never retrains)',
    usage: `lightvit figures [--paper P]

  Writes figures/<paper>/<id>.html and .json always, and .png/.svg when Chromium is found
  (${'$'}LIGHTVIT_CHROMIUM or /usr/bin/chromium).`,
    run: cmdFigures,
  },
  claims: {
    summary: "each paper's headline claims with this kit's verdict from stored results (never trains)",
    usage: `lightvit claims [--paper P] [--scale S] [--json]`,
    run: cmdClaims,
  },
  table: {
    summary: 'summary table of stored results (mean ± std over seeds)',
    usage: `lightvit table [--paper P] [--scale S] [--experiment ID]`,
    run: cmdTable,
  },
  bench: {
    summary: "training img/s and memory of bench-vit and each paper's quick model per engine, vs PyTorch",
    usage:
      `lightvit bench [--json] [--models bench-vit|quick|NAME,...] [--engines cpu,wasm,wasm+native,tensorflow]\n` +
      `               [--threads 1,2] [--steps 10] [--warmup 2] [--rounds 2] [--batch 64] [--cpu-steps 2] [--no-torch]\n` +
      `               [--leak [--leak-steps 1000] [--leak-batch 8]]   (also: npm run bench -- --json)`,
    run: async (a) => {
      const { runBench } = await import('../bench');
      await runBench(toArgv(a));
    },
  },
};

function toArgv(a: ParsedArgs): string[] {
  const out = [...a.positional];
  for (const [k, v] of Object.entries(a.flags)) out.push(v === true ? `--${k}` : `--${k}=${v}`);
  return out;
}

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return [
    'lightvit — lightweight Vision Transformers, five papers, one kit',
    '',
    'Usage: lightvit <command> [options]      (lightvit <command> --help for details)',
    '',
    ...Object.entries(COMMANDS).map(([k, c]) => `  ${k.padEnd(width)}  ${c.summary}`),
    '',
    'Global options: --backend tensorflow-gpu|tensorflow|wasm|cpu (or LIGHTVIT_BACKEND), LIGHTVIT_NATIVE=0 turns the',
    `native kernels off, LIGHTVIT_SCALE=${SCALES.join('|')}, LIGHTVIT_DATA_DIR, LIGHTVIT_FIGURES_DIR, LIGHTVIT_CHROMIUM.`,
  ].join('\n');
}

async function backend(a: ParsedArgs) {
  const { initBackend } = await import('../backend');
  return initBackend(flagString(a, 'backend'));
}

async function cmdInfo(a: ParsedArgs): Promise<void> {
  const b = await backend(a);
  const env = await import('../backend/env');
  const extras = env.detectExtras();
  const { datasetStatus } = await import('../data');
  const datasets = datasetStatus();
  const versions = env.versions();
  if (a.flags.json) {
    console.log(JSON.stringify({ backend: b, versions, extras, datasets }, null, 2));
    return;
  }
  console.log(`backend: ${b.name} (tfjs '${b.tfBackend}')`);
  for (const s of b.skipped) console.log(`  skipped ${s.name}: ${s.reason}`);
  if (b.native) console.log(`  ${b.native.reason}${b.native.enabled ? ' (LIGHTVIT_NATIVE=0 turns them off)' : ''}`);
  console.log(`versions: ${Object.entries(versions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log('extras:');
  for (const [k, v] of Object.entries(extras) as Array<[string, { found: boolean; path?: string; detail?: string; hint?: string; tslab?: boolean }]>) {
    console.log(`  ${k.padEnd(9)} ${v.found ? `found ${v.path ?? v.detail ?? ''}` : `not found — ${v.hint ?? ''}`}`);
    if (k === 'jupyter' && v.found && v.tslab === false) console.log(`            tslab kernel not registered — npm run notebook registers it`);
  }
  console.log(`datasets (${dataDir()}):`);
  for (const d of datasets) console.log(`  ${d.name.padEnd(11)} ${d.present ? 'present' : 'absent '} ${d.synthetic ? '(synthetic) ' : ''}${d.detail}`);
}

async function cmdModels(a: ParsedArgs): Promise<void> {
  const { listModels } = await import('../models');
  const ms = listModels({ family: flagString(a, 'family'), tag: flagString(a, 'tag') });
  if (a.flags.json) {
    console.log(JSON.stringify(ms.map((m) => ({ name: m.name, family: m.family.family, paper: m.family.paper, tags: m.tags, description: m.description }))));
    return;
  }
  const w = Math.max(...ms.map((m) => m.name.length));
  for (const m of ms) console.log(`${m.name.padEnd(w)}  ${m.family.family.padEnd(12)} ${m.description}${m.tags.length ? ` [${m.tags.join(', ')}]` : ''}`);
}

async function cmdParams(a: ParsedArgs): Promise<void> {
  const name = a.positional[0];
  if (!name) throw new LightvitError(`lightvit params needs a model name; see 'lightvit models'`);
  const { createModel, parseSetArgs, resolveConfig } = await import('../models');
  const overrides = parseSetArgs(a.sets);
  if (a.flags.config) {
    console.log(JSON.stringify(resolveConfig(name, overrides), null, 2));
    return;
  }
  await backend(a);
  const { countMacs } = await import('../analysis/count');
  const m = createModel(name, overrides, { seed: 0 });
  const r = countMacs(m);
  const out = {
    model: name,
    params: m.paramCount(),
    activeParams: m.activeParamCount(),
    macs: r.macs,
    macsWithoutAttention: r.macsWithoutAttention,
    flops: 2 * r.macs,
    byKind: r.byKind,
    config: m.config,
  };
  m.dispose();
  if (a.flags.json) {
    console.log(JSON.stringify(out));
    return;
  }
  const M = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(3)} G` : `${(n / 1e6).toFixed(3)} M`);
  console.log(`${name}`);
  console.log(`  params              ${out.params.toLocaleString('en-US')}${out.activeParams !== out.params ? `  (active per image: ${out.activeParams.toLocaleString('en-US')})` : ''}`);
  console.log(`  MACs                ${M(out.macs)}  (FLOPs = 2×MACs = ${M(out.flops)})`);
  console.log(`  MACs w/o attention  ${M(out.macsWithoutAttention)}`);
}

async function cmdTrain(a: ParsedArgs): Promise<void> {
  const name = a.positional[0];
  if (!name) throw new LightvitError(`lightvit train needs a model name; see 'lightvit models'`);
  const scale = parseScale(flagString(a, 'scale'), envScale());
  const dataName = flagString(a, 'data') ?? 'synth10';
  const seed = flagInt(a, 'seed') ?? 0;
  const b = await backend(a);
  const { createModel, parseSetArgs } = await import('../models');
  const { loadDataset } = await import('../data');
  const { train, defaultRecipe, ProgressBar } = await import('../train');
  const { countMacs } = await import('../analysis/count');
  const { kitVersions, checkpointPath, recordKey } = await import('../experiments/common');
  const { appendRecord } = await import('../report/store');
  const [trainDs, testDs] = await Promise.all([loadDataset(dataName, 'train'), loadDataset(dataName, 'test')]);
  const model = createModel(name, { numClasses: trainDs.numClasses, ...parseSetArgs(a.sets) }, { seed });
  const recipe = defaultRecipe(scale);
  if (flagInt(a, 'epochs') !== undefined) recipe.epochs = flagInt(a, 'epochs')!;
  if (flagInt(a, 'batch') !== undefined) recipe.batchSize = flagInt(a, 'batch')!;
  if (flagString(a, 'lr') !== undefined) recipe.lr = Number(flagString(a, 'lr'));
  const ckpt = checkpointPath('train', name, dataName, scale, seed);
  console.error(`training ${name} (${model.paramCount().toLocaleString('en-US')} params) on ${dataName}${trainDs.synthetic ? ' (synthetic data)' : ''}, scale ${scale}, backend ${b.name}`);
  const res = await train({ model, train: trainDs, test: testDs, recipe, seed, checkpoint: ckpt, resume: !!a.flags.resume, onProgress: new ProgressBar().sink(name) });
  const macs = countMacs(model);
  const out = flagString(a, 'out') ?? path.join(dataDir(), 'results', 'train', `${name}-${dataName}-${scale}-s${seed}.json`);
  const record = {
    experiment: 'train',
    paper: 'kit',
    variant: name,
    scale,
    dataset: dataName,
    synthetic: trainDs.synthetic,
    model: name,
    config: { ...model.config },
    seed,
    backend: b.name,
    versions: kitVersions(),
    metrics: {
      top1: res.final.top1, top5: res.final.top5, loss: res.final.loss, params: model.paramCount(), activeParams: model.activeParamCount(),
      macs: macs.macs, macsWithoutAttention: macs.macsWithoutAttention, imgPerS: res.imgPerS, steps: res.steps,
    },
    history: res.history,
    wallTimeS: res.wallTimeS,
    timestamp: new Date().toISOString(),
    key: recordKey('train', name, scale, dataName, seed),
    recipe,
    checkpoint: ckpt,
  };
  writeJsonAtomic(out, record);
  appendRecord(record);
  model.dispose();
  console.log(`top-1 ${(100 * res.final.top1).toFixed(2)}%  top-5 ${(100 * res.final.top5).toFixed(2)}%  ${res.imgPerS.toFixed(1)} img/s  ${res.wallTimeS.toFixed(1)} s${trainDs.synthetic ? '  (synthetic data)' : ''}`);
  console.log(`results: ${out}\ncheckpoint: ${ckpt}`);
}

async function cmdData(a: ParsedArgs): Promise<void> {
  const sub = a.positional[0] ?? 'list';
  const data = await import('../data');
  if (sub === 'list') {
    console.log(`data folder: ${dataDir()}`);
    for (const d of data.datasetStatus()) console.log(`  ${d.name.padEnd(11)} ${d.present ? 'present' : 'absent '} ${d.synthetic ? '(synthetic) ' : ''}${d.path}  ${d.detail}`);
    return;
  }
  if (sub === 'download') {
    const name = a.positional[1];
    if (!name) throw new LightvitError('lightvit data download needs a dataset: cifar10, cifar100, svhn or flowers102');
    const { ProgressBar } = await import('../train/progress');
    const bar = new ProgressBar();
    const where = await data.downloadDataset(name, {
      onProgress: (done: number, total: number) => bar.render(`download ${name}`, done, total, `${(done / 1e6).toFixed(1)}/${(total / 1e6).toFixed(1)} MB`),
    });
    console.log(`${name} ready at ${where}`);
    return;
  }
  if (sub === 'synth') {
    for (const n of ['synth10', 'synth100']) {
      const d = await data.loadDataset(n, 'train');
      console.log(`${n}: ${d.labels.length} train images, ${d.numClasses} classes (synthetic data)`);
    }
    return;
  }
  throw new LightvitError(`unknown data subcommand '${sub}'; expected list, download or synth`);
}

function ctxFor(a: ParsedArgs, scale: Scale) {
  return {
    scale,
    preferReal: !a.flags.synth,
    force: !!a.flags.force,
    seed: flagInt(a, 'seed') ?? 0,
    data: flagString(a, 'data'),
    log: (m: string) => console.error(m),
  };
}

async function runExperiments(a: ParsedArgs, ids: string[], scale: Scale): Promise<void> {
  const { getExperiment } = await import('../experiments');
  const { ProgressBar, fmtDuration } = await import('../train/progress');
  const exps = ids.map(getExperiment);
  const total = exps.reduce((s, e) => s + e.plan(scale).runs, 0);
  let done = 0;
  const overall = new ProgressBar({ intervalS: 30 });
  const t0 = Date.now();
  for (const e of exps) {
    const p = e.plan(scale);
    console.error(`\n▶ ${e.id}: ${e.title} — ${p.description} (${p.runs} runs, scale ${scale})`);
    const ctx = {
      ...ctxFor(a, scale),
      onRunDone: () => {
        done++;
        overall.render('overall', Math.min(done, total), total, `${done}/${total} runs · ${fmtDuration((Date.now() - t0) / 1000)}`);
      },
    };
    await e.run(ctx);
  }
}

async function cmdReproduce(a: ParsedArgs): Promise<void> {
  const scale = parseScale(flagString(a, 'scale'), envScale());
  const b = await backend(a);
  const { listExperiments } = await import('../experiments');
  const paper = flagString(a, 'paper');
  const exps = listExperiments(paper);
  const t0 = Date.now();
  console.error(`lightvit reproduce: ${exps.length} experiments at scale ${scale} on backend ${b.name}${b.native?.enabled ? ' + native kernels' : ''}`);
  await runExperiments(a, exps.map((e) => e.id), scale);
  await cmdFigures(a);
  await cmdTable(a);
  await cmdClaims(a, scale);
  console.error(`done in ${((Date.now() - t0) / 60000).toFixed(1)} min. Figures: ${figuresDir()}`);
}

async function cmdRun(a: ParsedArgs): Promise<void> {
  const { listExperiments, PAPERS } = await import('../experiments');
  if (a.flags.list || !a.positional[0]) {
    for (const e of listExperiments()) console.log(`${e.id.padEnd(28)} ${e.title}`);
    return;
  }
  const scale = parseScale(flagString(a, 'scale'), envScale());
  await backend(a);
  const target = a.positional[0];
  const ids = target in PAPERS ? listExperiments(target).map((e) => e.id) : [target];
  await runExperiments(a, ids, scale);
}

async function cmdFigures(a: ParsedArgs): Promise<void> {
  const { renderAllFigures } = await import('../report/render');
  const res = await renderAllFigures({ experiments: (await import('../experiments')).listExperiments(), paper: flagString(a, 'paper'), log: (m: string) => console.error(m) });
  for (const f of res.failed) console.error(`  figures of ${f.experiment} failed: ${f.error}`);
  console.error(`${res.specs.length} figures (${res.files.length} files) written under ${figuresDir()}`);
}

async function cmdClaims(a: ParsedArgs, scaleOverride?: Scale): Promise<void> {
  const { loadRecords } = await import('../report/store');
  await import('../experiments');
  const { claimRows, formatClaims, claimsJsonLines } = await import('../experiments/claims');
  const scale = scaleOverride ?? (flagString(a, 'scale') !== undefined ? parseScale(flagString(a, 'scale')) : undefined);
  const rows = claimRows(loadRecords(), { paper: flagString(a, 'paper'), scale });
  if (a.flags.json && !scaleOverride) {
    if (rows.length) console.log(claimsJsonLines(rows));
    return;
  }
  console.log(formatClaims(rows));
}

async function cmdTable(a: ParsedArgs): Promise<void> {
  const { loadRecords } = await import('../report/store');
  const { summarize, toText } = await import('../report/table');
  const scale = flagString(a, 'scale') as Scale | undefined;
  const recs = loadRecords({ paper: flagString(a, 'paper'), experiment: flagString(a, 'experiment'), scale }).filter((r) => Number.isFinite(r.metrics.top1));
  if (!recs.length) {
    console.log('no stored results yet (lightvit reproduce, or lightvit run <experiment>)');
    return;
  }
  const rows = summarize(recs, { groupBy: ['paper', 'experiment', 'variant', 'dataset', 'scale'], metrics: ['top1', 'params', 'macs'] });
  console.log(toText(rows));
  if (recs.some((r) => r.synthetic)) console.log("\nsynth10/synth100 rows are results on the embedded synthetic data, not the papers' numbers.");
}

export async function main(argv: string[]): Promise<number> {
  const cmd = argv[0];
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(usage());
    return 0;
  }
  const c = COMMANDS[cmd];
  if (!c) {
    console.error(`lightvit: unknown command '${cmd}'; expected one of: ${Object.keys(COMMANDS).join(', ')}\n`);
    console.error(usage());
    return 2;
  }
  try {
    const a = parseArgs(argv.slice(1), ['json', 'force', 'synth', 'resume', 'config', 'list', 'leak']);
    if (a.flags.help) {
      console.log(`${c.summary}\n\nUsage: ${c.usage}`);
      return 0;
    }
    await c.run(a);
    return 0;
  } catch (e) {
    if (e instanceof LightvitError) {
      console.error(`lightvit ${cmd}: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

export function isBuilt(): boolean {
  return fs.existsSync(path.join(__dirname, 'index.js'));
}
