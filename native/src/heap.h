// Shared helpers of the addon's entry points: the wasm heap passed from JS, bounds-checked float views into it,
// argument readers, and a reduction that gives each thread its own partial buffer.
#pragma once
#include <napi.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "pool.h"

namespace lv {

struct Heap {
  uint8_t* base;
  size_t len;
};

inline Heap heapOf(const Napi::CallbackInfo& info) {
  if (!info[0].IsArrayBuffer()) throw Napi::TypeError::New(info.Env(), "argument 0 must be the wasm heap ArrayBuffer");
  auto ab = info[0].As<Napi::ArrayBuffer>();
  return {static_cast<uint8_t*>(ab.Data()), ab.ByteLength()};
}

inline long num(const Napi::CallbackInfo& info, int i) { return (long)info[i].As<Napi::Number>().Int64Value(); }
inline double dbl(const Napi::CallbackInfo& info, int i) { return info[i].As<Napi::Number>().DoubleValue(); }

// A float pointer `count` elements long at byte offset `off`, bounds-checked against the heap.
inline float* at(const Napi::CallbackInfo& info, const Heap& h, long off, long count) {
  if (off < 0 || (off & 3) != 0 || (size_t)off + (size_t)count * 4 > h.len)
    throw Napi::RangeError::New(info.Env(), "tensor at byte offset " + std::to_string(off) + " with " +
                                                std::to_string(count) + " floats lies outside the wasm heap (" +
                                                std::to_string(h.len) + " bytes)");
  return reinterpret_cast<float*>(h.base + off);
}

inline std::vector<long> longArray(const Napi::CallbackInfo& info, int i) {
  auto arr = info[i].As<Napi::Array>();
  std::vector<long> v(arr.Length());
  for (uint32_t j = 0; j < arr.Length(); j++) v[j] = (long)arr.Get(j).As<Napi::Number>().Int64Value();
  return v;
}

// Chunks smaller than this many multiply-adds are not worth waking a second thread for.
constexpr long kMinWork = 1 << 17;

// Sum per-thread partial results: each chunk of [0, n) accumulates into its own buffer, then they are added.
template <typename F>
void reduceChunks(long n, long grain, long size, float* out, F body) {
  Pool& pool = Pool::get();
  const int parts = (int)std::max(1L, std::min<long>(pool.threads(), n / std::max(1L, grain)));
  std::vector<std::vector<float>> partial(parts - 1, std::vector<float>(size, 0.0f));
  std::memset(out, 0, sizeof(float) * size);
  pool.run(parts, 1, [&](long p0, long p1) {
    for (long p = p0; p < p1; p++) body(n * p / parts, n * (p + 1) / parts, p == 0 ? out : partial[p - 1].data());
  });
  for (auto& v : partial)
    for (long i = 0; i < size; i++) out[i] += v[i];
}

}  // namespace lv
