// Device kernels of the dense layer (dense.h), shared by the launchers dense.cu and mlp.cu. One
// thread per output element, grid-stride; each element is the single running sum dense.h's gemm
// computes (terms added in the same order, from 0), and the launchers are compiled without fused
// multiply-adds, so float and double results equal the CPU's. Not tiled through shared memory:
// a first, correct version.
#pragma once
#include "dense.h"

namespace sbi {
namespace cuda {

// Y = act(X · Wᵀ + b), pre = Z when non-null (dense_forward).
template <class T>
__global__ void dense_forward_kernel(nn::Activation act, int64_t n, int64_t in_dim, int64_t out_dim, const T* x,
                                     const T* w, const T* b, T* y, T* pre) {
  const int64_t total = n * out_dim;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; k < total; k += step) {
    const int64_t r = k / out_dim, o = k % out_dim;
    const T z = nn::dense_preactivation(in_dim, x + r * in_dim, w + o * in_dim, b[o]);
    if (pre != nullptr) pre[k] = z;
    y[k] = nn::activate(act, z);
  }
}

// dZ = dY ⊙ act'(Z, Y) over [n, out] (activation_backward_row; the identity's derivative is 1, so
// dZ = dY exactly). pre is read only for SiLU, y only for ReLU / tanh / ELU.
template <class T>
__global__ void dense_dz_kernel(nn::Activation act, int64_t total, const T* pre, const T* y, const T* dy, T* dz) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; k < total; k += step) {
    const T z = act == nn::Activation::SiLU ? pre[k] : T(0);
    const T yk = act == nn::Activation::ReLU || act == nn::Activation::Tanh || act == nn::Activation::ELU ? y[k] : T(0);
    dz[k] = dy[k] * nn::activation_derivative(act, z, yk);
  }
}

// dW[o, i] = Σ_r dZ[r, o] X[r, i] and db[o] = Σ_r dZ[r, o] (column i = in_dim), r = 0 .. n − 1 in
// order from 0, as dense_backward's row blocks accumulate them.
template <class T>
__global__ void dense_dw_kernel(int64_t n, int64_t in_dim, int64_t out_dim, const T* x, const T* dz, T* dw, T* db) {
  const int64_t total = out_dim * (in_dim + 1);
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; k < total; k += step) {
    const int64_t o = k / (in_dim + 1), i = k % (in_dim + 1);
    T acc = T(0);
    if (i < in_dim) {
      for (int64_t r = 0; r < n; ++r) acc += dz[r * out_dim + o] * x[r * in_dim + i];
      dw[o * in_dim + i] = acc;
    } else {
      for (int64_t r = 0; r < n; ++r) acc += dz[r * out_dim + o];
      db[o] = acc;
    }
  }
}

// dX[r, i] = Σ_o dZ[r, o] W[o, i], o = 0 .. out − 1 in order from 0 (dense_backward's output blocks).
template <class T>
__global__ void dense_dx_kernel(int64_t n, int64_t in_dim, int64_t out_dim, const T* w, const T* dz, T* dx) {
  const int64_t total = n * in_dim;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; k < total; k += step) {
    const int64_t r = k / in_dim, i = k % in_dim;
    T acc = T(0);
    for (int64_t o = 0; o < out_dim; ++o) acc += dz[r * out_dim + o] * w[o * in_dim + i];
    dx[k] = acc;
  }
}

}  // namespace cuda
}  // namespace sbi
