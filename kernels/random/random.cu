// CUDA launchers of the Philox blocks and the uniform / normal samplers. The bodies are the CPU's
// (philox.h, samplers.h); one thread per block or sample, keyed exactly as the CPU batches.
#include "../common/cuda_util.cuh"
#include "samplers.h"

namespace sbi {
namespace cuda {
namespace {

__global__ void philox_blocks_kernel(uint64_t seed, uint64_t stream, uint64_t first_block, int64_t blocks,
                                     uint32_t* out) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < blocks; i += step) {
    PhiloxStream r(seed, stream, first_block + static_cast<uint64_t>(i));  // the block index wraps mod 2^64
    for (int k = 0; k < 4; ++k) out[4 * i + k] = r.next_u32();
  }
}

__global__ void sample_kernel(Sampler sampler, double p0, double p1, int64_t n, uint64_t seed, uint64_t stream_offset,
                              double* out) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    PhiloxStream r(seed, stream_offset + static_cast<uint64_t>(i));
    out[i] = sampler == Sampler::Uniform ? sample_uniform(r, p0, p1) : sample_normal(r, p0, p1);
  }
}

}  // namespace

Status philox_blocks(uint64_t seed, uint64_t stream, uint64_t first_block, int64_t blocks, uint32_t* out) {
  if (blocks <= 0) return Status{};
  DeviceBuffer<uint32_t> d_out;
  SBI_CUDA_TRY(d_out.allocate(static_cast<size_t>(4 * blocks), "out"));
  philox_blocks_kernel<<<grid_blocks(blocks), kThreadsPerBlock>>>(seed, stream, first_block, blocks, d_out.get());
  SBI_CUDA_TRY(finish_launch("philox_blocks_kernel"));
  return d_out.download(out);
}

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
