// Losses: the batch-mean value and its gradient w.r.t. the logits / predictions (grad may be
// null when only the value is wanted). Means follow torch's "mean" reduction: BCE and MSE
// average over all N·D elements, cross-entropy over the N rows.
//   bce_with_logits  z, t [N, D], t in [0, 1]:
//       l = max(z, 0) - z·t + log1p(exp(-|z|))   (= -t log σ(z) - (1-t) log(1-σ(z)), no overflow)
//       ∂l/∂z = σ(z) - t
//   cross_entropy    z [N, K] logits, labels [N] in [0, K):
//       l = logsumexp(z_n) - z_n[label_n],  logsumexp(z) = m + log Σ_k exp(z_k - m), m = max_k z_k
//       ∂l/∂z_k = softmax(z_n)_k - [k = label_n]
//   mse              p, t [N, D]:  l = (p - t)²,  ∂l/∂p = 2 (p - t)
#pragma once
#include "dense.h"

namespace sbi {
namespace nn {

template <class T>
SBI_HD T bce_with_logits(int64_t n, int64_t dim, const T* z, const T* t, T* grad) {
  const int64_t count = n * dim;
  const T inv = T(1) / T(count);
  T sum = T(0);
  for (int64_t i = 0; i < count; ++i) {
    const T zi = z[i];
    sum += (zi > T(0) ? zi : T(0)) - zi * t[i] + std::log1p(std::exp(-std::fabs(zi)));
    if (grad) grad[i] = (logistic(zi) - t[i]) * inv;
  }
  return sum * inv;
}

template <class T>
SBI_HD T cross_entropy(int64_t n, int64_t classes, const T* z, const int32_t* labels, T* grad) {
  const T inv = T(1) / T(n);
  T sum = T(0);
  for (int64_t r = 0; r < n; ++r) {
    const T* zr = z + r * classes;
    T m = zr[0];
    for (int64_t k = 1; k < classes; ++k) m = zr[k] > m ? zr[k] : m;
    T s = T(0);
    for (int64_t k = 0; k < classes; ++k) s += std::exp(zr[k] - m);
    const T lse = m + std::log(s);
    sum += lse - zr[labels[r]];
    if (grad) {
      T* gr = grad + r * classes;
      for (int64_t k = 0; k < classes; ++k) gr[k] = std::exp(zr[k] - lse) * inv;
      gr[labels[r]] -= inv;
    }
  }
  return sum * inv;
}

template <class T>
SBI_HD T mse(int64_t n, int64_t dim, const T* p, const T* t, T* grad) {
  const int64_t count = n * dim;
  const T inv = T(1) / T(count);
  T sum = T(0);
  for (int64_t i = 0; i < count; ++i) {
    const T d = p[i] - t[i];
    sum += d * d;
    if (grad) grad[i] = T(2) * d * inv;
  }
  return sum * inv;
}

}  // namespace nn
}  // namespace sbi
