// The MLP's device walks, shared by the CUDA launchers that train or run an MLP (mlp.cu's MLP ops,
// mdn.cu's MDN training steps): mlp.h's mlp_forward / mlp_backward layer walks (same saved-buffer
// and parameter layout) with each dense layer as dense.cuh's one-thread-per-output kernels, whose
// sums run in the CPU's order, and adam.h's adam_step one parameter per thread (AdamMoments: the moments and the step).
#pragma once
#include "../common/cuda_util.cuh"
#include "adam.h"
#include "dense.cuh"
#include "mlp.h"

namespace sbi {
namespace cuda {

// mlp_forward's walk on device pointers: saved gets Y_0 .. Y_{L-1}, then (SiLU) the hidden Z.
inline Status mlp_forward_device(nn::Activation act, int layers, const int64_t* sizes, int64_t n, const float* x,
                                 const float* params, float* saved) {
  const bool keep_pre = nn::activation_needs_preactivation(act);
  float* pre = saved;
  for (int l = 0; l < layers; ++l) pre += n * sizes[l + 1];
  const float* in = x;
  const float* w = params;
  float* y = saved;
  for (int l = 0; l < layers; ++l) {
    const int64_t fan_in = sizes[l], fan_out = sizes[l + 1];
    const bool hidden = l + 1 < layers;
    dense_forward_kernel<float><<<grid_blocks(n * fan_out), kThreadsPerBlock>>>(
        hidden ? act : nn::Activation::Identity, n, fan_in, fan_out, in, w, w + fan_out * fan_in, y,
        hidden && keep_pre ? pre : nullptr);
    SBI_CUDA_TRY(finish_launch("dense_forward_kernel"));
    if (hidden && keep_pre) pre += n * fan_out;
    in = y;
    y += n * fan_out;
    w += fan_out * (fan_in + 1);
  }
  return Status{};
}

// mlp_backward's walk: grads (params' layout) from dout; dz [n, max width] and dx[2] [n, max width]
// are scratch.
inline Status mlp_backward_device(nn::Activation act, int layers, const int64_t* sizes, int64_t n, const float* x,
                                  const float* params, const float* saved, const float* dout, float* grads, float* dz,
                                  float* const dx[2]) {
  const bool keep_pre = nn::activation_needs_preactivation(act);
  int64_t y_off = 0, p_off = 0, pre_off = 0;
  for (int l = 0; l < layers; ++l) {
    y_off += n * sizes[l + 1];
    p_off += sizes[l + 1] * (sizes[l] + 1);
  }
  for (int l = 0; l + 1 < layers; ++l) pre_off += n * sizes[l + 1];
  const float* saved_pre = saved + y_off;
  const float* dy = dout;
  for (int l = layers - 1; l >= 0; --l) {
    const int64_t fan_in = sizes[l], fan_out = sizes[l + 1];
    const bool hidden = l + 1 < layers;
    y_off -= n * fan_out;
    p_off -= fan_out * (fan_in + 1);
    if (hidden) pre_off -= n * fan_out;
    const float* in = l > 0 ? saved + y_off - n * fan_in : x;
    dense_dz_kernel<float><<<grid_blocks(n * fan_out), kThreadsPerBlock>>>(
        hidden ? act : nn::Activation::Identity, n * fan_out, hidden && keep_pre ? saved_pre + pre_off : nullptr,
        saved + y_off, dy, dz);
    SBI_CUDA_TRY(finish_launch("dense_dz_kernel"));
    dense_dw_kernel<float><<<grid_blocks(fan_out * (fan_in + 1)), kThreadsPerBlock>>>(
        n, fan_in, fan_out, in, dz, grads + p_off, grads + p_off + fan_out * fan_in);
    SBI_CUDA_TRY(finish_launch("dense_dw_kernel"));
    if (l > 0) {  // the input layer needs no input gradient
      dense_dx_kernel<float><<<grid_blocks(n * fan_in), kThreadsPerBlock>>>(n, fan_in, fan_out, params + p_off, dz,
                                                                             dx[l & 1]);
      SBI_CUDA_TRY(finish_launch("dense_dx_kernel"));
      dy = dx[l & 1];
    }
  }
  return Status{};
}

// adam_step on one parameter per thread (its update reads only that parameter's θ, g, m, v).
template <class T>
__global__ void adam_kernel(nn::AdamConfig c, int64_t step, int64_t p, T* theta, const T* grad, T* m, T* v) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < p; i += stride)
    nn::adam_step(c, step, 1, theta + i, grad + i, m + i, v + i);
}

// Adam's moments m and v of p float parameters on the device (both start at 0) and its step,
// adam_kernel over them: the optimizer state of the CUDA training loops (mlp.cu, mdn.cu, resnet.cu).
class AdamMoments {
 public:
  Status allocate(int64_t p) {
    p_ = p;
    SBI_CUDA_TRY(m_.allocate(static_cast<size_t>(p), "m"));
    SBI_CUDA_TRY(v_.allocate(static_cast<size_t>(p), "v"));
    SBI_CUDA_CALL(cudaMemset(m_.get(), 0, static_cast<size_t>(p) * sizeof(float)));
    SBI_CUDA_CALL(cudaMemset(v_.get(), 0, static_cast<size_t>(p) * sizeof(float)));
    return Status{};
  }

  // Step t (from 1) of Adam on params from grads (both [p] on the device).
  Status step(const nn::AdamConfig& c, int64_t t, float* params, const float* grads) {
    adam_kernel<float><<<grid_blocks(p_), kThreadsPerBlock>>>(c, t, p_, params, grads, m_.get(), v_.get());
    return finish_launch("adam_kernel");
  }

 private:
  DeviceBuffer<float> m_, v_;
  int64_t p_ = 0;
};

}  // namespace cuda
}  // namespace sbi
