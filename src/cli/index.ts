import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  parseCommand,
  commandHelp,
  checkChoice,
  nearest,
  UsageError,
  type CommandSpec,
  type FlagSpec,
  type ParsedCommand,
} from './args';
import { LightvitError } from '../util/errors';
import { parseScale, envScale, SCALES, type Scale } from '../util/scale';
import { dataDir, figuresDir, writeJsonAtomic } from '../util/fsx';
import { listPapers } from '../experiments/registry';

/**
 * `lightvit`: the kit's command line. Every command declares its flags once (./args): the strict parser and the help
 * text both come from those declarations. Each command loads only what it needs, so `--help` and `info` are fast.
 */

type Command = CommandSpec & { run: (a: ParsedCommand) => Promise<void> };

const BACKEND: FlagSpec = {
  kind: 'string',
  help: 'force a tfjs backend (default: the best that loads; or LIGHTVIT_BACKEND)',
  choices: ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'],
};
const SCALE: FlagSpec = { kind: 'string', help: 'scale (default: LIGHTVIT_SCALE or quick)', choices: SCALES };
const JSON_FLAG: FlagSpec = { kind: 'boolean', help: 'print JSON' };
/**
 * The registered papers' ids, for help text. Papers register when '../experiments' is imported, which `main` does
 * before it prints any help (loading the experiments takes under a second; commands that print no help skip it).
 */
function paperList(): string {
  return listPapers({ withKit: false })
    .map((p) => p.id)
    .join(', ');
}
const PAPER: FlagSpec = {
  kind: 'string',
  value: 'P',
  get help() {
    return `one paper: ${paperList()}`;
  },
};
const SEED: FlagSpec = { kind: 'int', value: 'N', min: 0, help: 'seed (default 0)' };
const DATA: FlagSpec = {
  kind: 'string',
  value: 'NAME',
  help: 'dataset: synth10, synth100, cifar10, cifar100, svhn, flowers102, fashion-mnist or folder:<path>',
};
const RUN_FLAGS: Record<string, FlagSpec> = {
  scale: SCALE,
  force: { kind: 'boolean', help: 're-run runs whose results are stored' },
  synth: { kind: 'boolean', help: 'use the embedded synthetic data even where real data is present' },
  data: { ...DATA, help: `force one dataset for every run (${DATA.help})` },
  seed: { ...SEED, help: 'base seed (default 0)' },
  backend: BACKEND,
};

/** Recipe and run settings have their own flags: `--set` is for model config keys only. */
const SET_KEYS_WITH_FLAGS: Record<string, string> = {
  lr: '--lr',
  learningRate: '--lr',
  epochs: '--epochs',
  epoch: '--epochs',
  batch: '--batch',
  batchSize: '--batch',
  seed: '--seed',
  data: '--data',
  dataset: '--data',
  scale: '--scale',
};

const COMMANDS: Record<string, Command> = {
  info: {
    name: 'info',
    summary: 'backend chosen (and why the better ones were skipped), versions, optional extras, datasets',
    flags: { backend: BACKEND, json: JSON_FLAG },
    run: cmdInfo,
  },
  models: {
    name: 'models',
    summary: 'list registered models (name, family, paper, description)',
    flags: {
      family: { kind: 'string', value: 'F', help: 'only this model family' },
      tag: { kind: 'string', value: 'T', help: 'only models with this tag (test, paper, bench, ...)' },
      json: JSON_FLAG,
    },
    run: cmdModels,
  },
  params: {
    name: 'params',
    summary: 'parameter count, active parameters and MACs of a model',
    args: '<model>',
    positionals: { min: 1, max: 1, names: 'a model name (see lightvit models)' },
    flags: {
      set: { kind: 'string', value: 'key=value', repeat: true, help: 'override a model config key' },
      json: JSON_FLAG,
      config: { kind: 'boolean', help: 'print the full resolved config, i.e. every key --set accepts' },
      backend: BACKEND,
    },
    notes: `Counting convention: every trainable scalar (head included, BatchNorm running statistics excluded);
MACs of one 1-image inference forward pass: Linear, Conv and attention matmuls (q·kᵀ and attn·v);
'macsWithoutAttention' drops the attention matmuls (EIT/ptflops convention); FLOPs (Mobile V-MoE) = 2 × MACs.`,
    run: cmdParams,
  },
  train: {
    name: 'train',
    summary: 'train one model on one dataset and write a results JSON and a checkpoint',
    args: '<model>',
    positionals: { min: 1, max: 1, names: 'a model name (see lightvit models)' },
    flags: {
      data: { ...DATA, help: `${DATA.help} (default synth10)` },
      scale: SCALE,
      set: {
        kind: 'string',
        value: 'key=value',
        repeat: true,
        help: 'override a model config key (lightvit params <model> --config)',
      },
      epochs: { kind: 'int', value: 'N', min: 1, help: "epochs (default: the scale's recipe)" },
      batch: { kind: 'int', value: 'N', min: 1, help: "batch size (default: the scale's recipe)" },
      lr: { kind: 'number', value: 'X', positive: true, help: "peak learning rate (default: the scale's recipe)" },
      seed: SEED,
      resume: {
        kind: 'boolean',
        help: "continue this run's checkpoint (refused when it was trained with another configuration)",
      },
      out: { kind: 'string', value: 'FILE', help: 'results JSON (default data/results/train/<run>.json)' },
      checkpoint: {
        kind: 'string',
        value: 'FILE',
        help: 'checkpoint file (default data/checkpoints/train/<run>.ckpt)',
      },
      backend: BACKEND,
    },
    notes: `A run is identified by model, resolved config, recipe, data and seed: <run> is
<model>-<data>-<scale>-s<seed>-<fingerprint>, so runs that differ in --set, --epochs, --lr or --batch never share a
results file, a checkpoint or a store key. Pre-training models (<model>-pretrain) train the MAE objective (no labels,
no evaluation). One process per run: a second one is refused with the pid of the first.`,
    run: cmdTrain,
  },
  data: {
    name: 'data',
    summary: 'list datasets, download CIFAR/SVHN/Flowers/Fashion-MNIST (resumable, MD5-checked), generate synth',
    args: 'list | download <dataset> | synth',
    positionals: { min: 0, max: 2 },
    flags: {
      mirror: {
        kind: 'string',
        value: 'URL|DIR',
        help: 'download from this mirror (URL base or folder; or LIGHTVIT_MIRROR)',
      },
    },
    notes: `  lightvit data list
  lightvit data download cifar10|cifar100|svhn|flowers102|fashion-mnist [--mirror URL|DIR]
  lightvit data synth            (generate the embedded synthetic datasets now; otherwise done on first use)

The data folder is $LIGHTVIT_DATA_DIR or <repo>/data.`,
    run: cmdData,
  },
  reproduce: {
    name: 'reproduce',
    summary: "run every paper's experiments at a scale, then regenerate all figures, the summary table and the claims",
    flags: { ...RUN_FLAGS, paper: PAPER },
    get notes() {
      return `Default scale: $LIGHTVIT_SCALE or quick. Data, best first: CIFAR where downloaded, else \
Fashion-MNIST where found
(real data, 10 classes), else the embedded synthetic sets; --data NAME forces one, --synth the synthetic sets.
Runs whose results are stored are skipped unless --force. Papers: ${paperList()}.`;
    },
    run: cmdReproduce,
  },
  run: {
    name: 'run',
    summary: 'run one experiment (or all of one paper) without regenerating every figure',
    args: '<experiment-id|paper>',
    positionals: { min: 0, max: 1 },
    flags: { ...RUN_FLAGS, list: { kind: 'boolean', help: 'list the experiments' } },
    run: cmdRun,
  },
  figures: {
    name: 'figures',
    summary: 're-render figures from stored results (never retrains)',
    flags: { paper: PAPER, scale: SCALE },
    notes: `Writes figures/<paper>/<id>.html and .json always, and .png/.svg when Chromium is found
($LIGHTVIT_CHROMIUM or /usr/bin/chromium).`,
    run: cmdFigures,
  },
  claims: {
    name: 'claims',
    summary: "each paper's headline claims with this kit's verdict from stored results (never trains)",
    flags: { paper: PAPER, scale: SCALE, json: { kind: 'boolean', help: 'one JSON object per claim row and line' } },
    run: (a) => cmdClaims(a),
  },
  table: {
    name: 'table',
    summary: 'summary table of stored results (mean ± std over seeds; one row per configuration)',
    flags: {
      paper: {
        kind: 'string',
        value: 'P',
        get help() {
          return `${PAPER.help}, or kit (lightvit train runs)`;
        },
      },
      scale: SCALE,
      experiment: { kind: 'string', value: 'ID', help: 'one experiment (lightvit run --list)' },
    },
    run: cmdTable,
  },
  bench: {
    name: 'bench',
    summary: "training img/s and memory of bench-vit and each paper's quick model per engine, vs PyTorch",
    flags: {
      json: JSON_FLAG,
      models: {
        kind: 'string',
        value: 'bench-vit|quick|NAME,...',
        help: 'models to measure (default: bench-vit and quick; a quick model by its label: vmoe-6x64@quick)',
      },
      engines: { kind: 'string', value: 'cpu,wasm,wasm+native,tensorflow', help: 'engines to measure' },
      threads: { kind: 'string', value: '1,2', help: 'thread counts for the PyTorch twins and native kernels' },
      steps: { kind: 'int', value: 'N', min: 1, help: 'timed steps (default 10)' },
      warmup: { kind: 'int', value: 'N', min: 0, help: 'untimed steps first (default 2)' },
      rounds: { kind: 'int', value: 'N', min: 1, help: 'interleaved rounds, best kept (default 2)' },
      batch: { kind: 'int', value: 'N', min: 1, help: 'batch size (default 64)' },
      'cpu-steps': { kind: 'int', value: 'N', min: 0, help: 'timed steps on the slow cpu engine (default 2)' },
      'no-torch': { kind: 'boolean', help: 'skip the PyTorch twins' },
      leak: { kind: 'boolean', help: 'also run the memory-leak check' },
      'leak-steps': { kind: 'int', value: 'N', min: 20, help: 'steps of the leak check (default 1000)' },
      'leak-batch': { kind: 'int', value: 'N', min: 1, help: 'batch of the leak check (default 8)' },
    },
    notes: 'Also: npm run bench -- --json',
    run: async (a) => {
      const { runBench } = await import('../bench');
      await runBench(toArgv(a));
    },
  },
};

/** The parsed flags back as argv (for runners that take argv, e.g. the bench). */
export function toArgv(a: ParsedCommand): string[] {
  const out = [...a.positional];
  for (const [k, v] of Object.entries(a.values)) {
    if (v === undefined || v === false || k === 'help') continue;
    if (v === true) out.push(`--${k}`);
    else for (const x of Array.isArray(v) ? v : [v]) out.push(`--${k}=${x}`);
  }
  return out;
}

/** Every command's declarations (for tests, docs and other runners). */
export function commandSpecs(): Readonly<Record<string, CommandSpec>> {
  return COMMANDS;
}

function kitVersion(): string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('../../package.json') as { version: string }).version;
  } catch {
    return '?';
  }
}

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return [
    'lightvit — lightweight Vision Transformers, five papers, one kit',
    '',
    'Usage: lightvit <command> [options]      (lightvit <command> --help for details; lightvit --version)',
    '',
    ...Object.entries(COMMANDS).map(([k, c]) => `  ${k.padEnd(width)}  ${c.summary}`),
    '',
    'Global options: --backend tensorflow-gpu|tensorflow|wasm|cpu (or LIGHTVIT_BACKEND), LIGHTVIT_NATIVE=0 turns the',
    `native kernels off, LIGHTVIT_SCALE=${SCALES.join('|')}, LIGHTVIT_DATA_DIR, LIGHTVIT_FIGURES_DIR, ` +
      `LIGHTVIT_CHROMIUM.`,
  ].join('\n');
}

async function backend(a: ParsedCommand) {
  const { initBackend } = await import('../backend');
  return initBackend(a.str('backend'));
}

function scaleOf(a: ParsedCommand): Scale {
  return parseScale(a.str('scale'), envScale());
}

async function checkPaper(a: ParsedCommand, extra: string[] = []): Promise<string | undefined> {
  const paper = a.str('paper');
  if (paper !== undefined) {
    const { listPapers } = await import('../experiments');
    checkChoice('paper', paper, [...new Set([...listPapers().map((p) => p.id), ...extra])]);
  }
  return paper;
}

async function checkData(name: string | undefined): Promise<void> {
  if (name === undefined || name.startsWith('folder:')) return;
  const { DATASET_NAMES } = await import('../data');
  checkChoice('dataset', name, [...DATASET_NAMES, 'folder:<path>']);
}

/** `--set lr=…` and friends: recipe and run settings have flags of their own. */
function checkSets(sets: string[], configKeys: readonly string[]): void {
  for (const s of sets) {
    const key = s.slice(0, Math.max(0, s.indexOf('='))).trim();
    const flag = SET_KEYS_WITH_FLAGS[key];
    if (flag && !configKeys.includes(key)) {
      throw new UsageError(
        `--set ${s}: '${key}' is not a model config key; use ${flag} ${s.slice(s.indexOf('=') + 1)}`,
      );
    }
  }
}

async function cmdInfo(a: ParsedCommand): Promise<void> {
  const b = await backend(a);
  const env = await import('../backend/env');
  const extras = env.detectExtras();
  const { datasetStatus } = await import('../data');
  const datasets = datasetStatus();
  const versions = env.versions();
  // the Python the bench's PyTorch twins run on (Debian's /usr/bin/python3 first), which may not be PATH's python3
  const { findTorchPython } = await import('../bench/torch');
  const torch = findTorchPython();
  if (a.bool('json')) {
    console.log(JSON.stringify({ backend: b, versions, extras, torch, datasets }, null, 2));
    return;
  }
  console.log(`backend: ${b.name} (tfjs '${b.tfBackend}')`);
  for (const s of b.skipped) console.log(`  skipped ${s.name}: ${s.reason}`);
  if (b.native) console.log(`  ${b.native.reason}${b.native.enabled ? ' (LIGHTVIT_NATIVE=0 turns them off)' : ''}`);
  console.log(
    `versions: ${Object.entries(versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
  console.log('extras:');
  type Extra = { found: boolean; path?: string; detail?: string; hint?: string; tslab?: boolean };
  for (const [k, v] of Object.entries(extras) as Array<[string, Extra]>) {
    console.log(`  ${k.padEnd(9)} ${v.found ? `found ${v.path ?? v.detail ?? ''}` : `not found — ${v.hint ?? ''}`}`);
    if (k === 'jupyter' && v.found && v.tslab === false) {
      console.log(`            tslab kernel not registered — npm run notebook registers it`);
    }
  }
  console.log(
    `  torch     ${'python' in torch ? `found ${torch.python} (PyTorch twins of npm run bench)` : `not found — ${torch.missing}`}`,
  );
  console.log(`datasets (${dataDir()}):`);
  for (const d of datasets) {
    console.log(
      `  ${d.name.padEnd(11)} ${d.present ? 'present' : 'absent '} ${d.synthetic ? '(synthetic) ' : ''}${d.detail}`,
    );
  }
}

async function cmdModels(a: ParsedCommand): Promise<void> {
  const { listModels } = await import('../models');
  const all = listModels();
  checkChoice('tag', a.str('tag'), [...new Set(all.flatMap((m) => m.tags))].sort());
  checkChoice('family', a.str('family'), [...new Set(all.map((m) => m.family.family))].sort());
  const ms = listModels({ family: a.str('family'), tag: a.str('tag') });
  if (a.bool('json')) {
    const rows = ms.map((m) => ({
      name: m.name,
      family: m.family.family,
      paper: m.family.paper,
      tags: m.tags,
      description: m.description,
    }));
    console.log(JSON.stringify(rows));
    return;
  }
  const w = Math.max(...ms.map((m) => m.name.length));
  for (const m of ms) {
    console.log(
      `${m.name.padEnd(w)}  ${m.family.family.padEnd(12)} ` +
        `${m.description}${m.tags.length ? ` [${m.tags.join(', ')}]` : ''}`,
    );
  }
}

async function cmdParams(a: ParsedCommand): Promise<void> {
  const name = a.positional[0];
  const { createModel, parseSetArgs, resolveConfig } = await import('../models');
  checkSets(a.list('set'), Object.keys(resolveConfig(name, {})));
  const overrides = parseSetArgs(a.list('set'));
  if (a.bool('config')) {
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
  if (a.bool('json')) {
    console.log(JSON.stringify(out));
    return;
  }
  const M = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(3)} G` : `${(n / 1e6).toFixed(3)} M`);
  const active =
    out.activeParams !== out.params ? `  (active per image: ${out.activeParams.toLocaleString('en-US')})` : '';
  console.log(`${name}`);
  console.log(`  params              ${out.params.toLocaleString('en-US')}${active}`);
  console.log(`  MACs                ${M(out.macs)}  (FLOPs = 2×MACs = ${M(out.flops)})`);
  console.log(`  MACs w/o attention  ${M(out.macsWithoutAttention)}`);
}

async function cmdTrain(a: ParsedCommand): Promise<void> {
  const name = a.positional[0];
  const scale = scaleOf(a);
  const dataName = a.str('data') ?? 'synth10';
  await checkData(dataName);
  const seed = a.num('seed') ?? 0;
  const { createModel, parseSetArgs, resolveConfig } = await import('../models');
  checkSets(a.list('set'), Object.keys(resolveConfig(name, {})));
  const sets = parseSetArgs(a.list('set'));
  resolveConfig(name, sets); // bad keys and values fail here, before any data is loaded
  const b = await backend(a);
  const { loadDataset } = await import('../data');
  const { train, defaultRecipe, ProgressBar } = await import('../train');
  const { maeLossFn } = await import('../train/mae');
  const { MaePretrainer } = await import('../models/mae');
  const { acquireRunLock } = await import('../train/lock');
  const { countMacs } = await import('../analysis/count');
  const { kitVersions, checkpointPath, recordKey } = await import('../experiments/common');
  const { buildRecord, runFingerprint, canonicalIdentity } = await import('../report/record');
  const { appendRecord } = await import('../report/store');
  const [trainDs, testDs] = await Promise.all([loadDataset(dataName, 'train'), loadDataset(dataName, 'test')]);
  const overrides = { numClasses: trainDs.numClasses, ...sets };
  const recipe = defaultRecipe(scale);
  if (a.num('epochs') !== undefined) recipe.epochs = a.num('epochs')!;
  if (a.num('batch') !== undefined) recipe.batchSize = a.num('batch')!;
  if (a.num('lr') !== undefined) recipe.lr = a.num('lr')!;
  const identity = { model: name, config: resolveConfig(name, overrides), recipe };
  const fp = runFingerprint(identity);
  const ckpt = a.str('checkpoint') ?? checkpointPath('train', name, dataName, scale, seed, fp);
  const runName = `${name}-${dataName.replace(/[^A-Za-z0-9._-]+/g, '_')}-${scale}-s${seed}-${fp}`;
  const out = a.str('out') ?? path.join(dataDir(), 'results', 'train', `${runName}.json`);
  const runIdentity = { ...canonicalIdentity(identity), dataset: dataName, seed };
  if (a.bool('resume') && !fs.existsSync(ckpt)) await otherConfigurations(ckpt, runIdentity);
  const release = acquireRunLock(ckpt);
  const model = createModel(name, overrides, { seed });
  try {
    // MAE pre-trainers learn to reconstruct masked patches: their objective, no labels, no evaluation
    const pretrain = model instanceof MaePretrainer;
    const what = pretrain ? 'pre-training (MAE objective)' : 'training';
    const synth = trainDs.synthetic ? ' (synthetic data)' : '';
    console.error(
      `${what} ${name} (${model.paramCount().toLocaleString('en-US')} params) on ${dataName}${synth}, scale ` +
        `${scale}, ` +
        `backend ${b.name}, run ${fp}`,
    );
    const res = await train({
      model,
      train: trainDs,
      test: pretrain ? undefined : testDs,
      lossFn: pretrain ? maeLossFn() : undefined,
      recipe,
      seed,
      checkpoint: ckpt,
      resume: a.bool('resume'),
      identity: runIdentity,
      log: (m) => console.error(m),
      onProgress: new ProgressBar().sink(name),
    });
    const macs = countMacs(model);
    const record = buildRecord({
      experiment: 'train',
      paper: 'kit',
      variant: name,
      scale,
      dataset: dataName,
      synthetic: trainDs.synthetic,
      model: name,
      config: model.config,
      seed,
      backend: b.name,
      versions: kitVersions(),
      result: res,
      counts: { params: model.paramCount(), activeParams: model.activeParamCount(), ...macs },
      // the run's identity (fingerprint) is inside the variant part of the key: runs of other configurations are
      // other runs, never newer versions of this one
      key: recordKey('train', `${name}@${fp}`, scale, dataName, seed, fp),
      fields: { recipe, checkpoint: ckpt, objective: pretrain ? 'mae' : 'cross-entropy' },
    });
    writeJsonAtomic(out, record);
    appendRecord(record);
    const pct = (v: number) => (Number.isFinite(v) ? `${(100 * v).toFixed(2)}%` : 'n/a');
    const head = pretrain
      ? `MAE loss ${res.final.loss.toFixed(4)}`
      : `top-1 ${pct(res.final.top1)}  top-5 ${pct(res.final.top5)}`;
    console.log(`${head}  ${res.imgPerS.toFixed(1)} img/s  ${res.wallTimeS.toFixed(1)} s${synth}`);
    console.log(`results: ${out}\ncheckpoint: ${ckpt}`);
  } finally {
    model.dispose();
    release();
  }
}

/**
 * `--resume` found no checkpoint of this configuration: name the checkpoints of the same model, data, scale and seed
 * trained with other configurations, and what differs, so that a changed flag is not mistaken for a lost run.
 */
async function otherConfigurations(ckpt: string, identity: Record<string, unknown>): Promise<void> {
  const { readCheckpoint, identityDiff } = await import('../train/checkpoint');
  const stem = path.basename(ckpt).replace(/-[0-9a-f]{8}\.ckpt$/, '-');
  let siblings: string[] = [];
  try {
    siblings = fs.readdirSync(path.dirname(ckpt)).filter((f) => f.startsWith(stem) && /-[0-9a-f]{8}\.ckpt$/.test(f));
  } catch {
    return;
  }
  for (const f of siblings) {
    try {
      const stored = readCheckpoint(path.join(path.dirname(ckpt), f)).meta.identity;
      const diff = stored ? identityDiff(stored, identity) : [];
      console.error(
        `note: another configuration of this run has a checkpoint: ${f}${diff.length ? ` (${diff.join('; ')})` : ''}`,
      );
    } catch {
      /* not readable: not worth a word here */
    }
  }
}

async function cmdData(a: ParsedCommand): Promise<void> {
  const sub = a.positional[0] ?? 'list';
  checkChoice('data subcommand', sub, ['list', 'download', 'synth']);
  if (sub !== 'download' && a.positional.length > 1)
    throw new UsageError(`unexpected argument '${a.positional[1]}' after 'data ${sub}'`);
  const data = await import('../data');
  if (sub === 'list') {
    console.log(`data folder: ${dataDir()}`);
    for (const d of data.datasetStatus()) {
      console.log(
        `  ${d.name.padEnd(11)} ${d.present ? 'present' : 'absent '} ` +
          `${d.synthetic ? '(synthetic) ' : ''}${d.path}  ${d.detail}`,
      );
    }
    return;
  }
  if (sub === 'download') {
    const name = a.positional[1];
    if (!name)
      throw new UsageError(
        'lightvit data download needs a dataset: cifar10, cifar100, svhn, flowers102 or fashion-mnist',
      );
    const { ProgressBar } = await import('../train/progress');
    const bar = new ProgressBar();
    const mb = (n: number) => (n / 1e6).toFixed(1);
    const where = await data.downloadDataset(name, {
      mirror: a.str('mirror'),
      onProgress: (done: number, total: number) =>
        bar.render(`download ${name}`, done, total, `${mb(done)}/${mb(total)} MB`),
    });
    console.log(`${name} ready at ${where}`);
    return;
  }
  for (const n of ['synth10', 'synth100']) {
    const d = await data.loadDataset(n, 'train');
    console.log(`${n}: ${d.labels.length} train images, ${d.numClasses} classes (synthetic data)`);
  }
}

function ctxFor(a: ParsedCommand, scale: Scale) {
  return {
    scale,
    preferReal: !a.bool('synth'),
    force: a.bool('force'),
    seed: a.num('seed') ?? 0,
    data: a.str('data'),
    log: (m: string) => console.error(m),
  };
}

async function runExperiments(a: ParsedCommand, ids: string[], scale: Scale): Promise<void> {
  const { getExperiment } = await import('../experiments');
  const { ProgressBar, fmtDuration } = await import('../train/progress');
  const exps = ids.map(getExperiment);
  const total = exps.reduce((s, e) => s + e.plan(scale).runs, 0);
  // A plan is an estimate (a dataset that is not downloaded skips its runs; a super-class fit adds one): the bar
  // counts each experiment's runs up to its plan and jumps to the plan's end when the experiment finishes, so it
  // never reads past 100 % or "139/137".
  let before = 0;
  const overall = new ProgressBar({ intervalS: 30 });
  const t0 = Date.now();
  const show = (n: number) =>
    overall.render('overall', n, total, `${n}/${total} runs · ${fmtDuration((Date.now() - t0) / 1000)}`);
  for (const e of exps) {
    const p = e.plan(scale);
    console.error(`\n▶ ${e.id}: ${e.title} — ${p.description} (${p.runs} runs, scale ${scale})`);
    let inExperiment = 0;
    const ctx = {
      ...ctxFor(a, scale),
      onRunDone: () => {
        inExperiment++;
        show(before + Math.min(inExperiment, p.runs));
      },
    };
    await e.run(ctx);
    before += p.runs;
  }
}

async function cmdReproduce(a: ParsedCommand): Promise<void> {
  const scale = scaleOf(a);
  const paper = await checkPaper(a);
  await checkData(a.str('data'));
  const b = await backend(a);
  const { listExperiments } = await import('../experiments');
  const exps = listExperiments(paper);
  const t0 = Date.now();
  const native = b.native?.enabled ? ' + native kernels' : '';
  console.error(`lightvit reproduce: ${exps.length} experiments at scale ${scale} on backend ${b.name}${native}`);
  await runExperiments(
    a,
    exps.map((e) => e.id),
    scale,
  );
  await cmdFigures(a);
  await cmdTable(a);
  await cmdClaims(a, scale);
  console.error(`done in ${((Date.now() - t0) / 60000).toFixed(1)} min. Figures: ${figuresDir()}`);
}

async function cmdRun(a: ParsedCommand): Promise<void> {
  const { listExperiments, listPapers } = await import('../experiments');
  const paperIds = listPapers().map((p) => p.id);
  if (a.bool('list') || !a.positional[0]) {
    for (const e of listExperiments()) console.log(`${e.id.padEnd(28)} ${e.title}`);
    return;
  }
  const scale = scaleOf(a);
  const target = a.positional[0];
  checkChoice('experiment or paper', target, [...paperIds, ...listExperiments().map((e) => e.id)]);
  await checkData(a.str('data'));
  await backend(a);
  const ids = paperIds.includes(target) ? listExperiments(target).map((e) => e.id) : [target];
  await runExperiments(a, ids, scale);
}

async function cmdFigures(a: ParsedCommand): Promise<void> {
  const paper = await checkPaper(a);
  const { renderAllFigures } = await import('../report/render');
  const { listExperiments } = await import('../experiments');
  const scale = a.str('scale') as Scale | undefined;
  const res = await renderAllFigures({
    experiments: listExperiments(),
    paper,
    scale,
    log: (m: string) => console.error(m),
  });
  for (const f of res.failed) console.error(`  figures of ${f.experiment} failed: ${f.error}`);
  console.error(`${res.specs.length} figures (${res.files.length} files) written under ${figuresDir()}`);
}

async function cmdClaims(a: ParsedCommand, scaleOfRun?: Scale): Promise<void> {
  const paper = await checkPaper(a);
  const { loadRecords } = await import('../report/store');
  const { claimRows, formatClaims, claimsJsonLines } = await import('../experiments');
  const scale = scaleOfRun ?? (a.str('scale') as Scale | undefined);
  const rows = claimRows(loadRecords(), { paper, scale });
  if (a.bool('json') && !scaleOfRun) {
    if (rows.length) console.log(claimsJsonLines(rows));
    return;
  }
  console.log(formatClaims(rows));
}

async function cmdTable(a: ParsedCommand): Promise<void> {
  const paper = await checkPaper(a, ['kit']);
  const experiment = a.str('experiment');
  if (experiment !== undefined) {
    const { listExperiments } = await import('../experiments');
    checkChoice('experiment', experiment, ['train', ...listExperiments().map((e) => e.id)]);
  }
  const { loadRecords } = await import('../report/store');
  const { summarize, toText } = await import('../report/table');
  const scale = a.str('scale') as Scale | undefined;
  const recs = loadRecords({ paper, experiment, scale }).filter((r) => Number.isFinite(r.metrics.top1));
  if (!recs.length) {
    console.log('no stored results yet (lightvit reproduce, or lightvit run <experiment>)');
    return;
  }
  const rows = summarize(recs, {
    groupBy: ['paper', 'experiment', 'variant', 'dataset', 'scale'],
    metrics: ['top1', 'params', 'macs'],
  });
  console.log(toText(rows));
  if (recs.some((r) => r.synthetic))
    console.log("\nsynth10/synth100 rows are results on the embedded synthetic data, not the papers' numbers.");
}

export async function main(argv: string[]): Promise<number> {
  const cmd = argv[0];
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(usage());
    return 0;
  }
  if (cmd === '--version' || cmd === '-V' || cmd === 'version') {
    console.log(`lightvit ${kitVersion()}`);
    return 0;
  }
  const c = Object.hasOwn(COMMANDS, cmd) ? COMMANDS[cmd] : undefined;
  if (!c) {
    const near = nearest(cmd.replace(/^-+/, ''), Object.keys(COMMANDS));
    const what = cmd.startsWith('-') ? `option '${cmd}' before a command` : `command '${cmd}'`;
    console.error(
      `lightvit: unknown ${what}${near ? ` (did you mean '${near}'?)` : ''}; expected one of: ` +
        `${Object.keys(COMMANDS).join(', ')}\n`,
    );
    console.error(usage());
    return 2;
  }
  try {
    const a = parseCommand(c, argv.slice(1));
    if (a.bool('help')) {
      await import('../experiments'); // registers the papers the help lists
      console.log(commandHelp(c));
      return 0;
    }
    await c.run(a);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`lightvit ${cmd}: ${e.message}`);
      return 2;
    }
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
