import { Rng } from '../util/rng';
import { ConfigError } from '../util/errors';

/**
 * Super-classes from confusion (Mobile V-MoE Sec. 2.2): "train a dense baseline, compute its confusion matrix on a
 * held-out set, build a confusion graph and cluster it", so that classes the dense model confuses share an expert.
 * The paper's clustering algorithm (its ref. [8]) is not identified (docs/mobile-vmoe.md §3); this file implements our
 * recommendation: symmetrise and zero the diagonal, then normalised spectral clustering (Ng, Jordan & Weiss 2002)
 * with a *balanced* k-means in the spectral embedding, since each super-class gets one expert and should get a
 * comparable share of the data (CIFAR-100's official super-classes are exactly 5 fine classes each).
 * Everything is plain JS on small matrices (≤ a few hundred classes) and deterministic given a seed.
 */

export type Matrix = number[][];

/** counts[i][j] = number of images of true class i predicted as j. */
export function confusionMatrix(labels: ArrayLike<number>, preds: ArrayLike<number>, numClasses: number): Matrix {
  if (labels.length !== preds.length)
    throw new ConfigError(
      `confusionMatrix: ${labels.length} labels but ${preds.length} predictions; expected equal lengths`,
    );
  const c = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < labels.length; i++) {
    const a = labels[i];
    const b = preds[i];
    if (!(a >= 0 && a < numClasses && b >= 0 && b < numClasses))
      throw new ConfigError(`confusionMatrix: pair (${a}, ${b}) at ${i} is outside [0, ${numClasses})`);
    c[a][b]++;
  }
  return c;
}

/**
 * The confusion graph: optionally turn counts into per-class rates (rows sum to 1, so classes with more test images
 * do not dominate), then A = (C + Cᵀ)/2 with a zero diagonal (docs/mobile-vmoe.md §3).
 */
export function confusionGraph(c: Matrix, opts: { normalise?: 'rows' | 'none' } = {}): Matrix {
  const n = c.length;
  const r =
    (opts.normalise ?? 'rows') === 'rows'
      ? c.map((row) => {
          const s = row.reduce((a, b) => a + b, 0);
          return row.map((v) => (s > 0 ? v / s : 0));
        })
      : c;
  return Array.from({ length: n }, (_, i) =>
    Array.from({ length: n }, (_, j) => (i === j ? 0 : (r[i][j] + r[j][i]) / 2)),
  );
}

/**
 * Eigen-decomposition of a real symmetric matrix by the cyclic Jacobi method: rotations that zero one off-diagonal
 * pair at a time until the off-diagonal mass is negligible. Returns eigenvalues ascending and the matching unit
 * eigenvectors (vectors[i] is the i-th), each signed so that its largest-magnitude entry is positive (deterministic).
 */
export function symmetricEigen(
  m: Matrix,
  opts: { maxSweeps?: number; tol?: number } = {},
): { values: number[]; vectors: number[][] } {
  const n = m.length;
  for (let i = 0; i < n; i++) {
    if (m[i].length !== n)
      throw new ConfigError(`symmetricEigen: row ${i} has ${m[i].length} entries; expected a square ${n}×${n} matrix`);
    for (let j = 0; j < i; j++) {
      if (Math.abs(m[i][j] - m[j][i]) > 1e-9 * (1 + Math.abs(m[i][j])))
        throw new ConfigError(
          `symmetricEigen: m[${i}][${j}]=${m[i][j]} ≠ m[${j}][${i}]=${m[j][i]}; expected a symmetric matrix`,
        );
    }
  }
  const a = m.map((row) => Float64Array.from(row));
  const v = Array.from({ length: n }, (_, i) => {
    const r = new Float64Array(n);
    r[i] = 1;
    return r;
  });
  const scale = a.reduce((s, row) => s + row.reduce((t, x) => t + x * x, 0), 0) || 1;
  const tol = opts.tol ?? 1e-22;
  for (let sweep = 0; sweep < (opts.maxSweeps ?? 100); sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p][q] * a[p][q];
    if (off / scale < tol) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p][q];
        if (apq === 0) continue;
        // rotation angle that zeroes a[p][q]: tan φ = t, the smaller root of t² + 2θt − 1 = 0
        const theta = (a[q][q] - a[p][p]) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let r = 0; r < n; r++) {
          const arp = a[r][p];
          const arq = a[r][q];
          a[r][p] = c * arp - s * arq;
          a[r][q] = s * arp + c * arq;
        }
        for (let r = 0; r < n; r++) {
          const apr = a[p][r];
          const aqr = a[q][r];
          a[p][r] = c * apr - s * aqr;
          a[q][r] = s * apr + c * aqr;
        }
        for (let r = 0; r < n; r++) {
          const vrp = v[r][p];
          const vrq = v[r][q];
          v[r][p] = c * vrp - s * vrq;
          v[r][q] = s * vrp + c * vrq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => a[i][i] - a[j][j] || i - j);
  const vectors = order.map((col) => {
    const vec = Array.from({ length: n }, (_, r) => v[r][col]);
    let big = 0;
    for (const x of vec) if (Math.abs(x) > Math.abs(big) + 1e-12) big = x;
    return big < 0 ? vec.map((x) => -x) : vec;
  });
  return { values: order.map((i) => a[i][i]), vectors };
}

/**
 * Minimum-cost perfect assignment of a square cost matrix (Hungarian algorithm with row/column potentials,
 * O(n³)). Returns colOf[row].
 */
export function hungarian(cost: Matrix): Int32Array {
  const n = cost.length;
  const INF = Number.POSITIVE_INFINITY;
  const u = new Float64Array(n + 1);
  const w = new Float64Array(n + 1);
  const rowOfCol = new Int32Array(n + 1); // 1-based; 0 = free
  const way = new Int32Array(n + 1);
  for (let i = 1; i <= n; i++) {
    rowOfCol[0] = i;
    let j0 = 0;
    const minv = new Float64Array(n + 1).fill(INF);
    const used = new Uint8Array(n + 1);
    do {
      used[j0] = 1;
      const i0 = rowOfCol[j0];
      let delta = INF;
      let j1 = 0;
      for (let j = 1; j <= n; j++) {
        if (used[j]) continue;
        const cur = cost[i0 - 1][j - 1] - u[i0] - w[j];
        if (cur < minv[j]) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (let j = 0; j <= n; j++) {
        if (used[j]) {
          u[rowOfCol[j]] += delta;
          w[j] -= delta;
        } else minv[j] -= delta;
      }
      j0 = j1;
    } while (rowOfCol[j0] !== 0);
    do {
      const j1 = way[j0];
      rowOfCol[j0] = rowOfCol[j1];
      j0 = j1;
    } while (j0);
  }
  const colOf = new Int32Array(n);
  for (let j = 1; j <= n; j++) colOf[rowOfCol[j] - 1] = j - 1;
  return colOf;
}

/** Cluster sizes of a balanced split of n items into k groups: ⌈n/k⌉ for the first n mod k, ⌊n/k⌋ for the rest. */
export function balancedSizes(n: number, k: number): number[] {
  return Array.from({ length: k }, (_, j) => Math.floor(n / k) + (j < n % k ? 1 : 0));
}

const sqDist = (a: number[], b: number[]) => a.reduce((s, x, i) => s + (x - b[i]) ** 2, 0);

/**
 * k-means whose assignment step is an exact balanced assignment (points to cluster "slots", Hungarian), so every
 * cluster has the sizes of `balancedSizes`. k-means++ seeding from `seed`; the best of `restarts` runs is kept.
 */
export function balancedKMeans(
  points: number[][],
  k: number,
  opts: { seed?: number; restarts?: number; iters?: number } = {},
): { assignment: Int32Array; cost: number } {
  const n = points.length;
  if (!Number.isInteger(k) || k < 1 || k > n)
    throw new ConfigError(`balancedKMeans: k=${k} clusters for ${n} points; expected 1 ≤ k ≤ ${n}`);
  const sizes = balancedSizes(n, k);
  const slotCluster = sizes.flatMap((s, j) => new Array<number>(s).fill(j));
  const rng = new Rng(opts.seed ?? 0);
  let best = { assignment: new Int32Array(n), cost: Number.POSITIVE_INFINITY };
  for (let restart = 0; restart < (opts.restarts ?? 8); restart++) {
    // k-means++ seeding
    const centres: number[][] = [points[rng.below(n)].slice()];
    while (centres.length < k) {
      const d = points.map((p) => Math.min(...centres.map((c) => sqDist(p, c))));
      const total = d.reduce((s, x) => s + x, 0);
      let pick = rng.next() * total;
      let idx = 0;
      while (idx < n - 1 && pick >= d[idx]) pick -= d[idx++];
      centres.push(points[total > 0 ? idx : rng.below(n)].slice());
    }
    let assignment = new Int32Array(n).fill(-1);
    let cost = 0;
    for (let it = 0; it < (opts.iters ?? 30); it++) {
      const costM = points.map((p) => slotCluster.map((j) => sqDist(p, centres[j])));
      const slots = hungarian(costM);
      const next = Int32Array.from(slots, (s) => slotCluster[s]);
      cost = next.reduce((s, j, i) => s + sqDist(points[i], centres[j]), 0);
      const same = next.every((j, i) => j === assignment[i]);
      assignment = next;
      if (same) break;
      for (let j = 0; j < k; j++) {
        const members = points.filter((_, i) => assignment[i] === j);
        centres[j] = members[0].map((_, d) => members.reduce((s, p) => s + p[d], 0) / members.length);
      }
    }
    if (cost < best.cost - 1e-12) best = { assignment, cost };
  }
  return best;
}

export interface ConfusionClusters {
  /** Super-class of each class, relabelled so that super-classes are numbered by their smallest member. */
  assignment: number[];
  sizes: number[];
  /** Fraction of the graph's confusion mass that falls inside super-classes (1 = all confusions within groups). */
  withinConfusion: number;
  /** The k smallest eigenvalues of the normalised Laplacian I − D^-1/2 A D^-1/2. */
  eigenvalues: number[];
}

/**
 * Normalised spectral clustering of a confusion graph into k balanced groups: the k leading eigenvectors of
 * D^-1/2 A D^-1/2 (equivalently the k smallest of the normalised Laplacian), rows scaled to unit length, then
 * balanced k-means. Input: a confusion matrix (counts) or a graph from `confusionGraph` (set `isGraph`).
 */
export function clusterConfusion(
  c: Matrix,
  k: number,
  opts: { seed?: number; restarts?: number; normalise?: 'rows' | 'none'; isGraph?: boolean } = {},
): ConfusionClusters {
  const a = opts.isGraph ? c : confusionGraph(c, { normalise: opts.normalise });
  const n = a.length;
  const deg = a.map((row) => row.reduce((s, x) => s + x, 0));
  const maxDeg = Math.max(...deg, 0);
  const dInv = deg.map((d) => 1 / Math.sqrt(Math.max(d, 1e-12 * (maxDeg || 1))));
  const m = a.map((row, i) => row.map((x, j) => x * dInv[i] * dInv[j]));
  const { values, vectors } = symmetricEigen(m);
  const lead = vectors.slice(n - k).reverse();
  const emb = Array.from({ length: n }, (_, i) => {
    const row = lead.map((vec) => vec[i]);
    const norm = Math.sqrt(row.reduce((s, x) => s + x * x, 0));
    return norm > 1e-12 ? row.map((x) => x / norm) : row;
  });
  const raw = balancedKMeans(emb, k, { seed: opts.seed, restarts: opts.restarts }).assignment;
  const assignment = canonicalLabels(raw);
  return {
    assignment,
    sizes: Array.from({ length: k }, (_, j) => assignment.filter((x) => x === j).length),
    withinConfusion: withinClusterConfusion(a, assignment),
    eigenvalues: values
      .slice(n - k)
      .reverse()
      .map((x) => 1 - x),
  };
}

/** Relabel a clustering so that cluster ids appear in order of first occurrence (0, 1, 2, …). */
export function canonicalLabels(a: ArrayLike<number>): number[] {
  const map = new Map<number, number>();
  return Array.from(a, (x) => {
    if (!map.has(x)) map.set(x, map.size);
    return map.get(x)!;
  });
}

/** Fraction of a graph's (off-diagonal) edge weight inside clusters. */
export function withinClusterConfusion(a: Matrix, assignment: ArrayLike<number>): number {
  let inside = 0;
  let total = 0;
  for (let i = 0; i < a.length; i++) {
    for (let j = 0; j < a.length; j++) {
      if (i === j) continue;
      total += a[i][j];
      if (assignment[i] === assignment[j]) inside += a[i][j];
    }
  }
  return total > 0 ? inside / total : 0;
}

const choose2 = (x: number) => (x * (x - 1)) / 2;

/**
 * Adjusted Rand index (Hubert & Arabie 1985): agreement of two partitions of the same items, 1 for identical
 * partitions (up to renaming), about 0 for independent ones.
 * ARI = (Σ_ij C(n_ij,2) − E) / (½(Σ_i C(a_i,2) + Σ_j C(b_j,2)) − E), E = Σ_i C(a_i,2)·Σ_j C(b_j,2) / C(n,2).
 */
export function adjustedRandIndex(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length)
    throw new ConfigError(
      `adjustedRandIndex: partitions of ${a.length} and ${b.length} items; expected the same items`,
    );
  const n = a.length;
  const table = new Map<string, number>();
  const ra = new Map<number, number>();
  const rb = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const key = `${a[i]},${b[i]}`;
    table.set(key, (table.get(key) ?? 0) + 1);
    ra.set(a[i], (ra.get(a[i]) ?? 0) + 1);
    rb.set(b[i], (rb.get(b[i]) ?? 0) + 1);
  }
  const sumIj = [...table.values()].reduce((s, x) => s + choose2(x), 0);
  const sumA = [...ra.values()].reduce((s, x) => s + choose2(x), 0);
  const sumB = [...rb.values()].reduce((s, x) => s + choose2(x), 0);
  const expected = (sumA * sumB) / choose2(n || 1);
  const max = (sumA + sumB) / 2;
  if (max === expected) return 1; // both partitions trivial (all singletons or one cluster)
  return (sumIj - expected) / (max - expected);
}

/**
 * Merge a dataset's super-classes into fewer groups for E experts: coarse class c → ⌊c·E/numCoarse⌋ (consecutive
 * coarse classes share an expert; a suggestion in docs/mobile-vmoe.md §3). Returns the fine → group map.
 */
export function mergeCoarse(fineToCoarse: ArrayLike<number>, numCoarse: number, groups: number): number[] {
  if (!Number.isInteger(groups) || groups < 1 || groups > numCoarse) {
    throw new ConfigError(
      `mergeCoarse: ${groups} groups from ${numCoarse} super-classes; expected 1 ≤ groups ≤ ${numCoarse}`,
    );
  }
  return Array.from(fineToCoarse, (c) => Math.floor((c * groups) / numCoarse));
}

/**
 * How many super-classes a confusion graph holds, by the eigengap of its normalised Laplacian: the k in
 * [minK, maxK] after which the sorted eigenvalues jump most (λ_{k+1} − λ_k). For a 10-class dataset whose dense
 * model confuses tops with tops and shoes with shoes, the gap after k = 2 or 3 is the largest.
 */
export function superClassCount(c: Matrix, opts: { minK?: number; maxK?: number; isGraph?: boolean } = {}): number {
  const a = opts.isGraph ? c : confusionGraph(c);
  const n = a.length;
  const minK = Math.max(1, opts.minK ?? 2);
  const maxK = Math.min(n - 1, opts.maxK ?? Math.floor(n / 2));
  if (maxK < minK)
    throw new ConfigError(
      `superClassCount: ${n} classes leave no k in [${minK}, ${opts.maxK ?? '⌊n/2⌋'}]; expected n > minK`,
    );
  const deg = a.map((row) => row.reduce((s, x) => s + x, 0));
  const maxDeg = Math.max(...deg, 0);
  const dInv = deg.map((d) => 1 / Math.sqrt(Math.max(d, 1e-12 * (maxDeg || 1))));
  const m = a.map((row, i) => row.map((x, j) => x * dInv[i] * dInv[j]));
  // Laplacian eigenvalues in ascending order: 1 − (eigenvalues of D^-1/2 A D^-1/2 in descending order)
  const lap = symmetricEigen(m)
    .values.map((x) => 1 - x)
    .sort((p, q) => p - q);
  let best = minK;
  for (let k = minK; k <= maxK; k++) if (lap[k] - lap[k - 1] > lap[best] - lap[best - 1]) best = k;
  return best;
}

/** A random balanced grouping of n classes into k groups (seeded): the control for confusion-fitted groups. */
export function randomBalancedGroups(n: number, k: number, seed = 0): number[] {
  if (!Number.isInteger(k) || k < 1 || k > n)
    throw new ConfigError(`randomBalancedGroups: k=${k} for ${n} classes; expected 1 ≤ k ≤ ${n}`);
  const slots = balancedSizes(n, k).flatMap((s, j) => new Array<number>(s).fill(j));
  const rng = new Rng(seed);
  for (let i = slots.length - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    [slots[i], slots[j]] = [slots[j], slots[i]];
  }
  return canonicalLabels(slots);
}
