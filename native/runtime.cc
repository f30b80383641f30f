#include "runtime.h"

#include <algorithm>
#include <chrono>
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

namespace {

// How long a hand-off spins before sleeping: longer than the serial step between two batches
// of a trainer (the ordered gradient-norm sum: 15 000 dependent double adds for two_moons' MAF,
// some 20 us), short enough that an idle pool soon stops burning a core.
constexpr int kSpinMicros = 50;

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Polls done() for up to `micros` microseconds; true once it holds. Yields every 64 polls
// (~2 us): on a loaded machine a thread waiting for this core (the caller, another process)
// gets it instead of the spin.
template <class Done>
bool SpinUntil(int micros, Done&& done) {
  const auto limit = std::chrono::steady_clock::now() + std::chrono::microseconds(micros);
  for (int i = 1;; ++i) {
    if (done()) return true;
    CpuRelax();
    if (i % 64 == 0) {
      if (std::chrono::steady_clock::now() > limit) return done();
      std::this_thread::yield();
    }
  }
}

}  // namespace

ThreadPool::ThreadPool(int threads)
    : runs_(new Run[std::max(1, threads)]), spin_(std::max(1, threads) <= HardwareThreads()) {
  const int extra = std::max(0, threads - 1);
  for (int i = 0; i < extra; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lk(m_);
    stop_ = true;
    generation_.fetch_add(1);  // ends the spinners' wait too
  }
  wake_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::Drain(int participant) {
  for (int k = 0; k < participants_; ++k) {
    Run& run = runs_[(participant + k) % participants_];
    for (;;) {
      const int64_t c = run.next.fetch_add(1, std::memory_order_relaxed);
      if (c >= run.end) break;
      const int64_t b = c * grain_;
      (*job_)(b, std::min(n_, b + grain_));
    }
  }
}

// The generation is odd while a job is open: the caller opens it (under m_, with a notify) and
// closes it (even) as soon as every chunk is claimed, then waits only for the workers that
// joined (working_). A worker joins by counting itself in and then checking that the job it
// saw is still open (both sequentially consistent, so either the caller sees the worker counted
// or the worker sees the job closed), so a worker that wakes late never holds the caller up.
void ThreadPool::WorkerLoop(int id) {
  uint64_t seen = 0;
  for (;;) {
    if (spin_) SpinUntil(kSpinMicros, [&] { return generation_.load(std::memory_order_acquire) != seen; });
    int participants;
    {
      std::unique_lock<std::mutex> lk(m_);
      wake_cv_.wait(lk, [&] { return stop_ || generation_.load() != seen; });
      if (stop_) return;
      seen = generation_.load();
      participants = participants_;
    }
    if (seen % 2 == 0 || id + 1 >= participants) continue;
    working_.fetch_add(1);
    if (generation_.load() == seen) Drain(id + 1);
    std::lock_guard<std::mutex> lk(m_);
    if (working_.fetch_sub(1) == 1) done_cv_.notify_all();
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
    n_ = n;
    grain_ = grain;
    participants_ = helpers + 1;
    for (int i = 0; i < participants_; ++i) {
      runs_[i].next.store(chunks * i / participants_, std::memory_order_relaxed);
      runs_[i].end = chunks * (i + 1) / participants_;
    }
    generation_.fetch_add(1);  // odd: open
  }
  wake_cv_.notify_all();
  Drain(0);
  generation_.fetch_add(1);  // even: closed, every chunk is claimed
  if (spin_) SpinUntil(kSpinMicros, [&] { return working_.load(std::memory_order_acquire) == 0; });
  std::unique_lock<std::mutex> lk(m_);
  done_cv_.wait(lk, [&] { return working_.load() == 0; });
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
