import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import * as tar from 'tar';
import type { AddressInfo } from 'node:net';
import { downloadDataset, retryDelay, DOWNLOADS, MIRROR_ENV, type DownloadSource } from '../src/data/download';
import { encodeIdxImages, encodeIdxLabels } from '../src/data/idx';
import { FASHION_MNIST_ENV, FASHION_MNIST_SYSTEM_DIR, readFashionMnist } from '../src/data/fashion-mnist';
import { readCifar10, encodeCifar10Records, CIFAR_PIXELS } from '../src/data/cifar';
import { DataError } from '../src/util/errors';

const md5 = (b: Buffer) => crypto.createHash('md5').update(b).digest('hex');

/** A minimal ustar archive writer, for archives `tar` itself refuses to create (entries escaping the folder). */
function ustar(entries: Array<{ name: string; data?: Buffer; type?: '0' | '2' | '5'; link?: string }>): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = e.data ?? Buffer.alloc(0);
    const h = Buffer.alloc(512);
    h.write(e.name, 0, 100, 'utf8');
    h.write('0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
    h.write('00000000000\0', 136);
    h.write('        ', 148);
    h.write(e.type ?? '0', 156);
    if (e.link) h.write(e.link, 157, 100, 'utf8');
    h.write('ustar\0', 257);
    h.write('00', 263);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += h[i];
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return zlib.gzipSync(Buffer.concat(blocks));
}

let tmp: string;
let server: http.Server;
let base: string;
const files = new Map<string, Buffer>();
const log: Array<{ path: string; range?: string }> = [];
/** When each logged request arrived (performance.now()), same order as `log`. */
const arrivals: number[] = [];
/** Paths whose every response is cut after 100 body bytes. */
const cutAlways = new Set<string>();
/** Paths whose next response is cut after this many body bytes. */
const cutOnce = new Map<string, number>();
const ignoreRange = new Set<string>();
let cifarTgz: Buffer;
let batch1: Buffer;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lv-dl-'));
  // a small CIFAR-10-format archive: 3 records per batch file
  const src = path.join(tmp, 'src', 'cifar-10-batches-bin');
  fs.mkdirSync(src, { recursive: true });
  for (const f of ['data_batch_1.bin', 'test_batch.bin']) {
    // pseudo-random pixels (an LCG), so the archive does not compress to almost nothing
    let st = f.length;
    const images = new Uint8Array(3 * CIFAR_PIXELS).map(() => {
      st = (Math.imul(st, 1103515245) + 12345) >>> 0;
      return st >>> 24;
    });
    fs.writeFileSync(path.join(src, f), encodeCifar10Records(images, [1, 4, 9]));
  }
  fs.writeFileSync(path.join(src, 'batches.meta.txt'), 'a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n');
  batch1 = fs.readFileSync(path.join(src, 'data_batch_1.bin'));
  const tgz = path.join(tmp, 'cifar.tar.gz');
  await tar.c({ gzip: true, file: tgz, cwd: path.join(tmp, 'src') }, ['cifar-10-batches-bin']);
  cifarTgz = fs.readFileSync(tgz);
  expect(cifarTgz.length).toBeGreaterThan(15_000);
  files.set('/cifar.tar.gz', cifarTgz);
  files.set('/cut.tar.gz', cifarTgz);
  files.set('/norange.tar.gz', cifarTgz);
  files.set('/truncated.tar.gz', cifarTgz.subarray(0, Math.floor(cifarTgz.length * 0.6)));
  files.set(
    '/escape.tar.gz',
    ustar([
      { name: 'ok/a.txt', data: Buffer.from('fine') },
      { name: '../x', data: Buffer.from('evil') },
    ]),
  );
  files.set(
    '/symlink.tar.gz',
    ustar([
      { name: 'ok/a.txt', data: Buffer.from('fine') },
      { name: 'ok/link', type: '2', link: '../../outside' },
    ]),
  );
  files.set('/plain.mat', Buffer.from('not really a mat file, but bytes to fetch'));
  files.set('/chunked/cifar.tar.gz', cifarTgz);
  files.set('/always-cut.tar.gz', cifarTgz);
  files.set('/m/cifar-10-binary.tar.gz', cifarTgz);

  server = http.createServer((req, res) => {
    const url = req.url ?? '';
    log.push({ path: url, range: req.headers.range });
    arrivals.push(performance.now());
    if (url === '/redirect') {
      res.writeHead(302, { location: '/cifar.tar.gz' });
      res.end();
      return;
    }
    const body = files.get(url);
    if (!body) {
      res.writeHead(404);
      res.end();
      return;
    }
    if (cutAlways.has(url)) {
      res.writeHead(200, { 'content-length': body.length });
      res.write(body.subarray(0, 100), () => setTimeout(() => req.socket.destroy(), 20));
      return;
    }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m && !ignoreRange.has(url)) {
      const start = Number(m[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` });
        res.end();
        return;
      }
      res.writeHead(206, {
        'content-length': body.length - start,
        'content-range': `bytes ${start}-${body.length - 1}/${body.length}`,
      });
      res.end(body.subarray(start));
      return;
    }
    if (url.startsWith('/chunked/')) {
      // no Content-Length: the size is only known once the body has arrived
      res.writeHead(200);
      res.write(body.subarray(0, 10));
      res.end(body.subarray(10));
      return;
    }
    res.writeHead(200, { 'content-length': body.length });
    const cut = cutOnce.get(url);
    if (cut !== undefined) {
      cutOnce.delete(url);
      res.write(body.subarray(0, cut), () => setTimeout(() => req.socket.destroy(), 20));
      return;
    }
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  fs.rmSync(tmp, { recursive: true, force: true });
});

function freshDir(name: string): string {
  const d = path.join(tmp, name);
  fs.rmSync(d, { recursive: true, force: true });
  fs.mkdirSync(d, { recursive: true });
  return d;
}

function source(p: string, over: Partial<DownloadSource> = {}): DownloadSource {
  const body = files.get(p)!;
  return { url: base + p, file: 'cifar-10-binary.tar.gz', bytes: body.length, md5: md5(body), extract: true, ...over };
}

const fmt = (n: number) => n.toLocaleString('en-US');

const leftovers = (dir: string) => fs.readdirSync(dir).filter((n) => n.includes('.extract-') || n.endsWith('.part'));

describe('downloadDataset', () => {
  it('downloads through a redirect, verifies, extracts, and the CIFAR reader loads the result', async () => {
    const dir = freshDir('ok');
    const progress: Array<[number, number]> = [];
    const out = await downloadDataset('cifar10', {
      dataDir: dir,
      sources: [{ ...source('/cifar.tar.gz'), url: `${base}/redirect` }],
      onProgress: (d, t) => progress.push([d, t]),
    });
    expect(out).toBe(path.join(dir, 'cifar10'));
    const bin = path.join(out, 'cifar-10-batches-bin');
    expect(fs.readFileSync(path.join(bin, 'data_batch_1.bin')).equals(batch1)).toBe(true);
    const ds = readCifar10(bin, [{ file: 'data_batch_1.bin', records: 3 }], 'train');
    expect(Array.from(ds.labels)).toEqual([1, 4, 9]);
    expect(ds.classNames[9]).toBe('j');
    // the verified archive is kept for re-extraction
    expect(fs.readFileSync(path.join(dir, 'downloads', 'cifar-10-binary.tar.gz')).equals(cifarTgz)).toBe(true);
    expect(progress.at(-1)).toEqual([cifarTgz.length, cifarTgz.length]);
    expect(leftovers(dir)).toEqual([]);
    // a second run reuses the verified archive: no new request
    const before = log.length;
    await downloadDataset('cifar10', { dataDir: dir, sources: [source('/cifar.tar.gz')] });
    expect(log.length).toBe(before);
  });

  it('resumes an interrupted transfer with a Range request', async () => {
    const dir = freshDir('resume');
    const cut = Math.floor(cifarTgz.length / 2);
    cutOnce.set('/cut.tar.gz', cut);
    // no retries: the first call fails and keeps the partial file
    await expect(
      downloadDataset('cifar10', { dataDir: dir, sources: [source('/cut.tar.gz')], retries: 0 }),
    ).rejects.toThrow(/connection closed during cifar-10-binary.tar.gz.*run again to resume from/);
    const part = path.join(dir, 'downloads', 'cifar-10-binary.tar.gz.part');
    expect(fs.statSync(part).size).toBe(cut);
    expect(fs.existsSync(path.join(dir, 'cifar10'))).toBe(false);
    const before = log.length;
    await downloadDataset('cifar10', { dataDir: dir, sources: [source('/cut.tar.gz')] });
    expect(log.slice(before)).toEqual([{ path: '/cut.tar.gz', range: `bytes=${cut}-` }]);
    expect(fs.readFileSync(path.join(dir, 'cifar10', 'cifar-10-batches-bin', 'data_batch_1.bin')).equals(batch1)).toBe(
      true,
    );
    expect(fs.existsSync(part)).toBe(false);
  });

  it('retries within one call after a cut connection', async () => {
    const dir = freshDir('retry');
    const cut = Math.floor(cifarTgz.length / 3);
    cutOnce.set('/cut.tar.gz', cut);
    const before = log.length;
    await downloadDataset('cifar10', { dataDir: dir, sources: [source('/cut.tar.gz')], retryDelayMs: 10 });
    expect(log.slice(before).map((l) => l.range)).toEqual([undefined, `bytes=${cut}-`]);
    expect(fs.existsSync(path.join(dir, 'cifar10', 'cifar-10-batches-bin', 'test_batch.bin'))).toBe(true);
  });

  it('restarts from zero when the server ignores Range', async () => {
    const dir = freshDir('norange');
    ignoreRange.add('/norange.tar.gz');
    fs.mkdirSync(path.join(dir, 'downloads'));
    fs.writeFileSync(path.join(dir, 'downloads', 'cifar-10-binary.tar.gz.part'), Buffer.alloc(500, 0xab));
    await downloadDataset('cifar10', { dataDir: dir, sources: [source('/norange.tar.gz')] });
    expect(fs.readFileSync(path.join(dir, 'downloads', 'cifar-10-binary.tar.gz')).equals(cifarTgz)).toBe(true);
  });

  it('a bad checksum names expected and actual MD5 and extracts nothing', async () => {
    const dir = freshDir('badmd5');
    const wrong = '0123456789abcdef0123456789abcdef';
    const err = await downloadDataset('cifar10', {
      dataDir: dir,
      sources: [source('/cifar.tar.gz', { md5: wrong })],
    }).catch((e) => e);
    expect(err).toBeInstanceOf(DataError);
    expect(err.message).toContain(`has MD5 ${md5(cifarTgz)}; expected ${wrong}`);
    expect(fs.existsSync(path.join(dir, 'cifar10'))).toBe(false);
    expect(fs.readdirSync(path.join(dir, 'downloads'))).toEqual([]);
  });

  it('a wrong size is refused before the checksum', async () => {
    const dir = freshDir('badsize');
    // no Content-Length: checked once the body is in
    const src = { ...source('/cifar.tar.gz', { bytes: cifarTgz.length + 1 }), url: `${base}/chunked/cifar.tar.gz` };
    await expect(downloadDataset('cifar10', { dataDir: dir, sources: [src] })).rejects.toThrow(
      `is ${fmt(cifarTgz.length)} bytes; expected ${fmt(cifarTgz.length + 1)} (deleted; run again to re-download)`,
    );
  });

  it('an advertised Content-Length other than the expected size stops before any byte is written', async () => {
    const dir = freshDir('badlength');
    const err = await downloadDataset('cifar10', {
      dataDir: dir,
      sources: [source('/cifar.tar.gz', { bytes: 170_052_171 })],
    }).catch((e) => e);
    expect(err).toBeInstanceOf(DataError);
    expect(err.message).toBe(
      `${base}/cifar.tar.gz advertises ${fmt(cifarTgz.length)} bytes for cifar-10-binary.tar.gz; ` +
        'expected 170,052,171 (not the official file: check the URL or mirror); stopped before downloading it',
    );
    expect(fs.readdirSync(path.join(dir, 'downloads'))).toEqual([]);
  });

  it('backs off between retries: exponential waits, capped', async () => {
    const waitsByDefault = [0, 1, 2, 3, 4, 5].map((a) => retryDelay(a, 2000, 60_000));
    expect(waitsByDefault).toEqual([2000, 4000, 8000, 16_000, 32_000, 60_000]);
    const dir = freshDir('backoff');
    cutAlways.add('/always-cut.tar.gz');
    const waits: number[] = [];
    const before = log.length;
    const err = await downloadDataset('cifar10', {
      dataDir: dir,
      sources: [source('/always-cut.tar.gz')],
      retries: 3,
      retryDelayMs: 120,
      retryDelayMaxMs: 300,
      onRetry: (_attempt, ms) => waits.push(ms),
    }).catch((e) => e);
    cutAlways.delete('/always-cut.tar.gz');
    expect(err.message).toMatch(/gave up after 4 attempts \(run again to resume from/);
    expect(waits).toEqual([120, 240, 300]);
    // the requests really were spaced out by at least those waits
    const at = arrivals.slice(before);
    expect(at.length).toBe(4);
    for (let i = 1; i < at.length; i++) expect(at[i] - at[i - 1]).toBeGreaterThanOrEqual(waits[i - 1] - 5);
  });

  it('offline: names the files to copy into downloads/, and uses them once copied there', async () => {
    const dir = freshDir('offline');
    // a port nothing listens on: connection refused
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const body = files.get('/plain.mat')!;
    const srcs: DownloadSource[] = [
      { url: `http://127.0.0.1:${port}/train_32x32.mat`, file: 'train_32x32.mat', bytes: body.length, md5: md5(body) },
    ];
    const err = await downloadDataset('svhn', { dataDir: dir, sources: srcs, retries: 1, retryDelayMs: 10 }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(DataError);
    expect(err.message).toContain(`cannot reach 127.0.0.1:${port}`);
    expect(err.message).toContain(
      'gave up after 2 attempts. Offline or behind a firewall? Copy the official files (train_32x32.mat;',
    );
    expect(err.message).toContain(`into ${path.join(dir, 'downloads')}${path.sep} and run again`);
    // a wrong file copied there is refused and left alone
    fs.mkdirSync(path.join(dir, 'downloads'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'downloads', 'train_32x32.mat'), 'wrong');
    await expect(downloadDataset('svhn', { dataDir: dir, sources: srcs, retries: 0 })).rejects.toThrow(
      `the copy at ${path.join(dir, 'downloads', 'train_32x32.mat')} is not the official train_32x32.mat: ` +
        `5 bytes, MD5 ${md5(Buffer.from('wrong'))}`,
    );
    fs.writeFileSync(path.join(dir, 'downloads', 'train_32x32.mat'), body);
    const before = log.length;
    await downloadDataset('svhn', { dataDir: dir, sources: srcs, retries: 0 });
    expect(fs.readFileSync(path.join(dir, 'svhn', 'train_32x32.mat')).equals(body)).toBe(true);
    expect(log.length).toBe(before);
  });

  it('a mirror URL replaces the official host; so does LIGHTVIT_MIRROR', async () => {
    const official = { ...source('/cifar.tar.gz'), url: 'http://127.0.0.1:9/cifar-10-binary.tar.gz' };
    let before = log.length;
    await downloadDataset('cifar10', { dataDir: freshDir('mirror-url'), sources: [official], mirror: `${base}/m/` });
    expect(log.slice(before).map((l) => l.path)).toEqual(['/m/cifar-10-binary.tar.gz']);
    const prev = process.env[MIRROR_ENV];
    process.env[MIRROR_ENV] = `${base}/m`;
    try {
      before = log.length;
      const dir = freshDir('mirror-env');
      await downloadDataset('cifar10', { dataDir: dir, sources: [official] });
      expect(log.slice(before).map((l) => l.path)).toEqual(['/m/cifar-10-binary.tar.gz']);
      expect(fs.existsSync(path.join(dir, 'cifar10', 'cifar-10-batches-bin', 'test_batch.bin'))).toBe(true);
      // an explicit empty option means the official hosts, whatever the environment says
      await expect(
        downloadDataset('cifar10', { dataDir: freshDir('mirror-off'), sources: [official], mirror: '', retries: 0 }),
      ).rejects.toThrow('cannot reach 127.0.0.1:9');
    } finally {
      if (prev === undefined) delete process.env[MIRROR_ENV];
      else process.env[MIRROR_ENV] = prev;
    }
  });

  it('a mirror folder is read from disk and verified; a bad mirror value is named', async () => {
    const mirrorDir = freshDir('mirror-dir-src');
    fs.writeFileSync(path.join(mirrorDir, 'cifar-10-binary.tar.gz'), cifarTgz);
    const official = { ...source('/cifar.tar.gz'), url: 'http://127.0.0.1:9/cifar-10-binary.tar.gz' };
    const dir = freshDir('mirror-dir');
    const before = log.length;
    await downloadDataset('cifar10', { dataDir: dir, sources: [official], mirror: mirrorDir });
    expect(log.length).toBe(before);
    expect(fs.readFileSync(path.join(dir, 'cifar10', 'cifar-10-batches-bin', 'data_batch_1.bin')).equals(batch1)).toBe(
      true,
    );
    const other = [{ ...official, file: 'other.tar.gz' }];
    const dir2 = freshDir('mirror-dir2');
    await expect(downloadDataset('cifar10', { dataDir: dir2, sources: other, mirror: mirrorDir })).rejects.toThrow(
      `mirror folder ${mirrorDir} has no other.tar.gz; expected the official file under that name`,
    );
    const withMirror = (mirror: string) => downloadDataset('cifar10', { dataDir: dir, sources: [official], mirror });
    await expect(withMirror('ftp://x/y')).rejects.toThrow(
      "mirror 'ftp://x/y' is neither an http(s) URL nor a folder; expected http://…, https://… or a path",
    );
    const nope = path.join(tmp, 'nope');
    await expect(withMirror(nope)).rejects.toThrow(`mirror folder ${nope} does not exist`);
  });

  it('a truncated archive fails with a clear error, leaves no half folder, keeps the archive', async () => {
    const dir = freshDir('trunc');
    await expect(downloadDataset('cifar10', { dataDir: dir, sources: [source('/truncated.tar.gz')] })).rejects.toThrow(
      /archive cifar-10-binary.tar.gz could not be extracted \(truncated or corrupt\?\)/,
    );
    expect(fs.existsSync(path.join(dir, 'cifar10'))).toBe(false);
    expect(leftovers(dir)).toEqual([]);
    expect(fs.existsSync(path.join(dir, 'downloads', 'cifar-10-binary.tar.gz'))).toBe(true);
  });

  it('refuses an entry named ../x and writes nothing outside (or inside)', async () => {
    const dir = freshDir('escape');
    const target = path.join(dir, 'sub');
    await expect(downloadDataset('cifar10', { dataDir: target, sources: [source('/escape.tar.gz')] })).rejects.toThrow(
      'archive cifar-10-binary.tar.gz has entries that would be written outside its folder: ../x',
    );
    expect(fs.existsSync(path.join(target, 'x'))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'x'))).toBe(false);
    expect(fs.existsSync(path.join(target, 'cifar10'))).toBe(false);
    expect(leftovers(target)).toEqual([]);
  });

  it('refuses a symlink pointing outside', async () => {
    const dir = freshDir('symlink');
    await expect(downloadDataset('cifar10', { dataDir: dir, sources: [source('/symlink.tar.gz')] })).rejects.toThrow(
      'ok/link -> ../../outside (link pointing outside the target folder)',
    );
    expect(fs.existsSync(path.join(dir, 'cifar10'))).toBe(false);
  });

  it('fetches plain files into the dataset folder, and reports HTTP errors', async () => {
    const dir = freshDir('plain');
    const body = files.get('/plain.mat')!;
    await downloadDataset('svhn', {
      dataDir: dir,
      sources: [{ url: `${base}/plain.mat`, file: 'train_32x32.mat', md5: md5(body) }],
    });
    expect(fs.readFileSync(path.join(dir, 'svhn', 'train_32x32.mat')).equals(body)).toBe(true);
    await expect(
      downloadDataset('svhn', {
        dataDir: dir,
        sources: [{ url: `${base}/missing.mat`, file: 'test_32x32.mat', md5: md5(body) }],
      }),
    ).rejects.toThrow(`download of ${base}/missing.mat failed: HTTP 404`);
  });

  it('names unknown datasets', async () => {
    await expect(downloadDataset('imagenet')).rejects.toThrow(
      "unknown downloadable dataset 'imagenet'; expected one of: cifar10, cifar100, svhn, flowers102, fashion-mnist",
    );
    await expect(downloadDataset('synth10')).rejects.toThrow('generated locally');
  });
});

describe('Fashion-MNIST downloads', () => {
  it('lists the four official files with the official MD5s, into <dataDir>/fashion-mnist/', () => {
    const list = DOWNLOADS['fashion-mnist'];
    expect(Object.fromEntries(list.map((s) => [s.file, s.md5]))).toEqual({
      'train-images-idx3-ubyte.gz': '8d4fb7e6c68d591d4c3dfef9ec88bf0d',
      'train-labels-idx1-ubyte.gz': '25c81989df183df01b3e8a0aad5dffbe',
      't10k-images-idx3-ubyte.gz': 'bef4ecab320f06d8554ea6380940ec79',
      't10k-labels-idx1-ubyte.gz': 'bb300cfdad3c16e7a12a480ee83cd310',
    });
    for (const s of list) {
      expect(s.url).toBe(`http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/${s.file}`);
      expect(s.extract).toBeFalsy();
    }
  });

  it('fetches IDX files the loader then reads; a recompressed copy is accepted by its content MD5', async () => {
    const dir = freshDir('fm');
    const imgs = encodeIdxImages(
      new Uint8Array(4 * 784).map((_, i) => i % 251),
      4,
      28,
      28,
    );
    const labs = encodeIdxLabels([9, 0, 3, 5]);
    const bodies: Record<string, Buffer> = {
      'train-images-idx3-ubyte': imgs,
      'train-labels-idx1-ubyte': labs,
      't10k-images-idx3-ubyte': imgs,
      't10k-labels-idx1-ubyte': labs,
    };
    const srcs: DownloadSource[] = [];
    for (const [name, raw] of Object.entries(bodies)) {
      const gz = zlib.gzipSync(raw, { level: 9 });
      files.set(`/fm/${name}.gz`, gz);
      srcs.push({
        url: `${base}/fm/${name}.gz`,
        file: `${name}.gz`,
        bytes: gz.length,
        md5: md5(gz),
        contentMd5: md5(raw),
      });
    }
    const out = await downloadDataset('fashion-mnist', { dataDir: dir, sources: srcs });
    expect(out).toBe(path.join(dir, 'fashion-mnist'));
    const ds = readFashionMnist(out, 'train');
    expect(Array.from(ds.labels)).toEqual([9, 0, 3, 5]);
    // a copy compressed differently (other bytes, other MD5, same content) is kept, not re-fetched
    const recompressed = zlib.gzipSync(labs, { level: 1, memLevel: 1 });
    const file = path.join(out, 'train-labels-idx1-ubyte.gz');
    fs.writeFileSync(file, recompressed);
    expect(md5(recompressed)).not.toBe(srcs[1].md5);
    const before = log.length;
    await downloadDataset('fashion-mnist', { dataDir: dir, sources: srcs });
    expect(log.length).toBe(before);
    expect(fs.readFileSync(file).equals(recompressed)).toBe(true);
  });

  it('already found through LIGHTVIT_FASHION_MNIST_DIR: nothing is downloaded, its folder is returned', async () => {
    const found = freshDir('fm-env');
    for (const s of DOWNLOADS['fashion-mnist']) fs.writeFileSync(path.join(found, s.file), '');
    const prev = process.env[FASHION_MNIST_ENV];
    process.env[FASHION_MNIST_ENV] = found;
    try {
      const before = log.length;
      const dataDir = freshDir('fm-env-data');
      const out = await downloadDataset('fashion-mnist', { dataDir, mirror: `${base}/nothing` });
      expect(out).toBe(found);
      expect(log.length).toBe(before);
    } finally {
      if (prev === undefined) delete process.env[FASHION_MNIST_ENV];
      else process.env[FASHION_MNIST_ENV] = prev;
    }
  });

  const debian = fs.existsSync(path.join(FASHION_MNIST_SYSTEM_DIR, 'train-images-idx3-ubyte.gz'))
    ? FASHION_MNIST_SYSTEM_DIR
    : null;
  if (!debian) {
    console.log(`data-download: ${FASHION_MNIST_SYSTEM_DIR} absent; skipped the check of the official content MD5s`);
  }
  it.skipIf(!debian)("Debian's copies, used as a mirror folder, pass the official content MD5s", async () => {
    const prev = process.env[FASHION_MNIST_ENV];
    process.env[FASHION_MNIST_ENV] = freshDir('fm-env-empty'); // so the system copy is not simply returned
    try {
      const dir = freshDir('fm-debian');
      const out = await downloadDataset('fashion-mnist', { dataDir: dir, mirror: debian! });
      expect(out).toBe(path.join(dir, 'fashion-mnist'));
      expect(fs.readdirSync(out).sort()).toEqual(DOWNLOADS['fashion-mnist'].map((s) => s.file).sort());
    } finally {
      if (prev === undefined) delete process.env[FASHION_MNIST_ENV];
      else process.env[FASHION_MNIST_ENV] = prev;
    }
  });
});
