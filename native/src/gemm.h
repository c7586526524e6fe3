// Single-threaded sgemm, row-major: C[m×n] = op(A)·op(B) (+ C when accumulate). lda/ldb are the row strides of
// A and B as stored. Three sources, first found wins:
//  1. the system CBLAS, linked at build time (LV_HAVE_CBLAS: its header was found);
//  2. on Linux without BLAS headers, a BLAS runtime opened at load time with dlopen (a stock Debian machine often
//     has libopenblas0 without libopenblas-dev): cblas_sgemm is declared here and looked up by name. Only an
//     OpenBLAS or BLIS library is taken (a reference BLAS is slower than the portable kernel). Off with
//     LV_NO_DLBLAS at build time or LIGHTVIT_NATIVE_BLAS=0 in the environment when the addon loads;
//     LIGHTVIT_BLAS_LIB=/path/libX.so names another library to try first;
//  3. the portable kernels below: a register-blocked AVX2/FMA kernel where the compiler targets it, a packed loop
//     the compiler vectorises otherwise.
#pragma once
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#if !defined(LV_HAVE_CBLAS) && defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

#if !defined(LV_HAVE_CBLAS) && !defined(LV_NO_DLBLAS) && defined(__linux__)
#define LV_DLBLAS 1
#include <dlfcn.h>
#endif

#ifdef LV_HAVE_CBLAS
#ifdef LV_ACCELERATE
#include <Accelerate/Accelerate.h>
#else
#include <cblas.h>
#endif
#endif

namespace lv {

#ifdef LV_HAVE_CBLAS
inline void sgemm(bool ta, bool tb, long m, long n, long k, const float* a, long lda, const float* b, long ldb, float* c,
                  long ldc, bool accumulate) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
              1.0f, a, (int)lda, b, (int)ldb, accumulate ? 1.0f : 0.0f, c, (int)ldc);
}
inline const char* gemmName() {
#ifdef LV_ACCELERATE
  return "Accelerate";
#else
  return "CBLAS";
#endif
}
#else
// Portable path: pack op(A) row panels and op(B) into contiguous row-major blocks, then an i-k-j loop whose inner
// j loop the compiler vectorises. Blocks of KC×NC of B stay in L2.
inline void loopSgemm(bool ta, bool tb, long m, long n, long k, const float* a, long lda, const float* b, long ldb, float* c,
                  long ldc, bool accumulate) {
  const long KC = 256, NC = 512, MC = 64;
  thread_local std::vector<float> bp, ap;
  if (!accumulate)
    for (long i = 0; i < m; i++) std::memset(c + i * ldc, 0, sizeof(float) * n);
  for (long k0 = 0; k0 < k; k0 += KC) {
    long kc = std::min(KC, k - k0);
    for (long n0 = 0; n0 < n; n0 += NC) {
      long nc = std::min(NC, n - n0);
      bp.resize(kc * nc);
      for (long p = 0; p < kc; p++)
        for (long j = 0; j < nc; j++) bp[p * nc + j] = tb ? b[(n0 + j) * ldb + k0 + p] : b[(k0 + p) * ldb + n0 + j];
      for (long m0 = 0; m0 < m; m0 += MC) {
        long mc = std::min(MC, m - m0);
        ap.resize(mc * kc);
        for (long i = 0; i < mc; i++)
          for (long p = 0; p < kc; p++) ap[i * kc + p] = ta ? a[(k0 + p) * lda + m0 + i] : a[(m0 + i) * lda + k0 + p];
        for (long i = 0; i < mc; i++) {
          float* __restrict ci = c + (m0 + i) * ldc + n0;
          const float* ai = ap.data() + i * kc;
          long p = 0;
          for (; p + 4 <= kc; p += 4) {
            const float a0 = ai[p], a1 = ai[p + 1], a2 = ai[p + 2], a3 = ai[p + 3];
            const float* __restrict b0 = bp.data() + p * nc;
            const float* __restrict b1 = b0 + nc;
            const float* __restrict b2 = b1 + nc;
            const float* __restrict b3 = b2 + nc;
            for (long j = 0; j < nc; j++) ci[j] += a0 * b0[j] + a1 * b1[j] + a2 * b2[j] + a3 * b3[j];
          }
          for (; p < kc; p++) {
            const float ap0 = ai[p];
            const float* __restrict b0 = bp.data() + p * nc;
            for (long j = 0; j < nc; j++) ci[j] += ap0 * b0[j];
          }
        }
      }
    }
  }
}

#if defined(__AVX2__) && defined(__FMA__)
// Register-blocked kernel for x86-64 with AVX2 + FMA (the build uses -march=native where the compiler accepts it):
// op(B) is packed in KC×16 column panels and op(A) in 6×KC row panels, both zero-padded, and a 6×16 block of C is
// accumulated in 12 ymm registers over KC (BLIS-style). Edge blocks go through a small buffer.
inline void microKernel6x16(long kc, const float* __restrict ap, const float* __restrict bp, float* c, long ldc,
                            long rows, long cols) {
  __m256 acc[6][2];
  for (int r = 0; r < 6; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (long p = 0; p < kc; p++) {
    const __m256 b0 = _mm256_loadu_ps(bp + 16 * p), b1 = _mm256_loadu_ps(bp + 16 * p + 8);
    const float* ar = ap + 6 * p;
    for (int r = 0; r < 6; r++) {
      const __m256 av = _mm256_broadcast_ss(ar + r);
      acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
    }
  }
  if (rows == 6 && cols == 16) {
    for (int r = 0; r < 6; r++) {
      float* cr = c + r * ldc;
      _mm256_storeu_ps(cr, _mm256_add_ps(_mm256_loadu_ps(cr), acc[r][0]));
      _mm256_storeu_ps(cr + 8, _mm256_add_ps(_mm256_loadu_ps(cr + 8), acc[r][1]));
    }
    return;
  }
  alignas(32) float tmp[6][16];
  for (int r = 0; r < 6; r++) {
    _mm256_store_ps(tmp[r], acc[r][0]);
    _mm256_store_ps(tmp[r] + 8, acc[r][1]);
  }
  for (long r = 0; r < rows; r++)
    for (long j = 0; j < cols; j++) c[r * ldc + j] += tmp[r][j];
}

inline void portableSgemm(bool ta, bool tb, long m, long n, long k, const float* a, long lda, const float* b, long ldb,
                          float* c, long ldc, bool accumulate) {
  const long KC = 256, MC = 96, NC = 2048;
  thread_local std::vector<float> bp, ap;
  if (!accumulate)
    for (long i = 0; i < m; i++) std::memset(c + i * ldc, 0, sizeof(float) * n);
  if (k == 0) return;
  for (long k0 = 0; k0 < k; k0 += KC) {
    const long kc = std::min(KC, k - k0);
    for (long n0 = 0; n0 < n; n0 += NC) {
      const long nc = std::min(NC, n - n0), np = (nc + 15) / 16;
      bp.assign(np * 16 * kc, 0.0f);
      for (long q = 0; q < np; q++) {
        float* dst = bp.data() + q * 16 * kc;
        const long jn = std::min(16L, nc - q * 16);
        for (long p = 0; p < kc; p++)
          for (long j = 0; j < jn; j++) {
            const long col = n0 + q * 16 + j, row = k0 + p;
            dst[16 * p + j] = tb ? b[col * ldb + row] : b[row * ldb + col];
          }
      }
      for (long m0 = 0; m0 < m; m0 += MC) {
        const long mc = std::min(MC, m - m0), mp = (mc + 5) / 6;
        ap.assign(mp * 6 * kc, 0.0f);
        for (long q = 0; q < mp; q++) {
          float* dst = ap.data() + q * 6 * kc;
          const long in = std::min(6L, mc - q * 6);
          for (long i = 0; i < in; i++) {
            const long row = m0 + q * 6 + i;
            for (long p = 0; p < kc; p++) dst[6 * p + i] = ta ? a[(k0 + p) * lda + row] : a[row * lda + k0 + p];
          }
        }
        for (long qi = 0; qi < mp; qi++)
          for (long qj = 0; qj < np; qj++)
            microKernel6x16(kc, ap.data() + qi * 6 * kc, bp.data() + qj * 16 * kc,
                            c + (m0 + qi * 6) * ldc + n0 + qj * 16, ldc, std::min(6L, mc - qi * 6),
                            std::min(16L, nc - qj * 16));
      }
    }
  }
}
#else
inline void portableSgemm(bool ta, bool tb, long m, long n, long k, const float* a, long lda, const float* b, long ldb,
                          float* c, long ldc, bool accumulate) {
  loopSgemm(ta, tb, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
}
#endif

#ifdef LV_DLBLAS
// CBLAS's row-major / transpose enum values and its LP64 cblas_sgemm signature (blasint = int).
using CblasSgemmFn = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*,
                              int);
struct DlBlas {
  CblasSgemmFn sgemm = nullptr;
  std::string name = "portable";
};

// Opens the first usable BLAS runtime once; single-threaded inside (the addon's pool splits the work).
inline DlBlas& dlBlas() {
  static DlBlas d = [] {
    DlBlas r;
    const char* off = std::getenv("LIGHTVIT_NATIVE_BLAS");
    if (off && std::string(off) == "0") {
      r.name = "portable (LIGHTVIT_NATIVE_BLAS=0)";
      return r;
    }
    std::vector<std::string> libs;
    if (const char* own = std::getenv("LIGHTVIT_BLAS_LIB")) libs.push_back(own);
    for (const char* l : {"libopenblas.so.0", "libopenblas.so", "libblis.so.4", "libblis.so.3", "libblas.so.3"})
      libs.push_back(l);
    for (const std::string& lib : libs) {
      void* h = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!h) continue;
      auto f = reinterpret_cast<CblasSgemmFn>(dlsym(h, "cblas_sgemm"));
      auto obThreads = reinterpret_cast<void (*)(int)>(dlsym(h, "openblas_set_num_threads"));
      auto blisThreads = reinterpret_cast<void (*)(long)>(dlsym(h, "bli_thread_set_num_threads"));
      if (!f || (!obThreads && !blisThreads)) {
        dlclose(h);
        continue;
      }
      if (obThreads) obThreads(1);
      if (blisThreads) blisThreads(1);
      r.sgemm = f;
      r.name = std::string(obThreads ? "OpenBLAS" : "BLIS") + " (run-time " + lib + ")";
      return r;
    }
    return r;
  }();
  return d;
}
#endif

inline void sgemm(bool ta, bool tb, long m, long n, long k, const float* a, long lda, const float* b, long ldb, float* c,
                  long ldc, bool accumulate) {
#ifdef LV_DLBLAS
  if (CblasSgemmFn f = dlBlas().sgemm) {
    f(101, ta ? 112 : 111, tb ? 112 : 111, (int)m, (int)n, (int)k, 1.0f, a, (int)lda, b, (int)ldb,
      accumulate ? 1.0f : 0.0f, c, (int)ldc);
    return;
  }
#endif
  portableSgemm(ta, tb, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
}

inline const char* gemmName() {
#ifdef LV_DLBLAS
  return dlBlas().name.c_str();
#else
  return "portable";
#endif
}
#endif


}  // namespace lv
