import { describe, it, expect, beforeAll } from 'vitest';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { createModel } from '../src/models';
import type { Ctx } from '../src/nn/module';
import { crossEntropy } from '../src/train/losses';
import { train } from '../src/train/trainer';
import { defaultRecipe } from '../src/train/recipes';
import { readCheckpoint, saveCheckpoint, identityDiff } from '../src/train/checkpoint';
import { acquireRunLock, RunLockedError } from '../src/train/lock';
import { DataError, ConfigError } from '../src/util/errors';
import type { Recipe } from '../src/train/types';
import { tinyDataset } from './helpers/tiny-data';

/** A run's integrity: identity checked on resume, one process per run, wall time over sessions, honest messages. */
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'lightvit-run-'));
const recipe = (over: Partial<Recipe> = {}): Recipe => ({
  ...defaultRecipe('smoke'),
  epochs: 2,
  batchSize: 8,
  maxStepsPerEpoch: 2,
  trainSubset: 0,
  maxEvalImages: 16,
  ...over,
});
const model = () => createModel('vit-tiny-test', { numClasses: 4 }, { seed: 3 });

beforeAll(async () => {
  await initBackend('wasm');
});

describe('resume', () => {
  it('stores the identity; a different one is refused naming the keys; messages say what happens', async () => {
    const ds = tinyDataset(32, 8, 4);
    const ck = path.join(tmp(), 'run.ckpt');
    const logs: string[] = [];
    const id = { model: 'vit-tiny-test', recipe: { lr: 1e-3, epochs: 1 }, dataset: 'tiny', seed: 0 };
    const m = model();
    await train({
      model: m,
      train: ds,
      recipe: recipe({ epochs: 1 }),
      checkpoint: ck,
      resume: true,
      identity: id,
      log: (s) => logs.push(s),
    });
    expect(logs).toEqual([`no checkpoint at ${ck}: starting fresh`]);
    expect(readCheckpoint(ck).meta.identity).toEqual(id);
    const other = { ...id, recipe: { lr: 2e-3, epochs: 1 }, seed: 1 };
    await expect(
      train({ model: m, train: ds, recipe: recipe({ epochs: 1 }), checkpoint: ck, resume: true, identity: other }),
    ).rejects.toThrow(
      /checkpoint .*run\.ckpt was trained with another configuration \(recipe\.lr: 0\.001 → 0\.002; seed: 0 → 1\)/,
    );
    await expect(
      train({ model: m, train: ds, recipe: recipe({ epochs: 1 }), checkpoint: ck, resume: true, identity: other }),
    ).rejects.toThrow(ConfigError);
    logs.length = 0;
    await train({
      model: m,
      train: ds,
      recipe: recipe({ epochs: 1 }),
      checkpoint: ck,
      resume: true,
      identity: id,
      log: (s) => logs.push(s),
    });
    expect(logs[0]).toMatch(/^resuming from epoch 1, step 0/);
    m.dispose();
  });

  it("the record's wall time covers every session; the history never outgrows the recipe", async () => {
    const ds = tinyDataset(32, 8, 4);
    const ck = path.join(tmp(), 'wall.ckpt');
    const m = model();
    await train({ model: m, train: ds, recipe: recipe({ epochs: 1 }), checkpoint: ck });
    // pretend the first session took 100 s: a resumed run's wall time includes it
    const meta = readCheckpoint(ck).meta;
    saveCheckpoint(ck, m, { ...meta, wallTimeS: 100 });
    const r = await train({ model: m, train: ds, recipe: recipe({ epochs: 2 }), checkpoint: ck, resume: true });
    expect(r.wallTimeS).toBeGreaterThan(100);
    expect(r.wallTimeS).toBeLessThan(200);
    expect(r.history).toHaveLength(2);
    expect(readCheckpoint(ck).meta.wallTimeS).toBeGreaterThan(100);
    m.dispose();
  });

  it('identityDiff names nested keys with both values', () => {
    expect(identityDiff({ a: 1, r: { lr: 1, b: 2 } }, { a: 1, r: { lr: 2, b: 2 }, c: 'x' })).toEqual([
      'c: unset → "x"',
      'r.lr: 1 → 2',
    ]);
  });
});

describe('checkpoint files', () => {
  it('a corrupt header names the file and says it is not a valid checkpoint', () => {
    const file = path.join(tmp(), 'bad.ckpt');
    const header = Buffer.from('{"tensors": [oops');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(header.length);
    fs.writeFileSync(file, Buffer.concat([Buffer.from('LVCK1\n'), len, header]));
    expect(() => readCheckpoint(file)).toThrow(DataError);
    expect(() => readCheckpoint(file)).toThrow(
      /bad\.ckpt is not a valid lightvit checkpoint: its header is not valid JSON/,
    );
  });

  it("a NaN never names a checkpoint left by an earlier run as this run's last good one", async () => {
    const ds = tinyDataset(32, 8, 4);
    const ck = path.join(tmp(), 'old.ckpt');
    const m = model();
    saveCheckpoint(ck, m, { model: 'vit-tiny-test', epoch: 5 }); // an earlier run's file at this path
    const nan = (mm: typeof m, x: tf.Tensor4D, y: tf.Tensor1D, ctx: Ctx) =>
      crossEntropy(mm.forward(x, ctx), y).mul(NaN) as tf.Scalar;
    const err = await train({ model: m, train: ds, recipe: recipe({ epochs: 1 }), checkpoint: ck, lossFn: nan }).catch(
      (e: Error) => e,
    );
    expect(String(err)).toMatch(/No checkpoint of this run was written yet/);
    expect(String(err)).not.toMatch(/kept at/);
    m.dispose();
  });
});

describe('one process per run', () => {
  it("a second holder is refused with the first one's pid; a stale lock is taken over; it is re-entrant", async () => {
    const ck = path.join(tmp(), 'locked.ckpt');
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      fs.writeFileSync(`${ck}.lock`, `${child.pid}\n`);
      expect(() => acquireRunLock(ck)).toThrow(RunLockedError);
      expect(() => acquireRunLock(ck)).toThrow(new RegExp(`being trained by process ${child.pid}`));
      const m = model();
      await expect(
        train({ model: m, train: tinyDataset(32, 8, 4), recipe: recipe({ epochs: 1 }), checkpoint: ck }),
      ).rejects.toThrow(new RegExp(`process ${child.pid}`));
      m.dispose();
    } finally {
      child.kill();
    }
    await new Promise((r) => child.once('exit', r));
    const release = acquireRunLock(ck); // its holder is gone: stale, taken over
    expect(fs.readFileSync(`${ck}.lock`, 'utf8').trim()).toBe(String(process.pid));
    const inner = acquireRunLock(ck); // the same process again (the CLI around the trainer)
    inner();
    expect(fs.existsSync(`${ck}.lock`)).toBe(true);
    release();
    expect(fs.existsSync(`${ck}.lock`)).toBe(false);
  });
});
