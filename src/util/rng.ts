/**
 * Deterministic random numbers. Every source of randomness in the kit (initialisation, shuffling, augmentation,
 * dropout seeds, router noise, MAE masks) draws from an `Rng` derived from one integer seed, so a run is
 * reproducible on any backend: initial weights are generated here in JS, not by a backend's own RNG.
 */
export class Rng {
  private s: number;
  private spareNormal: number | null = null;

  constructor(seed: number) {
    // splitmix32 on the seed so that nearby seeds give unrelated streams
    this.s = Rng.mix((seed | 0) ^ 0x9e3779b9);
  }

  private static mix(x: number): number {
    x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
    x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
    return (x ^ (x >>> 16)) >>> 0;
  }

  /** Uniform in [0, 1) (mulberry32). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) | 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A fresh 31-bit integer, e.g. a seed for a tfjs op (dropout) or a child Rng. */
  int(): number {
    return Math.floor(this.next() * 2147483647);
  }

  /** Integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Standard normal (Box–Muller, caching the second value). */
  normal(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** A child generator: independent stream, deterministic given this one's state. */
  fork(): Rng {
    return new Rng(this.int());
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle<T extends { length: number; [i: number]: unknown }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.below(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }
}

/**
 * Alea's state [s0, s1, s2, c] after seeding with `String(seed)`, as tfjs-core seeds it for tf.randomUniform: Mash
 * folds the characters into a 32-bit state and each call returns that state as a fraction in [0, 1).
 */
export function aleaSeed(seed: number | string): [number, number, number, number] {
  let n = 0xefc8249d;
  const mash = (data: string): number => {
    for (let i = 0; i < data.length; i++) {
      n += data.charCodeAt(i);
      let h = 0.02519603282416938 * n;
      n = h >>> 0;
      h -= n;
      h *= n;
      n = h >>> 0;
      h -= n;
      n += h * 0x100000000;
    }
    return (n >>> 0) * 2.3283064365386963e-10;
  };
  const key = String(seed);
  const s = [mash(' '), mash(' '), mash(' ')];
  for (let j = 0; j < 3; j++) {
    s[j] -= mash(key);
    if (s[j] < 0) s[j] += 1;
  }
  return [s[0], s[1], s[2], 1];
}

/**
 * The uniform stream `tf.randomUniform(shape, 0, 1, 'float32', seed)` draws, produced without tfjs's per-element
 * calls: Baagøe's Alea generator (the one tfjs-core uses), its state in locals. Masks built from it equal
 * tf.dropout's bit for bit (test/dropout.test.ts), so switching to it changes no result. The native kernel
 * `LvDropoutMask` runs the same recurrence in integer form in C++ (native/src/fused.cc).
 */
export function aleaUniform(seed: number | string, count: number): Float32Array {
  let [s0, s1, s2, c] = aleaSeed(seed);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    // multiply-with-carry on three lags: t = a·s0 + c·2⁻³², the carry is its integer part, the output its fraction
    const t = 2091639 * s0 + c * 2.3283064365386963e-10;
    s0 = s1;
    s1 = s2;
    c = t | 0;
    s2 = t - c;
    out[i] = s2;
  }
  return out;
}

/**
 * tf.dropout's multiplier for `seed` as plain values: floor(u + keep) / keep in float32 arithmetic (Math.fround after
 * each step, exactly as tfjs's Add, Floor and RealDiv kernels round), u the seed's uniform stream.
 */
export function dropoutMultiplier(seed: number | string, count: number, rate: number): Float32Array {
  const keep = Math.fround(1 - rate);
  const scale = Math.fround(Math.fround(1) / keep);
  const u = aleaUniform(seed, count);
  for (let i = 0; i < count; i++) u[i] = Math.fround(u[i] + keep) >= 1 ? scale : 0;
  return u;
}
