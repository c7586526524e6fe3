import { describe, it, expect, beforeAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureDist, listNotebooks, readNotebook, runNotebookChild, ROOT } from './helpers/notebook-runner';

// Every notebooks/*.ipynb is executed top to bottom at smoke scale through tslab's converter and executor (the code
// path of the kernel), without Jupyter or Python. A new notebook is tested by being added.
// LIGHTVIT_NOTEBOOKS=00,03 runs only the notebooks whose file names start with those prefixes.
const only = (process.env.LIGHTVIT_NOTEBOOKS ?? '').split(',').filter(Boolean);
const notebooks = listNotebooks().filter((f) => !only.length || only.some((p) => path.basename(f).startsWith(p)));

beforeAll(() => {
  ensureDist({ log: (m) => console.log(m) });
}, 300_000);

describe('notebooks', () => {
  it.skipIf(only.length > 0)('there is at least the getting-started notebook', () => {
    expect(notebooks.map((f) => path.basename(f))).toContain('00-getting-started.ipynb');
  });

  for (const file of notebooks) {
    const name = path.relative(ROOT, file);

    it(`${name} is committed without outputs and uses the tslab kernel`, () => {
      const nb = readNotebook(file) as ReturnType<typeof readNotebook> & {
        metadata?: { kernelspec?: { name?: string } };
      };
      expect(nb.metadata?.kernelspec?.name).toBe('tslab');
      const dirty = nb.cells
        .map((c, i) => ({ c, i }))
        .filter(
          ({ c }) => c.cell_type === 'code' && ((c.outputs?.length ?? 0) > 0 || (c.execution_count ?? null) !== null),
        )
        .map(({ i }) => `cell ${i + 1}`);
      expect(dirty, `${name} has outputs in ${dirty.join(', ')}; clear them before committing`).toEqual([]);
    });

    it(`${name} reads like user code: imports only the package root, no \`as any\``, () => {
      const nb = readNotebook(file);
      const bad: string[] = [];
      nb.cells.forEach((c, i) => {
        if (c.cell_type !== 'code') return;
        const src = Array.isArray(c.source) ? c.source.join('') : String(c.source);
        for (const m of src.matchAll(/from '(lightvit-lab\/[^']*)'/g)) bad.push(`cell ${i + 1} imports '${m[1]}'`);
        if (/\bas any\b/.test(src)) bad.push(`cell ${i + 1} casts with 'as any'`);
      });
      expect(bad, `${name}: export what the notebook needs from src/index.ts instead`).toEqual([]);
    });
    it(`${name} runs top to bottom at smoke scale`, async () => {
      const saveDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lv-nb-out-'));
      const r = await runNotebookChild(file, { saveDir });
      if (!r.ok) {
        throw new Error(
          `${name} failed at cell ${r.failure!.cell} (code cell ` +
            `${r.failure!.codeCell}):\n${r.failure!.error}\n--- log tail ---\n${r.log.slice(-3000)}`,
        );
      }
      expect(r.cells).toBeGreaterThan(0);
      if (path.basename(file) === '00-getting-started.ipynb') {
        // the executed copy carries what tslab displayed: the image grid, the live progress line, the interactive
        // figure
        const html = readNotebook(path.join(saveDir, path.basename(file)))
          .cells.flatMap((c) => (c.outputs ?? []) as Array<{ output_type: string; data?: Record<string, string> }>)
          .filter((o) => o.output_type === 'display_data')
          .map((o) => o.data?.['text/html'] ?? '');
        expect(html.some((h) => h.includes('data:image/png;base64,') && h.includes('<figcaption'))).toBe(true);
        expect(html.some((h) => h.includes('<progress') && h.includes('step 2/2'))).toBe(true);
        expect(html.some((h) => h.includes('P.newPlot(') && h.includes('synthetic data'))).toBe(true);
      }
    }, 600_000);
  }
});

describe.concurrent('notebook runner', () => {
  function scratchNotebook(cells: string[]): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lv-nb-bad-'));
    const file = path.join(dir, 'bad.ipynb');
    const nb = {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: { kernelspec: { name: 'tslab', display_name: 'TypeScript', language: 'typescript' } },
      cells: [
        { cell_type: 'markdown', metadata: {}, source: ['# scratch'] },
        ...cells.map((src) => ({ cell_type: 'code', metadata: {}, execution_count: null, outputs: [], source: [src] })),
      ],
    };
    fs.writeFileSync(file, JSON.stringify(nb));
    return file;
  }

  it('names the failing cell and the type error', async () => {
    const r = await runNotebookChild(
      scratchNotebook(['const a: number = 1;', 'const b: string = a;', 'console.log("never")']),
    );
    expect(r.ok).toBe(false);
    expect(r.failure).toMatchObject({ cell: 3, codeCell: 2 });
    expect(r.failure!.error).toMatch(/Type 'number' is not assignable to type 'string'/);
    expect(r.log).not.toContain('never');
  }, 120_000);

  it('names the failing cell and the thrown error; variables carry across cells', async () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the notebook cell's own template literal
    const r = await runNotebookChild(
      scratchNotebook(['const n = 41;', 'if (n + 1 === 42) throw new Error(`boom at ${n}`);']),
    );
    expect(r.failure).toMatchObject({ cell: 3, codeCell: 2 });
    expect(r.failure!.error).toMatch(/boom at 41/);
  }, 120_000);

  it('explains the tslab object-shorthand pitfall when it is the cause', async () => {
    const r = await runNotebookChild(
      scratchNotebook(['const m = 1;', 'console.log({ m: m });', 'console.log({ m });']),
    );
    expect(r.failure).toMatchObject({ cell: 4, codeCell: 3 });
    expect(r.failure!.error.split('\n')[0]).toBe(
      'ReferenceError: m is not defined (hint: tslab does not carry variables from earlier cells into object ' +
        'shorthand; write { m: m } instead of { m })',
    );
  }, 120_000);
});
