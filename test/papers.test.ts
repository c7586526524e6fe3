import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import {
  listPapers,
  getPaper,
  registerPaper,
  registerExperiment,
  listExperiments,
  MAIN_QUICK_MODELS,
  listClaims,
} from '../src/experiments';
import { createModel } from '../src/models';

/** One `registerPaper` call per paper feeds everything that lists papers. */

const ROOT = path.join(__dirname, '..');

describe('registerPaper', () => {
  it(
    'registers the five papers (and the shared kit entry), each ' + 'with a notebook and a docs page in the repository',
    () => {
      expect(listPapers({ withKit: false }).map((p) => p.id)).toEqual(['mlit', 'mae', 'mobile-vmoe', 'dwnet', 'eit']);
      expect(listPapers().map((p) => p.id)).toContain('kit');
      for (const p of listPapers()) {
        expect(fs.existsSync(path.join(ROOT, 'notebooks', p.notebook)), `${p.id}: notebooks/${p.notebook}`).toBe(true);
        if (p.id !== 'kit') {
          expect(p.arxiv).toMatch(/^\d{4}\.\d{5}$/);
          expect(p.docs && fs.existsSync(path.join(ROOT, p.docs)), `${p.id}: ${p.docs}`).toBe(true);
        }
      }
    },
  );

  it('every experiment and claim belongs to a registered paper; every paper has experiments and claims', () => {
    const ids = new Set(listPapers().map((p) => p.id));
    for (const e of listExperiments()) expect(ids.has(e.paper), e.id).toBe(true);
    for (const c of listClaims()) expect(ids.has(c.paper), c.id).toBe(true);
    for (const p of listPapers({ withKit: false })) {
      expect(listExperiments(p.id).length, p.id).toBeGreaterThan(0);
      expect(listClaims().filter((c) => c.paper === p.id).length, p.id).toBeGreaterThan(0);
    }
  });

  it("the bench's model list is the papers' mainQuickModel entries, each a buildable registered model", () => {
    expect(MAIN_QUICK_MODELS.map((m) => m.paper)).toEqual(listPapers({ withKit: false }).map((p) => p.arxiv));
    for (const m of MAIN_QUICK_MODELS) {
      const model = createModel(m.model, m.overrides, { build: false });
      expect(model.config).toMatchObject(m.overrides);
    }
  });

  it('refuses a duplicate or malformed paper and an experiment of an unregistered paper, naming the value', () => {
    expect(() => registerPaper({ id: 'mlit', title: 't', arxiv: '', notebook: 'x.ipynb' })).toThrow(
      /paper 'mlit' registered twice/,
    );
    expect(() => registerPaper({ id: 'Bad Id', title: 't', arxiv: '', notebook: 'x.ipynb' })).toThrow(
      /'Bad Id'.*lower-case/,
    );
    expect(() => registerPaper({ id: 'newpaper', title: 't', arxiv: '', notebook: 'x.md' })).toThrow(
      /'x\.md'.*\.ipynb/,
    );
    expect(() => getPaper('nope')).toThrow(/nope/);
    expect(() =>
      registerExperiment({
        id: 'ghost.one',
        paper: 'ghost',
        title: 't',
        plan: () => ({ runs: 0, description: '' }),
        run: async () => undefined,
        figures: () => [],
      }),
    ).toThrow(/paper 'ghost' is not registered/);
  });
});
