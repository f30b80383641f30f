// Flush-to-zero for the lifetime of a scope, on the calling thread only.
#pragma once

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#endif

namespace sbi_native {

// Sets FTZ (denormal results become 0) and DAZ (denormal inputs read as 0) in this thread's
// MXCSR and restores the previous mode on exit, so pool threads return to IEEE behaviour for
// the next job. Denormal operands take microcode assists that cost ~100 cycles each on x86; a
// long training run whose tiny gradients and Adam moments drift into that range slows down
// several-fold. It changes a result only where a value below 1.2e-38 would have survived.
// A no-op on other architectures.
class ScopedFlushDenormals {
 public:
#if defined(__SSE__) || defined(__x86_64__)
  ScopedFlushDenormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | kFtz | kDaz); }
  ~ScopedFlushDenormals() { _mm_setcsr(saved_); }
#else
  ScopedFlushDenormals() {}
#endif
  ScopedFlushDenormals(const ScopedFlushDenormals&) = delete;
  ScopedFlushDenormals& operator=(const ScopedFlushDenormals&) = delete;

 private:
#if defined(__SSE__) || defined(__x86_64__)
  static constexpr unsigned kFtz = 0x8000, kDaz = 0x0040;
  unsigned saved_;
#endif
};

}  // namespace sbi_native
