// The vector width (bytes) the running code path may use. Kernels compiled once per
// instruction set (native/runtime.h's SBI_MULTIVERSION) run their body inside a wrapper with
// the target's attributes; the wrapper records its width here for its thread, so a kernel can
// pick vector types as wide as the registers it was compiled for (16: SSE2 / baseline, 32: AVX2,
// 64: AVX-512). Outside any wrapper the width is the baseline's. Host only; device code ignores it.
#pragma once
#include "portable.h"

namespace sbi {

#if !defined(__CUDA_ARCH__)
inline int& simd_vector_bytes_slot() {
  static thread_local int bytes = 16;
  return bytes;
}
#endif

SBI_HD int simd_vector_bytes() {
#if defined(__CUDA_ARCH__)
  return 16;
#else
  return simd_vector_bytes_slot();
#endif
}

#if !defined(__CUDA_ARCH__)
// Sets the width for the current scope (an instruction-set wrapper) and restores it after.
class ScopedSimdWidth {
 public:
  explicit ScopedSimdWidth(int bytes) : saved_(simd_vector_bytes_slot()) { simd_vector_bytes_slot() = bytes; }
  ~ScopedSimdWidth() { simd_vector_bytes_slot() = saved_; }
  ScopedSimdWidth(const ScopedSimdWidth&) = delete;
  ScopedSimdWidth& operator=(const ScopedSimdWidth&) = delete;

 private:
  int saved_;
};
#endif

}  // namespace sbi
