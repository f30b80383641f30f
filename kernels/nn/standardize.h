// Z-scoring of inputs with statistics of the training data (sbi's standardizing_net):
//   mean_j = Σ_n X[n, j] / N,  std_j = max(sqrt(Σ_n (X[n, j] - mean_j)² / (N - 1)), min_std)
//   forward : Z = (X - mean) / std      backward: dX = dZ / std   (a fixed affine map)
// X, Z [N, D]; mean, std [D]. N = 1 has no spread: std = min_std. The floor keeps constant
// features (std 0) finite; sbi uses min_std = 1e-14.
#pragma once
#include "../common/portable.h"

namespace sbi {
namespace nn {

// Two passes (mean, then centred squares): no cancellation for data far from the origin.
template <class T>
SBI_HD void standardize_fit(int64_t n, int64_t dim, const T* x, T min_std, T* mean, T* std_out) {
  for (int64_t j = 0; j < dim; ++j) mean[j] = T(0);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t j = 0; j < dim; ++j) mean[j] += x[r * dim + j];
  for (int64_t j = 0; j < dim; ++j) mean[j] /= T(n);
  for (int64_t j = 0; j < dim; ++j) std_out[j] = T(0);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t j = 0; j < dim; ++j) {
      const T d = x[r * dim + j] - mean[j];
      std_out[j] += d * d;
    }
  for (int64_t j = 0; j < dim; ++j) {
    const T s = n > 1 ? std::sqrt(std_out[j] / T(n - 1)) : T(0);
    std_out[j] = s > min_std ? s : min_std;
  }
}

template <class T>
SBI_HD void standardize_forward(int64_t n, int64_t dim, const T* mean, const T* std_dev, const T* x, T* z) {
  for (int64_t r = 0; r < n; ++r)
    for (int64_t j = 0; j < dim; ++j) z[r * dim + j] = (x[r * dim + j] - mean[j]) / std_dev[j];
}

template <class T>
SBI_HD void standardize_backward(int64_t n, int64_t dim, const T* std_dev, const T* dz, T* dx) {
  for (int64_t r = 0; r < n; ++r)
    for (int64_t j = 0; j < dim; ++j) dx[r * dim + j] = dz[r * dim + j] / std_dev[j];
}

// out[j] = (v[j] − mean[j]) / std[j] in double, rounded once to float: the float network inputs
// z-scored from double rows (the ratio classifier's θ and x: native/ratio_trainer.cc's RatioLogits
// and the CUDA launcher kernels/nn/resnet.cu).
SBI_HD void standardize_to_float(int64_t dim, const double* v, const double* mean, const double* std_dev, float* out) {
  for (int64_t j = 0; j < dim; ++j) out[j] = static_cast<float>((v[j] - mean[j]) / std_dev[j]);
}

}  // namespace nn
}  // namespace sbi
