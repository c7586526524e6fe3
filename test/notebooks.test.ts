import { describe, it, expect, beforeAll } from 'vitest';
import * as path from 'node:path';
import { ensureDist, listNotebooks, readNotebook, runNotebookChild, ROOT } from './helpers/notebook-runner';

// Every notebooks/*.ipynb is executed top to bottom at smoke scale through tslab's converter and executor (the code
// path of the kernel), without Jupyter or Python. A new notebook is tested by being added.
const notebooks = listNotebooks();

beforeAll(() => {
  ensureDist({ log: (m) => console.log(m) });
}, 300_000);

describe('notebooks', () => {
  it('there is at least the getting-started notebook', () => {
    expect(notebooks.map((f) => path.basename(f))).toContain('00-getting-started.ipynb');
  });

  for (const file of notebooks) {
    const name = path.relative(ROOT, file);

    it(`${name} is committed without outputs and uses the tslab kernel`, () => {
      const nb = readNotebook(file) as ReturnType<typeof readNotebook> & { metadata?: { kernelspec?: { name?: string } } };
      expect(nb.metadata?.kernelspec?.name).toBe('tslab');
      const dirty = nb.cells
        .map((c, i) => ({ c, i }))
        .filter(({ c }) => c.cell_type === 'code' && ((c.outputs?.length ?? 0) > 0 || (c.execution_count ?? null) !== null))
        .map(({ i }) => `cell ${i + 1}`);
      expect(dirty, `${name} has outputs in ${dirty.join(', ')}; clear them before committing`).toEqual([]);
    });

    it(`${name} runs top to bottom at smoke scale`, async () => {
      const r = await runNotebookChild(file);
      if (!r.ok) {
        throw new Error(`${name} failed at cell ${r.failure!.cell} (code cell ${r.failure!.codeCell}):\n${r.failure!.error}\n--- log tail ---\n${r.log.slice(-3000)}`);
      }
      expect(r.cells).toBeGreaterThan(0);
    }, 600_000);
  }
});
