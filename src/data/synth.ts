import * as fs from 'node:fs';
import * as path from 'node:path';
import { Rng } from '../util/rng';
import { DataError } from '../util/errors';
import {
  CIFAR10_DIR,
  CIFAR100_DIR,
  CIFAR_PIXELS,
  CIFAR_SIDE,
  encodeCifar100Records,
  encodeCifar10Records,
  readCifar10,
  readCifar100,
} from './cifar';
import { channelStats } from './image';
import type { ImageDataset } from './types';

/**
 * The embedded synthetic datasets `synth10` and `synth100`: 32×32 RGB images of one textured shape on a cluttered
 * background, generated deterministically from a seed and written once as CIFAR-format files, so the CIFAR readers
 * load them and every quick-scale experiment runs without a download. Results on them are "synthetic data".
 *
 * What decides a class is the shape's outline and the texture inside it (local structure); what does not is its
 * position (±6 px), size (radius 8–12 px), rotation (±25°), colours (foreground and background drawn at random,
 * with a luminance gap), a background gradient, clutter strokes and pixel noise. A linear model on raw pixels
 * therefore sees little it can use, while convolutions and patch attention find it quickly.
 *
 * synth100 mirrors CIFAR-100's structure: 20 super-classes (shape families) × 5 fine classes (texture variants), with
 * coarse labels and names. synth10 has 10 classes, each a different shape with a texture shared by two classes, so
 * neither cue alone is the whole story.
 */

/** Bump when the generator's output changes; stored data of an older version is regenerated. */
export const SYNTH_VERSION = 1;
export const SYNTH_SEED = 1234;

export interface SynthSpec {
  name: 'synth10' | 'synth100';
  trainCount: number;
  testCount: number;
  /** Records per train file (synth10 splits its train set into CIFAR-10-style batches). */
  trainFileRecords: number;
}

export const SYNTH_SPECS: Record<'synth10' | 'synth100', SynthSpec> = {
  synth10: { name: 'synth10', trainCount: 10_000, testCount: 2_000, trainFileRecords: 2_000 },
  synth100: { name: 'synth100', trainCount: 20_000, testCount: 4_000, trainFileRecords: 20_000 },
};

// ---------------------------------------------------------------------------------------------------------------
// Shapes as signed distance functions in unit coordinates (the shape fits in the unit disk; negative = inside).

type Sdf = (u: number, v: number) => number;

function sdCircle(u: number, v: number, r: number): number {
  return Math.sqrt(u * u + v * v) - r;
}

function sdBox(u: number, v: number, hw: number, hh: number): number {
  const dx = Math.abs(u) - hw;
  const dy = Math.abs(v) - hh;
  const ox = Math.max(dx, 0);
  const oy = Math.max(dy, 0);
  return Math.sqrt(ox * ox + oy * oy) + Math.min(Math.max(dx, dy), 0);
}

/** Exact signed distance to a simple polygon given as [x0, y0, x1, y1, ...]. */
function sdPolygon(u: number, v: number, pts: number[]): number {
  const n = pts.length / 2;
  let d = (u - pts[0]) ** 2 + (v - pts[1]) ** 2;
  let s = 1;
  for (let i = 0, j = n - 1; i < n; j = i, i++) {
    const xi = pts[2 * i];
    const yi = pts[2 * i + 1];
    const xj = pts[2 * j];
    const yj = pts[2 * j + 1];
    const ex = xj - xi;
    const ey = yj - yi;
    const wx = u - xi;
    const wy = v - yi;
    const t = Math.min(Math.max((wx * ex + wy * ey) / (ex * ex + ey * ey), 0), 1);
    const bx = wx - ex * t;
    const by = wy - ey * t;
    d = Math.min(d, bx * bx + by * by);
    const c1 = v >= yi;
    const c2 = v < yj;
    const c3 = ex * wy > ey * wx;
    if ((c1 && c2 && c3) || (!c1 && !c2 && !c3)) s = -s;
  }
  return s * Math.sqrt(d);
}

function regular(n: number, r: number, phase: number): number[] {
  const p: number[] = [];
  for (let k = 0; k < n; k++) {
    const a = phase + (2 * Math.PI * k) / n;
    p.push(r * Math.cos(a), r * Math.sin(a));
  }
  return p;
}

function star(points: number, outer: number, inner: number): number[] {
  const p: number[] = [];
  for (let k = 0; k < 2 * points; k++) {
    const a = Math.PI / 2 + (Math.PI * k) / points;
    const r = k % 2 === 0 ? outer : inner;
    p.push(r * Math.cos(a), r * Math.sin(a));
  }
  return p;
}

const TRIANGLE = regular(3, 1.0, Math.PI / 2).map((x, i) => (i % 2 ? x - 0.12 : x));
const RHOMBUS = [0, 1, 0.6, 0, 0, -1, -0.6, 0];
const STAR5 = star(5, 1.0, 0.42);
const CHEVRON = [-0.9, -0.55, 0, 0.35, 0.9, -0.55, 0.9, 0.05, 0, 0.95, -0.9, 0.05];
const HOURGLASS_TOP = [-0.75, 0.9, 0.75, 0.9, 0, 0.05];
const HOURGLASS_BOTTOM = [-0.75, -0.9, 0.75, -0.9, 0, -0.05];
const HEART_TIP = [-0.83, 0.15, 0.83, 0.15, 0, -0.9];
const TRIO = regular(3, 0.55, Math.PI / 2);

/** The 20 shape families (synth100 super-classes), readable names first. */
export const SYNTH_SHAPES: Array<{ name: string; sdf: Sdf }> = [
  { name: 'disk', sdf: (u, v) => sdCircle(u, v, 0.9) },
  { name: 'ring', sdf: (u, v) => Math.abs(Math.sqrt(u * u + v * v) - 0.7) - 0.26 },
  { name: 'square', sdf: (u, v) => sdBox(u, v, 0.75, 0.75) },
  { name: 'frame', sdf: (u, v) => Math.abs(sdBox(u, v, 0.62, 0.62)) - 0.2 },
  { name: 'triangle', sdf: (u, v) => sdPolygon(u, v, TRIANGLE) },
  { name: 'plus', sdf: (u, v) => Math.min(sdBox(u, v, 0.95, 0.3), sdBox(u, v, 0.3, 0.95)) },
  { name: 'rhombus', sdf: (u, v) => sdPolygon(u, v, RHOMBUS) },
  { name: 'star', sdf: (u, v) => sdPolygon(u, v, STAR5) },
  { name: 'crescent', sdf: (u, v) => Math.max(sdCircle(u, v, 0.92), -sdCircle(u - 0.5, v, 0.68)) },
  {
    name: 'heart',
    sdf: (u, v) =>
      Math.min(sdCircle(u - 0.4, v - 0.35, 0.46), sdCircle(u + 0.4, v - 0.35, 0.46), sdPolygon(u, v, HEART_TIP)),
  },
  { name: 'half-disk', sdf: (u, v) => Math.max(sdCircle(u, v + 0.35, 0.95), -(v + 0.35)) },
  { name: 'bar', sdf: (u, v) => sdBox(u, v, 0.95, 0.3) },
  { name: 'twin-bars', sdf: (u, v) => Math.min(sdBox(u, v - 0.45, 0.9, 0.22), sdBox(u, v + 0.45, 0.9, 0.22)) },
  { name: 'l-shape', sdf: (u, v) => Math.min(sdBox(u + 0.5, v, 0.3, 0.9), sdBox(u, v + 0.6, 0.8, 0.3)) },
  { name: 't-shape', sdf: (u, v) => Math.min(sdBox(u, v - 0.6, 0.9, 0.3), sdBox(u, v + 0.15, 0.3, 0.85)) },
  { name: 'chevron', sdf: (u, v) => sdPolygon(u, v, CHEVRON) },
  {
    name: 'hourglass',
    sdf: (u, v) => Math.min(sdPolygon(u, v, HOURGLASS_TOP), sdPolygon(u, v, HOURGLASS_BOTTOM)),
  },
  {
    name: 'trio',
    sdf: (u, v) =>
      Math.min(
        sdCircle(u - TRIO[0], v - TRIO[1], 0.38),
        sdCircle(u - TRIO[2], v - TRIO[3], 0.38),
        sdCircle(u - TRIO[4], v - TRIO[5], 0.38),
      ),
  },
  {
    name: 'h-shape',
    sdf: (u, v) => Math.min(sdBox(u - 0.6, v, 0.26, 0.9), sdBox(u + 0.6, v, 0.26, 0.9), sdBox(u, v, 0.6, 0.22)),
  },
  {
    // a thick ring with a gap on the right
    name: 'c-shape',
    sdf: (u, v) => Math.max(Math.abs(Math.sqrt(u * u + v * v) - 0.68) - 0.26, -sdBox(u - 0.7, v, 0.45, 0.3)),
  },
];

// ---------------------------------------------------------------------------------------------------------------
// Textures: intensity patterns in the shape's own frame, in pixel units (f in [0, 1]).

type Texture = (x: number, y: number) => number;
const PERIOD = 5;
const W = (2 * Math.PI) / PERIOD;

export const SYNTH_TEXTURES: Array<{ name: string; tex: Texture }> = [
  { name: 'plain', tex: () => 0 },
  { name: 'striped', tex: (x) => 0.5 + 0.5 * Math.sin(W * x) },
  {
    name: 'dotted',
    tex: (x, y) => {
      const dx = x - PERIOD * Math.round(x / PERIOD);
      const dy = y - PERIOD * Math.round(y / PERIOD);
      return Math.min(Math.max(1.9 - Math.sqrt(dx * dx + dy * dy), 0), 1);
    },
  },
  {
    name: 'checkered',
    tex: (x, y) => Math.min(Math.max(0.5 + 2 * Math.sin(0.8 * W * x) * Math.sin(0.8 * W * y), 0), 1),
  },
  {
    name: 'grid',
    tex: (x, y) => {
      const dx = Math.abs(x - PERIOD * Math.round(x / PERIOD));
      const dy = Math.abs(y - PERIOD * Math.round(y / PERIOD));
      return Math.min(Math.max(1.3 - Math.min(dx, dy), 0), 1);
    },
  },
];

/** synth10: ten shapes, each texture shared by two dissimilar shapes. */
export const SYNTH10_CLASSES: Array<{ shape: number; texture: number }> = [
  { shape: 0, texture: 1 }, // striped disk
  { shape: 2, texture: 2 }, // dotted square
  { shape: 4, texture: 0 }, // plain triangle
  { shape: 5, texture: 3 }, // checkered plus
  { shape: 7, texture: 4 }, // grid star
  { shape: 1, texture: 0 }, // plain ring
  { shape: 9, texture: 1 }, // striped heart
  { shape: 8, texture: 3 }, // checkered crescent
  { shape: 11, texture: 2 }, // dotted bar
  { shape: 16, texture: 4 }, // grid hourglass
];

function synth10Name(c: number): string {
  const k = SYNTH10_CLASSES[c];
  return `${SYNTH_TEXTURES[k.texture].name} ${SYNTH_SHAPES[k.shape].name}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Rendering

function luminance(r: number, g: number, b: number): number {
  return 0.299 * r + 0.587 * g + 0.114 * b;
}

function randomColour(rng: Rng): [number, number, number] {
  return [rng.uniform(0, 255), rng.uniform(0, 255), rng.uniform(0, 255)];
}

/** Seed of image i of a split: independent of every other image, so any subset can be regenerated alone. */
function imageSeed(seed: number, split: 'train' | 'test', i: number): number {
  let h = Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2f) ^ (split === 'train' ? 0x1234567 : 0x7654321);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b) ^ Math.imul(i + 1, 0x9e3779b1);
  return (h ^ (h >>> 13)) | 0;
}

const clamp01 = (x: number) => (x < 0 ? 0 : Math.min(x, 1));

/**
 * Draw one image (HWC uint8 at out[offset..]) of `shape` filled with `texture` under random nuisances from `rng`.
 */
/** The nuisance ranges (defaults: the stored datasets). Harder or easier variants are a change here. */
export interface SynthStyle {
  /** Shape centre offset from the image centre, ± pixels. */
  jitter: number;
  /** Shape radius range, pixels. */
  scale: [number, number];
  /** Rotation range, ± degrees. */
  rotation: number;
  /** Minimum luminance gap between shape and background (0–255). */
  contrast: number;
  /** How far the texture moves the shape's colour towards black or white (0–1). */
  texture: number;
  /** Clutter strokes/blobs per image: [min, max]. */
  clutter: [number, number];
  /** Background gradient amplitude, grey levels. */
  gradient: number;
  /** Pixel noise standard deviation range, grey levels. */
  noise: [number, number];
}

export const SYNTH_STYLE: SynthStyle = {
  jitter: 6,
  scale: [8, 12],
  rotation: 25,
  contrast: 70,
  texture: 0.65,
  clutter: [2, 5],
  gradient: 50,
  noise: [3, 9],
};

export function renderSynthImage(
  shape: number,
  texture: number,
  rng: Rng,
  out: Uint8Array,
  offset: number,
  style: SynthStyle = SYNTH_STYLE,
): void {
  const S = CIFAR_SIDE;
  const buf = new Float32Array(S * S * 3);
  // Background: a random colour with a linear gradient.
  const bg = randomColour(rng);
  const ga = rng.uniform(0, 2 * Math.PI);
  const gAmp = rng.uniform(0, style.gradient);
  const gx = (Math.cos(ga) * gAmp) / S;
  const gy = (Math.sin(ga) * gAmp) / S;
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      const g = (x - S / 2) * gx + (y - S / 2) * gy;
      const o = (y * S + x) * 3;
      buf[o] = bg[0] + g;
      buf[o + 1] = bg[1] + g;
      buf[o + 2] = bg[2] + g;
    }
  }
  // Clutter: short strokes and small blobs of random colours.
  const nClutter = style.clutter[0] + rng.below(style.clutter[1] - style.clutter[0] + 1);
  for (let k = 0; k < nClutter; k++) {
    const col = randomColour(rng);
    const ax = rng.uniform(0, S);
    const ay = rng.uniform(0, S);
    const isStroke = rng.next() < 0.6;
    const len = rng.uniform(3, 9);
    const ang = rng.uniform(0, Math.PI);
    const bx = ax + len * Math.cos(ang);
    const by = ay + len * Math.sin(ang);
    const rad = isStroke ? 0.6 : rng.uniform(1, 2.2);
    const x0 = Math.max(0, Math.floor(Math.min(ax, isStroke ? bx : ax) - rad - 1));
    const x1 = Math.min(S - 1, Math.ceil(Math.max(ax, isStroke ? bx : ax) + rad + 1));
    const y0 = Math.max(0, Math.floor(Math.min(ay, isStroke ? by : ay) - rad - 1));
    const y1 = Math.min(S - 1, Math.ceil(Math.max(ay, isStroke ? by : ay) + rad + 1));
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const px = x + 0.5 - ax;
        const py = y + 0.5 - ay;
        let d: number;
        if (isStroke) {
          const ex = bx - ax;
          const ey = by - ay;
          const t = clamp01((px * ex + py * ey) / (ex * ex + ey * ey));
          d = Math.hypot(px - ex * t, py - ey * t) - rad;
        } else d = Math.hypot(px, py) - rad;
        const a = clamp01(0.5 - d);
        if (a <= 0) continue;
        const o = (y * S + x) * 3;
        for (let c = 0; c < 3; c++) buf[o + c] = buf[o + c] * (1 - a) + col[c] * a;
      }
    }
  }
  // The shape: a foreground colour at least 70 luminance levels from the background; its texture darkens or
  // lightens it (towards whichever end is further from the foreground), so the texture shows on any colour.
  let fg = randomColour(rng);
  const lumBg = luminance(bg[0], bg[1], bg[2]);
  for (let tries = 0; tries < 20 && Math.abs(luminance(fg[0], fg[1], fg[2]) - lumBg) < style.contrast; tries++)
    fg = randomColour(rng);
  if (Math.abs(luminance(fg[0], fg[1], fg[2]) - lumBg) < style.contrast) {
    const shift = lumBg > 128 ? -(style.contrast + 40) : style.contrast + 40;
    fg = [fg[0] + shift, fg[1] + shift, fg[2] + shift];
  }
  const lumFg = luminance(fg[0], fg[1], fg[2]);
  const toward = lumFg > 128 ? 0 : 255;
  const texAmt = style.texture;
  const scale = rng.uniform(style.scale[0], style.scale[1]);
  const rot = rng.uniform(-style.rotation, style.rotation) * (Math.PI / 180);
  const cx = S / 2 + rng.uniform(-style.jitter, style.jitter);
  const cy = S / 2 + rng.uniform(-style.jitter, style.jitter);
  const phx = rng.uniform(0, PERIOD);
  const phy = rng.uniform(0, PERIOD);
  const cs = Math.cos(rot);
  const sn = Math.sin(rot);
  const sdf = SYNTH_SHAPES[shape].sdf;
  const tex = SYNTH_TEXTURES[texture].tex;
  const reach = 1.1 * scale + 1;
  for (let y = 0; y < S; y++) {
    const dy = y + 0.5 - cy;
    if (Math.abs(dy) > reach) continue;
    for (let x = 0; x < S; x++) {
      const dx = x + 0.5 - cx;
      if (dx * dx + dy * dy > reach * reach) continue;
      // image y grows downwards; the shape frame has v upwards
      const lx = cs * dx + sn * dy;
      const ly = sn * dx - cs * dy;
      const a = clamp01(0.5 - sdf(lx / scale, ly / scale) * scale);
      if (a <= 0) continue;
      const f = texAmt * tex(lx + phx, ly + phy);
      const o = (y * S + x) * 3;
      for (let c = 0; c < 3; c++) {
        const col = fg[c] + (toward - fg[c]) * f;
        buf[o + c] = buf[o + c] * (1 - a) + col * a;
      }
    }
  }
  // Sensor noise: triangular (sum of two 16-bit uniforms from one xorshift32 draw), standard deviation sigma.
  const sigma = (rng.uniform(style.noise[0], style.noise[1]) * Math.sqrt(6)) / 65536;
  let st = rng.int() | 1;
  for (let i = 0; i < buf.length; i++) {
    st ^= st << 13;
    st ^= st >>> 17;
    st ^= st << 5;
    const v = buf[i] + sigma * ((st & 0xffff) + ((st >>> 16) & 0xffff) - 65535);
    out[offset + i] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
  }
}

export interface SynthSplit {
  images: Uint8Array;
  labels: Int32Array;
  coarse?: Int32Array;
}

/**
 * Generate one split in memory: exactly balanced labels in a seeded order, each image drawn from its own seed.
 */
export function generateSynth(
  name: 'synth10' | 'synth100',
  split: 'train' | 'test',
  count: number,
  seed = SYNTH_SEED,
  style: SynthStyle = SYNTH_STYLE,
  /** Render only images [start, end) (labels are always the whole split's); others stay zero. */
  range: [number, number] = [0, count],
): SynthSplit {
  const numClasses = name === 'synth10' ? 10 : 100;
  const order = new Rng(imageSeed(seed, split, -1));
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) labels[i] = i % numClasses;
  order.shuffle(labels);
  const images = new Uint8Array(count * CIFAR_PIXELS);
  const coarse = name === 'synth100' ? new Int32Array(count) : undefined;
  for (let i = 0; i < count; i++) {
    const y = labels[i];
    if (i < range[0] || i >= range[1]) {
      if (coarse) coarse[i] = name === 'synth10' ? 0 : Math.floor(y / 5);
      continue;
    }
    let shape: number;
    let texture: number;
    if (name === 'synth10') ({ shape, texture } = SYNTH10_CLASSES[y]);
    else {
      shape = Math.floor(y / 5);
      texture = y % 5;
      coarse![i] = shape;
    }
    renderSynthImage(shape, texture, new Rng(imageSeed(seed, split, i)), images, i * CIFAR_PIXELS, style);
  }
  return { images, labels, coarse };
}

// ---------------------------------------------------------------------------------------------------------------
// On-disk form

export interface SynthManifest {
  name: string;
  version: number;
  seed: number;
  synthetic: true;
  format: 'cifar-10-binary' | 'cifar-100-binary';
  files: { train: Array<{ file: string; records: number }>; test: Array<{ file: string; records: number }> };
  /** Per-channel mean/std of the train split, 0..1 scale. */
  mean: [number, number, number];
  std: [number, number, number];
  note: string;
}

export function synthRoot(dataDir: string, name: 'synth10' | 'synth100'): string {
  return path.join(dataDir, name);
}

function readManifest(root: string): SynthManifest | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(root, 'manifest.json'), 'utf8')) as SynthManifest;
  } catch {
    return null;
  }
}

/** Write a synth dataset into `dir` (a fresh folder) in CIFAR format plus manifest.json. */
function writeSynth(dir: string, spec: SynthSpec, seed: number): void {
  const train = generateSynth(spec.name, 'train', spec.trainCount, seed);
  const test = generateSynth(spec.name, 'test', spec.testCount, seed);
  const stats = channelStats(train.images);
  let files: SynthManifest['files'];
  if (spec.name === 'synth10') {
    const sub = path.join(dir, CIFAR10_DIR);
    fs.mkdirSync(sub, { recursive: true });
    const trainFiles: Array<{ file: string; records: number }> = [];
    for (let start = 0, k = 1; start < spec.trainCount; start += spec.trainFileRecords, k++) {
      const records = Math.min(spec.trainFileRecords, spec.trainCount - start);
      const file = `data_batch_${k}.bin`;
      fs.writeFileSync(path.join(sub, file), encodeCifar10Records(train.images, train.labels, start, records));
      trainFiles.push({ file, records });
    }
    fs.writeFileSync(path.join(sub, 'test_batch.bin'), encodeCifar10Records(test.images, test.labels));
    fs.writeFileSync(
      path.join(sub, 'batches.meta.txt'),
      `${SYNTH10_CLASSES.map((_, c) => synth10Name(c)).join('\n')}\n`,
    );
    files = { train: trainFiles, test: [{ file: 'test_batch.bin', records: spec.testCount }] };
  } else {
    const sub = path.join(dir, CIFAR100_DIR);
    fs.mkdirSync(sub, { recursive: true });
    fs.writeFileSync(path.join(sub, 'train.bin'), encodeCifar100Records(train.images, train.coarse!, train.labels));
    fs.writeFileSync(path.join(sub, 'test.bin'), encodeCifar100Records(test.images, test.coarse!, test.labels));
    fs.writeFileSync(path.join(sub, 'coarse_label_names.txt'), `${SYNTH_SHAPES.map((s) => s.name).join('\n')}\n`);
    const fine: string[] = [];
    for (const s of SYNTH_SHAPES) for (const t of SYNTH_TEXTURES) fine.push(`${t.name} ${s.name}`);
    fs.writeFileSync(path.join(sub, 'fine_label_names.txt'), `${fine.join('\n')}\n`);
    files = {
      train: [{ file: 'train.bin', records: spec.trainCount }],
      test: [{ file: 'test.bin', records: spec.testCount }],
    };
  }
  const manifest: SynthManifest = {
    name: spec.name,
    version: SYNTH_VERSION,
    seed,
    synthetic: true,
    format: spec.name === 'synth10' ? 'cifar-10-binary' : 'cifar-100-binary',
    files,
    ...stats,
    note: 'Synthetic data generated by lightvit-lab (src/data/synth.ts); not CIFAR. Results on it are synthetic.',
  };
  fs.writeFileSync(path.join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
}

/**
 * Make sure `<dataDir>/<name>` holds the current version of a synth dataset; generate it once otherwise. Written
 * into a temporary sibling folder and renamed into place, so readers never see a half-written dataset, and two
 * processes racing both end with the same complete folder.
 */
export function ensureSynth(
  dataDir: string,
  name: 'synth10' | 'synth100',
  seed = SYNTH_SEED,
): { root: string; manifest: SynthManifest } {
  const root = synthRoot(dataDir, name);
  const have = readManifest(root);
  if (have && have.version === SYNTH_VERSION && have.seed === seed) return { root, manifest: have };
  fs.mkdirSync(dataDir, { recursive: true });
  const tmp = path.join(dataDir, `.${name}.tmp-${process.pid}-${Date.now().toString(36)}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  try {
    writeSynth(tmp, SYNTH_SPECS[name], seed);
    const raced = readManifest(root);
    if (raced && raced.version === SYNTH_VERSION && raced.seed === seed) {
      // another process finished first: keep its folder (it may be reading it) and drop ours
      fs.rmSync(tmp, { recursive: true, force: true });
      return { root, manifest: raced };
    }
    if (fs.existsSync(root)) {
      // an older version (or a stray folder): move it aside first, then swap
      const old = `${root}.old-${process.pid}-${Date.now().toString(36)}`;
      fs.renameSync(root, old);
      fs.rmSync(old, { recursive: true, force: true });
    }
    fs.renameSync(tmp, root);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    const now = readManifest(root);
    // another process won the race with the same content
    if (now && now.version === SYNTH_VERSION && now.seed === seed) return { root, manifest: now };
    throw e;
  }
  const manifest = readManifest(root);
  if (!manifest)
    throw new DataError(`synthetic dataset ${name} was written to ${root} but its manifest.json is unreadable`);
  return { root, manifest };
}

/** Load a synth split through the CIFAR readers. */
export function loadSynth(dataDir: string, name: 'synth10' | 'synth100', split: 'train' | 'test'): ImageDataset {
  const { root, manifest } = ensureSynth(dataDir, name);
  const files = manifest.files[split];
  const common = { name, label: name, mean: manifest.mean, std: manifest.std, synthetic: true };
  return name === 'synth10'
    ? readCifar10(path.join(root, CIFAR10_DIR), files, split, common)
    : readCifar100(path.join(root, CIFAR100_DIR), files[0], split, common);
}
