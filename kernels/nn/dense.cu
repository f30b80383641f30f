// CUDA launcher of the dense layer's forward pass (dense.cuh's kernel: one thread per output
// element, each summing in dense_forward's order, so float and double results match the CPU's).
#include "../common/cuda_util.cuh"
#include "dense.cuh"

namespace sbi {
namespace cuda {
namespace {

template <class T>
Status dense_forward_t(int activation, int64_t n, int64_t in_dim, int64_t out_dim, const T* x, const T* w, const T* b,
                       T* y, T* pre) {
  if (n <= 0 || out_dim <= 0) return Status{};
  DeviceBuffer<T> d_x, d_w, d_b, d_y, d_pre;
  SBI_CUDA_TRY(d_x.allocate(static_cast<size_t>(n * in_dim), "x"));
  SBI_CUDA_TRY(d_w.allocate(static_cast<size_t>(out_dim * in_dim), "w"));
  SBI_CUDA_TRY(d_b.allocate(static_cast<size_t>(out_dim), "b"));
  SBI_CUDA_TRY(d_y.allocate(static_cast<size_t>(n * out_dim), "y"));
  if (pre != nullptr) SBI_CUDA_TRY(d_pre.allocate(static_cast<size_t>(n * out_dim), "pre"));
  SBI_CUDA_TRY(d_x.upload(x));
  SBI_CUDA_TRY(d_w.upload(w));
  SBI_CUDA_TRY(d_b.upload(b));
  dense_forward_kernel<T><<<grid_blocks(n * out_dim), kThreadsPerBlock>>>(
      static_cast<nn::Activation>(activation), n, in_dim, out_dim, d_x.get(), d_w.get(), d_b.get(), d_y.get(),
      pre != nullptr ? d_pre.get() : nullptr);
  SBI_CUDA_TRY(finish_launch("dense_forward_kernel"));
  SBI_CUDA_TRY(d_y.download(y));
  if (pre != nullptr) SBI_CUDA_TRY(d_pre.download(pre));
  return Status{};
}

}  // namespace

Status dense_forward(int activation, int64_t n, int64_t in_dim, int64_t out_dim, const float* x, const float* w,
                     const float* b, float* y, float* pre) {
  return dense_forward_t(activation, n, in_dim, out_dim, x, w, b, y, pre);
}
Status dense_forward(int activation, int64_t n, int64_t in_dim, int64_t out_dim, const double* x, const double* w,
                     const double* b, double* y, double* pre) {
  return dense_forward_t(activation, n, in_dim, out_dim, x, w, b, y, pre);
}

}  // namespace cuda
}  // namespace sbi
