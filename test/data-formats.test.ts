import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { readMat, writeMat } from '../src/data/mat';
import { loadSvhn } from '../src/data/svhn';
import { loadFlowers102 } from '../src/data/flowers';
import { loadImageFolder } from '../src/data/folder';
import { resizeToSquare } from '../src/data/image';
import { loadDataset, clearDatasetCache } from '../src/data';
import { DataError } from '../src/util/errors';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lv-formats-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** SVHN-style X as MATLAB stores it: X(r, c, ch, n) at r + 32c + 1024ch + 3072n. */
const svhnPixel = (r: number, c: number, ch: number, n: number) => (r * 5 + c * 3 + ch * 70 + n * 11) % 256;

function svhnMat(n: number, labels: number[], compress: boolean): Buffer {
  const X = new Uint8Array(32 * 32 * 3 * n);
  for (let k = 0; k < n; k++)
    for (let ch = 0; ch < 3; ch++)
      for (let c = 0; c < 32; c++)
        for (let r = 0; r < 32; r++) X[r + 32 * c + 1024 * ch + 3072 * k] = svhnPixel(r, c, ch, k);
  return writeMat(
    [
      { name: 'X', className: 'uint8', dims: [32, 32, 3, n], data: X },
      { name: 'y', className: 'double', dims: [n, 1], data: labels, storeAs: 'uint8' },
    ],
    { compress },
  );
}

describe('MAT-file level 5', () => {
  it('reads plain and compressed matrices, small and long names, any storage type', () => {
    for (const compress of [false, true]) {
      const buf = writeMat(
        [
          { name: 'labels', className: 'double', dims: [1, 5], data: [1, 2, 102, 7, 3.5] },
          { name: 'ids', className: 'double', dims: [1, 3], data: [1, 300, 8189], storeAs: 'uint16' },
          { name: 'X', className: 'uint8', dims: [2, 3], data: [1, 2, 3, 4, 5, 6] },
        ],
        { compress },
      );
      const vars = readMat(buf, 't.mat');
      expect([...vars.keys()]).toEqual(['labels', 'ids', 'X']);
      expect(Array.from(vars.get('labels')!.data)).toEqual([1, 2, 102, 7, 3.5]);
      expect(vars.get('labels')!.className).toBe('double');
      expect(Array.from(vars.get('ids')!.data)).toEqual([1, 300, 8189]);
      expect(vars.get('X')!.dims).toEqual([2, 3]);
      expect(vars.get('X')!.data).toBeInstanceOf(Uint8Array);
    }
  });
  it('rejects foreign and truncated files', () => {
    expect(() => readMat(Buffer.alloc(200), 'z.mat')).toThrow(
      "z.mat is not a level-5 MAT-file: endian indicator is '\0\0'",
    );
    const good = writeMat([{ name: 'X', className: 'uint8', dims: [4, 4], data: new Uint8Array(16) }]);
    expect(() => readMat(good.subarray(0, good.length - 12), 'cut.mat')).toThrow(/MAT-file cut.mat is truncated/);
  });
});

describe('SVHN', () => {
  it('converts column-major X to NHWC and maps label 10 to digit 0', () => {
    const dir = path.join(tmp, 'svhn');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'train_32x32.mat'), svhnMat(3, [10, 1, 9], true));
    const ds = loadSvhn(dir, 'train', { expectCount: 3 });
    expect(Array.from(ds.labels)).toEqual([0, 1, 9]);
    expect(ds.imageSize).toBe(32);
    // NHWC (n=2, y=5, x=17, ch=1) is MATLAB X(6, 18, 2, 3) (1-based): row = y, column = x
    expect(ds.images[((2 * 32 + 5) * 32 + 17) * 3 + 1]).toBe(svhnPixel(5, 17, 1, 2));
    expect(ds.images[((0 * 32 + 31) * 32 + 0) * 3 + 2]).toBe(svhnPixel(31, 0, 2, 0));
    expect(() => loadSvhn(dir, 'train')).toThrow('SVHN file train_32x32.mat holds 3 images; expected 73,257');
  });
  it('loads through loadDataset from <dataDir>/svhn, uncompressed too', async () => {
    const dataDir = path.join(tmp, 'svhnroot');
    fs.mkdirSync(path.join(dataDir, 'svhn'), { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'svhn', 'train_32x32.mat'), svhnMat(2, [4, 10], false));
    clearDatasetCache();
    await expect(loadDataset('svhn', 'train', { dataDir })).rejects.toThrow('holds 2 images; expected 73,257');
    await expect(loadDataset('svhn', 'test', { dataDir })).rejects.toThrow(
      /SVHN is incomplete: .*svhn lacks test_32x32.mat; run `lightvit data download svhn`/,
    );
  });
  it('rejects bad labels and shapes', () => {
    const dir = path.join(tmp, 'svhnbad');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'test_32x32.mat'), svhnMat(2, [0, 3], true));
    expect(() => loadSvhn(dir, 'test', { expectCount: null })).toThrow('label 0 is 0; expected 1..10');
    fs.writeFileSync(
      path.join(dir, 'test_32x32.mat'),
      writeMat([
        { name: 'X', className: 'uint8', dims: [28, 28, 1, 1], data: new Uint8Array(784) },
        { name: 'y', className: 'double', dims: [1, 1], data: [1] },
      ]),
    );
    expect(() => loadSvhn(dir, 'test', { expectCount: null })).toThrow('X is [28×28×1×1]; expected [32×32×3×N]');
  });
});

function solidJpeg(w: number, h: number, rgb: [number, number, number]): Buffer {
  const data = Buffer.alloc(w * h * 4);
  for (let i = 0; i < w * h; i++) data.set([...rgb, 255], i * 4);
  return Buffer.from(jpeg.encode({ data, width: w, height: h }, 95).data);
}

function png(w: number, h: number, f: (x: number, y: number) => [number, number, number]): Buffer {
  const p = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) p.data.set([...f(x, y), 255], (y * w + x) * 4);
  return PNG.sync.write(p);
}

describe('Flowers-102', () => {
  it('reads splits from setid.mat, labels from imagelabels.mat, resizes, and caches', () => {
    const root = path.join(tmp, 'flowers102');
    fs.mkdirSync(path.join(root, 'jpg'), { recursive: true });
    const colours: Array<[number, number, number]> = [
      [200, 30, 30],
      [30, 200, 30],
      [30, 30, 200],
      [220, 220, 40],
      [90, 90, 90],
    ];
    colours.forEach((c, i) =>
      fs.writeFileSync(path.join(root, 'jpg', `image_0000${i + 1}.jpg`), solidJpeg(48 + 8 * i, 40, c)),
    );
    fs.writeFileSync(
      path.join(root, 'imagelabels.mat'),
      writeMat([{ name: 'labels', className: 'double', dims: [1, 5], data: [77, 1, 102, 5, 5] }], { compress: true }),
    );
    fs.writeFileSync(
      path.join(root, 'setid.mat'),
      writeMat(
        [
          { name: 'trnid', className: 'double', dims: [1, 2], data: [3, 1], storeAs: 'uint16' },
          { name: 'valid', className: 'double', dims: [1, 1], data: [2] },
          { name: 'tstid', className: 'double', dims: [1, 2], data: [5, 4] },
        ],
        { compress: true },
      ),
    );
    const train = loadFlowers102(root, 'train', { imageSize: 8 });
    expect(Array.from(train.labels)).toEqual([101, 76]);
    expect(train.imageSize).toBe(8);
    expect(train.images.length).toBe(2 * 8 * 8 * 3);
    // a solid blue JPEG stays (nearly) solid blue after decoding and area resampling
    expect(Math.abs(train.images[0] - 30)).toBeLessThan(8);
    expect(Math.abs(train.images[2] - 200)).toBeLessThan(8);
    const val = loadFlowers102(root, 'val', { imageSize: 8 });
    expect(Array.from(val.labels)).toEqual([0]);
    const test = loadFlowers102(root, 'test', { imageSize: 8 });
    expect(Array.from(test.labels)).toEqual([4, 4]);
    // the second load reads the cache: it works with the JPEGs gone and gives the same bytes
    expect(fs.existsSync(path.join(root, 'cache', 'train_8.bin'))).toBe(true);
    fs.rmSync(path.join(root, 'jpg'), { recursive: true });
    const again = loadFlowers102(root, 'train', { imageSize: 8 });
    expect(Buffer.from(again.images).equals(Buffer.from(train.images))).toBe(true);
    expect(Array.from(again.labels)).toEqual([101, 76]);
    // another size is not cached: decoding is needed and the missing image is named
    expect(() => loadFlowers102(root, 'train', { imageSize: 16 })).toThrow(
      /Flowers-102 file .*image_00003.jpg is missing/,
    );
  });
});

describe('image folder and resizing', () => {
  it('area-averages when shrinking (hand-computed) and centre-crops to a square', () => {
    // 6×4 image: crop the centre 4×4 (columns 1..4), shrink to 2×2: each output is the mean of a 2×2 block
    const data = new Uint8Array(6 * 4 * 3);
    for (let y = 0; y < 4; y++) for (let x = 0; x < 6; x++) data.set([x * 10 + y, 0, 255], (y * 6 + x) * 3);
    const out = resizeToSquare({ width: 6, height: 4, data }, 2);
    // top-left block: x ∈ {1,2}, y ∈ {0,1}: mean of 10,20,11,21 = 15.5 → 16 (round half up)
    expect(out[0]).toBe(16);
    // bottom-right block: x ∈ {3,4}, y ∈ {2,3}: mean of 32,42,33,43 = 37.5 → 38
    expect(out[(1 * 2 + 1) * 3]).toBe(38);
    expect(out[2]).toBe(255);
  });

  it(
    'reads class sub-folders of JPEG and PNG, with a ' + 'deterministic hold-out when there are no split folders',
    async () => {
      const root = path.join(tmp, 'folder');
      for (const cls of ['cats', 'dogs']) fs.mkdirSync(path.join(root, cls), { recursive: true });
      for (let i = 0; i < 5; i++) {
        fs.writeFileSync(
          path.join(root, 'cats', `c${i}.png`),
          png(10, 10, () => [250, 10, 10]),
        );
        fs.writeFileSync(path.join(root, 'dogs', `d${i}.jpg`), solidJpeg(12, 12, [10, 10, 250]));
      }
      fs.writeFileSync(path.join(root, 'dogs', 'notes.txt'), 'not an image');
      const train = loadImageFolder(root, 'train', { imageSize: 4 });
      const test = loadImageFolder(root, 'test', { imageSize: 4 });
      expect(train.classNames).toEqual(['cats', 'dogs']);
      expect(Array.from(train.labels)).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
      expect(Array.from(test.labels)).toEqual([0, 1]);
      expect(train.images[0]).toBe(250);
      expect(Math.abs(train.images[4 * 4 * 3 * 4 + 2] - 250)).toBeLessThan(8);
      clearDatasetCache();
      const viaRegistry = await loadDataset(`folder:${root}`, 'train', { imageSize: 4 });
      expect(viaRegistry.labels.length).toBe(8);
      expect(viaRegistry.name).toBe(`folder:${root}`);
    },
  );

  it('uses train/ and test/ sub-folders when present, and names a folder without images', () => {
    const root = path.join(tmp, 'folder2');
    for (const split of ['train', 'test'])
      for (const cls of ['a', 'b']) fs.mkdirSync(path.join(root, split, cls), { recursive: true });
    fs.writeFileSync(
      path.join(root, 'train', 'b', 'x.png'),
      png(3, 3, (x) => [x * 100, 0, 0]),
    );
    fs.writeFileSync(
      path.join(root, 'test', 'a', 'y.png'),
      png(3, 3, () => [0, 0, 0]),
    );
    const train = loadImageFolder(root, 'train', { imageSize: 3 });
    expect(Array.from(train.labels)).toEqual([1]);
    expect(Array.from(train.images.filter((_, i) => i % 3 === 0))).toEqual([0, 100, 200, 0, 100, 200, 0, 100, 200]);
    expect(Array.from(loadImageFolder(root, 'test', { imageSize: 3 }).labels)).toEqual([0]);
    expect(() => loadImageFolder(path.join(tmp, 'nope'), 'train')).toThrow(DataError);
    fs.mkdirSync(path.join(tmp, 'empty', 'k'), { recursive: true });
    expect(() => loadImageFolder(path.join(tmp, 'empty'), 'train')).toThrow(
      "has no JPEG or PNG images for split 'train'",
    );
  });
});
