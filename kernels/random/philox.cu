// CUDA launcher of Philox4x32-10 blocks: the CPU's philox.h, one thread per block, keyed
// exactly as PhiloxStream (kernels/random/philox.h).
#include "../common/cuda_util.cuh"
#include "philox.h"

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

}  // namespace

Status philox_blocks(uint64_t seed, uint64_t stream, uint64_t first_block, int64_t blocks, uint32_t* out) {
  if (blocks <= 0) return Status{};
  DeviceBuffer<uint32_t> d_out;
  SBI_CUDA_TRY(d_out.allocate(static_cast<size_t>(4 * blocks), "out"));
  philox_blocks_kernel<<<grid_blocks(blocks), kThreadsPerBlock>>>(seed, stream, first_block, blocks, d_out.get());
  SBI_CUDA_TRY(finish_launch("philox_blocks_kernel"));
  return d_out.download(out);
}

}  // namespace cuda
}  // namespace sbi
