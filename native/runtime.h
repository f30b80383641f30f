// Process-wide runtime: the thread pool and the CPU instruction-set dispatch.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "../kernels/common/simd_width.h"

namespace sbi_native {

// Instruction-set paths a kernel is compiled for. Results are bit-identical across paths:
// kernels use no FMA contraction and no reassociation (-ffp-contract=off, no fast-math).
enum class Isa : int { Scalar = 0, Avx2 = 1, Avx512 = 2 };
const char* IsaName(Isa isa);
Isa DetectedIsa();            // best path this CPU supports
Isa ActiveIsa();              // path in use (detected unless overridden)
bool SetActiveIsa(Isa isa);   // false if the CPU lacks it

// A fixed set of worker threads plus the calling thread (participant 0; worker i is participant
// i + 1). ParallelFor splits [0, n) into chunks of `grain`; participant i owns the i-th of
// `participants` equal runs of consecutive chunks and claims its own chunks first, then steals
// what is left of the others' runs. So a caller that keeps per-chunk state (a workspace, a
// saved activation) finds chunk k on the same core call after call unless a thread fell behind
// (affinity: a MAF training chunk's activations are ~200 KB), and a late or descheduled
// thread still leaves no chunk waiting for it. Which thread ran a chunk never changes a result:
// callers combine chunk results in chunk order.
// Hand-offs spin for up to 50 us (runtime.cc kSpinMicros; yielding the core every ~2 us) before
// sleeping on a condition variable (a futex wake on a VM takes tens of microseconds, as long as
// the serial step between a trainer's batches), only while the pool has no more threads than
// the machine has hardware threads. The caller waits only for the workers that joined the job
// before every chunk was claimed: a worker that wakes later (descheduled on a loaded machine)
// holds no one up.
// One ParallelFor runs at a time.
class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  int threads() const { return static_cast<int>(workers_.size()) + 1; }
  void ParallelFor(int64_t n, int64_t grain, int threads, const std::function<void(int64_t, int64_t)>& fn);

 private:
  struct alignas(64) Run {  // one participant's chunks [next, end), claimed by fetch_add
    std::atomic<int64_t> next{0};
    int64_t end = 0;
  };
  void WorkerLoop(int id);
  void Drain(int participant);
  std::vector<std::thread> workers_;
  std::unique_ptr<Run[]> runs_;
  bool spin_;
  std::mutex run_mutex_;
  std::mutex m_;
  std::condition_variable wake_cv_, done_cv_;
  std::atomic<uint64_t> generation_{0};
  bool stop_ = false;
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t n_ = 0, grain_ = 1;
  int participants_ = 0;
  std::atomic<int> working_{0};
};

int HardwareThreads();
int DefaultThreads();
void SetDefaultThreads(int threads);
// Runs fn over [0, n) with `threads` participants (<= 0: the default).
void ParallelFor(int64_t n, int64_t grain, int threads, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace sbi_native

// Defines NAME_scalar / NAME_avx2 / NAME_avx512 wrappers around an inline range body
// `BODY(const ARGS&, int64_t begin, int64_t end)`; `flatten` inlines the body (and what it
// calls) into each wrapper so the compiler can vectorise it for that instruction set; the
// wrapper also records its vector width (kernels/common/simd_width.h) for kernels that use it.
#define SBI_MULTIVERSION(NAME, ARGS, BODY)                                                        \
  __attribute__((flatten)) static void NAME##_scalar(const ARGS& a, int64_t b, int64_t e) {      \
    BODY(a, b, e);                                                                                \
  }                                                                                               \
  __attribute__((flatten, target("avx2"))) static void NAME##_avx2(const ARGS& a, int64_t b,     \
                                                                   int64_t e) {                   \
    const ::sbi::ScopedSimdWidth simd_width(32);                                                  \
    BODY(a, b, e);                                                                                \
  }                                                                                               \
  __attribute__((flatten, target("avx512f,avx512dq,avx512bw,avx512vl"))) static void             \
      NAME##_avx512(const ARGS& a, int64_t b, int64_t e) {                                        \
    const ::sbi::ScopedSimdWidth simd_width(64);                                                  \
    BODY(a, b, e);                                                                                \
  }
#define SBI_MULTIVERSION_TABLE(NAME) \
  { NAME##_scalar, NAME##_avx2, NAME##_avx512 }
