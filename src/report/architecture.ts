import type { Module } from '../nn/module';

/**
 * Architecture drawings generated from a model's own module tree and config, so that a change of config (depth,
 * experts per block, K/V groups, the conv branch's channel share, the spatial block) changes the drawing.
 *
 * The drawing has two columns. Left: the model top to bottom as its modules are registered, runs of identical
 * blocks collapsed ("blocks 0–8 · MlitBlock × 9"), each with its trainable parameter count. Right: the first
 * block of each kind opened up into its sub-modules, each described in words from the config and its weight shapes
 * (e.g. grouped-query attention's 6 query heads over 3 K/V heads; the MoE's private W and shared V, W2; EIT's
 * conv + max-pool projection); under it, what changes from block to block (weight shapes that differ across the
 * blocks of that kind: mLiT's hidden size and expert count, EIT's conv channels).
 */

type Config = Record<string, unknown>;

export interface ArchitectureNode {
  /** Dotted module path ('blocks.0.attn'); '' for the model. */
  path: string;
  /** Class name of the module ('MlitBlock'), or the path's last segment when it has no module of its own. */
  kind: string;
  /** Trainable parameters in this subtree. */
  params: number;
  /** One line in words (from config and weight shapes). */
  detail: string;
}

export interface ArchitectureRow extends ArchitectureNode {
  /** How many consecutive siblings of the same kind this row stands for (1: itself). */
  repeat: number;
  /** Path of the last one of the run (same as path when repeat is 1). */
  lastPath: string;
}

export interface BlockDetail {
  /** The block kind opened up, and the path of the instance drawn. */
  kind: string;
  path: string;
  parts: ArchitectureNode[];
  /** Per block of this kind: the weight shapes that differ between blocks ('moe.experts.w 108×243'). */
  variation: Array<{ path: string; shapes: string }>;
}

export interface ArchitectureSummary {
  model: string;
  params: number;
  rows: ArchitectureRow[];
  blocks: BlockDetail[];
}

interface TreeView {
  modules: Map<string, Module>;
  params: Array<{ path: string; shape: number[]; size: number; trainable: boolean }>;
}

function view(model: Module): TreeView {
  return {
    modules: new Map(model.namedModules()),
    params: model
      .namedParams()
      .map(([p, q]) => ({ path: p, shape: [...q.shape], size: q.size, trainable: q.trainable })),
  };
}

const under = (prefix: string) => (p: string) => prefix === '' || p === prefix || p.startsWith(`${prefix}.`);

function paramsUnder(v: TreeView, prefix: string): number {
  return v.params.filter((p) => p.trainable && under(prefix)(p.path)).reduce((s, p) => s + p.size, 0);
}

/** Direct children of a path, in registration order (from the parameter paths: every sub-module with weights). */
function childPaths(v: TreeView, prefix: string): string[] {
  const out: string[] = [];
  const depth = prefix === '' ? 0 : prefix.split('.').length;
  for (const p of v.params) {
    if (!under(prefix)(p.path) || p.path === prefix) continue;
    const segs = p.path.split('.');
    if (segs.length <= depth + 1) continue; // a weight of the module itself
    const child = segs.slice(0, depth + 1).join('.');
    if (!out.includes(child)) out.push(child);
  }
  return out;
}

function kindOf(v: TreeView, p: string): string {
  const m = v.modules.get(p);
  return m ? m.constructor.name : (p.split('.').pop() ?? p);
}

const shapeText = (s: number[]) => s.join('×');

function weightsOf(v: TreeView, prefix: string, name: string): number[] | undefined {
  return v.params.find((p) => p.path === `${prefix}.${name}`)?.shape;
}

function num(c: Config, k: string): number | undefined {
  return typeof c[k] === 'number' ? (c[k] as number) : undefined;
}

/** One line in words for a module, from its kind, the config and its own weight shapes. */
function describe(v: TreeView, p: string, c: Config): string {
  const kind = kindOf(v, p);
  const own = v.params.filter((q) => under(p)(q.path) && q.trainable);
  const shapes = (names: string[]) =>
    names
      .map((n) => [n, weightsOf(v, p, n)] as const)
      .filter(([, s]) => s)
      .map(([n, s]) => `${n.replace(/\.weight$/, '')} ${shapeText(s!)}`)
      .join(', ');
  switch (kind) {
    case 'GroupedQueryAttention': {
      const heads = num(c, 'numHeads');
      const groups = num(c, 'kvGroups');
      return (
        `grouped-query attention: ${heads} query heads share ${groups} key/value head${groups === 1 ? '' : 's'} ` +
        `(${shapes(['q.weight', 'k.weight', 'v.weight'])})`
      );
    }
    case 'MultiHeadAttention':
      return (
        `multi-head self-attention, ` +
        `${num(c, 'numHeads') ?? (Array.isArray(c.numHeads) ? (c.numHeads as number[]).join('/') : '?')} heads ` +
        `(${shapes(['qkv.weight', 'proj.weight'])})`
      );
    case 'MoeLayer': {
      const w = weightsOf(v, p, 'experts.w');
      const vv = weightsOf(v, p, 'experts.v.weight');
      const gate = weightsOf(v, p, 'router.w_gate');
      const e = gate ? gate[gate.length - 1] : undefined;
      const shared = c.shareVW2
        ? 'V and W2 shared by all experts, W private to each'
        : 'every expert has its own W, V, W2';
      return (
        `mixture of ${e ?? '?'} SwiGLU experts, top-${num(c, 'topK')} per token; ${shared}` +
        `${vv ? `; hidden ${vv[vv.length - 1]}` : ''}${w ? ` (W ${shapeText(w)})` : ''}`
      );
    }
    case 'NoisyTopKRouter':
      return `noisy top-${num(c, 'topK')} router: each token picks its experts`;
    case 'SwiGLUExperts':
      return `SwiGLU experts (${shapes(['w', 'v.weight', 'w2.weight'])})`;
    case 'Router':
      return (
        `per-image router on the class token (${String(c.routing ?? '')}): one choice of top-${num(c, 'topK')} ` +
        `of ${num(c, 'numExperts')} experts for the whole image`
      );
    case 'ExpertMlps':
      return (
        `${num(c, 'numExperts')} expert MLPs; every token of an image goes to the experts its image's router ` + `chose`
      );
    case 'EitPatchProjection':
      return (
        `EIT_P: conv ${num(c, 'kernelSize')}×${num(c, 'kernelSize')} (stride ${num(c, 'strideSize')}) then ` +
        `max-pool ${num(c, 'poolSize')}×${num(c, 'poolSize')} → patch tokens, no position embedding ` +
        `(${c.posEmbed})`
      );
    case 'EitConvBranch': {
      const dw = weightsOf(v, p, 'dw.weight');
      const ch = dw ? dw[2] : undefined;
      return (
        `EIT_T: depth-wise ${dw ? `${dw[0]}×${dw[1]}` : ''} conv on ${ch} of ${num(c, 'embedDim')} channels ` +
        `beside attention (${c.convSchedule} schedule)`
      );
    }
    case 'DWSpatialBlock':
    case 'SpatialBlock': {
      const b = String(c.block ?? '');
      const what: Record<string, string> = {
        attn: 'local window attention (Swin): weights per window, per head, from the input',
        dw:
          `static depth-wise ${num(c, 'kernelSize')}×${num(c, 'kernelSize')} conv: one kernel per channel, ` +
          `shared over positions`,
        ddw: `dynamic depth-wise ${num(c, 'kernelSize')}×${num(c, 'kernelSize')} conv: kernels predicted per image`,
        iddw:
          `inhomogeneous dynamic depth-wise ${num(c, 'kernelSize')}×${num(c, 'kernelSize')} conv: kernels ` +
          `predicted per position, shared by channel groups`,
      };
      return `${what[b] ?? b}, then an MLP`;
    }
    case 'MlitBlock':
    case 'VitBlock':
    case 'MoeVitBlock':
    case 'EitBlock':
    case 'MaeVitBlock':
    case 'SwinBlock': {
      const width = v.params.find((q) => under(p)(q.path) && /gamma$/.test(q.path))?.shape[0];
      return `${width ? `width ${width}: ` : ''}${childPaths(v, p)
        .map((q) => q.split('.').pop())
        .join(' → ')}`;
    }
    default: {
      const first = own.find((q) => /weight|gamma|w$/.test(q.path)) ?? own[0];
      return first ? `${kind} (${first.path.slice(p.length + (p ? 1 : 0))} ${shapeText(first.shape)})` : kind;
    }
  }
}

/** The model's top-level rows (runs of identical blocks collapsed) and each block kind opened up. */
export function architectureSummary(model: Module & { config?: object }, name?: string): ArchitectureSummary {
  const v = view(model);
  const c = (model.config ?? {}) as Config;
  const rows: ArchitectureRow[] = [];
  const blockPaths = new Map<string, string[]>();
  const walk = (prefix: string) => {
    for (const p of childPaths(v, prefix)) {
      const kind = kindOf(v, p);
      const listLike = !v.modules.has(p) && childPaths(v, p).every((q) => /^\d+$/.test(q.split('.').pop() ?? ''));
      if (kind === 'ModuleList' || kind === 'Stage' || listLike) {
        walk(p); // lists and stages are drawn as their items
        continue;
      }
      const last = rows[rows.length - 1];
      const node: ArchitectureNode = { path: p, kind, params: paramsUnder(v, p), detail: describe(v, p, c) };
      if (/Block$/.test(kind)) blockPaths.set(kind, [...(blockPaths.get(kind) ?? []), p]);
      if (last && last.kind === kind && /Block$/.test(kind) && parentOf(last.lastPath) === parentOf(p)) {
        last.repeat++;
        last.lastPath = p;
        last.params += node.params;
      } else rows.push({ ...node, repeat: 1, lastPath: p });
    }
  };
  walk('');
  const blocks: BlockDetail[] = [...blockPaths].map(([kind, paths]) => {
    const first = paths[0];
    const parts = childPaths(v, first).map((p) => ({
      path: p.slice(first.length + 1),
      kind: kindOf(v, p),
      params: paramsUnder(v, p),
      detail: describe(v, p, c),
    }));
    // weight shapes that differ between blocks of this kind
    const rel = (p: string, q: string) => q.slice(p.length + 1);
    const table = paths.map(
      (p) =>
        new Map(
          v.params
            .filter((q) => q.trainable && under(p)(q.path) && q.path !== p)
            .map((q) => [rel(p, q.path), shapeText(q.shape)]),
        ),
    );
    const names = [...new Set(table.flatMap((t) => [...t.keys()]))];
    const varying = names.filter(
      (n) => new Set(table.map((t) => t.get(n) ?? '—')).size > 1 && !/(\.bias|\.beta|\.b|w_noise)$/.test(n),
    );
    const variation = varying.length ? paths.map((p, i) => ({ path: p, shapes: blockFacts(table[i], varying) })) : [];
    return { kind, path: first, parts, variation };
  });
  return { model: name ?? model.constructor.name, params: paramsUnder(v, ''), rows, blocks };
}

/**
 * What differs between blocks, in words where the weight is known (experts, hidden size, conv channels), else shapes.
 */
function blockFacts(shapes: Map<string, string>, varying: string[]): string {
  const dim = (name: string, i: number) => {
    const k = varying.find((n) => n.endsWith(name));
    const s = k ? shapes.get(k) : undefined;
    if (!s) return undefined;
    const d = s.split('×');
    return d[i < 0 ? d.length + i : i];
  };
  const facts = [
    dim('router.w_gate', -1) && `${dim('router.w_gate', -1)} experts`,
    dim('experts.v.weight', -1) && `hidden ${dim('experts.v.weight', -1)}`,
    dim('dw.weight', 2) && `conv branch ${dim('dw.weight', 2)} channels`,
    dim('attn.qkv.weight', 0) && `attention ${dim('attn.qkv.weight', 0)} channels`,
    dim('norm1.gamma', 0) && `width ${dim('norm1.gamma', 0)}`,
  ].filter(Boolean);
  if (facts.length) return facts.join(', ');
  return varying
    .slice(0, 2)
    .map((n) => `${n} ${shapes.get(n) ?? '—'}`)
    .join(', ');
}

function parentOf(p: string): string {
  return p.split('.').slice(0, -1).join('.');
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Words of `text` in lines of at most `max` characters. */
function wrap(text: string, max: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const w of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + w.length > max) {
      out.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) out.push(line);
  return out;
}

const fmtParams = (n: number) =>
  n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(n);

const COLORS: Array<[RegExp, string]> = [
  [/Attention|Spatial/, '#dbe9f6'],
  [/Moe|Expert|Router|SwiGLU/, '#fde2c8'],
  [/Eit|Conv|Patch/, '#dff0d8'],
  [/Norm/, '#eeeeee'],
  [/Block/, '#f3e5f5'],
];
const colorOf = (kind: string) => COLORS.find(([re]) => re.test(kind))?.[1] ?? '#ffffff';

/** The drawing as a standalone SVG (two columns: the model, and each block kind opened up). */
export function architectureSvg(
  model: Module & { config?: object },
  opts: { name?: string; title?: string } = {},
): string {
  const s = architectureSummary(model, opts.name);
  const LW = 330;
  const RW = 470;
  const GAP = 40;
  const PAD = 16;
  const LINE = 15;
  const parts: string[] = [];
  const box = (x: number, y: number, w: number, lines: string[], fill: string, bold = 0): number => {
    const h = 10 + lines.length * LINE;
    parts.push(`<rect x="${x}" y="${y}" width="${w}" height="${h}" rx="6" fill="${fill}" stroke="#555"/>`);
    lines.forEach((l, i) => {
      parts.push(
        `<text x="${x + 8}" y="${y + 5 + LINE * (i + 1) - 3}" ` +
          `font-size="12"${i < bold ? ' font-weight="bold"' : ''}>${esc(l)}</text>`,
      );
    });
    return h;
  };
  const arrow = (x: number, y0: number, y1: number) =>
    parts.push(`<line x1="${x}" y1="${y0}" x2="${x}" y2="${y1 - 2}" stroke="#555" marker-end="url(#arrow)"/>`);
  const title = opts.title ?? `${s.model}: ${fmtParams(s.params)} parameters`;
  let y = PAD + 28;
  // left column: the model
  parts.push(`<text x="${PAD}" y="${PAD + 12}" font-size="15" font-weight="bold">${esc(title)}</text>`);
  parts.push(`<text x="${PAD}" y="${y - 4}" font-size="11" fill="#555">input image ↓</text>`);
  y += 6;
  s.rows.forEach((r, i) => {
    const head =
      r.repeat > 1 ? `${r.path} … ${r.lastPath.split('.').pop()} · ${r.kind} × ${r.repeat}` : `${r.path} · ${r.kind}`;
    const lines = [head, ...wrap(`${r.detail}`, 50).slice(0, 3), `${fmtParams(r.params)} params`];
    const h = box(PAD, y, LW, lines, colorOf(r.kind), 1);
    if (i < s.rows.length - 1) arrow(PAD + LW / 2, y + h, y + h + 14);
    y += h + 14;
  });
  const leftH = y;
  // right column: each block kind opened up
  const x = PAD + LW + GAP;
  let yr = PAD + 28;
  for (const b of s.blocks) {
    parts.push(
      `<text x="${x}" y="${yr + 8}" font-size="13" ` +
        `font-weight="bold">${esc(`${b.kind}, opened up (${b.path})`)}</text>`,
    );
    yr += 16;
    b.parts.forEach((p, i) => {
      const lines = [`${p.path} · ${p.kind} · ${fmtParams(p.params)}`, ...wrap(p.detail, 68).slice(0, 3)];
      const h = box(x, yr, RW, lines, colorOf(p.kind), 1);
      if (i < b.parts.length - 1) arrow(x + RW / 2, yr + h, yr + h + 10);
      yr += h + 10;
    });
    parts.push(
      `<text x="${x}" y="${yr + 10}" font-size="11" ` +
        `fill="#555">${esc('residual connections around attention and the FFN/MoE; norms as configured')}</text>`,
    );
    yr += 18;
    if (b.variation.length) {
      parts.push(
        `<text x="${x}" y="${yr + 10}" font-size="12" font-weight="bold">What changes from block to block</text>`,
      );
      yr += 16;
      for (const row of b.variation) {
        for (const [i, l] of wrap(`${row.path}: ${row.shapes}`, 80).entries()) {
          parts.push(`<text x="${x + 8 + (i ? 16 : 0)}" y="${yr + 10}" font-size="11">${esc(l)}</text>`);
          yr += 14;
        }
      }
    }
    yr += 18;
  }
  const width = PAD + LW + GAP + RW + PAD;
  const height = Math.max(leftH, yr) + PAD;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
    `font-family="Arial, Helvetica, sans-serif"><defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" ` +
    `markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>` +
    `<rect width="100%" height="100%" fill="#fff"/>${parts.join('')}</svg>`
  );
}
