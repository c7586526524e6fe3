// lightvit native kernels: float32 kernels that read and write tfjs-backend-wasm tensors in place. Every entry
// point takes the wasm heap (an ArrayBuffer) and byte offsets into it, so no tensor data crosses the JS boundary.
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "gemm.h"
#include "heap.h"
#include "vmath.h"
#include "pool.h"

#if defined(LV_HAVE_CBLAS) && defined(LV_OPENBLAS)
extern "C" void openblas_set_num_threads(int);
#endif

namespace lv {
void registerFused(Napi::Env env, Napi::Object exports);  // fused.cc
}

namespace {

using lv::Pool;
using lv::Heap;
using lv::heapOf;
using lv::num;
using lv::dbl;
using lv::at;
using lv::longArray;
using lv::kMinWork;
using lv::reduceChunks;

enum Act { kLinear = 0, kRelu = 1, kRelu6 = 2, kLeaky = 3, kSigmoid = 4, kElu = 5 };

void epilogue(float* c, long rows, long n, const float* bias, long biasLen, int act, float alpha) {
  for (long i = 0; i < rows; i++) {
    float* r = c + i * n;
    if (bias) {
      if (biasLen == 1)
        for (long j = 0; j < n; j++) r[j] += bias[0];
      else
        for (long j = 0; j < n; j++) r[j] += bias[j];
    }
    switch (act) {
      case kRelu: for (long j = 0; j < n; j++) r[j] = r[j] > 0 ? r[j] : 0; break;
      case kRelu6: for (long j = 0; j < n; j++) r[j] = std::min(6.0f, std::max(0.0f, r[j])); break;
      case kLeaky: for (long j = 0; j < n; j++) r[j] = r[j] > 0 ? r[j] : alpha * r[j]; break;
      case kSigmoid: for (long j = 0; j < n; j++) r[j] = lv::vsigmoid(r[j]); break;
      case kElu: for (long j = 0; j < n; j++) r[j] = r[j] > 0 ? r[j] : std::expm1(r[j]); break;
      default: break;
    }
  }
}

// Rows [m0, m1) of C = op(A)·op(B) for one matrix of a batch.
void gemmRows(bool ta, bool tb, long m, long n, long k, const float* a, const float* b, float* c, long m0, long m1) {
  const long lda = ta ? m : k, ldb = tb ? k : n;
  const float* a0 = ta ? a + m0 : a + m0 * lda;
  lv::sgemm(ta, tb, m1 - m0, n, k, a0, lda, b, ldb, c + m0 * n, n, false);
}

// gemm(heap, aOff, bOff, cOff, biasOff, batch, m, n, k, transA, transB, strideA, strideB, biasLen, act, alpha)
// Batch strides are in elements (0 broadcasts one matrix over the batch); biasOff < 0 means no bias.
Napi::Value Gemm(const Napi::CallbackInfo& info) {
  Heap h = heapOf(info);
  const long batch = num(info, 5), m = num(info, 6), n = num(info, 7), k = num(info, 8);
  const bool ta = info[9].ToBoolean(), tb = info[10].ToBoolean();
  const long sa = num(info, 11), sb = num(info, 12), biasLen = num(info, 13);
  const int act = (int)num(info, 14);
  const float alpha = (float)dbl(info, 15);
  const float* a = at(info, h, num(info, 1), sa * (batch - 1) + m * k);
  const float* b = at(info, h, num(info, 2), sb * (batch - 1) + k * n);
  float* c = at(info, h, num(info, 3), batch * m * n);
  const long biasOff = num(info, 4);
  const float* bias = biasOff >= 0 ? at(info, h, biasOff, biasLen) : nullptr;
  if (batch == 0 || m == 0 || n == 0) return info.Env().Undefined();
  if (k == 0) {
    std::memset(c, 0, sizeof(float) * batch * m * n);
    epilogue(c, batch * m, n, bias, biasLen, act, alpha);
    return info.Env().Undefined();
  }
  Pool& pool = Pool::get();
  const long work = m * n * k;
  if (batch >= pool.threads()) {
    pool.run(batch, std::max(1L, kMinWork / work), [&](long b0, long b1) {
      for (long i = b0; i < b1; i++) {
        gemmRows(ta, tb, m, n, k, a + i * sa, b + i * sb, c + i * m * n, 0, m);
        epilogue(c + i * m * n, m, n, bias, biasLen, act, alpha);
      }
    });
  } else {
    for (long i = 0; i < batch; i++) {
      float* ci = c + i * m * n;
      pool.run(m, std::max(4L, kMinWork / (n * k)), [&](long r0, long r1) {
        gemmRows(ta, tb, m, n, k, a + i * sa, b + i * sb, ci, r0, r1);
        epilogue(ci + r0 * n, r1 - r0, n, bias, biasLen, act, alpha);
      });
    }
  }
  return info.Env().Undefined();
}

// transpose(heap, inOff, outOff, shape[], perm[]) for 4-byte elements. Size-1 dimensions are dropped and runs of
// dimensions that stay adjacent are merged; the remaining problem is copied in cache-sized 2-D tiles spanning the
// input's innermost dimension and the output's innermost dimension.
Napi::Value Transpose(const Napi::CallbackInfo& info) {
  Heap h = heapOf(info);
  std::vector<long> shape = longArray(info, 3), perm = longArray(info, 4);
  const long rank0 = (long)shape.size();
  long total = 1;
  for (long d : shape) total *= d;
  const uint32_t* in = reinterpret_cast<const uint32_t*>(at(info, h, num(info, 1), total));
  uint32_t* out = reinterpret_cast<uint32_t*>(at(info, h, num(info, 2), total));
  if (total == 0) return info.Env().Undefined();
  // drop size-1 dims
  std::vector<long> keep(rank0, -1), s1, p1;
  for (long d = 0; d < rank0; d++)
    if (shape[d] != 1) {
      keep[d] = (long)s1.size();
      s1.push_back(shape[d]);
    }
  for (long j = 0; j < rank0; j++)
    if (shape[perm[j]] != 1) p1.push_back(keep[perm[j]]);
  // merge input dims that appear consecutively in the output
  std::vector<long> s, p;
  {
    std::vector<long> groupOf(s1.size(), -1), gsize;
    std::vector<long> outGroups;  // out position -> first input dim of group
    for (size_t j = 0; j < p1.size();) {
      size_t e = j + 1;
      while (e < p1.size() && p1[e] == p1[e - 1] + 1) e++;
      outGroups.push_back(p1[j]);
      long sz = 1;
      for (size_t q = j; q < e; q++) sz *= s1[p1[q]];
      gsize.push_back(sz);
      groupOf[p1[j]] = (long)outGroups.size() - 1;
      j = e;
    }
    // input order of groups: sort group heads by input dim
    std::vector<long> inOrder;
    for (size_t d = 0; d < s1.size(); d++)
      if (groupOf[d] >= 0) inOrder.push_back(groupOf[d]);
    std::vector<long> rankInInput(outGroups.size());
    for (size_t i = 0; i < inOrder.size(); i++) rankInInput[inOrder[i]] = (long)i;
    s.resize(inOrder.size());
    for (size_t i = 0; i < inOrder.size(); i++) s[i] = gsize[inOrder[i]];
    for (size_t g = 0; g < outGroups.size(); g++) p.push_back(rankInInput[g]);
  }
  const long r = (long)s.size();
  if (r <= 1) {
    std::memcpy(out, in, total * 4);
    return info.Env().Undefined();
  }
  std::vector<long> istr(r), ostr(r), osz(r), ois(r);
  istr[r - 1] = 1;
  for (long d = r - 2; d >= 0; d--) istr[d] = istr[d + 1] * s[d + 1];
  for (long j = 0; j < r; j++) {
    osz[j] = s[p[j]];
    ois[j] = istr[p[j]];
  }
  ostr[r - 1] = 1;
  for (long j = r - 2; j >= 0; j--) ostr[j] = ostr[j + 1] * osz[j + 1];
  long q = 0;  // output position of the input's innermost dim
  for (long j = 0; j < r; j++)
    if (p[j] == r - 1) q = j;
  if (q == r - 1) {
    // the innermost dim stays innermost: copy contiguous rows
    const long len = s[r - 1], rows = total / len;
    Pool::get().run(rows, std::max(1L, kMinWork / len), [&](long r0, long r1) {
      for (long row = r0; row < r1; row++) {
        long ib = 0, rem = row;
        for (long j = r - 2; j >= 0; j--) {
          ib += (rem % osz[j]) * ois[j];
          rem /= osz[j];
        }
        std::memcpy(out + row * len, in + ib, len * 4);
      }
    });
    return info.Env().Undefined();
  }
  // outer dims: every output dim except q and r-1
  std::vector<long> od;
  for (long j = 0; j < r - 1; j++)
    if (j != q) od.push_back(j);
  long outer = 1;
  for (long j : od) outer *= osz[j];
  const long ni = osz[q], nj = osz[r - 1], iq = ostr[q], jl = ois[r - 1];
  const long T = 32;
  const long tilesI = (ni + T - 1) / T;
  auto work = [&](long w0, long w1) {
    for (long w = w0; w < w1; w++) {
      long o = w / tilesI, ti = w % tilesI;
      long ib = 0, ob = 0, rem = o;
      for (long x = (long)od.size() - 1; x >= 0; x--) {
        long j = od[x], c = rem % osz[j];
        rem /= osz[j];
        ib += c * ois[j];
        ob += c * ostr[j];
      }
      const long i0 = ti * T, i1 = std::min(ni, i0 + T);
      for (long j0 = 0; j0 < nj; j0 += T) {
        const long j1 = std::min(nj, j0 + T);
        for (long i = i0; i < i1; i++) {
          const uint32_t* src = in + ib + i;
          uint32_t* dst = out + ob + i * iq;
          for (long j = j0; j < j1; j++) dst[j] = src[j * jl];
        }
      }
    }
  };
  Pool::get().run(outer * tilesI, std::max(1L, kMinWork / (T * nj)), work);
  return info.Env().Undefined();
}

// slice(heap, inOff, outOff, shape[], begin[], size[]) for 4-byte elements: the trailing dimensions taken whole
// merge into one contiguous run per output row, copied with memcpy.
Napi::Value Slice(const Napi::CallbackInfo& info) {
  Heap h = heapOf(info);
  std::vector<long> shape = longArray(info, 3), begin = longArray(info, 4), size = longArray(info, 5);
  const long r = (long)shape.size();
  long total = 1, inTotal = 1;
  for (long d = 0; d < r; d++) {
    total *= size[d];
    inTotal *= shape[d];
  }
  const uint32_t* in = reinterpret_cast<const uint32_t*>(at(info, h, num(info, 1), inTotal));
  uint32_t* out = reinterpret_cast<uint32_t*>(at(info, h, num(info, 2), total));
  if (total == 0) return info.Env().Undefined();
  long d = r - 1;  // last dimension not taken whole
  long run = 1;
  while (d >= 0 && size[d] == shape[d]) run *= shape[d--];
  std::vector<long> istr(r);
  long st = 1;
  for (long j = r - 1; j >= 0; j--) {
    istr[j] = st;
    st *= shape[j];
  }
  if (d < 0) {
    std::memcpy(out, in, total * 4);
    return info.Env().Undefined();
  }
  run *= size[d];
  const long rows = total / run;
  long base = 0;
  for (long j = 0; j < r; j++) base += begin[j] * istr[j];
  Pool::get().run(rows, std::max(1L, kMinWork / (run + 16)), [&](long r0, long r1) {
    for (long row = r0; row < r1; row++) {
      long off = base, rem = row;
      for (long j = d - 1; j >= 0; j--) {
        off += (rem % size[j]) * istr[j];
        rem /= size[j];
      }
      std::memcpy(out + row * run, in + off, run * 4);
    }
  });
  return info.Env().Undefined();
}

// softmax(heap, inOff, outOff, rows, cols) over the last axis.
Napi::Value Softmax(const Napi::CallbackInfo& info) {
  Heap h = heapOf(info);
  const long rows = num(info, 3), cols = num(info, 4);
  const float* x = at(info, h, num(info, 1), rows * cols);
  float* y = at(info, h, num(info, 2), rows * cols);
  Pool::get().run(rows, std::max(1L, kMinWork / (8 * cols + 1)), [&](long r0, long r1) {
    for (long r = r0; r < r1; r++) {
      const float* xr = x + r * cols;
      float* yr = y + r * cols;
      float mx = -INFINITY;
      for (long j = 0; j < cols; j++) mx = std::max(mx, xr[j]);
      for (long j = 0; j < cols; j++) yr[j] = lv::vexp(xr[j] - mx);
      const float sum = lv::sumRow(yr, cols);
      const float inv = 1.0f / sum;
      for (long j = 0; j < cols; j++) yr[j] *= inv;
    }
  });
  return info.Env().Undefined();
}

// Convolution geometry shared by the conv entry points: NHWC input [n, h, w, c], output [n, oh, ow, ...].
struct Geo {
  long n, h, w, c, kh, kw, oh, ow, sh, sw, dh, dw, pt, pl;
};

Geo geoOf(const Napi::CallbackInfo& info, int first) {
  Geo g;
  long* f = &g.n;
  for (int i = 0; i < 14; i++) f[i] = num(info, first + i);
  return g;
}

// Calls f(ky, kx, iy, ix) for every filter tap of output pixel (oy, ox) that lands inside the input: the window
// walk every convolution and pooling kernel here shares (taps in the padding are skipped).
template <typename F>
inline __attribute__((always_inline)) void forEachTap(const Geo& g, long oy, long ox, F&& f) {
  const long y0 = oy * g.sh - g.pt, x0 = ox * g.sw - g.pl, kh = g.kh, kw = g.kw, dh = g.dh, dw = g.dw, h = g.h, w = g.w;
  for (long ky = 0; ky < kh; ky++) {
    const long iy = y0 + ky * dh;
    if (iy < 0 || iy >= h) continue;
    for (long kx = 0; kx < kw; kx++) {
      const long ix = x0 + kx * dw;
      if (ix < 0 || ix >= w) continue;
      f(ky, kx, iy, ix);
    }
  }
}

// im2col of one image: col[oh·ow, kh·kw·c], zeros where the window leaves the (padded) input.
void im2col(const Geo& g, const float* x, float* col) {
  const long K = g.kh * g.kw * g.c;
  for (long oy = 0; oy < g.oh; oy++)
    for (long ox = 0; ox < g.ow; ox++) {
      float* row = col + (oy * g.ow + ox) * K;
      std::memset(row, 0, sizeof(float) * K);
      forEachTap(g, oy, ox, [&](long ky, long kx, long iy, long ix) {
        std::memcpy(row + (ky * g.kw + kx) * g.c, x + (iy * g.w + ix) * g.c, sizeof(float) * g.c);
      });
    }
}

// Adjoint of im2col: dx (one image, zeroed by the caller) += scatter of col.
void col2im(const Geo& g, const float* col, float* dx) {
  const long K = g.kh * g.kw * g.c;
  for (long oy = 0; oy < g.oh; oy++)
    for (long ox = 0; ox < g.ow; ox++) {
      const float* row = col + (oy * g.ow + ox) * K;
      forEachTap(g, oy, ox, [&](long ky, long kx, long iy, long ix) {
        const float* src = row + (ky * g.kw + kx) * g.c;
        float* dst = dx + (iy * g.w + ix) * g.c;
        for (long q = 0; q < g.c; q++) dst[q] += src[q];
      });
    }
}

bool isPointwise(const Geo& g) {
  return g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pt == 0 && g.pl == 0 && g.oh == g.h && g.ow == g.w;
}

// conv2d(heap, xOff, wOff, yOff, n,h,w,c, kh,kw,oh,ow, sh,sw,dh,dw,pt,pl, co); filter [kh, kw, c, co].
Napi::Value Conv2D(const Napi::CallbackInfo& info) {
  Heap h = heapOf(info);
  Geo g = geoOf(info, 4);
  const long co = num(info, 18), K = g.kh * g.kw * g.c, P = g.oh * g.ow;
  const float* x = at(info, h, num(info, 1), g.n * g.h * g.w * g.c);
  const float* w = at(info, h, num(info, 2), K * co);
  float* y = at(info, h, num(info, 3), g.n * P * co);
  Pool& pool = Pool::get();
  if (isPointwise(g)) {
    const long rows = g.n * P;
    pool.run(rows, std::max(4L, kMinWork / (K * co)), [&](long r0, long r1) {
      lv::sgemm(false, false, r1 - r0, co, K, x + r0 * K, K, w, co, y + r0 * co, co, false);
    });
  } else {
    pool.run(g.n, 1, [&](long b0, long b1) {
      thread_local std::vector<float> col;
      col.resize(P * K);
      for (long b = b0; b < b1; b++) {
        im2col(g, x + b * g.h * g.w * g.c, col.data());
        lv::sgemm(false, false, P, co, K, col.data(), K, w, co, y + b * P * co, co, false);
      }
    });
  }
  return info.Env().Undefined();
}

// conv2dBackpropInput(heap, dyOff, wOff, dxOff, geometry..., co): dx = col2im(dy · Wᵀ).
Napi::Value Conv2DBackpropInput(const Napi::CallbackInfo& info) {
  Heap h = heapOf(info);
  Geo g = geoOf(info, 4);
  const long co = num(info, 18), K = g.kh * g.kw * g.c, P = g.oh * g.ow;
  const float* dy = at(info, h, num(info, 1), g.n * P * co);
  const float* w = at(info, h, num(info, 2), K * co);
  float* dx = at(info, h, num(info, 3), g.n * g.h * g.w * g.c);
  Pool& pool = Pool::get();
  if (isPointwise(g)) {
    const long rows = g.n * P;
    pool.run(rows, std::max(4L, kMinWork / (K * co)), [&](long r0, long r1) {
      lv::sgemm(false, true, r1 - r0, K, co, dy + r0 * co, co, w, co, dx + r0 * K, K, false);
    });
  } else {
    pool.run(g.n, 1, [&](long b0, long b1) {
      thread_local std::vector<float> col;
      col.resize(P * K);
      for (long b = b0; b < b1; b++) {
        lv::sgemm(false, true, P, K, co, dy + b * P * co, co, w, co, col.data(), K, false);
        float* dxb = dx + b * g.h * g.w * g.c;
        std::memset(dxb, 0, sizeof(float) * g.h * g.w * g.c);
        col2im(g, col.data(), dxb);
      }
    });
  }
  return info.Env().Undefined();
}

// conv2dBackpropFilter(heap, xOff, dyOff, dwOff, geometry..., co): dW = Σ_images colᵀ · dy.
Napi::Value Conv2DBackpropFilter(const Napi::CallbackInfo& info) {
  Heap h = heapOf(info);
  Geo g = geoOf(info, 4);
  const long co = num(info, 18), K = g.kh * g.kw * g.c, P = g.oh * g.ow;
  const float* x = at(info, h, num(info, 1), g.n * g.h * g.w * g.c);
  const float* dy = at(info, h, num(info, 2), g.n * P * co);
  float* dw = at(info, h, num(info, 3), K * co);
  const bool pw = isPointwise(g);
  reduceChunks(g.n, 1, K * co, dw, [&](long b0, long b1, float* acc) {
    if (pw) {
      lv::sgemm(true, false, K, co, (b1 - b0) * P, x + b0 * P * K, K, dy + b0 * P * co, co, acc, co, true);
      return;
    }
    thread_local std::vector<float> col;
    col.resize(P * K);
    for (long b = b0; b < b1; b++) {
      im2col(g, x + b * g.h * g.w * g.c, col.data());
      lv::sgemm(true, false, K, co, P, col.data(), K, dy + b * P * co, co, acc, co, true);
    }
  });
  return info.Env().Undefined();
}

// Depthwise: filter [kh, kw, c, m], output channel c·m + q. geometry as conv2d, last argument m.
Napi::Value Depthwise(const Napi::CallbackInfo& info) {
  Heap h = heapOf(info);
  Geo g = geoOf(info, 4);
  const long m = num(info, 18), co = g.c * m;
  const float* x = at(info, h, num(info, 1), g.n * g.h * g.w * g.c);
  const float* w = at(info, h, num(info, 2), g.kh * g.kw * co);
  float* y = at(info, h, num(info, 3), g.n * g.oh * g.ow * co);
  Pool::get().run(g.n * g.oh, std::max(1L, kMinWork / (g.ow * g.kh * g.kw * co + 1)), [&](long r0, long r1) {
    for (long r = r0; r < r1; r++) {
      const long b = r / g.oh, oy = r % g.oh;
      for (long ox = 0; ox < g.ow; ox++) {
        float* __restrict yo = y + ((b * g.oh + oy) * g.ow + ox) * co;
        std::memset(yo, 0, sizeof(float) * co);
        forEachTap(g, oy, ox, [&](long ky, long kx, long iy, long ix) {
          const float* __restrict xi = x + ((b * g.h + iy) * g.w + ix) * g.c;
          const float* __restrict wk = w + (ky * g.kw + kx) * co;
          if (m == 1)
            for (long c = 0; c < co; c++) yo[c] += xi[c] * wk[c];
          else
            for (long c = 0; c < g.c; c++)
              for (long q = 0; q < m; q++) yo[c * m + q] += xi[c] * wk[c * m + q];
        });
      }
    }
  });
  return info.Env().Undefined();
}

// depthwiseBackpropInput(heap, dyOff, wOff, dxOff, geometry..., m): images are independent, so split by image.
Napi::Value DepthwiseBackpropInput(const Napi::CallbackInfo& info) {
  Heap h = heapOf(info);
  Geo g = geoOf(info, 4);
  const long m = num(info, 18), co = g.c * m;
  const float* dy = at(info, h, num(info, 1), g.n * g.oh * g.ow * co);
  const float* w = at(info, h, num(info, 2), g.kh * g.kw * co);
  float* dx = at(info, h, num(info, 3), g.n * g.h * g.w * g.c);
  Pool::get().run(g.n, 1, [&](long b0, long b1) {
    for (long b = b0; b < b1; b++) {
      float* dxb = dx + b * g.h * g.w * g.c;
      std::memset(dxb, 0, sizeof(float) * g.h * g.w * g.c);
      for (long oy = 0; oy < g.oh; oy++)
        for (long ox = 0; ox < g.ow; ox++) {
          const float* __restrict go = dy + ((b * g.oh + oy) * g.ow + ox) * co;
          forEachTap(g, oy, ox, [&](long ky, long kx, long iy, long ix) {
            float* __restrict di = dxb + (iy * g.w + ix) * g.c;
            const float* __restrict wk = w + (ky * g.kw + kx) * co;
            if (m == 1)
              for (long c = 0; c < co; c++) di[c] += go[c] * wk[c];
            else
              for (long c = 0; c < g.c; c++) {
                float s = 0;
                for (long q = 0; q < m; q++) s += go[c * m + q] * wk[c * m + q];
                di[c] += s;
              }
          });
        }
    }
  });
  return info.Env().Undefined();
}

// depthwiseBackpropFilter(heap, xOff, dyOff, dwOff, geometry..., m): per-thread partial filters, then summed.
Napi::Value DepthwiseBackpropFilter(const Napi::CallbackInfo& info) {
  Heap h = heapOf(info);
  Geo g = geoOf(info, 4);
  const long m = num(info, 18), co = g.c * m;
  const float* x = at(info, h, num(info, 1), g.n * g.h * g.w * g.c);
  const float* dy = at(info, h, num(info, 2), g.n * g.oh * g.ow * co);
  float* dw = at(info, h, num(info, 3), g.kh * g.kw * co);
  reduceChunks(g.n, 1, g.kh * g.kw * co, dw, [&](long b0, long b1, float* acc) {
    for (long b = b0; b < b1; b++)
      for (long oy = 0; oy < g.oh; oy++)
        for (long ox = 0; ox < g.ow; ox++) {
          const float* __restrict go = dy + ((b * g.oh + oy) * g.ow + ox) * co;
          forEachTap(g, oy, ox, [&](long ky, long kx, long iy, long ix) {
            const float* __restrict xi = x + ((b * g.h + iy) * g.w + ix) * g.c;
            float* __restrict ak = acc + (ky * g.kw + kx) * co;
            if (m == 1)
              for (long c = 0; c < co; c++) ak[c] += xi[c] * go[c];
            else
              for (long c = 0; c < g.c; c++)
                for (long q = 0; q < m; q++) ak[c * m + q] += xi[c] * go[c * m + q];
          });
        }
  });
  return info.Env().Undefined();
}

// maxPoolGrad(heap, dyOff, xOff, dxOff, geometry as conv2d with the pool's window as filter): each window's gradient
// goes to its first maximum in row-major window order (the cpu backend's rule). Images are independent, so the pool
// splits by image.
Napi::Value MaxPoolGrad(const Napi::CallbackInfo& info) {
  Heap h = heapOf(info);
  Geo g = geoOf(info, 4);
  const float* dy = at(info, h, num(info, 1), g.n * g.oh * g.ow * g.c);
  const float* x = at(info, h, num(info, 2), g.n * g.h * g.w * g.c);
  float* dx = at(info, h, num(info, 3), g.n * g.h * g.w * g.c);
  Pool::get().run(g.n, 1, [&](long b0, long b1) {
    std::vector<float> best(g.c);
    std::vector<long> where(g.c);
    for (long b = b0; b < b1; b++) {
      const float* xb = x + b * g.h * g.w * g.c;
      float* dxb = dx + b * g.h * g.w * g.c;
      std::memset(dxb, 0, sizeof(float) * g.h * g.w * g.c);
      for (long oy = 0; oy < g.oh; oy++)
        for (long ox = 0; ox < g.ow; ox++) {
          std::fill(best.begin(), best.end(), -INFINITY);
          std::fill(where.begin(), where.end(), -1L);
          forEachTap(g, oy, ox, [&](long, long, long iy, long ix) {
            const long base = (iy * g.w + ix) * g.c;
            for (long q = 0; q < g.c; q++)
              if (xb[base + q] > best[q]) {
                best[q] = xb[base + q];
                where[q] = base + q;
              }
          });
          const float* go = dy + ((b * g.oh + oy) * g.ow + ox) * g.c;
          for (long q = 0; q < g.c; q++)
            if (where[q] >= 0) dxb[where[q]] += go[q];
        }
    }
  });
  return info.Env().Undefined();
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  Pool::get().setThreads((int)num(info, 0));
  return Napi::Number::New(info.Env(), Pool::get().threads());
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  auto o = Napi::Object::New(info.Env());
  o.Set("gemm", lv::gemmName());
  o.Set("threads", Pool::get().threads());
  return o;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
#if defined(LV_HAVE_CBLAS) && defined(LV_OPENBLAS)
  // The pool splits the work; each piece runs a single-threaded BLAS call.
  openblas_set_num_threads(1);
#endif
#ifdef LV_DLBLAS
  lv::dlBlas();  // open the BLAS runtime now, not inside the first worker-thread GEMM
#endif
  exports.Set("gemm", Napi::Function::New(env, Gemm));
  exports.Set("transpose", Napi::Function::New(env, Transpose));
  exports.Set("softmax", Napi::Function::New(env, Softmax));
  exports.Set("slice", Napi::Function::New(env, Slice));
  exports.Set("conv2d", Napi::Function::New(env, Conv2D));
  exports.Set("conv2dBackpropInput", Napi::Function::New(env, Conv2DBackpropInput));
  exports.Set("conv2dBackpropFilter", Napi::Function::New(env, Conv2DBackpropFilter));
  exports.Set("depthwise", Napi::Function::New(env, Depthwise));
  exports.Set("depthwiseBackpropInput", Napi::Function::New(env, DepthwiseBackpropInput));
  exports.Set("depthwiseBackpropFilter", Napi::Function::New(env, DepthwiseBackpropFilter));
  exports.Set("maxPoolGrad", Napi::Function::New(env, MaxPoolGrad));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("info", Napi::Function::New(env, Info));
  lv::registerFused(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(lightvit_native, Init)
