// A tiny fork-join pool: the JS thread runs chunk 0, workers run the rest. Workers spin briefly after a job
// (kernels arrive back to back during a training step) and then sleep on a condition variable.
#pragma once
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace lv {

// A spin-wait hint: lets a hyper-threaded sibling (often the other "core" of a small VM) run while this one waits.
inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

class Pool {
 public:
  static Pool& get() {
    static Pool pool;
    return pool;
  }

  int threads() const { return nthreads_; }

  void setThreads(int n) {
    n = std::max(1, std::min(n, 64));
    if (n == nthreads_) return;
    stop();
    nthreads_ = n;
    start();
  }

  // Split [0, n) into at most threads() contiguous chunks and run fn(begin, end) on each; returns when all finish.
  // `grain` is the smallest chunk worth a thread.
  void run(long n, long grain, const std::function<void(long, long)>& fn) {
    int parts = (int)std::min<long>(nthreads_, grain > 0 ? n / grain : n);
    if (parts <= 1 || nthreads_ <= 1) {
      if (n > 0) fn(0, n);
      return;
    }
    fn_ = &fn;
    n_ = n;
    parts_ = parts;
    pending_.store(parts - 1, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lk(mu_);
      gen_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    chunk(0);
    for (int spins = 0; pending_.load(std::memory_order_acquire) != 0;)
      if (++spins > 4096)
        std::this_thread::yield();
      else
        cpuRelax();
  }

  ~Pool() { stop(); }

 private:
  Pool() {
    unsigned hw = std::thread::hardware_concurrency();
    nthreads_ = hw == 0 ? 1 : (int)std::min(hw, 8u);
    start();
  }

  void chunk(int i) {
    long b = n_ * i / parts_, e = n_ * (i + 1) / parts_;
    if (e > b) (*fn_)(b, e);
  }

  void start() {
    quit_ = false;
    // each worker starts from the generation current at its creation, not whatever it reads once scheduled: a
    // stop() (or run()) between creation and the first read would otherwise go unseen and deadlock the join
    const unsigned long g = gen_.load(std::memory_order_acquire);
    for (int i = 1; i < nthreads_; i++) workers_.emplace_back([this, i, g] { loop(i, g); });
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      quit_ = true;
      gen_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  void loop(int idx, unsigned long seen) {
    for (;;) {
      auto t0 = std::chrono::steady_clock::now();
      int spins = 0;
      while (gen_.load(std::memory_order_acquire) == seen) {
        cpuRelax();
        if (++spins % 256 == 0 && std::chrono::steady_clock::now() - t0 > std::chrono::microseconds(200)) {
          std::unique_lock<std::mutex> lk(mu_);
          cv_.wait(lk, [&] { return gen_.load(std::memory_order_acquire) != seen; });
        }
      }
      seen = gen_.load(std::memory_order_acquire);
      if (quit_) return;
      if (idx < parts_) {
        chunk(idx);
        pending_.fetch_sub(1, std::memory_order_acq_rel);
      }
    }
  }

  int nthreads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<unsigned long> gen_{0};
  std::atomic<int> pending_{0};
  const std::function<void(long, long)>* fn_ = nullptr;
  long n_ = 0;
  int parts_ = 1;
  bool quit_ = false;
};

}  // namespace lv
