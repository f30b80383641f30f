// Host-side helpers shared by the CUDA launchers: Status from cudaError_t, device buffers that
// are freed on every path, and the grid of a grid-stride loop.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <string>

#include "cuda_launch.h"

namespace sbi {
namespace cuda {

inline Status status_of(cudaError_t e, const char* what) {
  Status s;
  if (e != cudaSuccess) {
    s.code = static_cast<int>(e);
    s.message = std::string(what) + ": " + cudaGetErrorString(e) + " (" + cudaGetErrorName(e) + ")";
  }
  return s;
}

// The Status of an argument a launcher rejects before any CUDA call (cudaErrorInvalidValue).
inline Status invalid_value(const char* message) {
  Status s;
  s.code = static_cast<int>(cudaErrorInvalidValue);
  s.message = message;
  return s;
}

#define SBI_CUDA_TRY(expr)                 \
  do {                                     \
    ::sbi::cuda::Status s_ = (expr);       \
    if (!s_.ok()) return s_;               \
  } while (0)
#define SBI_CUDA_STR2(x) #x
#define SBI_CUDA_STR(x) SBI_CUDA_STR2(x)
// The error names the file, line and call.
#define SBI_CUDA_CALL(call) SBI_CUDA_TRY(::sbi::cuda::status_of((call), __FILE__ ":" SBI_CUDA_STR(__LINE__) ": " #call))

// A device array of `count` T, freed by the destructor.
template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    if (ptr_ != nullptr) cudaFree(ptr_);
  }
  Status allocate(size_t count, const char* name) {
    bytes_ = count * sizeof(T);
    Status s = status_of(cudaMalloc(reinterpret_cast<void**>(&ptr_), bytes_ > 0 ? bytes_ : 1), "cudaMalloc");
    if (!s.ok()) s.message += std::string(" for `") + name + "` (" + std::to_string(bytes_) + " bytes)";
    return s;
  }
  Status upload(const T* host) { return status_of(cudaMemcpy(ptr_, host, bytes_, cudaMemcpyHostToDevice), "cudaMemcpy to device"); }
  Status download(T* host) const { return status_of(cudaMemcpy(host, ptr_, bytes_, cudaMemcpyDeviceToHost), "cudaMemcpy to host"); }
  T* get() const { return ptr_; }

 private:
  T* ptr_ = nullptr;
  size_t bytes_ = 0;
};

constexpr int kThreadsPerBlock = 256;

// Blocks for a grid-stride loop over n items (at most 2^20 blocks; each thread loops).
inline unsigned grid_blocks(int64_t n) {
  const int64_t b = (n + kThreadsPerBlock - 1) / kThreadsPerBlock;
  return static_cast<unsigned>(b < 1 ? 1 : (b > (int64_t(1) << 20) ? (int64_t(1) << 20) : b));
}

// After a launch: the launch's own error, then the kernel's (synchronously).
inline Status finish_launch(const char* kernel) {
  Status s = status_of(cudaGetLastError(), kernel);
  if (!s.ok()) return s;
  return status_of(cudaDeviceSynchronize(), kernel);
}

}  // namespace cuda
}  // namespace sbi
