#include "runtime.h"

#include <algorithm>
#include <memory>

namespace sbi_native {

const char* IsaName(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    default: return "scalar";
  }
}

Isa DetectedIsa() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
    return Isa::Avx512;
  if (__builtin_cpu_supports("avx2")) return Isa::Avx2;
#endif
  return Isa::Scalar;
}

static std::atomic<int> g_active_isa{-1};

Isa ActiveIsa() {
  int v = g_active_isa.load();
  if (v < 0) {
    v = static_cast<int>(DetectedIsa());
    g_active_isa.store(v);
  }
  return static_cast<Isa>(v);
}

bool SetActiveIsa(Isa isa) {
  if (static_cast<int>(isa) > static_cast<int>(DetectedIsa())) return false;
  g_active_isa.store(static_cast<int>(isa));
  return true;
}

ThreadPool::ThreadPool(int threads) {
  const int extra = std::max(0, threads - 1);
  for (int i = 0; i < extra; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lk(m_);
    stop_ = true;
  }
  wake_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::Drain() {
  for (;;) {
    const int64_t b = next_.fetch_add(grain_);
    if (b >= n_) return;
    (*job_)(b, std::min(n_, b + grain_));
  }
}

void ThreadPool::WorkerLoop(int id) {
  uint64_t seen = 0;
  for (;;) {
    std::unique_lock<std::mutex> lk(m_);
    wake_cv_.wait(lk, [&] { return stop_ || generation_ != seen; });
    if (stop_) return;
    seen = generation_;
    if (id >= wanted_) continue;
    lk.unlock();
    Drain();
    lk.lock();
    if (--working_ == 0) done_cv_.notify_all();
  }
}

void ThreadPool::ParallelFor(int64_t n, int64_t grain, int threads,
                             const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  std::lock_guard<std::mutex> run(run_mutex_);
  const int64_t chunks = (n + grain - 1) / grain;
  const int helpers = static_cast<int>(
      std::min<int64_t>(std::min<int64_t>(threads - 1, static_cast<int64_t>(workers_.size())), chunks - 1));
  if (helpers <= 0) {
    for (int64_t b = 0; b < n; b += grain) fn(b, std::min(n, b + grain));
    return;
  }
  {
    std::lock_guard<std::mutex> lk(m_);
    job_ = &fn;
    next_.store(0);
    n_ = n;
    grain_ = grain;
    wanted_ = helpers;
    working_ = helpers;
    ++generation_;
  }
  wake_cv_.notify_all();
  Drain();
  std::unique_lock<std::mutex> lk(m_);
  done_cv_.wait(lk, [&] { return working_ == 0; });
  job_ = nullptr;
}

int HardwareThreads() { return std::max(1u, std::thread::hardware_concurrency()); }

static std::mutex g_pool_mutex;
static std::shared_ptr<ThreadPool> g_pool;
static int g_default_threads = 0;

int DefaultThreads() {
  std::lock_guard<std::mutex> lk(g_pool_mutex);
  return g_default_threads > 0 ? g_default_threads : HardwareThreads();
}

void SetDefaultThreads(int threads) {
  std::lock_guard<std::mutex> lk(g_pool_mutex);
  g_default_threads = threads;
}

void ParallelFor(int64_t n, int64_t grain, int threads, const std::function<void(int64_t, int64_t)>& fn) {
  std::shared_ptr<ThreadPool> pool;  // keeps a replaced pool alive until this call ends
  {
    std::lock_guard<std::mutex> lk(g_pool_mutex);
    if (threads <= 0) threads = g_default_threads > 0 ? g_default_threads : HardwareThreads();
    // The pool only grows; a caller still running on the old one keeps it alive.
    if (!g_pool || g_pool->threads() < threads) g_pool = std::make_shared<ThreadPool>(threads);
    pool = g_pool;
  }
  pool->ParallelFor(n, grain, threads, fn);
}

}  // namespace sbi_native
