import { describe, it, expect } from 'vitest';
import * as fs from 'node:fs';
import { createModel } from '../src/models';
import { MAIN_QUICK_MODELS } from '../src/experiments';
import { findTorchPython, runTwin, twinSpec, TWIN_SCRIPT } from '../src/bench/torch';

/** The PyTorch twins of issue 15: one per benchmarked model, same trainable-parameter count as the kit's model. */

const MODELS = [{ model: 'bench-vit', overrides: {} }, ...MAIN_QUICK_MODELS];
const found = findTorchPython();
const python = 'python' in found ? found.python : null;
const check = { batch: 2, steps: 1, warmup: 0, threads: 1, check: true };

describe('PyTorch twins', () => {
  it('the runner script is inside the repository', () => {
    expect(fs.existsSync(TWIN_SCRIPT)).toBe(true);
    expect(TWIN_SCRIPT).not.toMatch(/shared/);
  });

  it('every benchmarked model (bench-vit and each paper main quick model) has a twin spec', () => {
    for (const m of MODELS) {
      const spec = twinSpec(createModel(m.model, m.overrides, { build: false }));
      expect(spec, m.model).not.toBeNull();
      expect(spec!.params).toBeGreaterThan(1000);
    }
  });

  it('a model class without a twin gets none', () => {
    expect(twinSpec(createModel('resnet-test', {}, { build: false }))).toBeNull();
  });

  it.skipIf(!python)(
    'each twin builds with exactly the kit model trainable-parameter count',
    () => {
      for (const m of MODELS) {
        const spec = twinSpec(createModel(m.model, m.overrides, { build: false }))!;
        const r = runTwin(python!, spec, check);
        expect(typeof r === 'string' ? r : r.params, m.model).toBe(spec.params);
      }
    },
    120_000,
  );

  it.skipIf(!python)(
    'a parameter-count mismatch is refused before timing, naming both counts',
    () => {
      const spec = twinSpec(createModel('bench-vit', {}, { build: false }))!;
      const r = runTwin(python!, { ...spec, params: spec.params + 1 }, { ...check, check: false });
      expect(r).toBe(
        `PyTorch twin of VisionTransformer failed (exit 3): twin of VisionTransformer has ${spec.params} ` +
          `trainable parameters; the kit's model has ${spec.params + 1}`,
      );
    },
    60_000,
  );

  it.skipIf(!python)(
    'a timed twin run reports img/s and a finite loss',
    () => {
      const spec = twinSpec(
        createModel('mae-vit', MAIN_QUICK_MODELS.find((m) => m.model === 'mae-vit')?.overrides ?? {}, { build: false }),
      )!;
      const r = runTwin(python!, spec, { batch: 4, steps: 1, warmup: 0, threads: 1 });
      if (typeof r === 'string') throw new Error(r);
      expect(r.img_per_s).toBeGreaterThan(0);
      expect(Number.isFinite(r.final_loss)).toBe(true);
      expect(r.params).toBe(spec.params);
    },
    60_000,
  );
});
