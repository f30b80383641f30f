// Errors of the CUDA addon: a launcher's Status becomes an SbiError, and every op first checks
// that a device exists (after its arguments, so that argument errors read the same everywhere).
#pragma once
#include <napi.h>

#include "../../kernels/common/cuda_launch.h"
#include "../napi_util.h"

namespace sbi_native {

// SbiError NO_CUDA_DEVICE ("no CUDA device: ...") or CUDA_ERROR, with CUDA's own text.
[[noreturn]] inline void ThrowCudaStatus(Napi::Env env, const sbi::cuda::Status& s) {
  if (sbi::cuda::is_no_device(s.code)) ThrowSbiError(env, "NO_CUDA_DEVICE", "no CUDA device: " + s.message);
  ThrowSbiError(env, "CUDA_ERROR", "CUDA error: " + s.message);
}

inline void CheckCuda(Napi::Env env, const sbi::cuda::Status& s) {
  if (!s.ok()) ThrowCudaStatus(env, s);
}

// Throws NO_CUDA_DEVICE unless at least one device is usable.
inline void RequireDevice(Napi::Env env) {
  int count = 0;
  CheckCuda(env, sbi::cuda::device_count(&count));
  if (count < 1) ThrowSbiError(env, "NO_CUDA_DEVICE", "no CUDA device: cudaGetDeviceCount found none");
}

}  // namespace sbi_native
