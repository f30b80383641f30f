// CUDA launchers of the uniform and normal samplers (the CPU's samplers.h):
//   sample       one thread per sample, sample i drawing from PhiloxStream(seed, stream_offset + i)
//                as native/random.cc does;
//   sampler_fill n draws of ONE stream from its start, as sample_uniform_fill /
//                sample_std_normal_fill (and kernels/random/sampler_fill.wgsl): each thread starts
//                its own PhiloxStream at the first block of its group and makes the CPU's
//                sequential draws, which the fills equal by construction (native/sampler_fill.cc
//                tests that). Uniform: block b holds uniforms 2b, 2b + 1. Normal: a pair takes
//                three words, so blocks 3j .. 3j + 2 hold pairs 4j .. 4j + 3 (normals 8j .. 8j + 7).
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

__global__ void uniform_fill_kernel(uint64_t seed, uint64_t stream, int64_t n, double* out) {
  const int64_t groups = (n + 1) / 2;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t b = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; b < groups; b += step) {
    PhiloxStream r(seed, stream, static_cast<uint64_t>(b));
    out[2 * b] = r.uniform();
    if (2 * b + 1 < n) out[2 * b + 1] = r.uniform();
  }
}

// n is even (whole pairs).
__global__ void normal_fill_kernel(uint64_t seed, uint64_t stream, int64_t n, double* out) {
  const int64_t pairs = n / 2, groups = (pairs + 3) / 4;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; j < groups; j += step) {
    PhiloxStream r(seed, stream, 3 * static_cast<uint64_t>(j));
    for (int64_t p = 4 * j; p < 4 * j + 4 && p < pairs; ++p) sample_std_normal_pair(r, &out[2 * p], &out[2 * p + 1]);
  }
}

}  // namespace

Status sampler_fill(Sampler sampler, uint64_t seed, uint64_t stream, int64_t n, double* out) {
  if (n <= 0) return Status{};
  if (sampler == Sampler::Normal && n % 2 != 0) {
    Status s;
    s.code = static_cast<int>(cudaErrorInvalidValue);
    s.message = "sampler_fill: an odd count of normals (" + std::to_string(n) + ")";
    return s;
  }
  DeviceBuffer<double> d_out;
  SBI_CUDA_TRY(d_out.allocate(static_cast<size_t>(n), "out"));
  if (sampler == Sampler::Uniform) {
    uniform_fill_kernel<<<grid_blocks((n + 1) / 2), kThreadsPerBlock>>>(seed, stream, n, d_out.get());
    SBI_CUDA_TRY(finish_launch("uniform_fill_kernel"));
  } else {
    normal_fill_kernel<<<grid_blocks((n / 2 + 3) / 4), kThreadsPerBlock>>>(seed, stream, n, d_out.get());
    SBI_CUDA_TRY(finish_launch("normal_fill_kernel"));
  }
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
