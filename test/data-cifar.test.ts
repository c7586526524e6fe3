import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readCifar10, readCifar100, loadCifar10, encodeCifar10Records, CIFAR_PIXELS } from '../src/data/cifar';
import { loadDataset, datasetStatus, clearDatasetCache } from '../src/data';
import { DataError, UnknownNameError } from '../src/util/errors';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lv-cifar-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A CIFAR-10 record written by hand: label, then R plane, G plane, B plane. */
function record10(label: number, pixel: (c: number, y: number, x: number) => number): Buffer {
  const b = Buffer.alloc(1 + 3072);
  b[0] = label;
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) b[1 + c * 1024 + y * 32 + x] = pixel(c, y, x);
  return b;
}

describe('CIFAR-10 binary reader', () => {
  it('converts channel-planar records to NHWC and reads class names', () => {
    const dir = path.join(tmp, 'c10');
    fs.mkdirSync(dir, { recursive: true });
    const recs = [record10(3, (c, y, x) => (c * 100 + y * 3 + x) % 256), record10(9, (c, _y, x) => (7 * c + x) % 256)];
    fs.writeFileSync(path.join(dir, 'data_batch_1.bin'), Buffer.concat(recs));
    fs.writeFileSync(
      path.join(dir, 'batches.meta.txt'),
      'airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n',
    );
    const ds = readCifar10(dir, [{ file: 'data_batch_1.bin', records: 2 }], 'train');
    expect(Array.from(ds.labels)).toEqual([3, 9]);
    expect(ds.classNames[3]).toBe('cat');
    expect(ds.classNames.length).toBe(10);
    // pixel (y=5, x=7) channel 2 of image 0 sits at NHWC offset ((5*32)+7)*3+2
    expect(ds.images[(5 * 32 + 7) * 3 + 2]).toBe((200 + 15 + 7) % 256);
    expect(ds.images[CIFAR_PIXELS + (31 * 32 + 31) * 3 + 1]).toBe(7 + 31);
    expect(ds.mean).toEqual([0.4914, 0.4822, 0.4465]);
    expect(ds.synthetic).toBe(false);
  });

  it('round-trips through the record encoder', () => {
    const dir = path.join(tmp, 'c10rt');
    fs.mkdirSync(dir, { recursive: true });
    const n = 3;
    const images = new Uint8Array(n * CIFAR_PIXELS).map((_, i) => (i * 31) % 251);
    fs.writeFileSync(path.join(dir, 'x.bin'), encodeCifar10Records(images, [0, 5, 9]));
    const ds = readCifar10(dir, [{ file: 'x.bin', records: n }], 'test');
    expect(Buffer.from(ds.images).equals(Buffer.from(images))).toBe(true);
  });

  it('rejects a file of the wrong size, naming file, size and expected size', () => {
    const dir = path.join(tmp, 'c10bad', 'cifar-10-batches-bin');
    fs.mkdirSync(dir, { recursive: true });
    for (let i = 1; i <= 5; i++)
      fs.writeFileSync(path.join(dir, `data_batch_${i}.bin`), Buffer.alloc(i === 3 ? 1024 : 0));
    expect(() => loadCifar10(path.dirname(dir), 'train')).toThrow(DataError);
    expect(() => readCifar10(dir, [{ file: 'data_batch_3.bin', records: 10_000 }], 'train')).toThrow(
      'CIFAR-10 file data_batch_3.bin is 1,024 bytes (not a whole number of 3,073-byte records); expected ' +
        '30,730,000 (10,000 records of 3,073 bytes)',
    );
  });

  it('rejects a whole number of records that is not the expected count', () => {
    const dir = path.join(tmp, 'c10count');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'b.bin'), Buffer.concat([record10(1, () => 0), record10(2, () => 0)]));
    expect(() => readCifar10(dir, [{ file: 'b.bin', records: 3 }], 'train')).toThrow(
      'CIFAR-10 file b.bin is 6,146 bytes; expected 9,219 (3 records of 3,073 bytes)',
    );
  });

  it('rejects labels out of range', () => {
    const dir = path.join(tmp, 'c10label');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'b.bin'), Buffer.concat([record10(1, () => 0), record10(10, () => 0)]));
    expect(() => readCifar10(dir, [{ file: 'b.bin', records: 2 }], 'train')).toThrow(
      'record 1 has label 10; expected 0..9',
    );
  });
});

describe('CIFAR-100 binary reader', () => {
  function record100(coarse: number, fine: number, v: number): Buffer {
    const b = Buffer.alloc(2 + 3072, v);
    b[0] = coarse;
    b[1] = fine;
    b[2 + 1024] = 200; // green plane, pixel 0
    return b;
  }
  it('keeps coarse labels, names and the fine → coarse map', () => {
    const dir = path.join(tmp, 'c100');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'train.bin'),
      Buffer.concat([record100(4, 0, 1), record100(1, 1, 2), record100(4, 0, 3)]),
    );
    fs.writeFileSync(
      path.join(dir, 'coarse_label_names.txt'),
      Array.from({ length: 20 }, (_, i) => `super${i}`).join('\n'),
    );
    fs.writeFileSync(
      path.join(dir, 'fine_label_names.txt'),
      Array.from({ length: 100 }, (_, i) => `fine${i}`).join('\n'),
    );
    const ds = readCifar100(dir, { file: 'train.bin', records: 3 }, 'train');
    expect(Array.from(ds.labels)).toEqual([0, 1, 0]);
    expect(Array.from(ds.coarseLabels!)).toEqual([4, 1, 4]);
    expect(ds.fineToCoarse![0]).toBe(4);
    expect(ds.fineToCoarse![1]).toBe(1);
    expect(ds.fineToCoarse![2]).toBe(-1);
    expect(ds.coarseNames![19]).toBe('super19');
    expect(ds.numClasses).toBe(100);
    expect(ds.numCoarse).toBe(20);
    expect(ds.images[1]).toBe(200);
    expect(ds.images[CIFAR_PIXELS]).toBe(2);
    expect(ds.mean).toEqual([0.5071, 0.4865, 0.4409]);
  });
  it('rejects a fine class seen in two super-classes, and bad labels', () => {
    const dir = path.join(tmp, 'c100bad');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'a.bin'), Buffer.concat([record100(4, 0, 1), record100(5, 0, 1)]));
    expect(() => readCifar100(dir, { file: 'a.bin', records: 2 }, 'train')).toThrow(
      'puts fine class 0 in super-class 5',
    );
    fs.writeFileSync(path.join(dir, 'b.bin'), record100(20, 0, 1));
    expect(() => readCifar100(dir, { file: 'b.bin', records: 1 }, 'train')).toThrow(
      'coarse label 20 and fine label 0; expected 0..19 and 0..99',
    );
    expect(() => readCifar100(dir, { file: 'b.bin', records: 2 }, 'train')).toThrow(
      'CIFAR-100 file b.bin is 3,074 bytes; expected 6,148 (2 records of 3,074 bytes)',
    );
  });
});

describe('dataset registry', () => {
  it('names unknown datasets and missing downloads', async () => {
    clearDatasetCache();
    await expect(loadDataset('cifar11', 'train', { dataDir: tmp })).rejects.toThrow(UnknownNameError);
    await expect(loadDataset('cifar10', 'train', { dataDir: path.join(tmp, 'empty') })).rejects.toThrow(
      /CIFAR-10 is not downloaded: .*cifar10 lacks cifar-10-batches-bin\/data_batch_1.bin, .*data_batch_5.bin; run/,
    );
  });
  it('reports status per dataset', () => {
    const st = datasetStatus({ dataDir: path.join(tmp, 'empty') });
    expect(st.map((s) => s.name)).toEqual([
      'synth10',
      'synth100',
      'cifar10',
      'cifar100',
      'svhn',
      'flowers102',
      'fashion-mnist',
    ]);
    const c10 = st.find((s) => s.name === 'cifar10')!;
    expect(c10.present).toBe(false);
    expect(c10.synthetic).toBe(false);
    expect(st.find((s) => s.name === 'synth10')!.synthetic).toBe(true);
  });

  it('says present only when every file is there: CIFAR-10 with a batch missing is incomplete', async () => {
    const dataDir = path.join(tmp, 'partial');
    const bin = path.join(dataDir, 'cifar10', 'cifar-10-batches-bin');
    fs.mkdirSync(bin, { recursive: true });
    const rec = record10(1, () => 0);
    for (const f of [
      'data_batch_1.bin',
      'data_batch_2.bin',
      'data_batch_4.bin',
      'data_batch_5.bin',
      'test_batch.bin',
    ]) {
      fs.writeFileSync(path.join(bin, f), rec);
    }
    const row = () => datasetStatus({ dataDir }).find((s) => s.name === 'cifar10')!;
    expect(row().present).toBe(false);
    expect(row().detail).toBe(
      'incomplete: lacks cifar-10-batches-bin/data_batch_3.bin; run `lightvit data download cifar10`',
    );
    clearDatasetCache();
    await expect(loadDataset('cifar10', 'train', { dataDir })).rejects.toThrow(
      /CIFAR-10 is incomplete: .*cifar10 lacks cifar-10-batches-bin\/data_batch_3.bin; run `lightvit data download/,
    );
    // the test split has its file: it reaches the reader (which then checks the record count)
    await expect(loadDataset('cifar10', 'test', { dataDir })).rejects.toThrow('test_batch.bin is 3,073 bytes');
    fs.writeFileSync(path.join(bin, 'data_batch_3.bin'), rec);
    expect(row()).toMatchObject({ present: true, detail: 'downloaded' });
  });

  it('says synth10 is not generated yet (made on first use) before it is, present after', async () => {
    const dataDir = path.join(tmp, 'synthstatus');
    const row = () => datasetStatus({ dataDir }).find((s) => s.name === 'synth10')!;
    expect(row().present).toBe(false);
    expect(row().detail).toContain('not generated yet, made on first use');
    clearDatasetCache();
    await loadDataset('synth10', 'test', { dataDir });
    expect(row().present).toBe(true);
    expect(row().detail).toContain('generated');
    // a generated set that lost a file is not present either
    fs.rmSync(path.join(dataDir, 'synth10', 'cifar-10-batches-bin', 'data_batch_2.bin'));
    expect(row().present).toBe(false);
    expect(row().detail).toContain('incomplete');
  });
});
