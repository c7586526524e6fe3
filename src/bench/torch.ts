import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { writeJsonAtomic } from '../util/fsx';

/**
 * The PyTorch side of `lightvit bench` (issue 15): each measured model has a twin in `bench/torch/twins.py`, built
 * there from the kit's own resolved config, so both engines run the same architecture. The Python runner refuses to
 * time a twin whose trainable-parameter count differs from the kit model's.
 */

/** What the Python runner needs to build a twin: the kit's model class, its config, derived per-block facts. */
export interface TwinSpec {
  family: string;
  config: Record<string, unknown>;
  extra: Record<string, unknown>;
  /** The kit model's trainable parameter count; the twin must match it exactly. */
  params: number;
}

export interface TorchResult {
  img_per_s: number;
  ms_per_step: number;
  threads: number;
  params: number;
  version: string;
  final_loss: number;
}

/** The model classes `twins.py` knows (`FAMILIES` there). */
export const TWIN_FAMILIES = ['VisionTransformer', 'Mlit', 'MobileVmoe', 'LocalVisionNet', 'Eit', 'MaeVit'] as const;

/** The runner script, found from both src/bench (vitest) and dist/bench (the built CLI). */
export const TWIN_SCRIPT = path.resolve(__dirname, '..', '..', 'bench', 'torch', 'bench.py');

interface ModelLike {
  config: object;
  paramCount(): number;
}

/** The twin spec of a built kit model, or null when twins.py has no twin for its class. */
export function twinSpec(model: ModelLike): TwinSpec | null {
  const family = model.constructor.name;
  if (!(TWIN_FAMILIES as readonly string[]).includes(family)) return null;
  const m = model as unknown as Record<string, unknown>;
  const extra: Record<string, unknown> = {};
  // facts the model derives from its config (depth-wise hidden sizes and expert counts, EIT's channel split)
  for (const key of ['hiddenSizes', 'expertCounts', 'split']) if (m[key] !== undefined) extra[key] = m[key];
  return { family, config: { ...(model.config as Record<string, unknown>) }, extra, params: model.paramCount() };
}

/** A Python 3 that imports torch: /usr/bin/python3 (Debian's python3-torch), then python3 on PATH; else why not. */
export function findTorchPython(): { python: string } | { missing: string } {
  const tried: string[] = [];
  for (const py of ['/usr/bin/python3', 'python3']) {
    if (py.startsWith('/') && !fs.existsSync(py)) continue;
    const r = spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' });
    if (r.status === 0) return { python: py };
    tried.push(py);
  }
  const where = tried.length ? `no torch in ${tried.join(', ')}` : 'no python3 found';
  return { missing: `PyTorch twins skipped: ${where} (Debian: apt-get install python3-torch libopenblas0-pthread)` };
}

/**
 * Run one twin's timing in a child Python with `threads` threads; the parsed JSON line, or an error message.
 * `check`: only build the twin and compare its parameter count (no timing; `img_per_s` is then absent).
 */
export function runTwin(
  python: string,
  spec: TwinSpec,
  o: { batch: number; steps: number; warmup: number; threads: number; check?: boolean },
): TorchResult | string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lightvit-twin-'));
  try {
    const file = path.join(dir, 'spec.json');
    writeJsonAtomic(file, spec);
    const args = [TWIN_SCRIPT, '--spec', file, '--batch', String(o.batch), '--steps', String(o.steps)];
    args.push('--warmup', String(o.warmup), '--threads', String(o.threads), ...(o.check ? ['--check'] : []));
    const t = String(o.threads);
    const r = spawnSync(python, args, {
      encoding: 'utf8',
      env: { ...process.env, OMP_NUM_THREADS: t, OPENBLAS_NUM_THREADS: t, MKL_NUM_THREADS: t },
    });
    const line = (r.stdout || '').trim().split('\n').pop() || '';
    if (r.status === 0) {
      try {
        return JSON.parse(line) as TorchResult;
      } catch {
        return `PyTorch twin of ${spec.family} printed no JSON line (got '${line.slice(0, 80)}')`;
      }
    }
    const err = (r.stderr || '').trim().split('\n').pop() || `exit ${r.status}`;
    return `PyTorch twin of ${spec.family} failed (exit ${r.status}): ${err}`;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
