import { describe, it, expect } from 'vitest';
import {
  adjustedRandIndex,
  balancedKMeans,
  clusterConfusion,
  confusionGraph,
  confusionMatrix,
  hungarian,
  mergeCoarse,
  symmetricEigen,
  withinClusterConfusion,
} from '../src/analysis/superclass';
import { Rng } from '../src/util/rng';

describe('adjusted Rand index (hand-computed values)', () => {
  it('[0,0,0,1,1,1] vs [0,0,1,1,2,2] = 8/33', () => {
    // pairs within contingency cells: C(2,2)+C(2,2) = 2; rows 2·C(3,2) = 6; columns 3·C(2,2) = 3; C(6,2) = 15
    // expected 6·3/15 = 1.2, max (6+3)/2 = 4.5 → (2 − 1.2)/(4.5 − 1.2) = 8/33
    expect(adjustedRandIndex([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2])).toBeCloseTo(8 / 33, 12);
  });
  it('[0,0,1,2] vs [0,0,1,1] = 4/7; renamed identical partitions = 1; one cluster vs singletons = 0', () => {
    expect(adjustedRandIndex([0, 0, 1, 2], [0, 0, 1, 1])).toBeCloseTo(4 / 7, 12);
    expect(adjustedRandIndex([0, 0, 1, 1, 2], [5, 5, 3, 3, 9])).toBe(1);
    expect(adjustedRandIndex([0, 0, 0, 0], [0, 1, 2, 3])).toBe(0);
  });
  it('is symmetric and negative for an anti-correlated split', () => {
    const a = [0, 0, 1, 1];
    const b = [0, 1, 0, 1];
    // Σ C(n_ij,2) = 0; rows 2, columns 2, C(4,2)=6 → expected 2/3, max 2 → (0 − 2/3)/(2 − 2/3) = −1/2
    expect(adjustedRandIndex(a, b)).toBeCloseTo(-0.5, 12);
    expect(adjustedRandIndex(b, a)).toBeCloseTo(-0.5, 12);
  });
  it('different lengths are an error naming both', () => {
    expect(() => adjustedRandIndex([0, 1], [0])).toThrow(/2 and 1 items/);
  });
});

describe('symmetric eigen-decomposition (Jacobi)', () => {
  it('[[2,1],[1,2]] has eigenvalues 1 and 3 with eigenvectors (1,−1)/√2, (1,1)/√2', () => {
    const { values, vectors } = symmetricEigen([
      [2, 1],
      [1, 2],
    ]);
    expect(values[0]).toBeCloseTo(1, 12);
    expect(values[1]).toBeCloseTo(3, 12);
    expect(Math.abs(vectors[0][0])).toBeCloseTo(Math.SQRT1_2, 12);
    expect(vectors[0][0] * vectors[0][1]).toBeCloseTo(-0.5, 12);
    expect(vectors[1][0]).toBeCloseTo(Math.SQRT1_2, 12);
    expect(vectors[1][1]).toBeCloseTo(Math.SQRT1_2, 12);
  });
  it('random symmetric 30×30: A·v = λ·v, orthonormal vectors, trace preserved, ascending', () => {
    const rng = new Rng(3);
    const n = 30;
    const a = Array.from({ length: n }, () => new Array<number>(n).fill(0));
    for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) a[i][j] = a[j][i] = rng.normal();
    const { values, vectors } = symmetricEigen(a);
    for (let k = 0; k < n; k++) {
      for (let i = 0; i < n; i++) {
        const av = a[i].reduce((s, x, j) => s + x * vectors[k][j], 0);
        expect(av).toBeCloseTo(values[k] * vectors[k][i], 8);
      }
      for (let l = 0; l <= k; l++)
        expect(vectors[k].reduce((s, x, i) => s + x * vectors[l][i], 0)).toBeCloseTo(k === l ? 1 : 0, 9);
      if (k > 0) expect(values[k]).toBeGreaterThanOrEqual(values[k - 1]);
    }
    expect(values.reduce((s, x) => s + x, 0)).toBeCloseTo(
      a.reduce((s, r, i) => s + r[i], 0),
      9,
    );
  });
  it('rejects a non-symmetric matrix, naming the entries', () => {
    expect(() =>
      symmetricEigen([
        [1, 2],
        [0, 1],
      ]),
    ).toThrow(/m\[1\]\[0\]=0 ≠ m\[0\]\[1\]=2/);
  });
});

describe('balanced assignment and clustering', () => {
  it('hungarian finds the brute-force optimum on random 6×6 costs', () => {
    const rng = new Rng(7);
    const perms = (n: number): number[][] =>
      n === 1
        ? [[0]]
        : perms(n - 1).flatMap((p) => Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]));
    const all = perms(6);
    for (let trial = 0; trial < 5; trial++) {
      const c = Array.from({ length: 6 }, () => Array.from({ length: 6 }, () => Math.round(rng.next() * 100)));
      const best = Math.min(...all.map((p) => p.reduce((s, j, i) => s + c[i][j], 0)));
      const got = hungarian(c);
      expect(new Set(got).size).toBe(6);
      expect(Array.from(got).reduce((s, j, i) => s + c[i][j], 0)).toBe(best);
    }
  });

  it('balanced k-means gives equal sizes even when the natural groups are unequal', () => {
    const pts = [
      ...Array.from({ length: 6 }, (_, i) => [0 + 0.01 * i, 0]),
      ...Array.from({ length: 3 }, (_, i) => [10 + 0.01 * i, 0]),
      ...Array.from({ length: 3 }, (_, i) => [20 + 0.01 * i, 0]),
    ];
    const { assignment } = balancedKMeans(pts, 3, { seed: 1 });
    const sizes = [0, 1, 2].map((j) => assignment.filter((x) => x === j).length);
    expect(sizes).toEqual([4, 4, 4]);
  });

  it('recovers the blocks of a block-structured confusion matrix (shuffled classes, noise): ARI = 1', () => {
    const rng = new Rng(11);
    const blocks = 4;
    const per = 5;
    const n = blocks * per;
    const perm = Array.from(rng.permutation(n));
    const truth = perm.map((p) => Math.floor(p / per)); // class i belongs to block truth[i]
    const c = Array.from({ length: n }, (_, i) =>
      Array.from({ length: n }, (_, j) => (i === j ? 80 : truth[i] === truth[j] ? 3 + rng.below(5) : rng.below(2))),
    );
    const res = clusterConfusion(c, blocks, { seed: 0 });
    expect(res.sizes).toEqual([5, 5, 5, 5]);
    expect(adjustedRandIndex(res.assignment, truth)).toBe(1);
    expect(res.withinConfusion).toBeGreaterThan(0.6);
    // a random balanced partition keeps much less confusion inside groups
    const shuffled = Array.from(rng.permutation(n), (p) => Math.floor(p / per));
    expect(withinClusterConfusion(confusionGraph(c), shuffled)).toBeLessThan(res.withinConfusion);
  });

  it('is deterministic for a seed', () => {
    const rng = new Rng(5);
    const c = Array.from({ length: 12 }, () => Array.from({ length: 12 }, () => rng.below(10)));
    expect(clusterConfusion(c, 3, { seed: 4 }).assignment).toEqual(clusterConfusion(c, 3, { seed: 4 }).assignment);
  });
});

describe('confusion matrix, graph, merged super-classes', () => {
  it('counts (true, predicted) pairs; the graph is symmetric with a zero diagonal and row-normalised rates', () => {
    const c = confusionMatrix([0, 0, 0, 1, 1, 2], [0, 1, 1, 1, 0, 2], 3);
    expect(c).toEqual([
      [1, 2, 0],
      [1, 1, 0],
      [0, 0, 1],
    ]);
    const g = confusionGraph(c);
    // rates: row 0 → 2/3 to class 1; row 1 → 1/2 to class 0; symmetrised (2/3 + 1/2)/2 = 7/12
    expect(g[0][1]).toBeCloseTo(7 / 12, 12);
    expect(g[1][0]).toBeCloseTo(7 / 12, 12);
    expect([g[0][0], g[1][1], g[2][2], g[0][2]]).toEqual([0, 0, 0, 0]);
    expect(() => confusionMatrix([0, 3], [0, 0], 3)).toThrow(/pair \(3, 0\) at 1 is outside \[0, 3\)/);
  });
  it('mergeCoarse: 20 coarse classes → E groups of consecutive coarse classes', () => {
    const fineToCoarse = Array.from({ length: 100 }, (_, f) => f % 20);
    expect(mergeCoarse(fineToCoarse, 20, 10).slice(0, 20)).toEqual([
      0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9,
    ]);
    expect(new Set(mergeCoarse(fineToCoarse, 20, 5)).size).toBe(5);
    expect(() => mergeCoarse(fineToCoarse, 20, 30)).toThrow(/30 groups from 20 super-classes/);
  });
});
