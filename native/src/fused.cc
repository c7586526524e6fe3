// Memory-bound kernels of a training step: reductions, concatenation, LayerNorm and activations with their
// gradients, the softmax gradient, and the whole AdamW update. On the wasm backend each of these is a chain of
// several elementwise kernels (and as many JS dispatches); here each is one pass over the data, split across the pool.
#include <cmath>
#include <cstdint>

#include "gemm.h"
#include "heap.h"
#include "vmath.h"

namespace lv {
namespace {

// Elements per chunk below which a second thread costs more than it saves, for cheap elementwise passes.
constexpr long kElemGrain = 1 << 14;

// reduceSum(heap, inOff, outOff, outer, mid, inner): out[o, i] = Σ_m in[o, m, i]; the caller has merged the reduced
// axes into `mid` (they must be adjacent once size-1 axes are dropped).
Napi::Value ReduceSum(const Napi::CallbackInfo& info) {
  Heap h = heapOf(info);
  const long outer = num(info, 3), mid = num(info, 4), inner = num(info, 5);
  const float* x = at(info, h, num(info, 1), outer * mid * inner);
  float* y = at(info, h, num(info, 2), outer * inner);
  if (outer * inner == 0) return info.Env().Undefined();
  Pool& pool = Pool::get();
  if (inner == 1) {
    pool.run(outer, std::max(1L, kMinWork / (mid + 1)), [&](long o0, long o1) {
      for (long o = o0; o < o1; o++) y[o] = sumRow(x + o * mid, mid);
    });
  } else if (outer >= pool.threads()) {
    pool.run(outer, std::max(1L, kMinWork / (mid * inner + 1)), [&](long o0, long o1) {
      for (long o = o0; o < o1; o++) {
        float* __restrict yo = y + o * inner;
        std::memset(yo, 0, sizeof(float) * inner);
        for (long m = 0; m < mid; m++) {
          const float* __restrict xr = x + (o * mid + m) * inner;
          for (long i = 0; i < inner; i++) yo[i] += xr[i];
        }
      }
    });
  } else {
    // few output rows: split the reduced axis, each thread summing into its own buffer
    reduceChunks(mid, std::max(1L, kMinWork / (outer * inner)), outer * inner, y, [&](long m0, long m1, float* acc) {
      for (long o = 0; o < outer; o++) {
        float* __restrict ao = acc + o * inner;
        for (long m = m0; m < m1; m++) {
          const float* __restrict xr = x + (o * mid + m) * inner;
          for (long i = 0; i < inner; i++) ao[i] += xr[i];
        }
      }
    });
  }
  return info.Env().Undefined();
}

// concat(heap, outOff, outer, inOffs[], widths[]) for 4-byte elements: out[o] = in_0[o] ++ in_1[o] ++ …, where row o
// of input i has widths[i] elements (the product of the dimensions from the concatenation axis on).
Napi::Value Concat(const Napi::CallbackInfo& info) {
  Heap h = heapOf(info);
  const long outer = num(info, 2);
  std::vector<long> offs = longArray(info, 3), widths = longArray(info, 4);
  if (offs.size() != widths.size()) throw Napi::TypeError::New(info.Env(), "concat: offsets and widths differ in length");
  long width = 0;
  std::vector<const uint32_t*> ins(offs.size());
  for (size_t i = 0; i < offs.size(); i++) {
    ins[i] = reinterpret_cast<const uint32_t*>(at(info, h, offs[i], outer * widths[i]));
    width += widths[i];
  }
  uint32_t* out = reinterpret_cast<uint32_t*>(at(info, h, num(info, 1), outer * width));
  Pool::get().run(outer, std::max(1L, kMinWork / (width + 16)), [&](long o0, long o1) {
    for (long o = o0; o < o1; o++) {
      uint32_t* dst = out + o * width;
      for (size_t i = 0; i < ins.size(); i++) {
        std::memcpy(dst, ins[i] + o * widths[i], sizeof(uint32_t) * widths[i]);
        dst += widths[i];
      }
    }
  });
  return info.Env().Undefined();
}

// Mean and 1/√(var + eps) of one row, two passes like tf.moments.
inline void rowStats(const float* x, long cols, float eps, float* mean, float* rstd) {
  const float mu = sumRow(x, cols) / (float)cols;
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  long j = 0;
  for (; j + 8 <= cols; j += 8)
    for (int q = 0; q < 8; q++) {
      const float d = x[j + q] - mu;
      acc[q] += d * d;
    }
  float tail = 0;
  for (; j < cols; j++) tail += (x[j] - mu) * (x[j] - mu);
  const float ss = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + tail;
  *mean = mu;
  *rstd = 1.0f / std::sqrt(ss / (float)cols + eps);
}

// layerNorm(heap, xOff, gammaOff, betaOff, yOff, rows, cols, eps): y = (x − mean)·rstd·γ + β over the last axis;
// γ/β offsets < 0 mean none.
Napi::Value LayerNorm(const Napi::CallbackInfo& info) {
  Heap h = heapOf(info);
  const long rows = num(info, 5), cols = num(info, 6);
  const float eps = (float)dbl(info, 7);
  const float* x = at(info, h, num(info, 1), rows * cols);
  const float* gamma = num(info, 2) >= 0 ? at(info, h, num(info, 2), cols) : nullptr;
  const float* beta = num(info, 3) >= 0 ? at(info, h, num(info, 3), cols) : nullptr;
  float* y = at(info, h, num(info, 4), rows * cols);
  Pool::get().run(rows, std::max(1L, kElemGrain / (cols + 1)), [&](long r0, long r1) {
    for (long r = r0; r < r1; r++) {
      const float* __restrict xr = x + r * cols;
      float* __restrict yr = y + r * cols;
      float mean, rstd;
      rowStats(xr, cols, eps, &mean, &rstd);
      for (long j = 0; j < cols; j++) {
        float v = (xr[j] - mean) * rstd;
        if (gamma) v *= gamma[j];
        if (beta) v += beta[j];
        yr[j] = v;
      }
    }
  });
  return info.Env().Undefined();
}

// layerNormGrad(heap, dyOff, xOff, gammaOff, dxOff, dgammaOff, dbetaOff, rows, cols, eps). With x̂ = (x − mean)·rstd
// and g = dy·γ: dx = rstd·(g − mean(g) − x̂·mean(g·x̂)), dγ = Σ_rows dy·x̂, dβ = Σ_rows dy. Offsets < 0: absent.
Napi::Value LayerNormGrad(const Napi::CallbackInfo& info) {
  Heap h = heapOf(info);
  const long rows = num(info, 7), cols = num(info, 8);
  const float eps = (float)dbl(info, 9);
  const float* dy = at(info, h, num(info, 1), rows * cols);
  const float* x = at(info, h, num(info, 2), rows * cols);
  const float* gamma = num(info, 3) >= 0 ? at(info, h, num(info, 3), cols) : nullptr;
  float* dx = at(info, h, num(info, 4), rows * cols);
  float* dgamma = num(info, 5) >= 0 ? at(info, h, num(info, 5), cols) : nullptr;
  float* dbeta = num(info, 6) >= 0 ? at(info, h, num(info, 6), cols) : nullptr;
  std::vector<float> sums(2 * cols);
  reduceChunks(rows, std::max(1L, kElemGrain / (cols + 1)), 2 * cols, sums.data(), [&](long r0, long r1, float* acc) {
    std::vector<float> scratch(2 * cols);
    float* __restrict xhat = scratch.data();
    float* __restrict g = scratch.data() + cols;
    float* __restrict ag = acc;
    float* __restrict ab = acc + cols;
    for (long r = r0; r < r1; r++) {
      const float* __restrict xr = x + r * cols;
      const float* __restrict dr = dy + r * cols;
      float* __restrict dxr = dx + r * cols;
      float mean, rstd;
      rowStats(xr, cols, eps, &mean, &rstd);
      for (long j = 0; j < cols; j++) {
        xhat[j] = (xr[j] - mean) * rstd;
        ag[j] += dr[j] * xhat[j];
        ab[j] += dr[j];
      }
      if (gamma)
        for (long j = 0; j < cols; j++) g[j] = dr[j] * gamma[j];
      else
        std::memcpy(g, dr, sizeof(float) * cols);
      const float a = sumRow(g, cols) / (float)cols, b = dotRow(g, xhat, cols) / (float)cols;
      for (long j = 0; j < cols; j++) dxr[j] = rstd * (g[j] - a - xhat[j] * b);
    }
  });
  if (dgamma) std::memcpy(dgamma, sums.data(), sizeof(float) * cols);
  if (dbeta) std::memcpy(dbeta, sums.data() + cols, sizeof(float) * cols);
  return info.Env().Undefined();
}

enum ActKind { kGeluErf = 0, kGeluSigmoid = 1, kSilu = 2 };


// activation(heap, xOff, yOff, n, kind): GELU (erf), GELU's sigmoid form x·σ(1.702x), SiLU x·σ(x).
Napi::Value Activation(const Napi::CallbackInfo& info) {
  Heap h = heapOf(info);
  const long n = num(info, 3);
  const int kind = (int)num(info, 4);
  const float* x = at(info, h, num(info, 1), n);
  float* y = at(info, h, num(info, 2), n);
  Pool::get().run(n, kElemGrain, [&](long i0, long i1) {
    switch (kind) {
      case kGeluErf:
        for (long i = i0; i < i1; i++) y[i] = 0.5f * x[i] * (1.0f + verf(x[i] * (float)M_SQRT1_2));
        break;
      case kGeluSigmoid:
        for (long i = i0; i < i1; i++) y[i] = x[i] * vsigmoid(1.702f * x[i]);
        break;
      default:
        for (long i = i0; i < i1; i++) y[i] = x[i] * vsigmoid(x[i]);
    }
  });
  return info.Env().Undefined();
}

// activationGrad(heap, dyOff, xOff, dxOff, n, kind): dx = dy · f'(x) for the kinds above.
Napi::Value ActivationGrad(const Napi::CallbackInfo& info) {
  Heap h = heapOf(info);
  const long n = num(info, 4);
  const int kind = (int)num(info, 5);
  const float* dy = at(info, h, num(info, 1), n);
  const float* x = at(info, h, num(info, 2), n);
  float* dx = at(info, h, num(info, 3), n);
  const float invSqrt2Pi = 0.3989422804014327f;
  Pool::get().run(n, kElemGrain, [&](long i0, long i1) {
    if (kind == kGeluErf) {
      for (long i = i0; i < i1; i++) {
        const float v = x[i];
        const float cdf = 0.5f * (1.0f + verf(v * (float)M_SQRT1_2));
        dx[i] = dy[i] * (cdf + v * invSqrt2Pi * vexp(-0.5f * v * v));
      }
    } else {
      const float a = kind == kGeluSigmoid ? 1.702f : 1.0f;
      for (long i = i0; i < i1; i++) {
        const float s = vsigmoid(a * x[i]);
        dx[i] = dy[i] * (s + a * x[i] * s * (1.0f - s));
      }
    }
  });
  return info.Env().Undefined();
}

// softmaxGrad(heap, dyOff, yOff, dxOff, rows, cols): dx = y·(dy − Σ dy·y) per row of the last axis.
Napi::Value SoftmaxGrad(const Napi::CallbackInfo& info) {
  Heap h = heapOf(info);
  const long rows = num(info, 4), cols = num(info, 5);
  const float* dy = at(info, h, num(info, 1), rows * cols);
  const float* y = at(info, h, num(info, 2), rows * cols);
  float* dx = at(info, h, num(info, 3), rows * cols);
  Pool::get().run(rows, std::max(1L, kElemGrain / (cols + 1)), [&](long r0, long r1) {
    for (long r = r0; r < r1; r++) {
      const float* __restrict d = dy + r * cols;
      const float* __restrict p = y + r * cols;
      float* __restrict o = dx + r * cols;
      const float s = dotRow(d, p, cols);
      for (long j = 0; j < cols; j++) o[j] = p[j] * (d[j] - s);
    }
  });
  return info.Env().Undefined();
}

// sumSquares(heap, offs[], sizes[]) → Σ over all listed tensors of x², accumulated in double (gradient clipping).
Napi::Value SumSquares(const Napi::CallbackInfo& info) {
  Heap h = heapOf(info);
  std::vector<long> offs = longArray(info, 1), sizes = longArray(info, 2);
  double total = 0;
  for (size_t t = 0; t < offs.size(); t++) {
    const float* x = at(info, h, offs[t], sizes[t]);
    double acc[4] = {0, 0, 0, 0};
    long i = 0;
    for (; i + 4 <= sizes[t]; i += 4)
      for (int q = 0; q < 4; q++) acc[q] += (double)x[i + q] * x[i + q];
    for (; i < sizes[t]; i++) acc[0] += (double)x[i] * x[i];
    total += (acc[0] + acc[1]) + (acc[2] + acc[3]);
  }
  return Napi::Number::New(info.Env(), total);
}

// adamw(heap, pOffs[], gOffs[], mOffs[], vOffs[], sizes[], decays[], lr, β1, β2, eps, c1, c2, gradScale): one AdamW
// step over every listed parameter, in place. decays[i] is the factor (1 − lr·wd) or 1; c1, c2 the bias corrections
// 1 − βᵗ; the gradient is multiplied by gradScale first (global-norm clipping). Same operation order as the
// composite tfjs update in src/train/optim.ts.
Napi::Value AdamW(const Napi::CallbackInfo& info) {
  Heap h = heapOf(info);
  std::vector<long> pOffs = longArray(info, 1), gOffs = longArray(info, 2), mOffs = longArray(info, 3),
                    vOffs = longArray(info, 4), sizes = longArray(info, 5);
  auto decArr = info[6].As<Napi::Array>();
  const float lr = (float)dbl(info, 7), b1 = (float)dbl(info, 8), b2 = (float)dbl(info, 9), eps = (float)dbl(info, 10),
              c1 = (float)dbl(info, 11), c2 = (float)dbl(info, 12), scale = (float)dbl(info, 13);
  const size_t count = pOffs.size();
  if (gOffs.size() != count || mOffs.size() != count || vOffs.size() != count || sizes.size() != count ||
      decArr.Length() != count)
    throw Napi::TypeError::New(info.Env(), "adamw: the parameter, gradient, moment, size and decay lists differ in length");
  std::vector<float*> p(count), m(count), v(count);
  std::vector<const float*> g(count);
  std::vector<float> decay(count);
  std::vector<long> start(count + 1, 0);
  for (size_t t = 0; t < count; t++) {
    p[t] = at(info, h, pOffs[t], sizes[t]);
    g[t] = at(info, h, gOffs[t], sizes[t]);
    m[t] = at(info, h, mOffs[t], sizes[t]);
    v[t] = at(info, h, vOffs[t], sizes[t]);
    decay[t] = (float)decArr.Get((uint32_t)t).As<Napi::Number>().DoubleValue();
    start[t + 1] = start[t] + sizes[t];
  }
  const float ob1 = 1.0f - b1, ob2 = 1.0f - b2;
  Pool::get().run(start[count], kElemGrain, [&](long e0, long e1) {
    size_t t = std::upper_bound(start.begin(), start.end(), e0) - start.begin() - 1;
    for (; t < count && start[t] < e1; t++) {
      const long i0 = std::max(e0, start[t]) - start[t], i1 = std::min(e1, start[t + 1]) - start[t];
      float* __restrict pt = p[t];
      float* __restrict mt = m[t];
      float* __restrict vt = v[t];
      const float* __restrict gt = g[t];
      const float d = decay[t];
      for (long i = i0; i < i1; i++) {
        const float gi = gt[i] * scale;  // exact when scale is 1, like the decay below
        const float mi = mt[i] * b1 + gi * ob1;
        const float vi = vt[i] * b2 + (gi * gi) * ob2;
        mt[i] = mi;
        vt[i] = vi;
        pt[i] = pt[i] * d - ((mi / c1) / (std::sqrt(vi / c2) + eps)) * lr;
      }
    }
  });
  return info.Env().Undefined();
}

// Per-channel sums over the rows of a [rows, cols] matrix, in double per chunk: acc[j] += Σ_r f(r, j).
template <typename F>
void columnSums(long rows, long cols, long width, float* out, F term) {
  reduceChunks(rows, std::max(1L, kElemGrain / (cols + 1)), width * cols, out, [&](long r0, long r1, float* acc) {
    std::vector<double> d(width * cols, 0.0);
    for (long r = r0; r < r1; r++) term(r, d.data());
    for (long j = 0; j < width * cols; j++) acc[j] += (float)d[j];
  });
}

// batchNorm(heap, xOff, gammaOff, betaOff, yOff, meanOff, varOff, rows, cols, eps): training-mode BatchNorm over
// the last axis with batch statistics: mean and biased variance per column (two passes, like tf.moments), then
// y = (x − mean)/√(var + eps)·γ + β.
Napi::Value BatchNorm(const Napi::CallbackInfo& info) {
  Heap h = heapOf(info);
  const long rows = num(info, 7), cols = num(info, 8);
  const float eps = (float)dbl(info, 9);
  const float* x = at(info, h, num(info, 1), rows * cols);
  const float* gamma = at(info, h, num(info, 2), cols);
  const float* beta = at(info, h, num(info, 3), cols);
  float* y = at(info, h, num(info, 4), rows * cols);
  float* mean = at(info, h, num(info, 5), cols);
  float* var = at(info, h, num(info, 6), cols);
  columnSums(rows, cols, 1, mean, [&](long r, double* d) {
    const float* xr = x + r * cols;
    for (long j = 0; j < cols; j++) d[j] += xr[j];
  });
  for (long j = 0; j < cols; j++) mean[j] /= (float)rows;
  columnSums(rows, cols, 1, var, [&](long r, double* d) {
    const float* xr = x + r * cols;
    for (long j = 0; j < cols; j++) {
      const float c = xr[j] - mean[j];
      d[j] += c * c;
    }
  });
  std::vector<float> scale(cols), shift(cols);
  for (long j = 0; j < cols; j++) {
    var[j] /= (float)rows;
    scale[j] = gamma[j] / std::sqrt(var[j] + eps);
    shift[j] = beta[j] - mean[j] * scale[j];
  }
  Pool::get().run(rows, std::max(1L, kElemGrain / (cols + 1)), [&](long r0, long r1) {
    for (long r = r0; r < r1; r++) {
      const float* __restrict xr = x + r * cols;
      float* __restrict yr = y + r * cols;
      for (long j = 0; j < cols; j++) yr[j] = xr[j] * scale[j] + shift[j];
    }
  });
  return info.Env().Undefined();
}

// batchNormGrad(heap, dyOff, xOff, gammaOff, dMeanOff, dVarOff, dxOff, dgammaOff, dbetaOff, rows, cols, eps): the
// gradient of batchNorm above. With x̂ = (x − mean)·rstd: dβ = Σ_rows dy, dγ = Σ_rows dy·x̂,
// dx = γ·rstd·(dy − dβ/n − x̂·dγ/n) + (dmean + 2·dvar·(x − mean))/n, n = rows (dmean/dvar: the gradients reaching
// the statistics outputs; offsets < 0 when there are none).
Napi::Value BatchNormGrad(const Napi::CallbackInfo& info) {
  Heap h = heapOf(info);
  const long rows = num(info, 9), cols = num(info, 10);
  const float eps = (float)dbl(info, 11);
  const float* dy = at(info, h, num(info, 1), rows * cols);
  const float* x = at(info, h, num(info, 2), rows * cols);
  const float* gamma = at(info, h, num(info, 3), cols);
  const float* dmean = num(info, 4) >= 0 ? at(info, h, num(info, 4), cols) : nullptr;
  const float* dvar = num(info, 5) >= 0 ? at(info, h, num(info, 5), cols) : nullptr;
  float* dx = at(info, h, num(info, 6), rows * cols);
  float* dgamma = at(info, h, num(info, 7), cols);
  float* dbeta = at(info, h, num(info, 8), cols);
  std::vector<float> mean(cols), rstd(cols), sums(2 * cols);
  columnSums(rows, cols, 1, mean.data(), [&](long r, double* d) {
    const float* xr = x + r * cols;
    for (long j = 0; j < cols; j++) d[j] += xr[j];
  });
  for (long j = 0; j < cols; j++) mean[j] /= (float)rows;
  columnSums(rows, cols, 1, rstd.data(), [&](long r, double* d) {
    const float* xr = x + r * cols;
    for (long j = 0; j < cols; j++) {
      const float c = xr[j] - mean[j];
      d[j] += c * c;
    }
  });
  for (long j = 0; j < cols; j++) rstd[j] = 1.0f / std::sqrt(rstd[j] / (float)rows + eps);
  columnSums(rows, cols, 2, sums.data(), [&](long r, double* d) {
    const float* xr = x + r * cols;
    const float* dr = dy + r * cols;
    for (long j = 0; j < cols; j++) {
      d[j] += dr[j];
      d[cols + j] += dr[j] * ((xr[j] - mean[j]) * rstd[j]);
    }
  });
  const float invN = 1.0f / (float)rows;
  std::vector<float> a(cols), b(cols), c(cols), e(cols);
  for (long j = 0; j < cols; j++) {
    dbeta[j] = sums[j];
    dgamma[j] = sums[cols + j];
    a[j] = gamma[j] * rstd[j];       // dx = a·dy − a·dβ/n − a·x̂·dγ/n + …, written per element as
    b[j] = a[j] * sums[j] * invN;    // a·dy − b − x̂·c + e + 2·dvar/n·(x − mean)
    c[j] = a[j] * sums[cols + j] * invN;
    e[j] = dmean ? dmean[j] * invN : 0.0f;
  }
  Pool::get().run(rows, std::max(1L, kElemGrain / (cols + 1)), [&](long r0, long r1) {
    for (long r = r0; r < r1; r++) {
      const float* __restrict xr = x + r * cols;
      const float* __restrict dr = dy + r * cols;
      float* __restrict o = dx + r * cols;
      for (long j = 0; j < cols; j++) {
        const float xc = xr[j] - mean[j];
        float v = a[j] * dr[j] - b[j] - xc * rstd[j] * c[j] + e[j];
        if (dvar) v += 2.0f * dvar[j] * invN * xc;
        o[j] = v;
      }
    }
  });
  return info.Env().Undefined();
}

// tile(heap, inOff, outOff, shape[], reps[]) for 4-byte elements: out has dims shape[d]·reps[d] and
// out[i_0, …] = in[i_0 mod shape[0], …]. Each output row (last axis) is the input row repeated reps[last] times.
Napi::Value Tile(const Napi::CallbackInfo& info) {
  Heap h = heapOf(info);
  std::vector<long> shape = longArray(info, 3), reps = longArray(info, 4);
  const size_t rank = shape.size();
  if (rank == 0 || reps.size() != rank)
    throw Napi::TypeError::New(info.Env(), "tile: shape and reps must have the same rank ≥ 1");
  long inSize = 1, outRows = 1;
  for (size_t d = 0; d < rank; d++) {
    inSize *= shape[d];
    if (d + 1 < rank) outRows *= shape[d] * reps[d];
  }
  const long width = shape[rank - 1], copies = reps[rank - 1];
  const uint32_t* x = reinterpret_cast<const uint32_t*>(at(info, h, num(info, 1), inSize));
  uint32_t* out = reinterpret_cast<uint32_t*>(at(info, h, num(info, 2), outRows * width * copies));
  if (inSize == 0 || outRows * copies == 0) return info.Env().Undefined();
  Pool::get().run(outRows, std::max(1L, kElemGrain / (width * copies + 1)), [&](long r0, long r1) {
    for (long r = r0; r < r1; r++) {
      long rem = r, src = 0, stride = width;
      for (long d = (long)rank - 2; d >= 0; d--) {
        const long od = shape[d] * reps[d];
        src += ((rem % od) % shape[d]) * stride;
        rem /= od;
        stride *= shape[d];
      }
      uint32_t* dst = out + r * width * copies;
      if (width == 1)
        std::fill(dst, dst + copies, x[src]);
      else
        for (long c = 0; c < copies; c++) std::memcpy(dst + c * width, x + src, sizeof(uint32_t) * width);
    }
  });
  return info.Env().Undefined();
}

// attention(heap, qkvOff, outOff, probsOff, batch, tokens, heads, headDim, scale): self-attention straight from the
// packed projection qkv [B, T, 3, H, d] (timm layout) to the merged heads out [B, T, H·d]. Per (image, head):
// P = softmax(scale·Q·Kᵀ) (kept in probs [B, H, T, T] for the gradient), O = P·V. Q, K, V and O are read and written
// in place with row strides 3·H·d and H·d, so no split, head transpose or merge is materialised.
Napi::Value Attention(const Napi::CallbackInfo& info) {
  Heap h = heapOf(info);
  const long b = num(info, 4), t = num(info, 5), heads = num(info, 6), d = num(info, 7);
  const float scale = (float)dbl(info, 8);
  const long hd = heads * d, row = 3 * hd;
  const float* qkv = at(info, h, num(info, 1), b * t * row);
  float* out = at(info, h, num(info, 2), b * t * hd);
  float* probs = at(info, h, num(info, 3), b * heads * t * t);
  Pool::get().run(b * heads, std::max(1L, kMinWork / (2 * t * t * d + 1)), [&](long p0, long p1) {
    for (long p = p0; p < p1; p++) {
      const long bi = p / heads, hi = p % heads;
      const float* q = qkv + bi * t * row + hi * d;
      float* pr = probs + p * t * t;
      sgemm(false, true, t, t, d, q, row, q + hd, row, pr, t, false);
      for (long i = 0; i < t; i++) {
        float* r = pr + i * t;
        float mx = -INFINITY;
        for (long j = 0; j < t; j++) mx = std::max(mx, r[j] *= scale);
        for (long j = 0; j < t; j++) r[j] = vexp(r[j] - mx);
        const float inv = 1.0f / sumRow(r, t);
        for (long j = 0; j < t; j++) r[j] *= inv;
      }
      sgemm(false, false, t, d, t, pr, t, q + 2 * hd, row, out + bi * t * hd + hi * d, hd, false);
    }
  });
  return info.Env().Undefined();
}

// attentionGrad(heap, dOutOff, qkvOff, probsOff, dQkvOff, batch, tokens, heads, headDim, scale): the gradient of
// attention above into dqkv [B, T, 3, H, d]: dV = Pᵀ·dO, dP = dO·Vᵀ, dS = scale·P∘(dP − Σ_j dP∘P), dQ = dS·K,
// dK = dSᵀ·Q.
Napi::Value AttentionGrad(const Napi::CallbackInfo& info) {
  Heap h = heapOf(info);
  const long b = num(info, 5), t = num(info, 6), heads = num(info, 7), d = num(info, 8);
  const float scale = (float)dbl(info, 9);
  const long hd = heads * d, row = 3 * hd;
  const float* dout = at(info, h, num(info, 1), b * t * hd);
  const float* qkv = at(info, h, num(info, 2), b * t * row);
  const float* probs = at(info, h, num(info, 3), b * heads * t * t);
  float* dqkv = at(info, h, num(info, 4), b * t * row);
  Pool::get().run(b * heads, std::max(1L, kMinWork / (4 * t * t * d + 1)), [&](long p0, long p1) {
    std::vector<float> ds(t * t);
    for (long p = p0; p < p1; p++) {
      const long bi = p / heads, hi = p % heads;
      const float* q = qkv + bi * t * row + hi * d;
      const float* dO = dout + bi * t * hd + hi * d;
      const float* pr = probs + p * t * t;
      float* dq = dqkv + bi * t * row + hi * d;
      sgemm(true, false, t, d, t, pr, t, dO, hd, dq + 2 * hd, row, false);      // dV
      sgemm(false, true, t, t, d, dO, hd, q + 2 * hd, row, ds.data(), t, false);  // dP
      for (long i = 0; i < t; i++) {
        float* r = ds.data() + i * t;
        const float* pi = pr + i * t;
        const float dot = dotRow(r, pi, t);
        for (long j = 0; j < t; j++) r[j] = scale * (pi[j] * (r[j] - dot));
      }
      sgemm(false, false, t, d, t, ds.data(), t, q + hd, row, dq, row, false);  // dQ
      sgemm(true, false, t, d, t, ds.data(), t, q, row, dq + hd, row, false);   // dK
    }
  });
  return info.Env().Undefined();
}

// gather(heap, xOff, idxOff, outOff, outer, axisLen, inner, count) for 4-byte elements: out[o, i, :] =
// x[o, idx[i], :] with rows of `inner` elements; indices outside [0, axisLen) throw, like the cpu backend.
Napi::Value Gather(const Napi::CallbackInfo& info) {
  Heap h = heapOf(info);
  const long outer = num(info, 4), axisLen = num(info, 5), inner = num(info, 6), count = num(info, 7);
  const uint32_t* x = reinterpret_cast<const uint32_t*>(at(info, h, num(info, 1), outer * axisLen * inner));
  const int32_t* idx = reinterpret_cast<const int32_t*>(at(info, h, num(info, 2), count));
  uint32_t* out = reinterpret_cast<uint32_t*>(at(info, h, num(info, 3), outer * count * inner));
  for (long i = 0; i < count; i++)
    if (idx[i] < 0 || idx[i] >= axisLen)
      throw Napi::RangeError::New(info.Env(), "gather: index " + std::to_string(idx[i]) + " is not in [0, " +
                                                  std::to_string(axisLen - 1) + "]");
  Pool::get().run(outer * count, std::max(1L, kElemGrain / (inner + 1)), [&](long r0, long r1) {
    for (long r = r0; r < r1; r++) {
      const long o = r / count, i = r % count;
      std::memcpy(out + r * inner, x + (o * axisLen + idx[i]) * inner, sizeof(uint32_t) * inner);
    }
  });
  return info.Env().Undefined();
}

// segmentSum(heap, xOff, idsOff, outOff, rows, inner, numSegments): out[s] = Σ_{r : ids[r] = s} x[r] over float32
// rows of `inner` values, rows taken in order; ids outside [0, numSegments) are dropped (TensorFlow's rule). The
// gradient of a gather. Threads own disjoint ranges of segments, so the sums do not depend on the thread count.
Napi::Value SegmentSum(const Napi::CallbackInfo& info) {
  Heap h = heapOf(info);
  const long rows = num(info, 4), inner = num(info, 5), segs = num(info, 6);
  const float* x = at(info, h, num(info, 1), rows * inner);
  const int32_t* ids = reinterpret_cast<const int32_t*>(at(info, h, num(info, 2), rows));
  float* out = at(info, h, num(info, 3), segs * inner);
  const long grain = rows * inner >= kElemGrain ? 1 : segs;
  Pool::get().run(segs, grain, [&](long s0, long s1) {
    std::memset(out + s0 * inner, 0, sizeof(float) * (s1 - s0) * inner);
    for (long r = 0; r < rows; r++) {
      const long s = ids[r];
      if (s < s0 || s >= s1) continue;
      float* __restrict o = out + s * inner;
      const float* __restrict xr = x + r * inner;
      for (long j = 0; j < inner; j++) o[j] += xr[j];
    }
  });
  return info.Env().Undefined();
}

// dropoutMask(heap, outOff, count, s0, s1, s2, c, keep): tf.dropout's multiplier, bit for bit. Alea as tfjs-core
// runs it works on doubles, t = a·s0 + c·2⁻³², but every state is a 32-bit fraction k/2³² and every intermediate
// fits in 53 bits, so it is exactly the integer multiply-with-carry X = a·x0 + c, c ← X >> 32, x ← X mod 2³²; the
// integer form is what runs here (a shorter dependency chain: each value needs the previous carry). Each output is
// x·2⁻³² rounded to float32 (as a Float32Array store rounds it), then floor(u + keep) / keep in float32.
void aleaMask(float* out, long count, double s0, double s1, double s2, double c, float keep) {
  uint64_t x0 = (uint64_t)(s0 * 4294967296.0), x1 = (uint64_t)(s1 * 4294967296.0), x2 = (uint64_t)(s2 * 4294967296.0);
  uint64_t carry = (uint64_t)c;
  const float scale = 1.0f / keep;
  for (long i = 0; i < count; i++) {
    const uint64_t t = 2091639ull * x0 + carry;
    x0 = x1;
    x1 = x2;
    carry = t >> 32;
    x2 = t & 0xffffffffull;
    const float u = (float)((double)x2 * 2.3283064365386963e-10);
    out[i] = (u + keep >= 1.0f) ? scale : 0.0f;
  }
}

Napi::Value DropoutMask(const Napi::CallbackInfo& info) {
  Heap h = heapOf(info);
  const long count = num(info, 2);
  float* out = at(info, h, num(info, 1), count);
  aleaMask(out, count, dbl(info, 3), dbl(info, 4), dbl(info, 5), dbl(info, 6), (float)dbl(info, 7));
  return info.Env().Undefined();
}

}  // namespace

void registerFused(Napi::Env env, Napi::Object exports) {
  exports.Set("reduceSum", Napi::Function::New(env, ReduceSum));
  exports.Set("concat", Napi::Function::New(env, Concat));
  exports.Set("layerNorm", Napi::Function::New(env, LayerNorm));
  exports.Set("layerNormGrad", Napi::Function::New(env, LayerNormGrad));
  exports.Set("activation", Napi::Function::New(env, Activation));
  exports.Set("activationGrad", Napi::Function::New(env, ActivationGrad));
  exports.Set("softmaxGrad", Napi::Function::New(env, SoftmaxGrad));
  exports.Set("sumSquares", Napi::Function::New(env, SumSquares));
  exports.Set("adamw", Napi::Function::New(env, AdamW));
  exports.Set("gather", Napi::Function::New(env, Gather));
  exports.Set("segmentSum", Napi::Function::New(env, SegmentSum));
  exports.Set("dropoutMask", Napi::Function::New(env, DropoutMask));
  exports.Set("tile", Napi::Function::New(env, Tile));
  exports.Set("attention", Napi::Function::New(env, Attention));
  exports.Set("attentionGrad", Napi::Function::New(env, AttentionGrad));
  exports.Set("batchNorm", Napi::Function::New(env, BatchNorm));
  exports.Set("batchNormGrad", Napi::Function::New(env, BatchNormGrad));
}

}  // namespace lv
