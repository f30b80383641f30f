// CUDA launcher of the uniform and normal samplers: the CPU's samplers.h, one thread per sample,
// sample i drawing from PhiloxStream(seed, stream_offset + i) as native/random.cc does.
#include "../common/cuda_util.cuh"
#include "samplers.h"

namespace sbi {
namespace cuda {
namespace {

__global__ void sample_kernel(Sampler sampler, double p0, double p1, int64_t n, uint64_t seed, uint64_t stream_offset,
                              double* out) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    PhiloxStream r(seed, stream_offset + static_cast<uint64_t>(i));
    out[i] = sampler == Sampler::Uniform ? sample_uniform(r, p0, p1) : sample_normal(r, p0, p1);
  }
}

}  // namespace

Status sample(Sampler sampler, double p0, double p1, int64_t n, uint64_t seed, uint64_t stream_offset, double* out) {
  if (n <= 0) return Status{};
  DeviceBuffer<double> d_out;
  SBI_CUDA_TRY(d_out.allocate(static_cast<size_t>(n), "out"));
  sample_kernel<<<grid_blocks(n), kThreadsPerBlock>>>(sampler, p0, p1, n, seed, stream_offset, d_out.get());
  SBI_CUDA_TRY(finish_launch("sample_kernel"));
  return d_out.download(out);
}

}  // namespace cuda
}  // namespace sbi
