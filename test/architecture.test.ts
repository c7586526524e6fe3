import { describe, it, expect } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Dependencies between the folders of src/ point one way (util → data/backend → nn → models → train → report →
 * experiments → cli): no two folders may reach each other through imports. A type-only import counts too — it
 * still means one folder cannot be read or changed without the other. Dynamic `import()` counts as well.
 */

const SRC = path.resolve(__dirname, '..', 'src');
const IMPORT =
  /(?:^|[\n;])\s*(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\sfrom\s+)?['"](\.{1,2}\/[^'"]+)['"]|\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

interface ImportEdge {
  from: string;
  to: string;
  /** The file (relative to src/) whose import makes the edge. */
  file: string;
}

/** The folder of src/ a path belongs to ('(root)' for files directly in src/); an import of a folder is its index. */
function folderOf(abs: string): string {
  const isDir = fs.existsSync(abs) && fs.statSync(abs).isDirectory();
  const rel = path.relative(SRC, isDir ? path.join(abs, 'index.ts') : abs).split(path.sep);
  return rel.length > 1 ? rel[0] : '(root)';
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Relative imports of one source text (static, re-exports, type-only and dynamic). */
function relativeImports(text: string): string[] {
  return [...text.matchAll(IMPORT)].map((m) => m[1] ?? m[2]);
}

/** Edges between different folders of src/, one per importing file and target folder. */
function folderEdges(): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const file of sourceFiles(SRC)) {
    const from = folderOf(file);
    for (const spec of relativeImports(fs.readFileSync(file, 'utf8'))) {
      const to = folderOf(path.resolve(path.dirname(file), spec));
      if (to !== from) edges.push({ from, to, file: path.relative(SRC, file) });
    }
  }
  return edges;
}

/** Strongly connected components of more than one node (Tarjan): each is a set of folders that import each other. */
function importCycles(edges: readonly ImportEdge[]): string[][] {
  const adj = new Map<string, string[]>();
  for (const e of edges) {
    adj.set(e.from, [...(adj.get(e.from) ?? []), e.to]);
    if (!adj.has(e.to)) adj.set(e.to, []);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of adj.get(v)!) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const v of [...adj.keys()].sort()) if (!index.has(v)) visit(v);
  return out;
}

/** One line per edge inside a cycle: `report → experiments (report/render.ts)`. */
function describeCycle(scc: readonly string[], edges: readonly ImportEdge[]): string {
  const inside = edges.filter((e) => scc.includes(e.from) && scc.includes(e.to));
  const lines = [...new Set(inside.map((e) => `  ${e.from} → ${e.to} (${e.file})`))].sort();
  return `folders ${scc.join(', ')} import each other:\n${lines.join('\n')}`;
}

describe('import parsing and cycle detection', () => {
  it('finds static, re-export, type-only and dynamic relative imports, and ignores packages', () => {
    const text = [
      "import * as tf from '@tensorflow/tfjs';",
      "import { a } from '../models/vit';",
      "import type { B } from '../train/types';",
      "export { c } from './local';",
      "export * from '../nn/layers';",
      "import '../util/side-effect';",
      "const d = await import('../report/render');",
      'import {\n  e,\n  f,\n} from "../data/augment";',
    ].join('\n');
    expect(relativeImports(text)).toEqual([
      '../models/vit',
      '../train/types',
      './local',
      '../nn/layers',
      '../util/side-effect',
      '../report/render',
      '../data/augment',
    ]);
  });

  it('reports a two-folder cycle and a longer one, and nothing for a one-way chain', () => {
    const e = (from: string, to: string): ImportEdge => ({ from, to, file: `${from}/x.ts` });
    expect(importCycles([e('util', 'data'), e('data', 'nn'), e('nn', 'models')])).toEqual([]);
    expect(importCycles([e('data', 'train'), e('train', 'data'), e('nn', 'util')])).toEqual([['data', 'train']]);
    const three = importCycles([e('report', 'experiments'), e('experiments', 'analysis'), e('analysis', 'report')]);
    expect(three).toEqual([['analysis', 'experiments', 'report']]);
  });
});

/**
 * Imports that close a cycle today and are being removed (issue 18): `AugmentConfig` moves from train/ to data/, and
 * the figure renderer gets the experiments from its caller. Each entry must still exist (a stale entry fails, so it
 * is deleted when its fix lands); every other edge must leave the folders acyclic.
 */
const KNOWN_CYCLE_EDGES: readonly string[] = ['report → experiments (report/render.ts)'];

const edgeName = (e: ImportEdge): string => `${e.from} → ${e.to} (${e.file})`;

describe('src/ folder dependencies', () => {
  it('sees the layering it checks (models import nn; nothing imports cli)', () => {
    const edges = folderEdges();
    expect(edges.some((e) => e.from === 'models' && e.to === 'nn')).toBe(true);
    expect(edges.filter((e) => e.to === 'cli' && e.from !== '(root)')).toEqual([]);
  });

  it('has no import cycle between folders (besides the known edges being removed)', () => {
    const edges = folderEdges().filter((e) => !KNOWN_CYCLE_EDGES.includes(edgeName(e)));
    const cycles = importCycles(edges);
    expect(cycles.map((scc) => describeCycle(scc, edges)).join('\n')).toBe('');
  });

  it('lists only known cycle edges that still exist (delete an entry once its import is gone)', () => {
    const names = new Set(folderEdges().map(edgeName));
    expect(KNOWN_CYCLE_EDGES.filter((k) => !names.has(k))).toEqual([]);
  });
});
