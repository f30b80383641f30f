// Device discovery for the CUDA addon. The runtime is linked statically, so on a machine without
// a driver this is where the absence shows: cudaGetDeviceCount returns an error, not a crash.
#include "cuda_util.cuh"

namespace sbi {
namespace cuda {

bool is_no_device(int code) {
  const cudaError_t e = static_cast<cudaError_t>(code);
  return e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver || e == cudaErrorSystemDriverMismatch ||
         e == cudaErrorCompatNotSupportedOnDevice || e == cudaErrorDevicesUnavailable;
}

Status device_count(int* count) {
  *count = 0;
  const cudaError_t e = cudaGetDeviceCount(count);
  if (e != cudaSuccess) {
    *count = 0;
    cudaGetLastError();  // clear the sticky-free error so that later calls report their own
    return status_of(e, "cudaGetDeviceCount");
  }
  return Status{};
}

Status device_description(std::string* description) {
  int device = 0;
  SBI_CUDA_CALL(cudaGetDevice(&device));
  cudaDeviceProp prop;
  SBI_CUDA_CALL(cudaGetDeviceProperties(&prop, device));
  *description = std::string(prop.name) + ", sm_" + std::to_string(prop.major) + std::to_string(prop.minor);
  return Status{};
}

}  // namespace cuda
}  // namespace sbi
